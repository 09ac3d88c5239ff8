"""Assemble the app's parts from Settings: store, model backend, market tools, runtime.

The TUI and the CLI both start here, so they agree on what a setting means. Heavy imports
(openai, yfinance, pandas) stay inside the backend and market modules and load when a
backend or provider first needs them.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import paths
from .backends.base import Backend
from .config import Settings, check_provider, resolve_model, unreachable_message, with_provider
from .config import provider_label as provider_label  # its home before the app's first frame
from .db_url import DatabaseUrl
from .errors import ConfigError, RunStateError
from .runtime import RetryPolicy, Runtime
from .settings_spec import BY_NAME, MODEL_PROVIDERS
from .store import Store
from .store_interface import ThreadStore

if TYPE_CHECKING:
    from .market import MarketData


@dataclass
class ProviderSwitch:
    """What ``Session.switch_provider`` did, for the UI to show."""

    settings: Settings
    #: "OpenAI · gpt-5-mini", "compatible · llama3.1 @ http://…", "offline analyst (DEMO)"
    label: str
    #: The config file the choice was saved to (None: not saved, see ``save_error``).
    saved_to: Path | None = None
    save_error: str | None = None


@dataclass
class Session:
    """Everything one process needs to run threads: the settings it was built from, the
    store, the model backend, the market data behind the tools, and the runtime that runs
    them. ``build_session(settings)`` makes one; ``aclose()`` releases it.

    One per process: the full-screen app builds it after its first frame, ``ask`` and
    ``serve`` before they start. It owns what it holds — the store (and a PostgreSQL
    replica's lease), the backend, the market cache — and closes them; a switch of model
    or market data replaces the backend or the market in place, so the store and the
    runtime, and with them every thread and run, stay the same objects."""

    settings: Settings
    store: ThreadStore
    backend: Backend
    runtime: Runtime
    market: MarketData | None = None
    #: Run ids closed at start-up because an earlier process stopped mid-run.
    recovered_runs: list[str] = field(default_factory=list)
    lease: DatabaseLease | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def is_demo(self) -> bool:
        return self.settings.is_demo

    @property
    def provider_label(self) -> str:
        return provider_label(self.settings)

    async def switch_provider(
        self,
        provider: str,
        *,
        base_url: str | None = None,
        model: str | None = None,
        save: bool = True,
    ) -> ProviderSwitch:
        """Answer with another provider (and model) from now on, by the start-up rules
        (``config.with_provider``: the same checks and model resolution — a compatible
        server without a model is asked for its list). Threads and runs stay: the store
        and the runtime are the same objects. Refused (RunStateError) while a run of this
        session executes, and on a bad choice (ConfigError); either way nothing changes.
        ``save``: remember the choice in the config file (provider, base URL, and the
        model for that provider — removed when none was given, so its default applies)."""
        busy = self.runtime.executing_runs()
        if busy:
            raise RunStateError(
                f"a run is in progress ({busy[0]}); switch the model when it has finished"
            )
        settings = with_provider(self.settings, provider, base_url=base_url, model=model)
        if settings.model is None:
            await asyncio.to_thread(resolve_model, settings)
        backend = make_backend(settings)
        market = self.market
        if settings.data != self.settings.data or market is None:
            market = make_market(settings)
        if self.runtime.executing_runs():  # one started while the model list was fetched
            await backend.aclose()
            if market is not self.market:
                _close_market(market)
            raise RunStateError("a run started meanwhile; switch the model when it has finished")
        old_backend, old_market = self.backend, self.market
        self.runtime.use_backend(backend, settings.model or "")
        if market is not old_market:
            from .tools.investor import build_investor_tools

            self.runtime.tools = build_investor_tools(market)
        self.backend, self.market, self.settings = backend, market, settings
        await old_backend.aclose()
        if market is not old_market:
            _close_market(old_market)
        switch = ProviderSwitch(settings, provider_label(settings))
        if save:
            try:
                save_provider_choice(settings, explicit_model=model or None)
                switch.saved_to = settings.config_path
            except ConfigError as exc:
                switch.save_error = str(exc)
        return switch

    def warm(self) -> None:
        """Import and build, before the first run needs them, what it would otherwise wait
        for: the model client (``openai``, httpx and pydantic, 0.5–1 s cold) and the tool
        argument validator. Blocking: the app calls it in a thread once its screen is up,
        so the first question starts at once. Safe to repeat (e.g. after a switch)."""
        warm_backend = getattr(self.backend, "warm", None)
        if callable(warm_backend):
            warm_backend()
        from .tools.registry import warm_validator

        warm_validator()

    async def switch_data(self, data: str, *, save: bool = True) -> ProviderSwitch:
        """Use ``data`` market data ("yahoo" or "demo") from now on, with the same model:
        e.g. demo data when Yahoo Finance cannot be reached. Refused (RunStateError) while
        a run of this session executes, and for an unknown value (ConfigError). ``save``:
        remember it in the config file (``data = …``)."""
        data = BY_NAME["data"].check(data, "the app")
        if self.runtime.executing_runs():
            raise RunStateError("a run is in progress; switch the market data when it has finished")
        settings = replace(
            self.settings, sources={**self.settings.sources, "data": "app"}, notices=[]
        )
        settings.data = data
        market = await asyncio.to_thread(make_market, settings)
        if self.runtime.executing_runs():  # one started meanwhile
            _close_market(market)
            raise RunStateError(
                "a run started meanwhile; switch the market data when it has finished"
            )
        from .tools.investor import build_investor_tools

        old_market = self.market
        self.runtime.tools = build_investor_tools(market)
        self.market, self.settings = market, settings
        _close_market(old_market)
        switch = ProviderSwitch(settings, provider_label(settings))
        if save:
            from .config_file import save_settings

            try:
                save_settings(settings.config_path, {"data": data})
                switch.saved_to = settings.config_path
            except ConfigError as exc:
                switch.save_error = str(exc)
        return switch

    async def aclose(self) -> None:
        """Cancel runs still executing here, close the backend, the market cache and the
        store. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.runtime.aclose()
        finally:
            _close_market(self.market)
            self.store.close()
            if self.lease is not None:
                self.lease.release()


def _close_market(market: MarketData | None) -> None:
    if market is not None:
        market.close()


def save_provider_choice(settings: Settings, *, explicit_model: str | None) -> None:
    """Save a provider switch to the config file: the provider, its base URL (removed when
    there is none, so the next start does not auto-detect a server), and the model given
    for it (removed when none was: its default, or the server's first model, applies)."""
    from .config_file import save_settings

    values: dict[str, Any] = {"provider": settings.provider, "base_url": settings.base_url}
    if settings.provider in MODEL_PROVIDERS:
        values[f"providers.{settings.provider}.model"] = explicit_model
        if explicit_model:
            settings.provider_models[settings.provider] = explicit_model
        else:
            settings.provider_models.pop(settings.provider, None)
    save_settings(settings.config_path, values)


def open_store(settings: Settings, *, executes_runs: bool = True) -> ThreadStore:
    """The thread database ``settings`` names: a PostgreSQL URL, or a file. On PostgreSQL
    a process that ``executes_runs`` joins as a replica (a lease, run ownership, requests
    from other replicas); one that only reads and edits threads does not. A path the
    user gave must be a regular file (or not exist yet) in an existing directory: no
    directory is created for it, and a FIFO, device or directory is refused before SQLite
    would block on it or fail obscurely. The default location is the app's own and is
    created (0700)."""
    db = settings.db
    if isinstance(db, DatabaseUrl):
        from .store_pg import PostgresStore  # psycopg loads only for a PostgreSQL database

        return PostgresStore(db, replica=settings.replica, lease=settings.lease, join=executes_runs)
    source = settings.source("db")
    other = "--db FILE" if source != "file" else f"another db in {settings.config_path}"
    problem = paths.not_a_regular_file(db)
    if problem is None and source != "default":
        problem = paths.missing_parent(db)
        if problem is not None:
            other = f"create it first, or pass {other}"
    if problem is not None:
        raise ConfigError(f"cannot use {db} as the thread database: {problem}; {other}")
    return Store(db)


def build_session(settings: Settings, *, recover: bool = True) -> Session:
    """Open everything ``settings`` describes. Raises ConfigError (provider set-up,
    unreachable server when the model must be listed) or StoreError (database)."""
    check_provider(settings)
    if settings.provider == "compatible":
        resolve_model(settings)  # lists /v1/models when no model is given
    store = open_store(settings)
    recovered: Recovered | None = None
    try:
        recovered = recover_stranded(store, recover=recover)
        backend = make_backend(settings)
        market = make_market(settings)
        from .tools.investor import build_investor_tools

        tools = build_investor_tools(market)
        assert settings.model is not None
        runtime = Runtime(
            store,
            backend,
            tools,
            model=settings.model,
            approval=settings.approval,
            context_windows=settings.context_windows or None,
            max_turns=settings.max_turns,
            retry_policy=RetryPolicy(
                max_retries=settings.max_retries, give_up_after=settings.give_up_after
            ),
            max_turn_tokens=settings.max_turn_tokens,
            max_tool_calls_per_step=settings.max_tool_calls,
            max_run_seconds=settings.max_run_seconds,
        )
    except BaseException:
        store.close()
        if recovered is not None and recovered.lease is not None:
            recovered.lease.release()
        raise
    return Session(
        settings=settings,
        store=store,
        backend=backend,
        runtime=runtime,
        market=market,
        recovered_runs=list(recovered.runs),
        lease=recovered.lease,
    )


@dataclass
class Recovered:
    runs: list[str]
    #: SQLite's, held while the session lives (None for engines that record run owners).
    lease: DatabaseLease | None = None


def recover_stranded(store: ThreadStore, *, recover: bool = True) -> Recovered:
    """Join the processes using the database, closing (``recover``) the runs a process
    that died left active. On SQLite that is done only when no other live process uses
    the file (``DatabaseLease``); PostgreSQL knows which process executes each run and
    closes those whose process's lease expired (``store_pg``)."""
    if not isinstance(store, Store):
        return Recovered(store.recover_interrupted() if recover else [])
    lease = DatabaseLease(store.path)
    try:
        return Recovered(lease.acquire(store, recover=recover), lease)
    except BaseException:
        lease.release()
        raise


class DatabaseLease:
    """Tells a crashed process's runs from runs another live process is executing.

    Every session holds a shared ``flock`` on ``<db>.lock`` for its lifetime; the kernel drops
    it when the process dies, however it dies. Start-up recovery (closing runs left active)
    runs only when an exclusive lock is granted, i.e. when no other live session uses the
    database, so two terminals never close each other's runs. A run stranded by a crash while
    another session is open is recovered by the next start-up after that one ends.
    Where ``fcntl`` is missing (Windows) recovery always runs, as the store alone would.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None
        try:
            import fcntl  # noqa: F401
        except ImportError:
            return
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)

    def acquire(self, store: Store, *, recover: bool = True) -> list[str]:
        """Take the shared lock; first, when alone and ``recover``, close stranded runs."""
        if self._fd is None:
            return store.recover_interrupted() if recover else []
        import fcntl

        if not recover:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            return []
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # someone else is live: leave runs alone
            return []
        try:
            return store.recover_interrupted()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def make_backend(settings: Settings) -> Backend:
    check_provider(settings)  # e.g. a key that cannot be sent in a header: never send it
    timeouts = {
        "timeout": settings.read_timeout,
        "first_byte_timeout": settings.first_byte_timeout,
        "connect_timeout": settings.connect_timeout,
    }
    if settings.provider == "openai":
        from .backends.responses import ResponsesBackend

        return ResponsesBackend(base_url=settings.base_url, api_key=settings.api_key, **timeouts)
    if settings.provider == "compatible":
        from .backends.chat_completions import ChatCompletionsBackend

        # The key (if any) goes to the configured server, as the openai SDK does with
        # OPENAI_API_KEY and OPENAI_BASE_URL; servers that need none get a placeholder.
        return ChatCompletionsBackend(
            base_url=settings.base_url, api_key=settings.api_key, **timeouts
        )
    from .backends.offline import OfflineAnalyst

    return OfflineAnalyst(pace=settings.demo_pace)


def make_market(settings: Settings) -> MarketData:
    from .market import create_market

    return create_market(settings.data)


def check_reachable(base_url: str, timeout: float = 3.0) -> None:
    """A TCP connect to the server behind ``base_url``: fails in milliseconds when nothing
    listens, instead of after the runtime's retries. Raises ConfigError naming the URL."""
    parts = urlsplit(base_url)
    host = parts.hostname
    if not host:
        raise ConfigError(f"bad base URL {base_url!r}; expected e.g. http://localhost:11434/v1")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        from .backends.openai_common import connection_failure

        failure = connection_failure(exc, base_url)
        if failure is not None and failure.code == "dns_error":  # "start it" would not help
            raise ConfigError(failure.message) from exc
        raise ConfigError(unreachable_message(base_url, _os_reason(exc))) from exc


def _os_reason(exc: OSError) -> Exception:
    if isinstance(exc, socket.timeout):
        return Exception("no answer within the connect timeout")
    return Exception(exc.strerror or type(exc).__name__)
