"""The Yahoo provider on the REAL recorded Yahoo responses, through yfinance's own request and
parsing code (replayed by tests/support/yahoo_replay.py), asserted through the tools' outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant_core.market import MarketData
from assistant_core.tools.investor import build_investor_tools
from assistant_core.tools.registry import ToolRegistry
from assistant_core.tools.result import ToolResult
from tests.support.yahoo_replay import YahooReplay


@pytest.fixture
def tools(yahoo_market: MarketData) -> ToolRegistry:
    return build_investor_tools(yahoo_market)


async def call(tools: ToolRegistry, name: str, **args: object) -> ToolResult:
    result = await tools.execute(name, json.dumps(args))
    return result


def recorded_body(fixtures_dir: Path, name: str) -> dict:
    return json.loads((fixtures_dir / "yahoo_finance" / name).read_text())["response"]["bodyJson"]


async def test_income_statement_has_apples_fiscal_2024_figures(tools: ToolRegistry) -> None:
    result = await call(tools, "get_income_statement", ticker="AAPL")
    assert result.error is None
    data = result.data
    assert data["statement"] == "income" and data["period"] == "annual"
    assert data["periods"] == ["2024-09-30", "2023-09-30", "2022-09-30"]
    rows = data["rows"]
    assert rows["Total Revenue"] == [391_035_000_000, 383_285_000_000, 394_328_000_000]
    assert rows["Net Income"] == [93_736_000_000, 96_995_000_000, 99_803_000_000]
    assert rows["Diluted EPS"][0] == 6.08
    assert {"Gross Profit", "Operating Income", "EBITDA", "Basic EPS"} <= set(rows)
    assert 8 <= len(rows) <= 12
    assert (result.source, result.symbol, result.currency) == ("yahoo", "AAPL", "USD")
    assert result.as_of is not None and not result.cache_hit
    table = result.display
    assert table["kind"] == "table" and table["columns"] == data["periods"]
    assert table["rows"][0] == ["Total Revenue", 391_035_000_000, 383_285_000_000, 394_328_000_000]
    assert len(table["rows"]) > len(rows)  # the screen gets a few more rows than the model


async def test_balance_sheet_has_apples_total_assets(tools: ToolRegistry) -> None:
    result = await call(tools, "get_balance_sheet", ticker="aapl")
    assert result.error is None
    rows = result.data["rows"]
    assert rows["Total Assets"] == [364_980_000_000, 352_583_000_000, 352_755_000_000]
    assert rows["Cash And Cash Equivalents"][0] == 29_943_000_000
    assert {
        "Total Liabilities Net Minority Interest",
        "Stockholders Equity",
        "Total Debt",
        "Current Assets",
        "Current Liabilities",
        "Long Term Debt",
    } <= set(rows)
    assert result.data["statement"] == "balance"


async def test_daily_performance_keeps_the_last_100_trading_days_of_the_recorded_chart(
    tools: ToolRegistry, fixtures_dir: Path
) -> None:
    chart = recorded_body(
        fixtures_dir,
        "yahoo-finance2_historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.json",
    )
    quote = chart["chart"]["result"][0]["indicators"]["quote"][0]
    closes = quote["close"]
    assert len(closes) == 252

    result = await call(tools, "get_daily_stock_performance", ticker="MSFT")
    assert result.error is None
    data = result.data
    assert data["days"] == 100
    assert data["end"] == "2022-01-28"
    assert data["last_close"] == round(closes[-1], 2) == 308.26
    assert data["first_close"] == round(closes[-100], 2)
    assert data["return_pct"] == round((closes[-1] / closes[-100] - 1) * 100, 2)
    assert data["high"]["value"] == round(max(quote["high"][-100:]), 2)
    assert data["low"]["value"] == round(min(quote["low"][-100:]), 2)
    assert data["avg_volume"] == int(sum(quote["volume"][-100:]) / 100)
    assert data["max_drawdown_pct"] < 0 < data["volatility_annualized_pct"]
    assert 19 <= len(data["weekly_closes"]) <= 22
    assert data["weekly_closes"][-1] == ["2022-01-28", 308.26]
    series = result.display["series"][0]
    assert result.display["kind"] == "prices" and series["symbol"] == "MSFT"
    assert len(series["dates"]) == len(series["close"]) == len(series["volume"]) == 100
    assert series["close"][-1] == 308.26 and series["volume"][-1] == quote["volume"][-1]
    assert result.currency == "USD"


async def test_a_short_recorded_series_is_used_whole(tools: ToolRegistry) -> None:
    result = await call(tools, "get_daily_stock_performance", ticker="AAPL")
    assert result.error is None
    assert result.data["days"] == 49  # the recording has 49 bars (after the 4:1 split)
    assert (result.data["start"], result.data["end"]) == ("2020-08-31", "2020-11-06")
    assert result.data["last_close"] == 118.69


async def test_search_for_aapl_finds_the_equity_and_skips_the_symbol_less_entry(
    tools: ToolRegistry, fixtures_dir: Path
) -> None:
    body = recorded_body(fixtures_dir, "yahoo-finance2_search-AAPL.json")
    assert any("symbol" not in q for q in body["quotes"])  # the crunchbase entry

    result = await call(tools, "get_ticker", company_name="AAPL")
    assert result.error is None
    data = result.data
    assert (data["symbol"], data["name"], data["exchange"], data["type"]) == (
        "AAPL",
        "Apple Inc.",
        "NMS",
        "EQUITY",
    )
    assert data["lookup_source"] == "yahoo" and result.source == "yahoo"
    assert [a["symbol"] for a in data["alternatives"]] == ["AAPU"]  # options left out
    assert all(a["symbol"] for a in data["alternatives"])


async def test_company_name_search_prefers_the_xetra_listing(tools: ToolRegistry) -> None:
    result = await call(tools, "get_ticker", company_name="Bayerische Motoren Werke AG")
    assert result.error is None
    assert result.data["symbol"] == "BMW.DE"
    assert result.data["exchange"] == "GER"
    assert {a["symbol"] for a in result.data["alternatives"]} <= {
        "BMW.SG",
        "BAMXF",
        "BMWM5N.MX",
        "BMW3D.XC",
        "BMW.DU",
    }
    assert len(result.data["alternatives"]) == 4


async def test_news_comes_from_the_recorded_search(tools: ToolRegistry, fixtures_dir: Path) -> None:
    body = recorded_body(fixtures_dir, "yahoo-finance2_search-AAPL.json")
    result = await call(tools, "get_company_news", ticker="AAPL")
    assert result.error is None
    items = result.data["items"]
    assert [i["title"] for i in items] == [n["title"] for n in body["news"]]
    assert items[0]["publisher"] == "Yahoo Finance Video"
    assert items[0]["published"] == "2025-02-25T00:20:00Z"
    assert items[0]["url"].startswith("https://finance.yahoo.com/")


async def test_quote_falls_back_to_the_chart_metadata(
    tools: ToolRegistry, replay: YahooReplay
) -> None:
    result = await call(tools, "get_stock_quote", ticker="AAPL")
    assert result.error is None
    data = result.data
    assert data["price"] == 244.87
    assert (data["fifty_two_week_low"], data["fifty_two_week_high"]) == (164.08, 260.1)
    assert data["volume"] == 32_129_951
    assert data["previous_close"] is None  # the recorded bars are from 2020: not mixed in
    assert replay.count("/v10/finance/quoteSummary/AAPL") >= 1  # info was tried first


async def test_compare_stocks_side_by_side(tools: ToolRegistry) -> None:
    result = await call(tools, "compare_stocks", tickers=["AAPL", "msft"], period="3mo")
    assert result.error is None
    stocks = {s["symbol"]: s for s in result.data["stocks"]}
    assert set(stocks) == {"AAPL", "MSFT"} and result.data["period"] == "3mo"
    assert stocks["MSFT"]["last_close"] == 308.26 and stocks["AAPL"]["last_close"] == 118.69
    # AAPL's 3-month window is its whole 49-bar recording (Aug 31 → Nov 6, 2020).
    assert stocks["AAPL"]["first_close"] == 129.04
    assert len(result.display["series"]) == 2


async def test_recorded_bodies_go_through_yfinance_endpoints(
    tools: ToolRegistry, replay: YahooReplay
) -> None:
    await call(tools, "get_income_statement", ticker="AAPL")
    await call(tools, "get_daily_stock_performance", ticker="MSFT")
    assert replay.count("/ws/fundamentals-timeseries/v1/finance/timeseries/AAPL") >= 1
    assert replay.count("/v8/finance/chart/MSFT") >= 1
