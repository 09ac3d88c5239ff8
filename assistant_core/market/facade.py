"""MarketData: one provider behind the cache, with coalescing and stale-on-failure.

- A fresh cache entry is answered at once (source ``cache`` with its age).
- Otherwise one thread fetches; concurrent identical requests wait for that same fetch.
- A failed fetch falls back to an expired entry, marked stale, and only then to the error.
Demo data is never cached: every demo answer says ``demo``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .base import (
    HISTORY_PERIODS,
    STATEMENT_KINDS,
    STATEMENT_PERIODS,
    MarketDataError,
    MarketProvider,
    NewsItem,
    PriceHistory,
    Quote,
    RecommendationPeriod,
    Statement,
    StatementKind,
    StatementPeriod,
)
from .cache import MarketCache, cache_key
from .lookup import LookupAnswer, TickerLookup
from .symbols import InvalidInput
from .ttl import ttl_seconds

T = TypeVar("T")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    value: T
    source: str  # yahoo | demo | cache
    as_of: float  # when the data was fetched from the provider (Unix seconds)
    cache_hit: bool = False
    stale: bool = False
    age_s: float | None = None  # for cache answers
    stale_reason: str | None = None  # the live failure a stale answer stands in for


class MarketData:
    def __init__(
        self,
        provider: MarketProvider,
        *,
        lookup: TickerLookup,
        cache: MarketCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self.ticker_lookup = lookup
        self.cache = cache
        self._clock = clock
        self._inflight: dict[str, Future[Fetched[Any]]] = {}
        self._inflight_lock = threading.Lock()
        self._warnings_seen = 0  # how many of cache.warnings drain_warnings has returned
        self._warnings_lock = threading.Lock()

    @property
    def mode(self) -> str:
        return self.provider.name

    @property
    def is_demo(self) -> bool:
        return self.provider.name == "demo"

    # -- public API ------------------------------------------------------------------------
    def lookup(self, company_name: str) -> Fetched[LookupAnswer]:
        # Only searched answers are cached: a built-in fallback must not hide Yahoo tomorrow.
        return self._get(
            "lookup",
            company_name.casefold(),
            {},
            lambda: self.ticker_lookup.lookup(company_name),
            cacheable=lambda answer: answer["source"] in ("yahoo", "web"),
        )

    def history(self, symbol: str, period: str = "6mo") -> Fetched[PriceHistory]:
        if period not in HISTORY_PERIODS:
            raise InvalidInput(
                f"history period must be one of {', '.join(HISTORY_PERIODS)}, not {period!r}"
            )
        return self._get(
            "history", symbol, {"period": period}, lambda: self.provider.history(symbol, period)
        )

    def statement(
        self, symbol: str, kind: StatementKind = "income", period: StatementPeriod = "annual"
    ) -> Fetched[Statement]:
        if kind not in STATEMENT_KINDS:
            raise InvalidInput(
                f"statement must be one of {', '.join(STATEMENT_KINDS)}, not {kind!r}"
            )
        if period not in STATEMENT_PERIODS:
            raise InvalidInput(f"period must be 'annual' or 'quarterly', not {period!r}")
        return self._get(
            "statement",
            symbol,
            {"kind": kind, "period": period},
            lambda: self.provider.statement(symbol, kind, period),
        )

    def quote(self, symbol: str) -> Fetched[Quote]:
        return self._get("quote", symbol, {}, lambda: self.provider.quote(symbol))

    def news(self, symbol: str) -> Fetched[list[NewsItem]]:
        return self._get("news", symbol, {}, lambda: self.provider.news(symbol))

    def recommendations(self, symbol: str) -> Fetched[list[RecommendationPeriod]]:
        return self._get(
            "recommendations", symbol, {}, lambda: self.provider.recommendations(symbol)
        )

    def drain_warnings(self) -> list[str]:
        """The cache's warnings (a corrupt file moved aside and rebuilt, a locked or
        unwritable one bypassed) not returned by an earlier call, oldest first: for a UI
        to show each once. ``cache.warnings`` keeps them all."""
        if self.cache is None:
            return []
        with self._warnings_lock:
            new = self.cache.warnings[self._warnings_seen :]
            self._warnings_seen += len(new)
        return new

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    # -- the cache path ----------------------------------------------------------------------
    def _get(
        self,
        function: str,
        symbol: str,
        params: dict[str, Any],
        fetch: Callable[[], T],
        *,
        cacheable: Callable[[T], bool] = lambda _value: True,
    ) -> Fetched[T]:
        if self.cache is None:
            return Fetched(fetch(), source=self.provider.name, as_of=self._clock())
        key = cache_key(self.provider.name, function, symbol, params)
        hit = self._fresh(key)
        if hit is not None:
            return hit
        return self._coalesced(key, lambda: self._refresh(key, function, fetch, cacheable))

    def _fresh(self, key: str) -> Fetched[Any] | None:
        assert self.cache is not None
        entry = self.cache.get(key)
        now = self._clock()
        if entry is None or entry.expires_at <= now:
            return None
        return Fetched(
            entry.value,
            source="cache",
            as_of=entry.fetched_at,
            cache_hit=True,
            age_s=now - entry.fetched_at,
        )

    def _refresh(
        self, key: str, function: str, fetch: Callable[[], T], cacheable: Callable[[T], bool]
    ) -> Fetched[T]:
        assert self.cache is not None
        hit = self._fresh(key)  # another thread may have just filled it
        if hit is not None:
            return hit
        try:
            value = fetch()
        except MarketDataError as exc:
            entry = self.cache.get(key)
            if entry is None:
                raise
            now = self._clock()
            return Fetched(
                entry.value,
                source="cache",
                as_of=entry.fetched_at,
                cache_hit=True,
                stale=True,
                age_s=now - entry.fetched_at,
                stale_reason=str(exc),
            )
        fetched_at = self._clock()
        if cacheable(value):
            self.cache.put(
                key, value, fetched_at=fetched_at, ttl_s=ttl_seconds(function, fetched_at)
            )
        return Fetched(value, source=self.provider.name, as_of=fetched_at)

    def _coalesced(self, key: str, work: Callable[[], Fetched[T]]) -> Fetched[T]:
        """Run ``work`` once for all threads asking for ``key`` at the same time."""
        with self._inflight_lock:
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = Future()
                self._inflight[key] = future
        if not leader:
            return future.result()
        try:
            result = work()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            return result
        finally:
            with self._inflight_lock:
                self._inflight.pop(key, None)
