#!/usr/bin/env python
"""Investor tools: market-cache hit vs miss, and the size of each tool's model-facing output.

- miss: the cache emptied (and yfinance's in-process memo forgotten) before each call, so
  every call goes through yfinance's request and parsing code against the local replay of
  the recorded Yahoo responses (tests/support/yahoo_replay.py) and writes the cache;
- hit: the same call answered from the SQLite cache;
- tokens: ``ToolResult.to_model()`` of each tool for AAPL, estimated (assistant_core.tokens).
  Recorded kinds come from the replay; cash flow, quote and recommendations were not recorded,
  so those use the demo provider (said in the table).

Targets: cache hit < 2 ms; every model-facing output < 1,500 tokens.
Run: python bench/bench_tools.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Keep yfinance's timezone cache and our cache out of the user's real directories.
_TMP = Path(tempfile.mkdtemp(prefix="bench-tools-"))
os.environ["XDG_CACHE_HOME"] = str(_TMP / "cache")

from assistant_core.market import MarketData, create_market
from assistant_core.tokens import estimate_text
from assistant_core.tools.investor import build_investor_tools
from tests.support.yahoo_replay import YahooReplay, forget_yfinance_responses

FIXTURES = ROOT / "tests" / "fixtures" / "recorded"
HIT_TARGET_MS = 2.0
TOKEN_TARGET = 1500


def median_ms(
    run: Callable[[], Any], rounds: int, before: Callable[[], None] | None = None
) -> float:
    samples = []
    for _ in range(rounds):
        if before:
            before()
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench_cache(market: MarketData) -> None:
    assert market.cache is not None
    cache = market.cache

    def empty() -> None:
        cache.clear()
        forget_yfinance_responses()

    tools = build_investor_tools(market)
    income_tool = tools.get("get_income_statement").func  # type: ignore[union-attr]
    perf_tool = tools.get("get_daily_stock_performance").func  # type: ignore[union-attr]
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("MarketData.statement(AAPL income)", lambda: market.statement("AAPL", "income", "annual")),
        ("MarketData.history(MSFT 6mo)", lambda: market.history("MSFT", "6mo")),
        ("tool get_income_statement(AAPL)", lambda: income_tool(ticker="AAPL")),
        ("tool get_daily_stock_performance(MSFT)", lambda: perf_tool(ticker="MSFT")),
    ]
    print("Market cache (Yahoo replay of the recorded responses), median ms")
    print(f"  {'call':<42} {'miss':>8} {'hit':>8}")
    worst_hit = 0.0
    for label, run in cases:
        run()  # warm imports
        miss = median_ms(run, 25, before=empty)
        run()  # fill
        hit = median_ms(run, 500)
        worst_hit = max(worst_hit, hit) if label.startswith("MarketData") else worst_hit
        print(f"  {label:<42} {miss:>8.2f} {hit:>8.3f}")
    verdict = "OK" if worst_hit < HIT_TARGET_MS else "OVER TARGET"
    print(
        f"  cache hit target < {HIT_TARGET_MS} ms: {verdict} (worst MarketData hit {worst_hit:.3f} ms)"
    )


def token_sizes(replay_market: MarketData, demo_market: MarketData) -> None:
    replay_tools, demo_tools = (
        build_investor_tools(replay_market),
        build_investor_tools(demo_market),
    )
    cases = [
        ("get_ticker", {"company_name": "AAPL"}, "replay"),
        ("get_income_statement", {"ticker": "AAPL"}, "replay"),
        ("get_balance_sheet", {"ticker": "AAPL"}, "replay"),
        ("get_daily_stock_performance", {"ticker": "AAPL"}, "replay"),
        ("get_company_news", {"ticker": "AAPL"}, "replay"),
        ("compare_stocks", {"tickers": ["AAPL", "MSFT"]}, "replay"),
        ("get_cash_flow", {"ticker": "AAPL"}, "demo"),
        ("get_stock_quote", {"ticker": "AAPL"}, "demo"),
        ("get_analyst_recommendations", {"ticker": "AAPL"}, "demo"),
    ]
    import asyncio

    async def run() -> list[tuple[str, str, int, int, int, str | None]]:
        rows = []
        for name, args, where in cases:
            tools = replay_tools if where == "replay" else demo_tools
            result = await tools.execute(name, json.dumps(args))
            text = result.to_model()
            demo_text = (await demo_tools.execute(name, json.dumps(args))).to_model()
            rows.append(
                (
                    name,
                    where,
                    len(text),
                    estimate_text(text),
                    estimate_text(demo_text),
                    result.error,
                )
            )
        # the largest shapes: a full 100-day window (AAPL's recording has only 49 days), and a
        # six-way comparison over a year
        for name, args, where in (
            ("get_daily_stock_performance", {"ticker": "MSFT"}, "replay"),
            (
                "compare_stocks",
                {"tickers": ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"], "period": "1y"},
                "demo",
            ),
        ):
            tools = replay_tools if where == "replay" else demo_tools
            result = await tools.execute(name, json.dumps(args))
            text = result.to_model()
            demo_text = (await demo_tools.execute(name, json.dumps(args))).to_model()
            label = f"{name} [{len(args.get('tickers', [1]))}x: {', '.join(args.get('tickers', [args.get('ticker')]))}]"
            rows.append(
                (
                    label,
                    where,
                    len(text),
                    estimate_text(text),
                    estimate_text(demo_text),
                    result.error,
                )
            )
        return rows

    rows = asyncio.run(run())
    print("\nModel-facing output for AAPL (ToolResult.to_model), estimated tokens")
    print(f"  {'tool':<46} {'data':<7} {'chars':>6} {'tokens':>7} {'demo tokens':>12}")
    for name, where, chars, tokens, demo_tokens, error in rows:
        note = f"  ERROR: {error}" if error else ""
        label = name if len(name) <= 46 else name[:45] + "…"
        print(f"  {label:<46} {where:<7} {chars:>6} {tokens:>7} {demo_tokens:>12}{note}")
    biggest = max(max(r[3], r[4]) for r in rows)
    verdict = "OK" if biggest < TOKEN_TARGET else "OVER TARGET"
    print(f"  every output < {TOKEN_TARGET} tokens: {verdict} (largest {biggest})")


def main() -> None:
    replay = YahooReplay(FIXTURES)
    market = create_market("yahoo", session=replay.session(), cache_path=_TMP / "bench-cache.db")
    bench_cache(market)
    market.cache.clear()  # type: ignore[union-attr]
    token_sizes(market, create_market("demo"))
    market.close()


if __name__ == "__main__":
    main()
