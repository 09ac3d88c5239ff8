"""The app shows what it did about a weak model: a call printed as text (recovered), the same
call again (answered from the first), the final answer it asked for — live and in history."""

from __future__ import annotations

from collections.abc import Callable

from assistant_core.session import Session
from tests.support.scripted_backend import ScriptedBackend, text_turn, tool_turn
from tui.app import InvestorApp

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask_and_wait,
    latest_run,
    make_scripted_session,
    screen_text,
)

PRINTED = (
    '<tool_call>\n{"name": "get_ticker", "arguments": {"company_name": "Apple"}}\n</tool_call>'
)
NOTE = "! the model repeated tool calls it had already made"


async def test_recovered_and_repeated_calls_and_the_note(
    make_scripted_session: Callable[..., Session],
) -> None:
    backend = ScriptedBackend(
        [
            text_turn(PRINTED),
            tool_turn(("get_ticker", '{"company_name":"Apple"}')),
            text_turn("Apple trades as AAPL."),
        ],
        is_llm=True,
    )
    session = make_scripted_session(backend)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(150, 50)) as pilot:
        thread_id = await ask_and_wait(pilot, "What is Apple's ticker?")
        run = latest_run(session, thread_id)
        assert run.status == "completed"
        screen = screen_text(app)
        order = ["recovered from", "repeat · not run", NOTE, "Apple trades as AAPL."]
        assert all(marker in screen for marker in order), screen
        positions = [screen.index(marker) for marker in order]
        assert positions == sorted(positions), screen
        assert "<tool_call>" not in screen
        panel = str(app.main.run_panel.render_run())
        assert "asked for a final answer" in panel
        assert "recovered from text" in panel and "repeat, not run again" in panel

        # From history (the store), the same cards and note.
        await app.main.chat.show_thread(thread_id)
        await pilot.pause()
        screen = screen_text(app)
        assert "recovered from" in screen and "repeat · not run" in screen
        assert NOTE in screen
