"""Helpers for the app tests (import the fixtures into a test module): demo mode (offline analyst, demo data) on a temporary
database, or a scripted backend for exact answers and failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant_core.config import DEMO_PACE_ENV, load_settings
from assistant_core.session import Session, build_session

from .chat_helpers import screen_text, wait_for  # noqa: F401  (the app tests import them from here)

# Demo prices are generated for the trading days before "today": fix it so charts and
# snapshots are the same on every day.
FIXED_TODAY = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _fixed_demo_day(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant_core.market.demo import DemoProvider

    defaults = DemoProvider.__init__.__defaults__
    assert defaults is not None and len(defaults) == 1, "DemoProvider(today=…) changed"
    monkeypatch.setattr(DemoProvider.__init__, "__defaults__", (lambda: FIXED_TODAY,))


def demo_session(db: Path, *, approval: str = "auto", pace: float = 0.0) -> Session:
    # Demo data by auto-detection (as with no configuration at all), not by request.
    settings = load_settings(
        {"provider": "offline", "db": str(db), "approval": approval},
        env={DEMO_PACE_ENV: str(pace)},
    )
    return build_session(settings)


def scripted_session(db: Path, backend: Any, *, approval: str = "auto") -> Session:
    """A demo-data session whose model is ``backend`` (tests.support.scripted_backend)."""
    session = demo_session(db, approval=approval)
    session.backend = backend
    session.runtime.backend = backend
    session.runtime.model = "scripted-model"
    return session


@pytest.fixture
def make_demo_session(tmp_path: Path) -> Callable[..., Session]:
    counter = iter(range(1000))

    def make(**kwargs: Any) -> Session:
        return demo_session(tmp_path / f"threads-{next(counter)}.db", **kwargs)

    return make


@pytest.fixture
def make_scripted_session(tmp_path: Path) -> Callable[..., Session]:
    counter = iter(range(1000))

    def make(backend: Any, **kwargs: Any) -> Session:
        return scripted_session(tmp_path / f"scripted-{next(counter)}.db", backend, **kwargs)

    return make


async def wait_ready(pilot: Any) -> None:
    """Until the main screen is mounted (it follows the first frame)."""
    await wait_for(pilot, pilot.app.ready.is_set)
    await pilot.pause()


async def ask(pilot: Any, text: str) -> str:
    """Type ``text`` in the prompt and send it; returns the thread it went to."""
    app = pilot.app
    await wait_ready(pilot)
    app.main.prompt.focus()
    app.main.prompt.load_text(text)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.main.thread_id is not None)
    return app.main.thread_id


async def wait_run_over(pilot: Any, thread_id: str, timeout: float = 15.0) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: not app.main.thread_running(thread_id), timeout)
    await pilot.pause()


async def ask_and_wait(pilot: Any, text: str) -> str:
    """:func:`ask`, then wait for the run to end; returns the thread."""
    thread_id = await ask(pilot, text)
    await wait_run_over(pilot, thread_id)
    return thread_id


def latest_run(session: Session, thread_id: str) -> Any:
    runs = session.store.list_runs(thread_id)
    assert runs, "no run in the thread"
    return runs[-1]
