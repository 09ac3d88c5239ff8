"""Market data → the compact forms the model reads and the display forms the UI draws.

Pure functions over the providers' plain shapes (no pandas). The compact shapes are a
contract: the offline analyst computes its report from them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

from ..market.base import (
    NewsItem,
    PriceHistory,
    Quote,
    RecommendationPeriod,
    Statement,
    StatementKind,
)

MAX_STATEMENT_PERIODS = 4
# A quote's fields: (label, how to write the value: a numfmt kind) for the display.
QUOTE_LABELS: dict[str, tuple[str, str]] = {
    "price": ("Price", "price"),
    "previous_close": ("Previous close", "price"),
    "change": ("Change", "price_change"),
    "change_pct": ("Change %", "change"),
    "market_cap": ("Market cap", "amount"),
    "pe_ratio": ("P/E (trailing)", "ratio"),
    "forward_pe": ("P/E (forward)", "ratio"),
    "fifty_two_week_low": ("52-week low", "price"),
    "fifty_two_week_high": ("52-week high", "price"),
    "volume": ("Volume", "count"),
}
_QUOTE_KINDS = dict(QUOTE_LABELS.values())
MAX_NEWS_ITEMS = 8
TRADING_DAYS_PER_YEAR = 252

# The rows the model gets, in order: label → the row names to try (rows differ by company;
# banks have no gross profit). A row found under none of its names is left out.
MODEL_ROWS: dict[StatementKind, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "income": (
        ("Total Revenue", ("Total Revenue", "Operating Revenue")),
        ("Cost Of Revenue", ("Cost Of Revenue", "Reconciled Cost Of Revenue")),
        ("Gross Profit", ("Gross Profit",)),
        ("Research And Development", ("Research And Development",)),
        ("Operating Income", ("Operating Income", "Total Operating Income As Reported")),
        ("Pretax Income", ("Pretax Income",)),
        (
            "Net Income",
            (
                "Net Income",
                "Net Income Common Stockholders",
                "Net Income From Continuing Operation Net Minority Interest",
            ),
        ),
        ("EBITDA", ("EBITDA", "Normalized EBITDA")),
        ("Basic EPS", ("Basic EPS",)),
        ("Diluted EPS", ("Diluted EPS",)),
    ),
    "balance": (
        ("Total Assets", ("Total Assets",)),
        (
            "Total Liabilities Net Minority Interest",
            ("Total Liabilities Net Minority Interest", "Total Liabilities"),
        ),
        (
            "Stockholders Equity",
            ("Stockholders Equity", "Common Stock Equity", "Total Equity Gross Minority Interest"),
        ),
        ("Cash And Cash Equivalents", ("Cash And Cash Equivalents", "Cash Financial")),
        (
            "Cash Cash Equivalents And Short Term Investments",
            ("Cash Cash Equivalents And Short Term Investments",),
        ),
        ("Current Assets", ("Current Assets",)),
        ("Current Liabilities", ("Current Liabilities",)),
        ("Total Debt", ("Total Debt",)),
        ("Long Term Debt", ("Long Term Debt", "Long Term Debt And Capital Lease Obligation")),
        ("Net Debt", ("Net Debt",)),
        ("Working Capital", ("Working Capital",)),
    ),
    "cash_flow": (
        (
            "Operating Cash Flow",
            ("Operating Cash Flow", "Cash Flow From Continuing Operating Activities"),
        ),
        ("Capital Expenditure", ("Capital Expenditure",)),
        ("Free Cash Flow", ("Free Cash Flow",)),
        (
            "Investing Cash Flow",
            ("Investing Cash Flow", "Cash Flow From Continuing Investing Activities"),
        ),
        (
            "Financing Cash Flow",
            ("Financing Cash Flow", "Cash Flow From Continuing Financing Activities"),
        ),
        ("Repurchase Of Capital Stock", ("Repurchase Of Capital Stock", "Common Stock Payments")),
        ("Cash Dividends Paid", ("Cash Dividends Paid", "Common Stock Dividend Paid")),
        (
            "Depreciation And Amortization",
            ("Depreciation And Amortization", "Depreciation Amortization Depletion"),
        ),
        ("End Cash Position", ("End Cash Position",)),
    ),
}
# Extra rows for the on-screen table only.
DISPLAY_EXTRA_ROWS: dict[StatementKind, tuple[str, ...]] = {
    "income": (
        "Selling General And Administration",
        "Operating Expense",
        "Interest Expense",
        "Tax Provision",
        "Diluted Average Shares",
    ),
    "balance": (
        "Retained Earnings",
        "Inventory",
        "Accounts Receivable",
        "Accounts Payable",
        "Net PPE",
        "Goodwill",
        "Ordinary Shares Number",
    ),
    "cash_flow": (
        "Stock Based Compensation",
        "Change In Working Capital",
        "Issuance Of Debt",
        "Repayment Of Debt",
    ),
}
RowKind = Literal["amount", "per_share", "count"]


def statement_row_kind(label: str) -> RowKind:
    """What a statement row measures, for formatting: EPS is per share (a price), share
    counts are counts; every other row is an amount of the company's currency."""
    if "EPS" in label:
        return "per_share"
    if "Shares" in label:
        return "count"
    return "amount"


STATEMENT_TITLES: dict[StatementKind, str] = {
    "income": "income statement",
    "balance": "balance sheet",
    "cash_flow": "cash flow statement",
}


# -- numbers -----------------------------------------------------------------------------
def round_price(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 2) if abs(value) >= 1 else round(value, 4)


def round_pct(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def statement_value(label: str, value: float | None) -> float | int | None:
    """Whole currency units for amounts, cents for per-share figures."""
    if value is None:
        return None
    if statement_row_kind(label) == "per_share" or abs(value) < 1000:
        return round(value, 2)
    return round(value)


# -- prices ------------------------------------------------------------------------------
class Bar(NamedTuple):
    date: str
    close: float
    high: float
    low: float
    volume: int | None

    @classmethod
    def of(
        cls, date: str, close: float, high: float | None, low: float | None, volume: int | None
    ) -> Bar:
        """A trading day whose missing high or low is its close."""
        return cls(
            date,
            close,
            high if high is not None else close,
            low if low is not None else close,
            volume,
        )


def bars(history: PriceHistory) -> list[Bar]:
    """Trading days with a close, oldest first; a missing high/low falls back to the close."""
    out: list[Bar] = []
    for i, date in enumerate(history["dates"]):
        close = history["close"][i]
        if close is None:
            continue
        high = history["high"][i] if i < len(history["high"]) else None
        low = history["low"][i] if i < len(history["low"]) else None
        volume = history["volume"][i] if i < len(history["volume"]) else None
        out.append(Bar.of(date, close, high, low, volume))
    return out


def _volatility_pct(closes: list[float]) -> float | None:
    returns = [math.log(b / a) for a, b in itertools.pairwise(closes) if a > 0 and b > 0]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return math.sqrt(variance) * math.sqrt(TRADING_DAYS_PER_YEAR) * 100


def _max_drawdown_pct(closes: list[float]) -> float:
    peak, worst = closes[0], 0.0
    for close in closes:
        peak = max(peak, close)
        worst = min(worst, close / peak - 1)
    return worst * 100


def _return_pct(closes: list[float]) -> float | None:
    return (closes[-1] / closes[0] - 1) * 100 if closes[0] else None


def weekly_closes(window: list[Bar]) -> list[list[Any]]:
    """The last close of each ISO week: ~20 points stand in for 100 daily ones."""
    by_week: dict[tuple[int, int], Bar] = {}
    for bar in window:
        year, week, _ = dt.date.fromisoformat(bar.date).isocalendar()
        by_week[(year, week)] = bar
    return [[bar.date, round_price(bar.close)] for bar in by_week.values()]


def performance_summary(window: list[Bar]) -> dict[str, Any]:
    """The model's view of a daily window (needs at least two bars)."""
    closes = [b.close for b in window]
    high = max(window, key=lambda b: b.high)
    low = min(window, key=lambda b: b.low)
    volumes = [b.volume for b in window if b.volume is not None]
    return {
        "days": len(window),
        "start": window[0].date,
        "end": window[-1].date,
        "first_close": round_price(closes[0]),
        "last_close": round_price(closes[-1]),
        "return_pct": round_pct(_return_pct(closes)),
        "high": {"value": round_price(high.high), "date": high.date},
        "low": {"value": round_price(low.low), "date": low.date},
        "volatility_annualized_pct": round_pct(_volatility_pct(closes)),
        "max_drawdown_pct": round_pct(_max_drawdown_pct(closes)),
        "avg_volume": int(sum(volumes) / len(volumes)) if volumes else None,
        "weekly_closes": weekly_closes(window),
    }


def comparison_row(symbol: str, window: list[Bar]) -> dict[str, Any]:
    closes = [b.close for b in window]
    return {
        "symbol": symbol,
        "first_close": round_price(closes[0]),
        "last_close": round_price(closes[-1]),
        "return_pct": round_pct(_return_pct(closes)),
        "volatility_annualized_pct": round_pct(_volatility_pct(closes)),
        "max_drawdown_pct": round_pct(_max_drawdown_pct(closes)),
    }


def calendar_window(all_bars: list[Bar], days: int) -> list[Bar]:
    """Bars within ``days`` calendar days of the LAST bar (not of today: recorded or delayed
    data must not come out empty)."""
    if not all_bars:
        return []
    start = dt.date.fromisoformat(all_bars[-1].date) - dt.timedelta(days=days)
    return [b for b in all_bars if dt.date.fromisoformat(b.date) > start]


def price_series(symbol: str, window: list[Bar]) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "dates": [b.date for b in window],
        "close": [round_price(b.close) for b in window],
        "volume": [b.volume for b in window],
        "high": [round_price(b.high) for b in window],
        "low": [round_price(b.low) for b in window],
    }


# -- statements --------------------------------------------------------------------------
def _pick(rows: dict[str, list[float | None]], names: Iterable[str]) -> list[float | None] | None:
    for name in names:
        values = rows.get(name)
        if values is not None and any(v is not None for v in values):
            return values
    return None


def statement_views(statement: Statement) -> tuple[dict[str, Any], dict[str, Any]]:
    """(compact data for the model, "table" display) of one statement."""
    kind = statement["statement"]
    chosen: dict[str, list[float | None]] = {}
    for label, names in MODEL_ROWS[kind]:
        values = _pick(statement["rows"], names)
        if values is not None:
            chosen[label] = values
    # Keep the newest periods that have any of the chosen figures (yfinance often adds an
    # old, nearly empty column).
    keep = [
        i
        for i in range(len(statement["periods"]))
        if any(i < len(v) and v[i] is not None for v in chosen.values())
    ][:MAX_STATEMENT_PERIODS]
    periods = [statement["periods"][i] for i in keep]
    data_rows = {
        label: [statement_value(label, values[i] if i < len(values) else None) for i in keep]
        for label, values in chosen.items()
    }
    data = {"statement": kind, "period": statement["period"], "periods": periods, "rows": data_rows}

    table_rows = [[label, *values] for label, values in data_rows.items()]
    for label in DISPLAY_EXTRA_ROWS[kind]:
        values = _pick(statement["rows"], (label,))
        if values is not None:
            table_rows.append(
                [
                    label,
                    *(statement_value(label, values[i] if i < len(values) else None) for i in keep),
                ]
            )
    display = {
        "kind": "table",
        "title": f"{statement['symbol']} {STATEMENT_TITLES[kind]} ({statement['period']})",
        "columns": periods,
        "rows": table_rows,
        "unit": statement["currency"],
    }
    return data, display


# -- quote, news, recommendations --------------------------------------------------------
def quote_views(quote: Quote) -> tuple[dict[str, Any], dict[str, Any]]:
    price, previous = quote.get("price"), quote.get("previous_close")
    change = price - previous if price is not None and previous is not None else None
    change_pct = change / previous * 100 if change is not None and previous else None
    market_cap = quote.get("market_cap")
    data = {
        "price": round_price(price),
        "previous_close": round_price(previous),
        "change": round_price(change),
        "change_pct": round_pct(change_pct),
        "market_cap": int(market_cap) if market_cap is not None else None,
        "pe_ratio": round_pct(quote.get("pe_ratio")),
        "forward_pe": round_pct(quote.get("forward_pe")),
        "fifty_two_week_low": round_price(quote.get("fifty_two_week_low")),
        "fifty_two_week_high": round_price(quote.get("fifty_two_week_high")),
        "volume": quote.get("volume"),
    }
    labels = QUOTE_LABELS
    display = {
        "kind": "kv",
        "title": f"{quote.get('symbol', '')} quote"
        + (f" — {quote['name']}" if quote.get("name") else ""),
        "items": [[labels[k][0], v, labels[k][1]] for k, v in data.items()],
        "currency": quote.get("currency"),
    }
    return data, display


def quote_value_kind(label: str) -> str:
    """How a quote display's value under ``label`` is written (a numfmt kind; "" when the
    label is not a quote field): for displays stored before they said it."""
    return _QUOTE_KINDS.get(label, "")


def news_views(symbol: str, items: list[NewsItem]) -> tuple[dict[str, Any], dict[str, Any]]:
    chosen = items[:MAX_NEWS_ITEMS]
    data = {"items": [dict(item) for item in chosen]}
    display = {
        "kind": "list",
        "title": f"{symbol} news",
        "items": [
            {
                "title": item["title"],
                "subtitle": " · ".join(
                    p for p in (item.get("publisher"), item.get("published")) if p
                ),
                **({"url": item["url"]} if item.get("url") else {}),
            }
            for item in chosen
        ],
    }
    return data, display


CountKey = Literal["strongBuy", "buy", "hold", "sell", "strongSell"]
_COUNT_KEYS: tuple[CountKey, ...] = ("strongBuy", "buy", "hold", "sell", "strongSell")


def consensus(period: RecommendationPeriod) -> str:
    """Mean rating on Yahoo's 1 (strong buy) … 5 (strong sell) scale, in words."""
    counts = [int(period.get(k) or 0) for k in _COUNT_KEYS]
    total = sum(counts)
    if total == 0:
        return "none"
    score = sum((i + 1) * c for i, c in enumerate(counts)) / total
    for limit, word in ((1.5, "strong_buy"), (2.5, "buy"), (3.5, "hold"), (4.5, "sell")):
        if score < limit:
            return word
    return "strong_sell"


def recommendation_views(
    symbol: str, periods: list[RecommendationPeriod]
) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = [
        {"period": p["period"], **{k: int(p.get(k) or 0) for k in _COUNT_KEYS}} for p in periods[:4]
    ]
    verdict = consensus(periods[0]) if periods else "none"
    data = {"periods": rows, "consensus": verdict}
    labels = {
        "strongBuy": "Strong buy",
        "buy": "Buy",
        "hold": "Hold",
        "sell": "Sell",
        "strongSell": "Strong sell",
    }
    display = {
        "kind": "table",
        "title": f"{symbol} analyst recommendations (consensus: {verdict.replace('_', ' ')})",
        "columns": [r["period"] for r in rows],
        "rows": [[labels[k], *(r[k] for r in rows)] for k in _COUNT_KEYS],
        "unit": "analysts",
    }
    return data, display
