"""Market data: providers (Yahoo via yfinance, demo), ticker lookup and the SQLite cache.

``create_market("yahoo" | "demo")`` builds the MarketData facade the investor tools use.
Nothing heavy is imported here: yfinance/pandas load on the first Yahoo request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base import (
    MarketDataError,
    MarketProvider,
    NoDataError,
    ProviderUnavailableError,
    RateLimitedError,
)
from .facade import Fetched, MarketData
from .symbols import InvalidInput, normalise_company_name, normalise_ticker

__all__ = [
    "DATA_SOURCES",
    "Fetched",
    "InvalidInput",
    "MarketData",
    "MarketDataError",
    "MarketProvider",
    "NoDataError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "create_market",
    "normalise_company_name",
    "normalise_ticker",
]

DATA_SOURCES = ("yahoo", "demo")

_AUTO: Any = object()


def create_market(
    data: str = "yahoo",
    *,
    cache_path: Path | None = None,
    session: Any = None,
    web_search: Callable[[str], list[dict[str, Any]]] | None = _AUTO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> MarketData:
    """The market-data facade for ``data`` ("yahoo" or "demo").

    ``cache_path``: the SQLite cache file (default: ``paths.default_cache_db_path()``; demo
    data is not cached). ``session``: a requests/curl_cffi session handed to yfinance (tests
    pass a replay session). ``web_search``: the lookup chain's web step (default: ddgs, but
    none when a ``session`` is injected, so a replayed market never reaches the internet).
    ``sleep``/``clock``: injectable for rate-limit backoff and cache TTLs.
    """
    from .lookup import ddgs_search, demo_lookup, live_lookup

    if data == "demo":
        from .demo import DemoProvider

        demo = DemoProvider()
        return MarketData(demo, lookup=demo_lookup(demo.search), cache=None, clock=clock)
    if data == "yahoo":
        from .. import paths
        from .cache import MarketCache
        from .yahoo import YahooProvider

        yahoo = YahooProvider(session, sleep=sleep)
        if web_search is _AUTO:
            web_search = None if session is not None else ddgs_search
        cache = MarketCache(cache_path or paths.default_cache_db_path(), clock=clock)
        return MarketData(
            yahoo, lookup=live_lookup(yahoo.search, web_search), cache=cache, clock=clock
        )
    raise ValueError(f"unknown market data source {data!r}; use one of: {', '.join(DATA_SOURCES)}")
