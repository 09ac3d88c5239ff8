"""Every Yahoo failure mode comes back as a one-line tool error (never an exception)."""

from __future__ import annotations

import json
import threading

import pytest

from assistant_core.market import MarketData
from assistant_core.market.base import (
    MarketDataError,
    NoDataError,
    ProviderUnavailableError,
    RateLimitedError,
)
from assistant_core.market.yahoo import YahooProvider, _translate
from assistant_core.tools.investor import SPECS, build_investor_tools
from assistant_core.tools.registry import ToolRegistry
from assistant_core.tools.result import ToolResult
from tests.market.conftest import FakeProvider
from tests.support.yahoo_replay import YahooReplay


@pytest.fixture
def tools(yahoo_market: MarketData) -> ToolRegistry:
    return build_investor_tools(yahoo_market)


async def call(tools: ToolRegistry, name: str, **args: object) -> ToolResult:
    return await tools.execute(name, json.dumps(args))


def assert_one_line_error(result: ToolResult, *fragments: str) -> None:
    assert result.error is not None, result.data
    assert "\n" not in result.error and len(result.error) < 300
    for fragment in fragments:
        assert fragment in result.error
    assert result.data is None


async def test_rate_limit_is_retried_with_backoff_then_reported(
    tools: ToolRegistry, replay: YahooReplay, sleeps: list[float]
) -> None:
    replay.rate_limit(10_000)
    result = await call(tools, "get_income_statement", ticker="AAPL")
    assert_one_line_error(result, "rate-limiting", "4 tries")
    assert sleeps == [2.0, 4.0, 8.0]


async def test_rate_limit_that_clears_gets_the_data(
    tools: ToolRegistry, replay: YahooReplay, sleeps: list[float]
) -> None:
    replay.rate_limit(2)  # yfinance retries once itself (other cookie strategy): both refused
    result = await call(tools, "get_daily_stock_performance", ticker="MSFT")
    assert result.error is None
    assert result.data["last_close"] == 308.26
    assert sleeps == [2.0]


async def test_statement_rate_limit_is_absorbed_by_yfinances_chunked_requests(
    tools: ToolRegistry, replay: YahooReplay, sleeps: list[float]
) -> None:
    replay.rate_limit(2)  # the one-URL request is refused; yfinance retries in chunks
    result = await call(tools, "get_income_statement", ticker="AAPL")
    assert result.error is None
    assert result.data["rows"]["Total Revenue"][0] == 391_035_000_000
    assert sleeps == []


async def test_unknown_symbol(tools: ToolRegistry) -> None:
    result = await call(tools, "get_daily_stock_performance", ticker="ZZZZ")
    assert_one_line_error(result, "no data for ZZZZ — delisted or wrong symbol?")
    assert result.symbol == "ZZZZ" and result.source == "yahoo"


async def test_empty_statement_frame(tools: ToolRegistry) -> None:
    # Cash flow was not recorded: Yahoo's empty timeseries answer → yfinance's empty frame.
    result = await call(tools, "get_cash_flow", ticker="AAPL")
    assert_one_line_error(result, "no cash flow data for AAPL — delisted or wrong symbol?")


async def test_network_down(tools: ToolRegistry, replay: YahooReplay) -> None:
    replay.offline()
    for name, args in (
        ("get_income_statement", {"ticker": "AAPL"}),
        ("get_daily_stock_performance", {"ticker": "MSFT"}),
        ("get_stock_quote", {"ticker": "AAPL"}),
    ):
        result = await call(tools, name, **args)
        assert_one_line_error(result, "cannot reach Yahoo Finance")


async def test_no_tool_raises_whatever_yahoo_does(tools: ToolRegistry, replay: YahooReplay) -> None:
    args = {name: {"ticker": "AAPL"} for name in SPECS}
    args["get_ticker"] = {"company_name": "Apple"}
    args["compare_stocks"] = {"tickers": ["AAPL", "MSFT"]}
    for fault in ("offline", "rate_limit"):
        if fault == "offline":
            replay.offline()
        else:
            replay.offline(False)
            replay.rate_limit(10_000)
        for name in SPECS:
            result = await call(tools, name, **args[name])
            # get_ticker still answers from the built-in table; everything else is an error.
            if name == "get_ticker":
                assert result.error is None and result.data["lookup_source"] == "builtin"
            else:
                assert_one_line_error(result)


def test_timezone_and_other_yfinance_errors_are_translated() -> None:
    from yfinance.exceptions import YFException, YFPricesMissingError, YFTzMissingError

    tz = _translate(YFTzMissingError("ZZZZ"), "price history", "ZZZZ")
    assert isinstance(tz, NoDataError)
    assert str(tz).startswith("no data for ZZZZ — delisted or wrong symbol?") and "timezone" in str(
        tz
    )
    missing = _translate(YFPricesMissingError("ZZZZ", ""), "price history", "ZZZZ")
    assert str(missing) == "no data for ZZZZ — delisted or wrong symbol?"
    other = _translate(YFException("Yahoo\nexploded"), "quote", "AAPL")
    assert type(other) is MarketDataError and "\n" not in str(other)
    assert isinstance(
        _translate(TimeoutError("read timed out"), "quote", "AAPL"), ProviderUnavailableError
    )
    assert isinstance(_translate(KeyError("chart"), "quote", "AAPL"), MarketDataError)


def test_provider_raises_only_market_data_errors(replay: YahooReplay) -> None:
    provider = YahooProvider(replay.session(), sleep=lambda s: None, backoff=(0.0,))
    replay.rate_limit(10_000)
    with pytest.raises(RateLimitedError, match="2 tries"):
        provider.history("MSFT", "6mo")
    replay.rate_limit(0)
    replay.offline()
    with pytest.raises(ProviderUnavailableError):
        provider.search("Apple")


async def test_a_provider_bug_is_an_error_result(
    fake_market: MarketData, fake: FakeProvider
) -> None:
    def broken(symbol: str) -> None:
        raise ZeroDivisionError("division by zero")

    fake.quote = broken  # type: ignore[method-assign]
    tools = build_investor_tools(fake_market)
    result = await call(tools, "get_stock_quote", ticker="AAPL")
    assert_one_line_error(result, "get_stock_quote failed unexpectedly", "ZeroDivisionError")


async def test_a_hanging_fetch_times_out_through_the_registry(
    fake_market: MarketData, fake: FakeProvider
) -> None:
    fake.gate = threading.Event()  # every fetch blocks until the gate opens
    tools = build_investor_tools(fake_market)
    tool = tools.get("get_income_statement")
    assert tool is not None
    tool.timeout = 0.2
    try:
        result = await call(tools, "get_income_statement", ticker="AAPL")
    finally:
        fake.gate.set()
    assert_one_line_error(result, "get_income_statement timed out after 0.2 s")


async def test_bad_arguments_never_reach_the_provider(
    fake_market: MarketData, fake: FakeProvider
) -> None:
    tools = build_investor_tools(fake_market)
    cases = [
        ("get_income_statement", {"ticker": ""}, "ticker is empty"),
        ("get_balance_sheet", {"ticker": "X" * 500}, "500 characters"),
        ("get_daily_stock_performance", {"ticker": "AAPL'; DROP TABLE entries; --"}, "at most 20"),
        ("get_stock_quote", {"ticker": "$(rm -rf /)"}, "not a valid ticker"),
        ("get_cash_flow", {"ticker": "../../etc/passwd"}, "not a valid ticker"),
        ("get_income_statement", {"ticker": "삼성전자"}, "call get_ticker"),
        ("get_income_statement", {"ticker": "AAPL", "period": "weekly"}, "invalid arguments"),
        (
            "get_income_statement",
            {"ticker": "AAPL", "format": "csv"},
            "unexpected argument(s) format",
        ),
        ("get_ticker", {"company_name": ""}, "company_name is empty"),
        ("get_ticker", {"company_name": "A" * 500}, "500 characters"),
        (
            "get_ticker",
            {"company_name": "Robert'); DROP TABLE Students;--"},
            "does not look like a company name",
        ),
        ("compare_stocks", {"tickers": ["AAPL"]}, "invalid arguments"),
        ("compare_stocks", {"tickers": ["AAPL", ""]}, "ticker is empty"),
        ("compare_stocks", {"tickers": ["AAPL", "MSFT"], "period": "5y"}, "invalid arguments"),
        ("get_income_statement", {}, "'ticker' is a required property"),
    ]
    for name, args, fragment in cases:
        result = await call(tools, name, **args)
        assert_one_line_error(result, fragment)
    assert sum(fake.calls.values()) == 0
