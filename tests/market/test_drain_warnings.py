"""MarketData.drain_warnings: each cache warning is handed out once, for the UI to show."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant_core.market import MarketData
from assistant_core.market.cache import MarketCache
from assistant_core.market.lookup import demo_lookup
from tests.market.conftest import FakeProvider


def test_each_cache_warning_is_drained_once(fake: FakeProvider, tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    path.write_bytes(b"not a database at all" * 100)
    market = MarketData(
        fake, lookup=demo_lookup(fake.search), cache=MarketCache(path, busy_timeout_s=0.05)
    )
    try:
        [corrupt] = market.drain_warnings()  # from opening the file
        assert "was corrupt" in corrupt and "started a new one" in corrupt
        assert market.drain_warnings() == []
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            assert market.quote("AAPL").source == "fake"  # its write is skipped
        finally:
            other.execute("ROLLBACK")
            other.close()
        [locked] = market.drain_warnings()
        assert "write skipped" in locked and "locked" in locked
        assert market.drain_warnings() == []
        assert market.cache is not None and market.cache.warnings == [corrupt, locked]
    finally:
        market.close()


def test_no_cache_no_warnings(fake: FakeProvider) -> None:
    market = MarketData(fake, lookup=demo_lookup(fake.search), cache=None)
    assert market.drain_warnings() == []
