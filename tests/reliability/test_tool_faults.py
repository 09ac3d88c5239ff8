"""Tool faults inside a real run: yfinance raising, hanging, returning empty frames or
rate-limited; the web search failing; the market cache locked or corrupt.

Each run's model (a scripted backend) asks for a faulty call and a healthy one in the same
step. The run must complete, the healthy call must complete with its data, and the faulty
one must reach the model as a one-line error — never a crash.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant_core.market import MarketData
from assistant_core.objects import ToolCall
from assistant_core.runtime import RetryPolicy, Runtime
from assistant_core.store import Store
from assistant_core.tools.investor import build_investor_tools
from tests.support.scripted_backend import ScriptedBackend, text_turn, tool_outputs, tool_turn
from tests.support.yahoo_replay import YahooReplay

INCOME_AAPL = ("get_income_statement", '{"ticker": "AAPL"}', "call_income")
PRICES_MSFT = ("get_daily_stock_performance", '{"ticker": "MSFT"}', "call_prices")
TICKER_APPLE = ("get_ticker", '{"company_name": "Apple"}', "call_ticker")
FINAL = "Here is what the data says."


async def run_step(
    tmp_path: Path,
    market: MarketData,
    *calls: tuple[str, str, str],
    tool_timeout: float | None = None,
) -> tuple[dict[str, ToolCall], dict[str, Any], float]:
    """One run: the model calls ``calls`` in one step, then answers. Returns the stored calls
    by id, the tool outputs the model was sent (parsed), and the run's duration."""
    backend = ScriptedBackend([tool_turn(*calls), text_turn(FINAL)])
    tools = build_investor_tools(market)
    if tool_timeout is not None:
        for name in {c[0] for c in calls}:
            tools.get(name).timeout = tool_timeout  # type: ignore[union-attr]
    store = Store(tmp_path / "threads.db")
    runtime = Runtime(
        store, backend, tools, model="scripted", retry_policy=RetryPolicy(max_retries=0)
    )
    try:
        thread = runtime.create_thread()
        started = time.monotonic()
        events = [e async for e in runtime.ask(thread.id, "Tell me about Apple and Microsoft")]
        elapsed = time.monotonic() - started
        assert [e.event for e in events][-2:] == ["thread.run.completed", "done"]
        assert store.list_messages(thread.id)[-1].text == FINAL
        run = store.get_run(events[0].data.id)
        [step] = [s for s in store.list_steps(run.id) if s.type == "tool_calls"]
        assert step.status == "completed"
        stored = {c.id: c for c in step.tool_calls}
        sent = {k: json.loads(v) for k, v in tool_outputs(backend.requests[1]).items()}
        assert set(sent) == set(stored) == {c[2] for c in calls}
        return stored, sent, elapsed
    finally:
        await runtime.aclose()
        store.close()


def assert_failed_call(call: ToolCall, sent: dict[str, Any], *fragments: str) -> None:
    assert call.status == "error" and call.is_error
    assert call.error is not None and "\n" not in call.error and len(call.error) < 300
    assert sent[call.id]["error"] == call.error  # the model reads the same one line
    for fragment in fragments:
        assert fragment in call.error, call.error


def assert_income_ok(stored: dict[str, ToolCall], sent: dict[str, Any]) -> None:
    call = stored["call_income"]
    assert call.status == "completed" and not call.is_error
    assert "Total Revenue" in json.dumps(sent["call_income"]["data"])


def _patch_history(
    monkeypatch: pytest.MonkeyPatch, symbol: str, replacement: Callable[..., Any]
) -> None:
    """Replace yfinance's ``Ticker.history`` for one symbol; other symbols use the real one."""
    import yfinance as yf

    original = yf.Ticker.history

    def history(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.ticker == symbol:
            return replacement()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(yf.Ticker, "history", history)


# -- yfinance -----------------------------------------------------------------------------------
async def test_yfinance_raising(
    tmp_path: Path, make_market: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise RuntimeError("yfinance internal error\nwith a second line")

    _patch_history(monkeypatch, "MSFT", boom)
    stored, sent, _ = await run_step(tmp_path, make_market(), INCOME_AAPL, PRICES_MSFT)
    assert_failed_call(
        stored["call_prices"], sent, "MSFT", "RuntimeError", "yfinance internal error"
    )
    assert_income_ok(stored, sent)


async def test_yfinance_hanging_times_out(
    tmp_path: Path, make_market: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    _patch_history(monkeypatch, "MSFT", lambda: release.wait(30))
    try:
        stored, sent, elapsed = await run_step(
            tmp_path, make_market(), INCOME_AAPL, PRICES_MSFT, tool_timeout=1.0
        )
    finally:
        release.set()
    assert_failed_call(stored["call_prices"], sent, "timed out after 1 s")
    assert_income_ok(stored, sent)
    assert elapsed < 6  # the hang did not hold the run


async def test_yfinance_empty_frame(
    tmp_path: Path, make_market: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    _patch_history(monkeypatch, "MSFT", pd.DataFrame)
    stored, sent, _ = await run_step(tmp_path, make_market(), INCOME_AAPL, PRICES_MSFT)
    assert_failed_call(stored["call_prices"], sent, "no data for MSFT")
    assert_income_ok(stored, sent)


async def test_yahoo_rate_limit_gives_up_with_backoff(
    tmp_path: Path, make_market: Any, replay: YahooReplay, sleeps: list[float]
) -> None:
    replay.rate_limit(10_000)
    stored, sent, _ = await run_step(tmp_path, make_market(), PRICES_MSFT, TICKER_APPLE)
    assert_failed_call(stored["call_prices"], sent, "rate-limiting", "wait a minute")
    assert sorted(sleeps) == [2.0, 2.0, 4.0, 4.0, 8.0, 8.0]  # search and history each backed off
    # The ticker lookup falls back to the built-in table when Yahoo's search is refused.
    ticker = stored["call_ticker"]
    assert ticker.status == "completed" and sent["call_ticker"]["data"]["symbol"] == "AAPL"
    assert sent["call_ticker"]["data"]["lookup_source"] == "builtin"


async def test_yahoo_unreachable(tmp_path: Path, make_market: Any, replay: YahooReplay) -> None:
    replay.offline()
    stored, sent, _ = await run_step(tmp_path, make_market(), PRICES_MSFT, TICKER_APPLE)
    assert_failed_call(stored["call_prices"], sent, "cannot reach Yahoo Finance")
    assert stored["call_ticker"].status == "completed"


# -- web search (ddgs) ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "failure", ["RatelimitException", "TimeoutException", "DDGSException", "OSError"]
)
async def test_web_search_failing_falls_through_to_the_builtin_table(
    tmp_path: Path, make_market: Any, failure: str
) -> None:
    import ddgs.exceptions

    error_type = getattr(ddgs.exceptions, failure, None) or OSError
    searched: list[str] = []

    def web_search(query: str) -> list[dict[str, Any]]:
        searched.append(query)
        raise error_type("202 Ratelimit")

    market = make_market(web_search=web_search)
    samsung = ("get_ticker", '{"company_name": "삼성전자"}', "call_samsung")
    unknown = ("get_ticker", '{"company_name": "Zyxwv Holdings"}', "call_unknown")
    stored, sent, _ = await run_step(tmp_path, market, samsung, unknown, INCOME_AAPL)
    assert len(searched) == 2  # Yahoo found neither name, so the web was asked for both
    answer = sent["call_samsung"]["data"]
    assert answer["symbol"] == "005930.KS" and answer["lookup_source"] == "builtin"
    assert stored["call_samsung"].status == "completed"
    assert_failed_call(stored["call_unknown"], sent, "no ticker found", "Zyxwv Holdings")
    assert_income_ok(stored, sent)


@pytest.mark.parametrize("failure", ["RatelimitException", "TimeoutException", "no results"])
async def test_the_real_ddgs_search_failing(
    tmp_path: Path, make_market: Any, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """The app's own ddgs step, with ddgs itself failing (no network is touched)."""
    import ddgs
    import ddgs.exceptions

    from assistant_core.market.lookup import ddgs_search

    def text(self: Any, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        if failure == "no results":
            raise ddgs.exceptions.DDGSException("No results found.")
        raise getattr(ddgs.exceptions, failure)(f"{failure} from ddgs")

    monkeypatch.setattr(ddgs.DDGS, "text", text)
    samsung = ("get_ticker", '{"company_name": "삼성전자"}', "call_samsung")
    unknown = ("get_ticker", '{"company_name": "Zyxwv Holdings"}', "call_unknown")
    stored, sent, _ = await run_step(
        tmp_path, make_market(web_search=ddgs_search), samsung, unknown, INCOME_AAPL
    )
    assert sent["call_samsung"]["data"]["symbol"] == "005930.KS"
    assert_failed_call(stored["call_unknown"], sent, "no ticker found")
    assert_income_ok(stored, sent)


# -- the market cache ---------------------------------------------------------------------------
async def test_cache_locked_by_another_connection_is_bypassed(
    tmp_path: Path, make_market: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cache_path = tmp_path / "cache" / "market-cache.db"
    make_market(cache_path=cache_path).close()  # create it
    holder = sqlite3.connect(cache_path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # so EXCLUSIVE locks out readers too
    holder.execute("BEGIN EXCLUSIVE")
    try:
        market = make_market(cache_path=cache_path)
        with caplog.at_level(logging.WARNING):
            stored, sent, elapsed = await run_step(tmp_path, market, INCOME_AAPL, PRICES_MSFT)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_income_ok(stored, sent)
    assert stored["call_prices"].status == "completed" and stored["call_prices"].source == "yahoo"
    assert market.cache is not None and market.cache.warnings
    assert all("locked" in w for w in market.cache.warnings)
    assert any("market cache" in r.getMessage() for r in caplog.records)
    assert elapsed < 10


async def test_corrupt_cache_is_moved_aside_and_rebuilt(
    tmp_path: Path, make_market: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cache_path = tmp_path / "cache" / "market-cache.db"
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"\x00garbage, not SQLite at all\xff" * 500)
    with caplog.at_level(logging.WARNING):
        market = make_market(cache_path=cache_path)
        stored, sent, _ = await run_step(tmp_path, market, INCOME_AAPL, PRICES_MSFT)
    assert_income_ok(stored, sent)
    assert stored["call_prices"].status == "completed"
    assert market.cache is not None and market.cache.enabled
    [warning] = market.cache.warnings
    assert "was corrupt" in warning and "started a new one" in warning
    aside = list(cache_path.parent.glob("market-cache.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"\x00garbage")
    with sqlite3.connect(cache_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] >= 2  # cached again
    assert (cache_path.stat().st_mode & 0o777) == 0o600


async def test_cache_corrupted_while_open_never_crashes_a_run(
    tmp_path: Path, make_market: Any
) -> None:
    cache_path = tmp_path / "cache" / "market-cache.db"
    market = make_market(cache_path=cache_path)
    await run_step(tmp_path, market, INCOME_AAPL)  # fills the cache
    # Another program scribbles over the file while the app has it open.
    with open(cache_path, "r+b") as handle:
        handle.write(b"\xde\xad\xbe\xef" * 4096)
    for sidecar in ("-wal", "-shm"):
        Path(f"{cache_path}{sidecar}").unlink(missing_ok=True)
    stored, _sent, _ = await run_step(tmp_path, market, PRICES_MSFT, INCOME_AAPL)
    assert stored["call_prices"].status == "completed"
    assert stored["call_income"].status == "completed"
