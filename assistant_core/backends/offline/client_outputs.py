"""Reading tool outputs that a client computed itself (function tools run on the client).

Programs written for the Assistants API answer ``requires_action`` with whatever their own
functions return. The tutorial's return ``json.dumps(df.to_json())``: a JSON string holding
pandas' JSON of a yfinance DataFrame in its default "columns" orient — ``{column: {index:
value}}``, dates as epoch milliseconds. Statements (``income_stmt``, ``balance_sheet``) have
dates as columns and line items as the index; a price history (``history(period="100d")``)
has dates as the index and Open/High/Low/Close/Volume as columns. A ticker lookup usually
returns text (a web search's snippets).

``read_client_output`` turns those into the envelopes the analyst reads from its own tools
(``{"data": …, "source": "client"}``), or an error that says what could not be read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import statistics
from typing import Any

from ...tools.summaries import Bar, performance_summary
from .metrics import ROWS

Envelope = tuple[dict[str, Any], str | None]

_EPOCH_MS = re.compile(r"^-?\d{11,14}$")  # 1973–5138 in milliseconds
_SYMBOL_IN_TEXT = (
    re.compile(
        r"\((?:NASDAQ|NYSE|AMEX|KRX|KOSPI|TSE|LSE)?\s*:?\s*([A-Z]{1,5}(?:[.-][A-Z]{1,2})?)\)"
    ),
    re.compile(r"\b(?:NASDAQ|NYSE|AMEX)\s*:\s*([A-Z]{1,5}(?:[.-][A-Z]{1,2})?)\b"),
    re.compile(
        r"ticker symbol(?: of [^.]{0,60}?)?\s+(?:is\s+)?\"?([A-Z]{1,5}(?:[.-][A-Z]{1,2})?)\b"
    ),
)
_NOT_SYMBOLS = frozenset(
    {"USD", "KRW", "EUR", "NYSE", "NASDAQ", "AMEX", "ETF", "CEO", "INC", "LLC"}
)
_STATEMENT_KINDS = (
    ("balance", ROWS["total_assets"] + ROWS["total_liabilities"] + ROWS["equity"]),
    ("cash_flow", ROWS["operating_cash_flow"] + ROWS["free_cash_flow"]),
    ("income", ROWS["revenue"] + ROWS["net_income"] + ROWS["gross_profit"]),
)
_MIN_BARS = 2


def read_client_output(content: str) -> Envelope | None:
    """The envelope for a client's own output, or None when ``content`` is not one (an
    envelope of ours, or plain JSON the analyst reads as it is)."""
    try:
        parsed = json.loads(content)
    except (TypeError, ValueError):
        return _text(content)
    if isinstance(parsed, str):  # json.dumps(df.to_json()), or json.dumps(some text)
        try:
            inner = json.loads(parsed)
        except ValueError:
            return _text(parsed)
        if not isinstance(inner, dict):
            return None
        parsed = inner
    if isinstance(parsed, dict) and _is_frame(parsed):
        return _frame(parsed)
    return None


def _text(text: str) -> Envelope | None:
    symbol = symbol_in_text(text)
    if symbol is None:
        return None  # the analyst reports it as an answer it could not use
    return {"data": {"symbol": symbol}, "source": "client"}, None


def symbol_in_text(text: str) -> str | None:
    """A ticker named in free text: "Apple Inc. (AAPL)", "NASDAQ: AAPL", "ticker symbol
    of Apple is AAPL"; or the whole text when it is just a symbol."""
    stripped = text.strip().strip('"').strip()
    if re.fullmatch(r"\^?[A-Z]{1,5}(?:[.-][A-Z]{1,2})?", stripped):
        return stripped
    for pattern in _SYMBOL_IN_TEXT:
        for match in pattern.finditer(text):
            symbol = match.group(1)
            if symbol not in _NOT_SYMBOLS:
                return symbol
    return None


def _is_frame(data: dict[str, Any]) -> bool:
    """pandas' "columns" orient: every value is an object of index → value."""
    return (
        bool(data)
        and "data" not in data
        and "error" not in data
        and all(isinstance(v, dict) for v in data.values())
    )


def _date(key: str) -> str | None:
    if not _EPOCH_MS.match(key):
        return None
    try:
        return dt.datetime.fromtimestamp(int(key) / 1000, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _frame(frame: dict[str, dict[str, Any]]) -> Envelope:
    columns = list(frame)
    if all(_date(c) for c in columns):
        return _statement(frame)
    if "Close" in frame:
        return _history(frame)
    shown = ", ".join(columns[:6]) + ("…" if len(columns) > 6 else "")
    return {}, (
        f"the client's output is a table the analyst cannot read (columns: {shown}); "
        "expected a statement (dates as columns) or a price history (Open…Close)"
    )


def _statement(frame: dict[str, dict[str, Any]]) -> Envelope:
    dated = sorted(((_date(c) or "", c) for c in frame), reverse=True)  # newest first
    periods = [date for date, _ in dated]
    names = list(dict.fromkeys(name for column in frame.values() for name in column))
    rows = {name: [_number(frame[c].get(name)) for _, c in dated] for name in names}
    kind = next(
        (kind for kind, labels in _STATEMENT_KINDS if any(label in rows for label in labels)),
        None,
    )
    if kind is None:
        return {}, (
            "the client's output is a dated table without the statement rows the analyst "
            f"reads (e.g. {', '.join(ROWS['revenue'][:1] + ROWS['total_assets'][:1])})"
        )
    data = {"statement": kind, "period": _period(periods), "periods": periods, "rows": rows}
    return {"data": data, "source": "client"}, None


def _period(periods: list[str]) -> str:
    """annual or quarterly, from the spacing of the columns' dates."""
    dates = [dt.date.fromisoformat(p) for p in periods]
    gaps = [(a - b).days for a, b in itertools.pairwise(dates)]
    return "quarterly" if gaps and statistics.median(gaps) < 200 else "annual"


def _history(frame: dict[str, dict[str, Any]]) -> Envelope:
    close = frame["Close"]
    bars: list[Bar] = []
    for key in sorted(close, key=lambda k: int(k) if _EPOCH_MS.match(k) else 0):
        date, value = _date(key), _number(close[key])
        if date is None or value is None:
            continue
        high = _number((frame.get("High") or {}).get(key))
        low = _number((frame.get("Low") or {}).get(key))
        volume = _number((frame.get("Volume") or {}).get(key))
        bars.append(Bar.of(date, value, high, low, int(volume) if volume is not None else None))
    if len(bars) < _MIN_BARS:
        return {}, f"the client's price history has {len(bars)} dated closes; at least 2 are needed"
    return {"data": performance_summary(bars), "source": "client"}, None
