"""Pytest fixtures over the Yahoo replay, shared by the market and reliability suites
(import them into a conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.yahoo_replay import YahooReplay, forget_yfinance_responses


@pytest.fixture
def replay(fixtures_dir: Path) -> Iterator[YahooReplay]:
    """The recorded Yahoo responses, served to yfinance through an injected session."""
    yield YahooReplay(fixtures_dir)
    forget_yfinance_responses()


@pytest.fixture
def sleeps() -> list[float]:
    """The Yahoo provider's backoff waits, recorded instead of slept."""
    return []
