"""Deterministic synthetic market data for any symbol, in the same shapes as Yahoo's.

Used only in demo mode (and tests); every result built from it says ``demo``. Values are
seeded by the symbol alone, so AAPL looks the same on every run and machine; only the date
labels follow the calendar (the series always ends on the last weekday).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import re
from collections.abc import Callable

from .base import (
    NewsItem,
    PriceHistory,
    Quote,
    RecommendationPeriod,
    SearchHit,
    Statement,
    StatementKind,
    StatementPeriod,
)
from .known_companies import lookup_known

_TRADING_DAYS = {"6mo": 126, "1y": 252}
_MAX_DAYS = 252


def _rng(symbol: str, salt: str) -> random.Random:
    digest = hashlib.sha256(f"{symbol}|{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def demo_symbol_for(name: str) -> str:
    """A stable made-up symbol for a company name the built-in table does not know."""
    letters = re.sub(r"[^A-Za-z]", "", name).upper()[:4]
    if letters:
        return letters
    number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big") % 1000
    return f"DEMO{number:03d}"


class DemoProvider:
    name = "demo"

    def __init__(self, today: Callable[[], dt.date] = dt.date.today) -> None:
        self._today = today

    # -- helpers -----------------------------------------------------------------------
    def _currency(self, symbol: str) -> str:
        known = lookup_known(symbol)
        return known.currency if known else "USD"

    def _scale(self, symbol: str) -> float:
        """Prices in a currency's usual range (a KRW share costs tens of thousands)."""
        return {"KRW": 1000.0, "JPY": 100.0}.get(self._currency(symbol), 1.0)

    def _trading_days(self, count: int) -> list[dt.date]:
        day = self._today()
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
        days: list[dt.date] = []
        while len(days) < count:
            if day.weekday() < 5:
                days.append(day)
            day -= dt.timedelta(days=1)
        return days[::-1]

    def _fundamentals(self, symbol: str) -> dict[str, float]:
        rng = _rng(symbol, "fundamentals")
        revenue = rng.uniform(5e9, 4e11) * self._scale(symbol)
        operating_margin = rng.uniform(0.05, 0.35)
        # Shares chosen so the quote's P/E lands on a plausible multiple of the last close.
        pe = rng.uniform(10, 45)
        net_income = revenue * operating_margin * 0.82
        return {
            "revenue": revenue,
            "growth": rng.uniform(-0.05, 0.25),
            "gross_margin": rng.uniform(0.25, 0.7),
            "operating_margin": operating_margin,
            "shares": net_income * pe / self._path(symbol)[-1][3],
            "assets_to_revenue": rng.uniform(0.6, 2.0),
            "debt_ratio": rng.uniform(0.2, 0.7),
            "cash_ratio": rng.uniform(0.05, 0.3),
        }

    def _path(self, symbol: str) -> list[tuple[float, float, float, float, int]]:
        """A year of (open, high, low, close, volume): a random walk seeded by the symbol."""
        rng = _rng(symbol, "prices")
        price = rng.uniform(20, 600) * self._scale(symbol)
        drift = rng.uniform(-0.0006, 0.0012)
        vol = rng.uniform(0.01, 0.03)
        base_volume = rng.uniform(2e6, 8e7)
        rows: list[tuple[float, float, float, float, int]] = []
        for _ in range(_MAX_DAYS):
            open_ = price
            price = price * math.exp(rng.gauss(drift, vol))
            high = max(open_, price) * (1 + abs(rng.gauss(0, vol / 2)))
            low = min(open_, price) * (1 - abs(rng.gauss(0, vol / 2)))
            volume = int(base_volume * math.exp(rng.gauss(0, 0.35)))
            rows.append((open_, high, low, price, volume))
        return rows

    # -- MarketProvider ------------------------------------------------------------------
    def search(self, query: str) -> list[SearchHit]:
        known = lookup_known(query)
        if known:
            return [
                SearchHit(
                    symbol=known.symbol, name=known.name, exchange=known.exchange, type="EQUITY"
                )
            ]
        return [
            SearchHit(
                symbol=demo_symbol_for(query),
                name=f"{query} (demo)",
                exchange="DEMO",
                type="EQUITY",
            )
        ]

    def history(self, symbol: str, period: str) -> PriceHistory:
        count = _TRADING_DAYS.get(period, 126)
        rows = self._path(symbol)[-count:]  # the 6-month series is the tail of the 1-year one
        dates = [d.isoformat() for d in self._trading_days(count)]
        return PriceHistory(
            symbol=symbol,
            currency=self._currency(symbol),
            dates=dates,
            open=[round(r[0], 4) for r in rows],
            high=[round(r[1], 4) for r in rows],
            low=[round(r[2], 4) for r in rows],
            close=[round(r[3], 4) for r in rows],
            volume=[r[4] for r in rows],
        )

    def _period_ends(self, period: StatementPeriod) -> list[dt.date]:
        today = self._today()
        if period == "annual":
            return [dt.date(today.year - k, 12, 31) for k in range(1, 5)]
        ends: list[dt.date] = []
        year, quarter = today.year, (today.month - 1) // 3  # last finished quarter
        while len(ends) < 4:
            if quarter == 0:
                year, quarter = year - 1, 4
            month = quarter * 3
            last_day = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
            ends.append(dt.date(year, month, last_day))
            quarter -= 1
        return ends

    def statement(self, symbol: str, kind: StatementKind, period: StatementPeriod) -> Statement:
        f = self._fundamentals(symbol)
        rng = _rng(symbol, f"{kind}|{period}")
        ends = self._period_ends(period)
        per_year = 1.0 if period == "annual" else 0.25
        rows: dict[str, list[float | None]] = {}

        def add(name: str, values: list[float], digits: int = 0) -> None:
            rows[name] = [round(v, digits) if digits else float(round(v)) for v in values]

        revenue = [
            f["revenue"] * per_year / (1 + f["growth"] * per_year) ** k * rng.uniform(0.97, 1.03)
            for k in range(len(ends))
        ]
        if kind == "income":
            gross = [r * f["gross_margin"] for r in revenue]
            operating = [r * f["operating_margin"] for r in revenue]
            pretax = [o * rng.uniform(0.95, 1.05) for o in operating]
            net = [p * 0.82 for p in pretax]
            shares = f["shares"]
            add("Total Revenue", revenue)
            add("Cost Of Revenue", [r - g for r, g in zip(revenue, gross)])
            add("Gross Profit", gross)
            add("Research And Development", [r * 0.06 for r in revenue])
            add(
                "Selling General And Administration",
                [g - o - r * 0.06 for g, o, r in zip(gross, operating, revenue)],
            )
            add("Operating Income", operating)
            add("Pretax Income", pretax)
            add("Tax Provision", [p - n for p, n in zip(pretax, net)])
            add("Net Income", net)
            add("EBITDA", [o * 1.15 for o in operating])
            add("Basic EPS", [n / shares for n in net], 2)
            add("Diluted EPS", [n / (shares * 1.01) for n in net], 2)
            add("Basic Average Shares", [shares] * len(ends))
            add("Diluted Average Shares", [shares * 1.01] * len(ends))
        elif kind == "balance":
            assets = [r / per_year * f["assets_to_revenue"] for r in revenue]
            liabilities = [a * f["debt_ratio"] for a in assets]
            cash = [a * f["cash_ratio"] for a in assets]
            debt = [li * 0.4 for li in liabilities]
            current_assets = [a * 0.35 for a in assets]
            current_liabilities = [li * 0.45 for li in liabilities]
            add("Total Assets", assets)
            add("Total Liabilities Net Minority Interest", liabilities)
            add("Stockholders Equity", [a - li for a, li in zip(assets, liabilities)])
            add("Cash And Cash Equivalents", cash)
            add("Cash Cash Equivalents And Short Term Investments", [c * 1.6 for c in cash])
            add("Current Assets", current_assets)
            add("Current Liabilities", current_liabilities)
            add("Working Capital", [a - li for a, li in zip(current_assets, current_liabilities)])
            add("Total Debt", debt)
            add("Long Term Debt", [d * 0.8 for d in debt])
            if all(d > c for d, c in zip(debt, cash)):
                # Yahoo reports Net Debt only for companies whose debt exceeds their cash.
                add("Net Debt", [d - c for d, c in zip(debt, cash)])
            add("Retained Earnings", [(a - li) * 0.5 for a, li in zip(assets, liabilities)])
        else:
            operating_cf = [r * f["operating_margin"] * 1.2 for r in revenue]
            capex = [-r * 0.05 for r in revenue]
            add("Operating Cash Flow", operating_cf)
            add("Investing Cash Flow", [c * 1.4 for c in capex])
            add("Financing Cash Flow", [-o * 0.6 for o in operating_cf])
            add("Capital Expenditure", capex)
            add("Free Cash Flow", [o + c for o, c in zip(operating_cf, capex)])
            add("Repurchase Of Capital Stock", [-o * 0.35 for o in operating_cf])
            add("Cash Dividends Paid", [-o * 0.15 for o in operating_cf])
            add("Depreciation And Amortization", [r * 0.04 for r in revenue])
            add("End Cash Position", [r * 0.2 for r in revenue])
        return Statement(
            symbol=symbol,
            currency=self._currency(symbol),
            statement=kind,
            period=period,
            periods=[d.isoformat() for d in ends],
            rows=rows,
        )

    def quote(self, symbol: str) -> Quote:
        year = self.history(symbol, "1y")
        closes = [c for c in year["close"] if c is not None]
        eps = self.statement(symbol, "income", "annual")["rows"]["Diluted EPS"][0] or 0.0
        price = closes[-1]
        pe = round(price / eps, 2) if eps > 0 else None
        return Quote(
            symbol=symbol,
            currency=year["currency"],
            name=f"{symbol} (demo)",
            price=price,
            previous_close=closes[-2],
            market_cap=round(price * self._fundamentals(symbol)["shares"]),
            pe_ratio=pe,
            forward_pe=round(pe * 0.9, 2) if pe else None,
            fifty_two_week_low=min(v for v in year["low"] if v is not None),
            fifty_two_week_high=max(v for v in year["high"] if v is not None),
            volume=year["volume"][-1],
        )

    def news(self, symbol: str) -> list[NewsItem]:
        day = self._trading_days(1)[0].isoformat()
        headlines = (
            f"DEMO: {symbol} shares move as investors weigh the quarter",
            f"DEMO: analysts revisit {symbol} price targets",
            f"DEMO: what {symbol}'s latest filing says about margins",
        )
        return [
            NewsItem(
                title=title,
                publisher="Demo data (synthetic)",
                published=f"{day}T12:00:00Z",
                url=None,
            )
            for title in headlines
        ]

    def recommendations(self, symbol: str) -> list[RecommendationPeriod]:
        rng = _rng(symbol, "recommendations")
        periods: list[RecommendationPeriod] = []
        for period in ("0m", "-1m", "-2m", "-3m"):
            periods.append(
                RecommendationPeriod(
                    period=period,
                    strongBuy=rng.randint(0, 12),
                    buy=rng.randint(2, 20),
                    hold=rng.randint(2, 15),
                    sell=rng.randint(0, 4),
                    strongSell=rng.randint(0, 2),
                )
            )
        return periods
