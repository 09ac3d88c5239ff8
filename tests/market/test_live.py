"""Against the real Yahoo Finance (skipped unless INVESTOR_ASSISTANT_LIVE=1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant_core.market import create_market
from assistant_core.tools.investor import build_investor_tools


@pytest.mark.network
async def test_live_yahoo_round_trip(tmp_path: Path) -> None:
    market = create_market("yahoo", cache_path=tmp_path / "live.db")
    tools = build_investor_tools(market)
    ticker = await tools.execute("get_ticker", json.dumps({"company_name": "Apple"}))
    assert ticker.error is None and ticker.data["symbol"] == "AAPL"
    income = await tools.execute("get_income_statement", '{"ticker": "AAPL"}')
    assert income.error is None and income.data["rows"]["Total Revenue"][0] > 300e9
    perf = await tools.execute("get_daily_stock_performance", '{"ticker": "AAPL"}')
    assert perf.error is None and perf.data["days"] == 100
    market.close()
