"""Switching away from a thread while its answer streams, and back (issue 12, item 1).

The chat of a thread shown again mid-answer must continue exactly from the text it loads:
never a duplicated or a missing piece where the stored part meets the live stream, at any
moment of the switch — right after the runtime flushed the text to the store, between two
flushes, with deltas still queued for the app when the store was read.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from assistant_core.backends.base import TextDelta
from assistant_core.session import Session
from tests.support.scripted_backend import Pause, ScriptedBackend, Step, text_turn
from tui.app import InvestorApp
from tui.widgets import AssistantMessage

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask,
    make_scripted_session,
    wait_for,
    wait_run_over,
)

ANSWER = "".join(f"Slow answer, part {i}: revenue grew again. " for i in range(60))
FLUSH = -1.0


def shown_answer(app: InvestorApp) -> str | None:
    """The text the chat holds for the thread's answer (None: no answer shown)."""
    widgets = list(app.main.chat.query(AssistantMessage))
    return widgets[-1].received_text if widgets else None


def check_prefix(app: InvestorApp, where: str) -> str:
    text = shown_answer(app)
    assert text is not None, f"{where}: the answer is not shown"
    assert ANSWER.startswith(text), (
        f"{where}: the shown text is not a prefix of the answer; it goes wrong at "
        f"{next(i for i, (a, b) in enumerate(zip(text, ANSWER, strict=False)) if a != b) if len(text) <= len(ANSWER) else len(ANSWER)}: "
        f"…{text[-60:]!r}"
    )
    return text


def bursts(text: str, *, size: int = 5, burst: int = 12, gap: float = 0.06) -> list[Step]:
    """``text`` in ``size``-character deltas sent ``burst`` at a time with no pause (the
    app then has deltas queued while the runtime flushes the text they carry), ``gap``
    seconds apart; after a first pause, so a switch can happen before the answer starts."""
    steps: list[Step] = [Pause(0.15)]
    for n, start in enumerate(range(0, len(text), size)):
        if n and n % burst == 0:
            steps.append(Pause(gap))
        steps.append(TextDelta(text[start : start + size]))
    return steps + text_turn("", usage=(10, 5))


@pytest.mark.parametrize(
    ("turn", "delay", "away_first"),
    [
        # A steady trickle, the answer started while its thread was shown.
        (text_turn(ANSWER, chunk=5), 0.008, False),
        # Bursts, and the answer started while another thread was shown.
        (bursts(ANSWER), 0.0, True),
    ],
    ids=["trickle", "bursts-started-hidden"],
)
async def test_switching_back_mid_stream_continues_the_text_exactly(
    make_scripted_session: Callable[..., Session],
    turn: list[Step],
    delay: float,
    away_first: bool,
) -> None:
    # The text is flushed to the store every 50 ms, so switches land right after a flush,
    # between flushes, and with deltas still queued for the app.
    backend = ScriptedBackend([turn], delay=delay)
    session = make_scripted_session(backend)
    session.runtime.flush_interval = 0.05
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        other = session.store.create_thread("Elsewhere")
        streaming = await ask(pilot, "Tell me slowly")
        if away_first:
            await app.switch_thread(other.id)
            await wait_for(pilot, lambda: bool(session.store.list_messages(streaming)[-1].text))
            await app.switch_thread(streaming)
        await wait_for(pilot, lambda: bool(shown_answer(app)))

        def stored() -> tuple[str, str]:
            message = session.store.list_messages(streaming)[-1]
            return message.text, message.status

        # How long to stay away; FLUSH: until the runtime next writes the text to the store
        # (so the thread is shown again right after a flush, with the store ahead of the
        # deltas the app has received).
        moments = [0.0, FLUSH, 0.013, 0.05, FLUSH, 0.031, 0.002, FLUSH, 0.08, 0.0, FLUSH, 0.021]
        switches = 0
        for away in moments:
            if not app.main.thread_running(streaming):
                break
            await app.switch_thread(other.id)
            if away == FLUSH:
                before = stored()  # (the run may end meanwhile: the status changes then)
                await wait_for(pilot, lambda: stored() != before, step=0.001)  # noqa: B023
            else:
                await pilot.pause(away)
            await app.switch_thread(streaming)
            switches += 1
            check_prefix(app, f"switch {switches}, right after showing the thread again")
            for _ in range(3):  # the live tail goes on from there
                await pilot.pause(0.017)
                check_prefix(app, f"switch {switches}, while streaming on")
        assert switches >= 8, "the answer finished before the test could switch enough"
        await wait_run_over(pilot, streaming)
        stored = session.store.list_messages(streaming)[-1]
        assert stored.text == ANSWER
        assert shown_answer(app) == ANSWER
