"""Runs another process executes on the thread the app shows (issue 10.5): the API server or
``ask`` in another terminal writes to the same database; the app shows the question and the
answer live, in the chat and the run panel, read from the store — and stops following when
the run ends or the thread is left.

"Another process" is a second Runtime on its own connection to the same SQLite file: it
shares nothing with the app but the file, as a process would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant_core.backends.base import TextDelta
from assistant_core.session import Session
from tests.support.scripted_backend import Pause, collect, make_runtime, text_turn
from tui.app import InvestorApp

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    make_demo_session,
    screen_text,
    wait_for,
    wait_ready,
)


def slow_answer(parts: list[str], pause: float) -> list[Any]:
    steps: list[Any] = []
    for part in parts:
        steps += [TextDelta(part), Pause(pause)]
    return [*steps, *text_turn("", usage=(5, 5))]


def other_process(db: Path, turns: list[Any]) -> Any:
    runtime, _, _ = make_runtime(db, turns, flush_interval=0.05)
    return runtime


async def test_a_run_from_another_process_shows_live_and_ends(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    thread = session.runtime.create_thread()
    session.store.add_message(thread.id, "user", "an earlier question")
    other = other_process(
        session.store.path,
        [slow_answer(["Streaming ", "from the ", "server, ", "in parts."], 0.4)],
    )
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        assert app.main.thread_id == thread.id
        elsewhere = asyncio.create_task(collect(other.ask(thread.id, "asked elsewhere")))

        # The question written elsewhere, then the answer as it grows, and the run panel.
        await wait_for(pilot, lambda: "asked elsewhere" in screen_text(app), timeout=10)
        await wait_for(pilot, lambda: "Streaming from the" in screen_text(app), timeout=10)
        assert not elsewhere.done()  # shown while it still runs
        assert app.main.watcher.following is not None
        assert "in_progress" in str(app.main.run_panel.render_run())
        assert app.main.thread_running(thread.id)  # the prompt will not start another run

        await elsewhere
        await wait_for(pilot, lambda: app.main.watcher.following is None, timeout=10)
        await pilot.pause(0.2)
        assert "Streaming from the server, in parts." in screen_text(app)
        assert str(app.main.run_panel.render_run()).startswith("completed")
        assert not app.main.thread_running(thread.id)
        assert "↻ Regenerate (r)" in screen_text(app)


async def test_following_stops_when_the_thread_is_left(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    shown = session.runtime.create_thread()
    other_thread = session.runtime.create_thread()
    session.store.add_message(other_thread.id, "user", "the other thread")
    session.store.add_message(shown.id, "user", "the shown thread")
    other = other_process(session.store.path, [slow_answer(["slowly "] * 20, 0.2)])
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        assert app.main.thread_id == shown.id
        elsewhere = asyncio.create_task(collect(other.ask(shown.id, "a long one")))
        await wait_for(pilot, lambda: app.main.watcher.following is not None, timeout=10)

        await app.main.show_thread(other_thread.id)
        await wait_for(pilot, lambda: app.main.watcher.following is None)
        await pilot.pause(0.5)
        assert app.main.watcher.following is None  # not picked up again: not shown
        assert "slowly" not in screen_text(app)
        await elsewhere


async def test_escape_on_a_run_of_another_process_says_where_to_cancel_it(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    thread = session.runtime.create_thread()
    session.store.add_message(thread.id, "user", "q")
    other = other_process(session.store.path, [slow_answer(["x "] * 10, 0.2)])
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        elsewhere = asyncio.create_task(collect(other.ask(thread.id, "go")))
        await wait_for(pilot, lambda: app.main.watcher.following is not None, timeout=10)
        await pilot.pause(0.3)
        await pilot.press("escape")
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert any("another process" in note and "cancel it there" in note for note in notes)
        events = await elsewhere
        assert events[-2].event == "thread.run.completed"  # not cancelled from here
