"""Switching away from a thread while its answer streams, and back (issue 12, item 1).

The chat of a thread shown again mid-answer must continue exactly from the text it loads:
never a duplicated or a missing piece where the stored part meets the live stream, at any
moment of the switch — right after the runtime flushed the text to the store, between two
flushes, with deltas still queued for the app when the store was read.

The model's stream is gated by the test (each delta waits for a ticket), so the moments
are the same however busy the machine is; the runtime's flush timer runs on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from assistant_core.backends.base import Chunk, ModelRequest, TextDelta
from assistant_core.session import Session
from tests.support.scripted_backend import ScriptedBackend, text_turn
from tui.app import InvestorApp
from tui.widgets import AssistantMessage

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask,
    make_scripted_session,
    wait_for,
    wait_run_over,
)

ANSWER = "".join(f"Slow answer, part {i}: revenue grew again. " for i in range(30))
FLUSH = "flush"  # stay away until the runtime next writes the text to the store


class GatedBackend(ScriptedBackend):
    """A scripted backend whose text deltas each wait for a ticket from the test."""

    def __init__(self, text: str) -> None:
        super().__init__([text_turn(text, chunk=5)])
        self.tickets = asyncio.Semaphore(0)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        async for chunk in super().stream(request):
            if isinstance(chunk, TextDelta):
                await self.tickets.acquire()
            yield chunk

    def release(self, deltas: int) -> None:
        for _ in range(deltas):
            self.tickets.release()


def shown_answer(app: InvestorApp) -> str | None:
    """The text the chat holds for the thread's answer (None: no answer shown)."""
    widgets = list(app.main.chat.query(AssistantMessage))
    return widgets[-1].received_text if widgets else None


def check_prefix(app: InvestorApp, where: str) -> None:
    text = shown_answer(app)
    assert text is not None, f"{where}: the answer is not shown"
    if not ANSWER.startswith(text):
        wrong = next((i for i, (a, b) in enumerate(zip(text, ANSWER)) if a != b), len(ANSWER))
        raise AssertionError(
            f"{where}: the shown text is not a prefix of the answer; it goes wrong at "
            f"{wrong}: …{text[max(0, wrong - 40) : wrong + 20]!r}"
        )


@pytest.mark.parametrize("bursts", [False, True], ids=["trickle", "bursts"])
@pytest.mark.parametrize("started_hidden", [False, True], ids=["started-shown", "started-hidden"])
async def test_switching_back_mid_stream_continues_the_text_exactly(
    make_scripted_session: Callable[..., Session], bursts: bool, started_hidden: bool
) -> None:
    backend = GatedBackend(ANSWER)
    session = make_scripted_session(backend)
    session.runtime.flush_interval = 0.05
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:

        async def feed(deltas: int) -> None:
            """Let the model send ``deltas`` more: at once (a burst the app receives after
            the runtime may have flushed it), or one by one."""
            if bursts:
                backend.release(deltas)
                await pilot.pause()
            else:
                for _ in range(deltas):
                    backend.release(1)
                    await pilot.pause(0.003)

        def stored() -> Any:
            message = session.store.list_messages(streaming)[-1]
            return message.text, message.status

        other = session.store.create_thread("Elsewhere")
        streaming = await ask(pilot, "Tell me slowly")
        if started_hidden:  # the answer begins while another thread is shown
            await app.switch_thread(other.id)
            await feed(7)
            await app.switch_thread(streaming)
        else:
            await feed(7)
        await wait_for(pilot, lambda: bool(shown_answer(app)))

        # The app busy elsewhere: the runtime's events wait for it (as in its queue) while
        # the runtime goes on and flushes the text they carry to the store.
        route = app.main.route_event
        held: list[tuple[str, Any]] = []
        lagging = False

        def lagging_route(thread_id: str, event: Any) -> None:
            if lagging:
                held.append((thread_id, event))
            else:
                route(thread_id, event)

        app.main.route_event = lagging_route  # type: ignore[method-assign]

        # How long to stay away: FLUSH (until the store is written, so the thread is shown
        # again right after a flush), or a pause in seconds (between flushes); and whether
        # the app lags behind the runtime meanwhile (the store is then ahead of it).
        moments: list[tuple[Any, bool]] = [
            (FLUSH, True),
            (0.0, False),
            (0.013, True),
            (FLUSH, False),
            (0.031, False),
            (FLUSH, True),
            (0.002, True),
            (0.08, False),
            (0.0, True),
            (0.021, False),
        ]
        for number, (away, lag) in enumerate(moments, start=1):
            await feed(6)  # while shown
            await app.switch_thread(other.id)
            before = stored()
            lagging = lag
            await feed(9)  # while hidden
            if away == FLUSH:
                await wait_for(pilot, lambda: stored() != before, step=0.001)  # noqa: B023
            else:
                await pilot.pause(away)
            await app.switch_thread(streaming)
            check_prefix(app, f"switch {number}, right after showing the thread again")
            lagging = False
            for thread_id, event in held:  # the app catches up
                route(thread_id, event)
            held.clear()
            await pilot.pause()
            check_prefix(app, f"switch {number}, once the app caught up")
            for _ in range(3):  # the live tail goes on from there
                await feed(2)
                await pilot.pause(0.01)
                check_prefix(app, f"switch {number}, while streaming on")
        assert app.main.thread_running(streaming), "the answer must still stream at the end"
        backend.release(len(ANSWER))
        await wait_run_over(pilot, streaming)
        assert stored() == (ANSWER, "completed")
        assert shown_answer(app) == ANSWER
