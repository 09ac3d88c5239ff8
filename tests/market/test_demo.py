"""The demo provider: deterministic, any symbol, Yahoo's shapes, always labelled demo."""

from __future__ import annotations

import datetime as dt
import json

from assistant_core.market import MarketData, create_market
from assistant_core.market.demo import DemoProvider
from assistant_core.tools.investor import SPECS, build_investor_tools
from tests.support.yahoo_replay import YahooReplay

ARGS = {name: {"ticker": "AAPL"} for name in SPECS}
ARGS["get_ticker"] = {"company_name": "Apple"}
ARGS["compare_stocks"] = {"tickers": ["AAPL", "MSFT"]}


def test_same_symbol_same_numbers_on_any_day() -> None:
    monday, later = (
        DemoProvider(lambda: dt.date(2025, 3, 3)),
        DemoProvider(lambda: dt.date(2026, 7, 15)),
    )
    a, b = monday.history("NVDA", "6mo"), later.history("NVDA", "6mo")
    assert a["close"] == b["close"] and a["volume"] == b["volume"]
    assert a["dates"][-1] == "2025-03-03" and b["dates"][-1] == "2026-07-15"
    assert (
        monday.statement("NVDA", "income", "annual")["rows"]
        == later.statement("NVDA", "income", "annual")["rows"]
    )
    assert monday.quote("NVDA") == later.quote("NVDA")
    assert monday.history("NVDA", "6mo")["close"] != monday.history("AMD", "6mo")["close"]


def test_shapes_are_coherent() -> None:
    demo = DemoProvider(lambda: dt.date(2025, 3, 8))  # a Saturday
    year, half = demo.history("ZZZ", "1y"), demo.history("ZZZ", "6mo")
    assert len(year["dates"]) == 252 and len(half["dates"]) == 126
    assert half["close"] == year["close"][-126:]
    assert all(dt.date.fromisoformat(d).weekday() < 5 for d in year["dates"])
    assert year["dates"][-1] == "2025-03-07"
    assert all(lo <= c <= hi for lo, c, hi in zip(year["low"], year["close"], year["high"]))  # type: ignore[operator]
    quarterly = demo.statement("ZZZ", "balance", "quarterly")
    assert quarterly["periods"] == ["2024-12-31", "2024-09-30", "2024-06-30", "2024-03-31"]
    rows = quarterly["rows"]
    assert (
        rows["Total Assets"][0]
        == rows["Total Liabilities Net Minority Interest"][0] + rows["Stockholders Equity"][0]
    )  # type: ignore[operator]
    quote = demo.quote("ZZZ")
    assert quote["price"] == year["close"][-1]
    assert 8 < quote["pe_ratio"] < 50  # type: ignore[operator]
    assert demo.quote("005930.KS")["currency"] == "KRW"


async def test_every_tool_says_demo(demo_market: MarketData) -> None:
    tools = build_investor_tools(demo_market)
    for name in SPECS:
        result = await tools.execute(name, json.dumps(ARGS[name]))
        assert result.error is None, (name, result.error)
        assert result.source == "demo", name
        assert json.loads(result.to_model())["source"] == "demo"
    news = await tools.execute("get_company_news", '{"ticker": "AAPL"}')
    assert all(item["title"].startswith("DEMO:") for item in news.data["items"])


async def test_demo_results_have_the_same_shapes_as_yahoo_results(
    demo_market: MarketData, yahoo_market: MarketData, replay: YahooReplay
) -> None:
    demo_tools, yahoo_tools = build_investor_tools(demo_market), build_investor_tools(yahoo_market)
    for name in (
        "get_ticker",
        "get_income_statement",
        "get_balance_sheet",
        "get_daily_stock_performance",
        "get_company_news",
        "compare_stocks",
        "get_stock_quote",
    ):
        args = {"company_name": "AAPL"} if name == "get_ticker" else ARGS[name]
        demo = await demo_tools.execute(name, json.dumps(args))
        real = await yahoo_tools.execute(name, json.dumps(args))
        assert real.error is None, (name, real.error)
        assert set(demo.data) == set(real.data), name
        assert demo.display["kind"] == real.display["kind"], name
    demo_income = await demo_tools.execute("get_income_statement", '{"ticker": "AAPL"}')
    real_income = await yahoo_tools.execute("get_income_statement", '{"ticker": "AAPL"}')
    assert set(demo_income.data["rows"]) == set(real_income.data["rows"])


async def test_unknown_symbols_get_demo_data_too() -> None:
    tools = build_investor_tools(create_market("demo"))
    result = await tools.execute("get_daily_stock_performance", '{"ticker": "QQQQZ"}')
    assert result.error is None and result.data["days"] == 100 and result.source == "demo"
