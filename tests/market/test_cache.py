"""The SQLite cache: hits, TTLs, coalescing, stale-on-failure, and a broken file."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant_core.market import MarketData, create_market
from assistant_core.market.base import NoDataError
from assistant_core.market.cache import MarketCache, cache_key
from assistant_core.market.ttl import ttl_seconds, us_market_open
from assistant_core.tools.investor import build_investor_tools
from tests.market.conftest import OFFLINE, Clock, FakeProvider
from tests.support.yahoo_replay import YahooReplay

NY = dt.timezone(dt.timedelta(hours=-4))  # EDT


def ts(*args: int) -> float:
    return dt.datetime(*args, tzinfo=NY).timestamp()


def test_hit_says_cache_and_its_age(
    fake_market: MarketData, fake: FakeProvider, clock: Clock
) -> None:
    first = fake_market.statement("AAPL", "income", "annual")
    assert (first.source, first.cache_hit, first.age_s) == ("fake", False, None)
    clock.advance(42)
    second = fake_market.statement("AAPL", "income", "annual")
    assert (second.source, second.cache_hit, second.age_s) == ("cache", True, 42)
    assert second.as_of == first.as_of
    assert second.value == first.value
    assert fake.calls["statement"] == 1
    # different parameters are different entries
    fake_market.statement("AAPL", "income", "quarterly")
    fake_market.statement("MSFT", "income", "annual")
    assert fake.calls["statement"] == 3


async def test_a_cache_hit_through_a_tool(fake_market: MarketData, clock: Clock) -> None:
    tools = build_investor_tools(fake_market)
    live = await tools.execute("get_balance_sheet", '{"ticker": "AAPL"}')
    clock.advance(5)
    cached = await tools.execute("get_balance_sheet", '{"ticker": "aapl"}')
    assert (live.source, live.cache_hit) == ("fake", False)
    assert (cached.source, cached.cache_hit, cached.extra["cache_age_s"]) == ("cache", True, 5.0)
    assert cached.data == live.data
    assert json.loads(cached.to_model())["source"] == "cache"


def test_ttl_expiry(fake_market: MarketData, fake: FakeProvider, clock: Clock) -> None:
    clock.now = ts(2025, 3, 4, 11, 0)  # a Tuesday, market open: prices live 5 minutes
    fake_market.history("AAPL", "6mo")
    clock.advance(4 * 60)
    assert fake_market.history("AAPL", "6mo").cache_hit
    clock.advance(2 * 60)
    refreshed = fake_market.history("AAPL", "6mo")
    assert not refreshed.cache_hit and fake.calls["history"] == 2
    # statements live a day
    fake_market.statement("AAPL", "balance", "annual")
    clock.advance(23 * 3600)
    assert fake_market.statement("AAPL", "balance", "annual").cache_hit
    clock.advance(2 * 3600)
    assert not fake_market.statement("AAPL", "balance", "annual").cache_hit


def test_ttl_policy_follows_us_market_hours() -> None:
    tuesday_open, tuesday_night, saturday = (
        ts(2025, 3, 4, 11, 0),
        ts(2025, 3, 4, 20, 0),
        ts(2025, 3, 8, 11, 0),
    )
    assert (
        us_market_open(tuesday_open)
        and not us_market_open(tuesday_night)
        and not us_market_open(saturday)
    )
    assert ttl_seconds("history", tuesday_open) == 300
    assert ttl_seconds("history", tuesday_night) == ttl_seconds("history", saturday) == 3600
    assert ttl_seconds("statement", tuesday_open) == 86400


def call_together(
    call: Callable[[], object], n: int, gate: threading.Event
) -> tuple[list[object], list[Exception]]:
    """``call`` from ``n`` threads at once while the provider waits at ``gate``, opened once
    they have all had time to queue up behind the first. Returns (results, exceptions)."""
    results: list[object] = []
    errors: list[Exception] = []

    def one() -> None:
        try:
            results.append(call())
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    return results, errors


def test_concurrent_identical_requests_are_one_fetch(
    fake_market: MarketData, fake: FakeProvider
) -> None:
    fake.gate = threading.Event()
    results, _ = call_together(lambda: fake_market.quote("AAPL"), 8, fake.gate)
    assert fake.calls["quote"] == 1
    assert len(results) == 8
    assert len({json.dumps(r.value, sort_keys=True) for r in results}) == 1  # type: ignore[attr-defined]


def test_concurrent_failures_are_shared_too(fake_market: MarketData, fake: FakeProvider) -> None:
    fake.gate = threading.Event()
    fake.failure = OFFLINE
    _, errors = call_together(lambda: fake_market.quote("AAPL"), 4, fake.gate)
    assert fake.calls["quote"] == 1
    assert len(errors) == 4 and all(e is OFFLINE for e in errors)


def test_concurrent_yahoo_requests_reach_yahoo_once(replay: YahooReplay, tmp_path: Path) -> None:
    market = create_market("yahoo", session=replay.session(), cache_path=tmp_path / "c.db")
    replay.gate = threading.Event()
    results, _ = call_together(lambda: market.history("MSFT", "6mo"), 6, replay.gate)
    market.close()
    assert len(results) == 6
    assert replay.count("range=6mo") == 1  # one history request for six callers


def test_stale_entry_is_served_only_when_the_live_fetch_fails(
    fake_market: MarketData, fake: FakeProvider, clock: Clock
) -> None:
    first = fake_market.statement("AAPL", "income", "annual")
    clock.advance(2 * 86400)  # expired
    fake.failure = OFFLINE
    stale = fake_market.statement("AAPL", "income", "annual")
    assert (stale.source, stale.cache_hit, stale.stale) == ("cache", True, True)
    assert stale.stale_reason == str(OFFLINE)
    assert stale.value == first.value and stale.age_s == 2 * 86400
    fake.failure = None
    fresh = fake_market.statement("AAPL", "income", "annual")
    assert (fresh.source, fresh.stale) == ("fake", False)
    # nothing cached: the failure itself comes back
    fake.failure = NoDataError("no data for ZZZZ — delisted or wrong symbol?")
    with pytest.raises(NoDataError):
        fake_market.statement("ZZZZ", "income", "annual")


async def test_stale_result_is_marked_for_the_model(
    fake_market: MarketData, fake: FakeProvider, clock: Clock
) -> None:
    tools = build_investor_tools(fake_market)
    await tools.execute("get_daily_stock_performance", '{"ticker": "MSFT"}')
    clock.advance(86400)
    fake.failure = OFFLINE
    result = await tools.execute("get_daily_stock_performance", '{"ticker": "MSFT"}')
    assert result.error is None and result.stale and result.source == "cache"
    assert result.extra["stale_reason"].startswith("cannot reach Yahoo Finance")
    assert json.loads(result.to_model())["stale"] is True


def test_cache_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.db"
    cache = MarketCache(path)
    cache.put("k", {"a": 1}, fetched_at=time.time(), ttl_s=60)
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cache.close()


def test_default_cache_path_is_under_the_users_cache_dir() -> None:
    from assistant_core import paths

    market = create_market("yahoo", session=object())
    assert market.cache is not None and market.cache.path == paths.default_cache_db_path()
    market.close()


def test_corrupt_cache_file_is_moved_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(b"this is not a sqlite database" * 200)
    cache = MarketCache(path)
    assert cache.enabled
    assert any("was corrupt" in w for w in cache.warnings)
    assert "was corrupt" in caplog.text
    aside = list(tmp_path.glob("cache.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")
    cache.put("k", [1, 2], fetched_at=1.0, ttl_s=10)
    assert cache.get("k").value == [1, 2]  # type: ignore[union-attr]
    cache.close()


async def test_a_tool_works_over_a_corrupt_cache(fake: FakeProvider, tmp_path: Path) -> None:
    from assistant_core.market.lookup import demo_lookup

    path = tmp_path / "cache.db"
    path.write_bytes(b"\x00garbage" * 1000)
    market = MarketData(fake, lookup=demo_lookup(fake.search), cache=MarketCache(path))
    result = await build_investor_tools(market).execute(
        "get_income_statement", '{"ticker": "AAPL"}'
    )
    assert result.error is None and result.source == "fake"
    market.close()


def test_an_unwritable_cache_location_turns_caching_off(fake: FakeProvider, tmp_path: Path) -> None:
    from assistant_core.market.lookup import demo_lookup

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    cache = MarketCache(blocker / "cache.db")
    assert not cache.enabled and "unavailable" in cache.warnings[0]
    market = MarketData(fake, lookup=demo_lookup(fake.search), cache=cache)
    assert market.quote("AAPL").source == "fake" and market.quote("AAPL").source == "fake"


def test_a_locked_cache_is_bypassed(fake: FakeProvider, tmp_path: Path) -> None:
    from assistant_core.market.lookup import demo_lookup

    path = tmp_path / "cache.db"
    cache = MarketCache(path, busy_timeout_s=0.05)
    market = MarketData(fake, lookup=demo_lookup(fake.search), cache=cache)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        first = market.quote("AAPL")  # fetched; the write is skipped with a warning
        assert first.source == "fake"
        assert any("write skipped" in w and "locked" in w for w in cache.warnings)
    finally:
        other.execute("ROLLBACK")
        other.close()
    second = market.quote("AAPL")
    assert second.source == "fake" and fake.calls["quote"] == 2  # nothing was cached meanwhile
    assert market.quote("AAPL").cache_hit
    market.close()


def test_opening_a_new_cache_another_process_is_creating_keeps_caching_on(tmp_path: Path) -> None:
    """Regression: the WAL switch failed at once ("database is locked", no busy wait) while
    another process held the new file's write lock, and caching stayed off for the session."""
    path = tmp_path / "cache.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.1, lambda: other.execute("ROLLBACK"))
    release.start()
    try:
        cache = MarketCache(path, busy_timeout_s=2)
        assert cache.enabled and cache.warnings == []
        cache.close()
    finally:
        release.join()
        other.close()


def test_demo_data_is_never_cached(tmp_path: Path) -> None:
    market = create_market("demo", cache_path=tmp_path / "c.db")
    assert market.cache is None
    assert market.history("AAPL").source == market.history("AAPL").source == "demo"
    assert not (tmp_path / "c.db").exists()


def test_keys_separate_provider_function_symbol_and_params() -> None:
    keys = {
        cache_key("yahoo", "statement", "AAPL", {"kind": "income", "period": "annual"}),
        cache_key("yahoo", "statement", "AAPL", {"period": "annual", "kind": "balance"}),
        cache_key("demo", "statement", "AAPL", {"kind": "income", "period": "annual"}),
        cache_key("yahoo", "history", "AAPL", {"period": "6mo"}),
        cache_key("yahoo", "history", "MSFT", {"period": "6mo"}),
    }
    assert len(keys) == 5
    assert cache_key("y", "f", "S", {"a": 1, "b": 2}) == cache_key("y", "f", "S", {"b": 2, "a": 1})
