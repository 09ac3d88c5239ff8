"""The Investor Assistant's tools: the tutorial's four (same names, descriptions and
parameters, so a model prompted as in the tutorial calls them unchanged) plus the ones a
researcher asks for next.

Every tool returns a ToolResult and never raises: bad arguments, unknown symbols and
provider failures come back as one-line errors the model reads and acts on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..market import Fetched, InvalidInput, MarketData, MarketDataError, NoDataError
from ..market.base import StatementKind, StatementPeriod
from ..market.known_companies import lookup_known
from ..market.symbols import normalise_company_name, normalise_ticker
from . import summaries
from .registry import ToolRegistry
from .result import ToolResult

log = logging.getLogger(__name__)

PERFORMANCE_DAYS = 100
COMPARE_PERIODS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 366}  # calendar days
DEFAULT_COMPARE_PERIOD = "3mo"
MAX_COMPARE = 6
SLOW_TOOL_TIMEOUT_S = 45.0  # several fetches, each allowed its rate-limit backoff

_TICKER_PARAM = {"type": "string", "description": "Ticker symbol of the company"}
_STATEMENT_PERIOD_PARAM = {
    "type": "string",
    "enum": ["annual", "quarterly"],
    "description": "annual (default) or quarterly figures",
}


def _spec(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def _ticker_spec(name: str, description: str, *, with_period: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"ticker": dict(_TICKER_PARAM)}
    if with_period:
        properties["period"] = dict(_STATEMENT_PERIOD_PARAM)
    return _spec(name, description, properties, ["ticker"])


SPECS: dict[str, dict[str, Any]] = {
    "get_ticker": _spec(
        "get_ticker",
        "Given the name of a company returns its ticker symbol",
        {"company_name": {"type": "string", "description": "The name of the company"}},
        ["company_name"],
    ),
    "get_income_statement": _ticker_spec(
        "get_income_statement",
        "Given a ticker symbol (i.e AAPL) returns the company's income statement.",
        with_period=True,
    ),
    "get_balance_sheet": _ticker_spec(
        "get_balance_sheet",
        "Given a ticker symbol (i.e AAPL) returns the company's balance sheet.",
        with_period=True,
    ),
    "get_daily_stock_performance": _ticker_spec(
        "get_daily_stock_performance",
        "Given a ticker symbol (i.e AAPL) returns the performance of the stock for the last 100 days.",
    ),
    "get_cash_flow": _ticker_spec(
        "get_cash_flow",
        "Given a ticker symbol (i.e AAPL) returns the company's cash flow statement.",
        with_period=True,
    ),
    "get_stock_quote": _ticker_spec(
        "get_stock_quote",
        "Given a ticker symbol (i.e AAPL) returns the latest price, daily change, market cap, "
        "P/E ratios and 52-week range.",
    ),
    "get_company_news": _ticker_spec(
        "get_company_news",
        "Given a ticker symbol (i.e AAPL) returns recent news headlines about the company.",
    ),
    "get_analyst_recommendations": _ticker_spec(
        "get_analyst_recommendations",
        "Given a ticker symbol (i.e AAPL) returns how many analysts rate the stock strong buy, buy, "
        "hold, sell or strong sell over recent months, and the consensus.",
    ),
    "compare_stocks": _spec(
        "compare_stocks",
        "Compares the price performance of several stocks side by side over a period: return, "
        "annualized volatility and maximum drawdown.",
        {
            "tickers": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": MAX_COMPARE,
                "description": 'Ticker symbols to compare, e.g. ["AAPL", "MSFT"]',
            },
            "period": {
                "type": "string",
                "enum": list(COMPARE_PERIODS),
                "description": f"How far back to look (default {DEFAULT_COMPARE_PERIOD})",
            },
        },
        ["tickers"],
    ),
}


def _fetched_result(
    symbol: str,
    fetched: Fetched[Any],
    data: Any,
    display: dict[str, Any] | None,
    currency: str | None = None,
) -> ToolResult:
    """The result of a tool that made one fetch: with where its data came from, and when."""
    return ToolResult(
        data=data, display=display, symbol=symbol, currency=currency, **_provenance(fetched)
    )


def _provenance(fetched: Fetched[Any]) -> dict[str, Any]:
    """ToolResult fields saying where the data came from and how old it is."""
    extra: dict[str, Any] = {}
    if fetched.age_s is not None:
        extra["cache_age_s"] = round(fetched.age_s, 1)
    if fetched.stale_reason:
        extra["stale_reason"] = fetched.stale_reason
    return {
        "source": fetched.source,
        "as_of": fetched.as_of,
        "cache_hit": fetched.cache_hit,
        "stale": fetched.stale,
        "extra": extra,
    }


class InvestorTools:
    """The tool functions, bound to one MarketData."""

    def __init__(self, market: MarketData) -> None:
        self.market = market

    # -- the tutorial's four -----------------------------------------------------------------
    def get_ticker(self, company_name: str) -> ToolResult:
        name = normalise_company_name(company_name)
        fetched = self.market.lookup(name)
        answer = fetched.value
        best = answer["best"]
        data = {
            "symbol": best["symbol"],
            "name": best.get("name"),
            "exchange": best.get("exchange"),
            "type": best.get("type"),
            "alternatives": [
                {
                    "symbol": h["symbol"],
                    "name": h.get("name"),
                    "exchange": h.get("exchange"),
                    "type": h.get("type"),
                }
                for h in answer["alternatives"]
            ],
            "lookup_source": answer["source"],
        }
        display = {
            "kind": "list",
            "title": f"Ticker lookup: {name} (via {answer['source']})",
            "items": [
                {
                    "title": h["symbol"],
                    "subtitle": " · ".join(
                        str(p) for p in (h.get("name"), h.get("type"), h.get("exchange")) if p
                    ),
                }
                for h in (best, *answer["alternatives"])
            ],
        }
        provenance = _provenance(fetched)
        if not fetched.cache_hit:
            provenance["source"] = "demo" if self.market.is_demo else answer["source"]
        if answer["tried"]:
            provenance["extra"]["tried"] = answer["tried"]
        known = lookup_known(best["symbol"])
        return ToolResult(
            data=data,
            display=display,
            symbol=best["symbol"],
            currency=known.currency if known else None,
            **provenance,
        )

    def _statement(self, kind: StatementKind, ticker: str, period: StatementPeriod) -> ToolResult:
        symbol = normalise_ticker(ticker)
        fetched = self.market.statement(symbol, kind, period)
        data, display = summaries.statement_views(fetched.value)
        if not data["rows"]:
            raise NoDataError(
                f"no {period} {summaries.STATEMENT_TITLES[kind]} figures for {symbol}"
            )
        return _fetched_result(symbol, fetched, data, display, fetched.value["currency"])

    def get_income_statement(self, ticker: str, period: StatementPeriod = "annual") -> ToolResult:
        return self._statement("income", ticker, period)

    def get_balance_sheet(self, ticker: str, period: StatementPeriod = "annual") -> ToolResult:
        return self._statement("balance", ticker, period)

    def get_daily_stock_performance(self, ticker: str) -> ToolResult:
        symbol = normalise_ticker(ticker)
        fetched = self.market.history(symbol, "6mo")  # 100 trading days ≈ 5 months
        window = summaries.bars(fetched.value)[-PERFORMANCE_DAYS:]
        if len(window) < 2:
            raise NoDataError(f"not enough price data for {symbol} ({len(window)} trading day)")
        data = summaries.performance_summary(window)
        stats = {k: v for k, v in data.items() if k != "weekly_closes"}
        display = {
            "kind": "prices",
            "series": [summaries.price_series(symbol, window)],
            "stats": stats,
        }
        return _fetched_result(symbol, fetched, data, display, fetched.value["currency"])

    # -- what a researcher asks next ---------------------------------------------------------
    def get_cash_flow(self, ticker: str, period: StatementPeriod = "annual") -> ToolResult:
        return self._statement("cash_flow", ticker, period)

    def get_stock_quote(self, ticker: str) -> ToolResult:
        symbol = normalise_ticker(ticker)
        fetched = self.market.quote(symbol)
        data, display = summaries.quote_views(fetched.value)
        return _fetched_result(symbol, fetched, data, display, fetched.value.get("currency"))

    def get_company_news(self, ticker: str) -> ToolResult:
        symbol = normalise_ticker(ticker)
        fetched = self.market.news(symbol)
        data, display = summaries.news_views(symbol, fetched.value)
        return _fetched_result(symbol, fetched, data, display)

    def get_analyst_recommendations(self, ticker: str) -> ToolResult:
        symbol = normalise_ticker(ticker)
        fetched = self.market.recommendations(symbol)
        data, display = summaries.recommendation_views(symbol, fetched.value)
        return _fetched_result(symbol, fetched, data, display)

    def compare_stocks(
        self, tickers: list[str], period: str = DEFAULT_COMPARE_PERIOD
    ) -> ToolResult:
        if period not in COMPARE_PERIODS:
            raise InvalidInput(
                f"period must be one of {', '.join(COMPARE_PERIODS)}, not {period!r}"
            )
        if not isinstance(tickers, list) or not tickers:
            raise InvalidInput('tickers must be a list of symbols such as ["AAPL", "MSFT"]')
        symbols = list(dict.fromkeys(normalise_ticker(t) for t in tickers))
        if len(symbols) > MAX_COMPARE:
            raise InvalidInput(
                f"compare at most {MAX_COMPARE} tickers at a time ({len(symbols)} given)"
            )
        fetch_period = "1y" if period == "1y" else "6mo"

        def one(symbol: str) -> Fetched[Any] | MarketDataError:
            try:
                return self.market.history(symbol, fetch_period)
            except MarketDataError as exc:
                return exc

        with ThreadPoolExecutor(
            max_workers=min(4, len(symbols)), thread_name_prefix="compare"
        ) as pool:
            outcomes = dict(zip(symbols, pool.map(one, symbols)))

        stocks, series, errors, fetched_ok = [], [], [], []
        for symbol, outcome in outcomes.items():
            if isinstance(outcome, MarketDataError):
                errors.append({"symbol": symbol, "error": str(outcome)})
                continue
            window = summaries.calendar_window(
                summaries.bars(outcome.value), COMPARE_PERIODS[period]
            )
            if len(window) < 2:
                errors.append({"symbol": symbol, "error": f"not enough price data for {symbol}"})
                continue
            fetched_ok.append(outcome)
            stocks.append(summaries.comparison_row(symbol, window))
            series.append(summaries.price_series(symbol, window))
        if not stocks:
            raise NoDataError("; ".join(e["error"] for e in errors) or "no price data")
        data: dict[str, Any] = {"period": period, "stocks": stocks}
        if errors:
            data["errors"] = errors
        currencies = {f.value["currency"] for f in fetched_ok}
        sources = {f.source for f in fetched_ok}
        display = {
            "kind": "prices",
            "series": series,
            "stats": {"period": period, "stocks": stocks},
        }
        return ToolResult(
            data=data,
            display=display,
            symbol=",".join(s["symbol"] for s in stocks),
            currency=currencies.pop() if len(currencies) == 1 else None,
            source=sources.pop() if len(sources) == 1 else self.market.mode,
            as_of=min(f.as_of for f in fetched_ok),
            cache_hit=all(f.cache_hit for f in fetched_ok),
            stale=any(f.stale for f in fetched_ok),
        )


def _guarded(
    name: str, market: MarketData, func: Callable[..., ToolResult]
) -> Callable[..., ToolResult]:
    """Turn every failure into a one-line ToolResult error; reject unknown arguments clearly."""
    spec_params = SPECS[name]["function"]["parameters"]["properties"]

    @functools.wraps(func)
    def run(**kwargs: Any) -> ToolResult:
        unknown = sorted(set(kwargs) - set(spec_params))
        symbol = _symbol_or_none(kwargs.get("ticker"))
        if unknown:
            return ToolResult.failure(
                f"unexpected argument(s) {', '.join(unknown)}; {name} takes: {', '.join(spec_params)}",
                source=market.mode,
                symbol=symbol,
            )
        try:
            return func(**kwargs)
        except (InvalidInput, MarketDataError) as exc:
            return ToolResult.failure(str(exc), source=market.mode, symbol=symbol)
        except Exception as exc:  # a tool never crashes a run
            log.exception("tool %s failed", name)
            return ToolResult.failure(
                f"{name} failed unexpectedly ({type(exc).__name__}: {str(exc)[:160]})",
                source=market.mode,
                symbol=symbol,
            )

    return run


def _symbol_or_none(raw: Any) -> str | None:
    try:
        return normalise_ticker(raw)
    except InvalidInput:
        return None


def build_investor_tools(market: MarketData, registry: ToolRegistry | None = None) -> ToolRegistry:
    """Register every investor tool (see SPECS) on ``registry`` (a new one if None)."""
    registry = registry if registry is not None else ToolRegistry()
    tools = InvestorTools(market)
    for name, spec in SPECS.items():
        timeout = SLOW_TOOL_TIMEOUT_S if name == "compare_stocks" else None
        kwargs = {"timeout": timeout} if timeout else {}
        registry.register(spec, _guarded(name, market, getattr(tools, name)), **kwargs)
    return registry
