"""Fixtures for the market-data tests: a Yahoo replay, markets built on it, and fakes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_core.market import MarketData, create_market
from assistant_core.market.base import MarketDataError, ProviderUnavailableError
from assistant_core.market.cache import MarketCache
from assistant_core.market.demo import DemoProvider
from assistant_core.market.lookup import demo_lookup
from tests.support.yahoo_fixtures import replay, sleeps  # noqa: F401 (fixtures)
from tests.support.yahoo_replay import YahooReplay


class Clock:
    """A settable clock for TTL tests."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeProvider(DemoProvider):
    """Demo data under another name, counting calls; can fail or block on demand."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.failure: MarketDataError | None = None
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()

    def _enter(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1
        if self.gate is not None:
            self.gate.wait(10)
        if self.failure is not None:
            raise self.failure

    def history(self, symbol: str, period: str) -> Any:
        self._enter("history")
        return super().history(symbol, period)

    def statement(self, symbol: str, kind: Any, period: Any) -> Any:
        self._enter("statement")
        return super().statement(symbol, kind, period)

    def quote(self, symbol: str) -> Any:
        self._enter("quote")
        return super().quote(symbol)


@pytest.fixture
def yahoo_market(replay: YahooReplay, sleeps: list[float], tmp_path: Path) -> Iterator[MarketData]:
    market = create_market(
        "yahoo", session=replay.session(), cache_path=tmp_path / "cache.db", sleep=sleeps.append
    )
    yield market
    market.close()


@pytest.fixture
def demo_market() -> MarketData:
    return create_market("demo")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def fake_market(fake: FakeProvider, clock: Clock, tmp_path: Path) -> Iterator[MarketData]:
    market = MarketData(
        fake,
        lookup=demo_lookup(fake.search),
        cache=MarketCache(tmp_path / "cache.db", clock=clock),
        clock=clock,
    )
    yield market
    if fake.gate is not None:
        fake.gate.set()
    market.close()


OFFLINE = ProviderUnavailableError(
    "cannot reach Yahoo Finance (ConnectionError); check the internet connection"
)
