"""Normalise and validate what the model passes as a ticker or a company name.

Everything here runs before any network call: a bad argument costs nothing and comes back
as one clear sentence the model can act on.
"""

from __future__ import annotations

import re
import unicodedata

# Yahoo symbols: AAPL, BRK-B, BMW.DE, 005930.KS, ^GSPC, EURUSD=X, CL=F.
TICKER_PATTERN = re.compile(r"^\^?[A-Z0-9]{1,10}(?:[.\-][A-Z0-9]{1,4})?(?:=[A-Z]{1,2})?$")
MAX_TICKER_CHARS = 20
MAX_COMPANY_NAME_CHARS = 100

# Letters of any script, digits, spaces and the punctuation real company names use
# ("AT&T", "McDonald's", "Novo Nordisk A/S", "Yahoo!", "Coca-Cola", "L'Oréal", "(주)").
_NAME_PATTERN = re.compile(r"^[\w\s.,&'’()\-/+!:·]+$")


class InvalidInput(ValueError):
    """An argument rejected before any lookup; the message says what to send instead."""


def _shown(text: str, limit: int = 32) -> str:
    """The offending text, shortened and escaped so it cannot smuggle control characters."""
    short = text if len(text) <= limit else text[:limit] + "…"
    return repr(short)


def _looks_like_name(text: str) -> bool:
    """Words rather than a symbol: "Apple Inc", "삼성전자" (but not "; rm -rf /")."""
    return bool(re.fullmatch(r"[^\W_][\w .&'-]*", text)) and (not text.isascii() or " " in text)


def normalise_ticker(raw: object) -> str:
    """``" $aapl "`` → ``"AAPL"``; raise InvalidInput for anything that is not a symbol."""
    if not isinstance(raw, str):
        raise InvalidInput("ticker must be a string such as 'AAPL'")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidInput(
            "ticker is empty; pass a symbol such as 'AAPL' (call get_ticker to find one from a company name)"
        )
    if len(text) > MAX_TICKER_CHARS:
        raise InvalidInput(
            f"ticker is {len(text)} characters long; a symbol is at most {MAX_TICKER_CHARS}, such as 'AAPL' or '005930.KS'"
        )
    symbol = text.lstrip("$").strip().upper()
    if TICKER_PATTERN.match(symbol):
        return symbol
    if _looks_like_name(text):
        raise InvalidInput(
            f"{_shown(text)} looks like a company name, not a ticker; call get_ticker with the company name first"
        )
    raise InvalidInput(
        f"{_shown(text)} is not a valid ticker symbol; use letters and digits such as 'AAPL', 'BRK-B', '005930.KS' or '^GSPC'"
    )


def normalise_company_name(raw: object) -> str:
    """Trimmed, NFKC-normalised company name (any script); raise InvalidInput if absurd."""
    if not isinstance(raw, str):
        raise InvalidInput("company_name must be a string such as 'Apple'")
    text = unicodedata.normalize("NFKC", raw)
    text = re.sub(r"\s+", " ", text).strip().lstrip("$").strip()
    if not text:
        raise InvalidInput(
            "company_name is empty; pass a company name such as 'Apple' or '삼성전자'"
        )
    if len(text) > MAX_COMPANY_NAME_CHARS:
        raise InvalidInput(
            f"company_name is {len(text)} characters long; pass just the company's name (at most {MAX_COMPANY_NAME_CHARS})"
        )
    if ".." in text or text.startswith(("/", "~", "\\")) or not _NAME_PATTERN.match(text):
        raise InvalidInput(
            f"{_shown(text)} does not look like a company name; use letters, digits and spaces, such as 'Apple' or '삼성전자'"
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidInput(
            f"{_shown(text)} has no letters or digits; pass a company name such as 'Apple'"
        )
    return text
