"""Figures computed from the tools' model-facing data: growth, margins, leverage, risk.

Everything here is defensive: rows differ by company (banks have no gross profit), values
may be missing or null, and a tool from a test may send a subset. A figure that can't be
computed is None, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...numfmt import number as num

# The row names we read, in order of preference (Yahoo's names first).
ROWS: dict[str, tuple[str, ...]] = {
    "revenue": ("Total Revenue", "Revenue", "Operating Revenue", "TotalRevenue"),
    "gross_profit": ("Gross Profit", "GrossProfit"),
    "operating_income": ("Operating Income", "EBIT", "OperatingIncome"),
    "net_income": (
        "Net Income",
        "Net Income Common Stockholders",
        "Net Income From Continuing Operation Net Minority Interest",
        "NetIncome",
    ),
    "eps": ("Diluted EPS", "Basic EPS", "DilutedEPS"),
    "total_assets": ("Total Assets", "TotalAssets"),
    "total_liabilities": (
        "Total Liabilities Net Minority Interest",
        "Total Liabilities",
        "TotalLiabilities",
    ),
    "equity": (
        "Stockholders Equity",
        "Common Stock Equity",
        "Total Equity Gross Minority Interest",
    ),
    "cash": (
        "Cash And Cash Equivalents",
        "Cash Cash Equivalents And Short Term Investments",
        "Cash Financial",
    ),
    "total_debt": ("Total Debt", "TotalDebt"),
    "current_assets": ("Current Assets", "CurrentAssets"),
    "current_liabilities": ("Current Liabilities", "CurrentLiabilities"),
    "operating_cash_flow": (
        "Operating Cash Flow",
        "Cash Flow From Continuing Operating Activities",
    ),
    "capex": ("Capital Expenditure", "CapitalExpenditure"),
    "free_cash_flow": ("Free Cash Flow", "FreeCashFlow"),
}

STATEMENT_ROWS: dict[str, tuple[str, ...]] = {
    "income": ("revenue", "gross_profit", "operating_income", "net_income", "eps"),
    "balance": (
        "total_assets",
        "total_liabilities",
        "equity",
        "cash",
        "total_debt",
        "current_assets",
        "current_liabilities",
    ),
    "cash_flow": ("operating_cash_flow", "capex", "free_cash_flow"),
}
# Rows per share (a price, in the currency's precision), not amounts of the whole company.
PER_SHARE = frozenset({"eps"})


def as_list(value: Any) -> list[Any]:
    """A tool's list field, or [] when it sent something else."""
    return value if isinstance(value, list) else []


@dataclass
class Statement:
    """A statement as columns: period labels (newest first) and our row keys → values."""

    kind: str  # income | balance | cash_flow
    period: str  # annual | quarterly
    periods: list[str]
    values: dict[str, list[float | None]]
    currency: str | None = None  # of its amounts (the tool result's currency)

    def get(self, key: str, i: int = 0) -> float | None:
        column = self.values.get(key) or []
        return column[i] if i < len(column) else None

    def label(self, i: int) -> str:
        """ "FY2024" for an annual column dated 2024-09-30; the date itself otherwise."""
        if i >= len(self.periods):
            return ""
        raw = str(self.periods[i])
        if self.period.startswith("annual") and len(raw) >= 4 and raw[:4].isdigit():
            return "FY" + raw[:4]
        return raw[:10]


def read_statement(data: Any, kind: str, currency: Any = None) -> Statement | None:
    if not isinstance(data, dict):
        return None
    rows = data.get("rows")
    if not isinstance(rows, dict):
        return None
    periods = [str(p) for p in as_list(data.get("periods"))]
    values: dict[str, list[float | None]] = {}
    for key, names in ROWS.items():
        for row_name in names:
            if row_name in rows:
                values[key] = _column(rows[row_name], periods)
                break
    if not periods:
        width = max((len(v) for v in values.values()), default=0)
        periods = [""] * width
    return Statement(
        kind,
        str(data.get("period") or "annual"),
        periods,
        values,
        currency if isinstance(currency, str) else None,
    )


def _column(raw: Any, periods: list[str]) -> list[float | None]:
    if isinstance(raw, dict):  # {period: value}
        return [num(raw.get(p)) for p in periods]
    if isinstance(raw, (list, tuple)):
        return [num(v) for v in raw]
    return [num(raw)]


def pct_change(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return (new / old - 1.0) * 100.0 * (1 if old > 0 else -1)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def share_pct(part: float | None, whole: float | None) -> float | None:
    r = ratio(part, whole)
    return None if r is None else r * 100.0


@dataclass
class IncomeFigures:
    revenue_growth: float | None
    operating_growth: float | None
    net_income_growth: float | None
    gross_margin: float | None
    operating_margin: float | None
    net_margin: float | None
    revenue: float | None
    revenue_prev: float | None
    net_income: float | None


def income_figures(s: Statement) -> IncomeFigures:
    revenue = s.get("revenue")
    return IncomeFigures(
        revenue_growth=pct_change(revenue, s.get("revenue", 1)),
        operating_growth=pct_change(s.get("operating_income"), s.get("operating_income", 1)),
        net_income_growth=pct_change(s.get("net_income"), s.get("net_income", 1)),
        gross_margin=share_pct(s.get("gross_profit"), revenue),
        operating_margin=share_pct(s.get("operating_income"), revenue),
        net_margin=share_pct(s.get("net_income"), revenue),
        revenue=revenue,
        revenue_prev=s.get("revenue", 1),
        net_income=s.get("net_income"),
    )


@dataclass
class BalanceFigures:
    debt_to_equity: float | None
    current_ratio: float | None
    net_debt: float | None  # debt minus cash; negative means net cash
    equity: float | None
    debt_is_liabilities: bool  # no Total Debt row: leverage measured with total liabilities


def balance_figures(s: Statement) -> BalanceFigures:
    debt = s.get("total_debt")
    cash = s.get("cash")
    equity = s.get("equity")
    debt_is_liabilities = debt is None
    leverage_base = debt if debt is not None else s.get("total_liabilities")
    de = ratio(leverage_base, equity) if equity is not None and equity > 0 else None
    return BalanceFigures(
        debt_to_equity=de,
        current_ratio=ratio(s.get("current_assets"), s.get("current_liabilities")),
        net_debt=None if debt is None or cash is None else debt - cash,
        equity=equity,
        debt_is_liabilities=debt_is_liabilities,
    )


def free_cash_flow(s: Statement, i: int = 0) -> float | None:
    fcf = s.get("free_cash_flow", i)
    if fcf is not None:
        return fcf
    ocf, capex = s.get("operating_cash_flow", i), s.get("capex", i)
    if ocf is None or capex is None:
        return None
    return ocf - abs(capex)  # capex is reported negative by Yahoo, positive by others


def drawdown_pct(value: Any) -> float | None:
    """Max drawdown as a negative percent, whichever sign the tool used."""
    v = num(value)
    return None if v is None else -abs(v)


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return SPARKS[3] * len(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1))] for v in values)


def weekly_closes(data: dict[str, Any]) -> list[float]:
    out: list[float] = []
    for pair in as_list(data.get("weekly_closes")):
        value = pair[-1] if isinstance(pair, (list, tuple)) and pair else pair
        if isinstance(pair, dict):
            value = pair.get("close")
        v = num(value)
        if v is not None:
            out.append(v)
    return out
