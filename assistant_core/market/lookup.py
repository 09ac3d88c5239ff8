"""Company name → ticker: a chain of sources, each tried until one answers.

Live: Yahoo's search (structured quotes), then a web search (ddgs) whose result text is
treated as untrusted (only a ticker-shaped token is ever taken from it), then the built-in
table. Demo mode: the built-in table, then a made-up (labelled) demo answer. The answer
says which source gave it.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypedDict
from urllib.parse import unquote

from .base import MarketDataError, NoDataError, SearchHit
from .known_companies import lookup_known
from .symbols import TICKER_PATTERN

log = logging.getLogger(__name__)

LookupStep = Callable[[str], list[SearchHit]]
WebSearch = Callable[[str], list[dict[str, Any]]]

MAX_ALTERNATIVES = 4

# Yahoo exchange codes of the big venues: a listing there beats an OTC or regional one.
MAJOR_EXCHANGES = frozenset(
    {
        "NMS",
        "NGM",
        "NCM",
        "NYQ",
        "ASE",
        "PCX",
        "BTS",  # US
        "GER",
        "LSE",
        "PAR",
        "AMS",
        "EBS",
        "MIL",
        "MCE",
        "STO",
        "CPH",
        "HEL",
        "OSL",
        "BRU",  # Europe
        "TOR",
        "JPX",
        "KSC",
        "KOE",
        "HKG",
        "SHH",
        "SHZ",
        "TAI",
        "ASX",
        "NSI",
        "BSE",
        "SAO",  # elsewhere
    }
)
_TYPE_SCORE = {"EQUITY": 3, "ETF": 2, "INDEX": 1, "MUTUALFUND": 1, "CRYPTOCURRENCY": 1}
_EXCLUDED_TYPES = frozenset({"OPTION", "FUTURE"})


class LookupAnswer(TypedDict):
    best: SearchHit
    alternatives: list[SearchHit]
    source: str  # yahoo | web | builtin | demo
    tried: list[str]  # what the earlier steps said, e.g. "yahoo: nothing found"


def rank_hits(hits: Iterable[SearchHit]) -> list[SearchHit]:
    """Equities on major exchanges first, then the source's own order; drop options/futures."""
    usable = [
        (index, hit)
        for index, hit in enumerate(hits)
        if hit.get("symbol") and (hit.get("type") or "").upper() not in _EXCLUDED_TYPES
    ]
    usable.sort(
        key=lambda item: (
            -_TYPE_SCORE.get((item[1].get("type") or "").upper(), 0),
            -(item[1].get("exchange") in MAJOR_EXCHANGES),
            item[0],
        )
    )
    seen: set[str] = set()
    ranked: list[SearchHit] = []
    for _, hit in usable:
        if hit["symbol"] not in seen:
            seen.add(hit["symbol"])
            ranked.append(hit)
    return ranked


class TickerLookup:
    def __init__(self, steps: list[tuple[str, LookupStep]]) -> None:
        self.steps = steps

    @property
    def sources(self) -> list[str]:
        return [label for label, _ in self.steps]

    def lookup(self, name: str) -> LookupAnswer:
        tried: list[str] = []
        for label, step in self.steps:
            try:
                hits = step(name)
            except MarketDataError as exc:
                tried.append(f"{label}: {exc}")
                continue
            except Exception as exc:  # a broken source must not hide the next one
                log.info("ticker lookup step %s failed: %r", label, exc)
                tried.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            ranked = rank_hits(hits)
            if ranked:
                return LookupAnswer(
                    best=ranked[0],
                    alternatives=ranked[1 : 1 + MAX_ALTERNATIVES],
                    source=label,
                    tried=tried,
                )
            tried.append(f"{label}: nothing found")
        raise NoDataError(
            f"no ticker found for {name!r} (tried {', '.join(self.sources)}); "
            "check the spelling, try the full company name, or pass a ticker directly"
        )


# -- steps ---------------------------------------------------------------------------------
def builtin_step(name: str) -> list[SearchHit]:
    known = lookup_known(name)
    if known is None:
        return []
    return [SearchHit(symbol=known.symbol, name=known.name, exchange=known.exchange, type="EQUITY")]


def ddgs_search(query: str) -> list[dict[str, Any]]:
    """DuckDuckGo & co. through ddgs (imported on first use); an empty list when nothing came back."""
    from ddgs import DDGS
    from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException

    try:
        return list(DDGS(timeout=5).text(query, max_results=8))
    except (RatelimitException, TimeoutException):
        raise
    except DDGSException as exc:
        if "no results" in str(exc).lower():
            return []
        raise


def web_step(search: WebSearch) -> LookupStep:
    def step(name: str) -> list[SearchHit]:
        hit = ticker_from_web_results(search(f"{name} stock ticker symbol"), name)
        return [hit] if hit else []

    return step


# Exchange names as they appear in prose ("(NASDAQ: AAPL)", "KRX: 005930") → Yahoo suffix.
_WEB_EXCHANGES: dict[str, str] = {
    "NASDAQ": "",
    "NYSE": "",
    "NYSEARCA": "",
    "NYSE ARCA": "",
    "NYSE AMERICAN": "",
    "AMEX": "",
    "OTC": "",
    "KRX": ".KS",
    "KOSPI": ".KS",
    "KOSDAQ": ".KQ",
    "TYO": ".T",
    "TSE": ".T",
    "LSE": ".L",
    "LON": ".L",
    "XETRA": ".DE",
    "ETR": ".DE",
    "FWB": ".F",
    "HKEX": ".HK",
    "SEHK": ".HK",
    "TSX": ".TO",
    "EPA": ".PA",
    "AMS": ".AS",
    "SIX": ".SW",
    "ASX": ".AX",
    "NSE": ".NS",
    "BSE": ".BO",
}
_EXCHANGE_RE = re.compile(
    r"\b(" + "|".join(sorted((re.escape(k) for k in _WEB_EXCHANGES), key=len, reverse=True)) + r")"
    r"\s*[:：]\s*\$?([A-Z0-9]{1,10}(?:[.\-][A-Z0-9]{1,4})?)\b",
    re.IGNORECASE,
)
_YAHOO_URL_RE = re.compile(r"finance\.yahoo\.com/quote/([A-Za-z0-9.\-^=%]{1,24})")
_PHRASE_RE = re.compile(
    r"ticker(?: symbol)?\s*(?:is|:)?\s*[\"'“(]?\$?([A-Z][A-Z0-9]{0,9}(?:[.\-][A-Z0-9]{1,4})?)\b"
)


def _with_suffix(code: str, exchange: str) -> str:
    suffix = _WEB_EXCHANGES.get(exchange.upper(), "")
    if not suffix or "." in code:
        return code
    if suffix == ".HK" and code.isdigit():
        code = code.zfill(4)[-4:]
    return code + suffix


def ticker_from_web_results(results: Iterable[Any], name: str) -> SearchHit | None:
    """The ticker most results agree on, or None. Only regex captures leave this function."""
    votes: Counter[str] = Counter()
    exchanges: dict[str, str] = {}
    for result in results:
        if not isinstance(result, dict):
            continue
        text = " ".join(str(result.get(k) or "")[:2000] for k in ("title", "body"))
        href = str(result.get("href") or "")[:500]
        for match in _YAHOO_URL_RE.finditer(href + " " + text):
            votes[unquote(match.group(1)).upper()] += 3
        for match in _EXCHANGE_RE.finditer(text):
            exchange = match.group(1).upper()
            symbol = _with_suffix(match.group(2).upper(), exchange)
            votes[symbol] += 2
            exchanges.setdefault(symbol, exchange)
        for match in _PHRASE_RE.finditer(text):
            votes[match.group(1).upper()] += 1
    for symbol, _ in votes.most_common():
        if TICKER_PATTERN.match(symbol):
            return SearchHit(symbol=symbol, name=name, exchange=exchanges.get(symbol), type=None)
    return None


# -- chains --------------------------------------------------------------------------------
def live_lookup(search_yahoo: LookupStep, web_search: WebSearch | None) -> TickerLookup:
    steps: list[tuple[str, LookupStep]] = [("yahoo", search_yahoo)]
    if web_search is not None:
        steps.append(("web", web_step(web_search)))
    steps.append(("builtin", builtin_step))
    return TickerLookup(steps)


def demo_lookup(search_demo: LookupStep) -> TickerLookup:
    return TickerLookup([("builtin", builtin_step), ("demo", search_demo)])
