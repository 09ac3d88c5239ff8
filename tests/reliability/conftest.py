"""Fixtures shared by the reliability tests: a Yahoo replay and markets built on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_core.market import MarketData, create_market
from tests.support.yahoo_fixtures import replay, sleeps  # noqa: F401 (fixtures)
from tests.support.yahoo_replay import YahooReplay


@pytest.fixture
def make_market(
    replay: YahooReplay, sleeps: list[float], tmp_path: Path
) -> Iterator[Callable[..., MarketData]]:
    """``make_market(**create_market_kwargs)``: Yahoo data from the replay (no network), with
    its SQLite cache under tmp_path unless ``cache_path`` is given."""
    made: list[MarketData] = []

    def make(**kwargs: Any) -> MarketData:
        kwargs.setdefault("cache_path", tmp_path / "cache" / "market-cache.db")
        market = create_market("yahoo", session=replay.session(), sleep=sleeps.append, **kwargs)
        made.append(market)
        return market

    yield make
    for market in made:
        market.close()
