"""The market-data provider interface, the plain (JSON-able) shapes it returns, and its errors.

Providers return plain dicts and lists, never DataFrames: the same values go into the
SQLite cache, come back out of it, and are compacted by the tools without pandas.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict

StatementKind = Literal["income", "balance", "cash_flow"]
StatementPeriod = Literal["annual", "quarterly"]
STATEMENT_KINDS: tuple[StatementKind, ...] = ("income", "balance", "cash_flow")
STATEMENT_PERIODS: tuple[StatementPeriod, ...] = ("annual", "quarterly")
#: History windows a provider must serve (the tools cut shorter windows out of these).
HISTORY_PERIODS = ("6mo", "1y")


class PriceHistory(TypedDict):
    symbol: str
    currency: str | None
    dates: list[str]  # "YYYY-MM-DD", oldest first, one per trading day
    open: list[float | None]
    high: list[float | None]
    low: list[float | None]
    close: list[float | None]  # as traded (split-adjusted, not dividend-adjusted)
    volume: list[int | None]


class Statement(TypedDict):
    symbol: str
    currency: str | None
    statement: StatementKind
    period: StatementPeriod
    periods: list[str]  # period end dates "YYYY-MM-DD", newest first
    rows: dict[str, list[float | None]]  # yfinance's row names → one value per period


class Quote(TypedDict, total=False):
    symbol: str
    currency: str | None
    name: str | None
    price: float | None
    previous_close: float | None
    market_cap: float | None
    pe_ratio: float | None
    forward_pe: float | None
    fifty_two_week_low: float | None
    fifty_two_week_high: float | None
    volume: int | None


class NewsItem(TypedDict):
    title: str
    publisher: str | None
    published: str | None  # ISO 8601 UTC
    url: str | None


class RecommendationPeriod(TypedDict):
    period: str  # "0m" (this month), "-1m", …
    strongBuy: int
    buy: int
    hold: int
    sell: int
    strongSell: int


class SearchHit(TypedDict):
    symbol: str
    name: str | None
    exchange: str | None
    type: str | None  # EQUITY, ETF, INDEX, …


class MarketDataError(Exception):
    """A failure to get market data, worded as one line the model (and the user) can act on."""


class NoDataError(MarketDataError):
    """The provider answered but has nothing for this symbol (delisted, wrong symbol, empty frame)."""


class RateLimitedError(MarketDataError):
    """The provider kept refusing with "too many requests" after our retries."""


class ProviderUnavailableError(MarketDataError):
    """The provider could not be reached (network down, DNS, timeout)."""


class MarketProvider(Protocol):
    """A source of market data. Every method raises MarketDataError (or a subclass) on failure."""

    name: str  # "yahoo" | "demo": the `source` of live results

    def search(self, query: str) -> list[SearchHit]: ...

    def history(self, symbol: str, period: str) -> PriceHistory: ...

    def statement(self, symbol: str, kind: StatementKind, period: StatementPeriod) -> Statement: ...

    def quote(self, symbol: str) -> Quote: ...

    def news(self, symbol: str) -> list[NewsItem]: ...

    def recommendations(self, symbol: str) -> list[RecommendationPeriod]: ...
