"""The full-screen app, headless, by the one text policy: every class of the policy in a
question, a streamed answer, a tool's name, arguments, output and error, and a thread title
reaches neither the screen nor the terminal (chat, cards opened, run panel, thread list,
title bar, inspector); Korean and emoji are shown."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.scripted_backend import ScriptedBackend, text_turn, tool_turn
from tests.support.text_policy import assert_terminal_safe

from .test_cli_text_policy import EVERY_CLASS
from .test_hostile_input import _driver_output, _screen_cells


async def test_every_class_stays_off_the_screen(tmp_path: Path) -> None:
    from tests.tui.app_helpers import ask, screen_text, scripted_session, wait_for, wait_run_over
    from tui.app import InvestorApp

    backend = ScriptedBackend(
        [
            tool_turn(
                ("get_ticker", json.dumps({"company_name": EVERY_CLASS}), "call_ticker"),
                (EVERY_CLASS, json.dumps({"q": EVERY_CLASS}), "call_unknown"),
                text="Looking " + EVERY_CLASS,
            ),
            text_turn(
                "Answer\n\n"
                + EVERY_CLASS
                + "\n\n| a | b |\n|---|---|\n| 삼성 | 👨\u200d👩\u200d👧 |"
            ),
        ]
    )
    session = scripted_session(tmp_path / "threads.db", backend)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(150, 100)) as pilot:
        thread_id = await ask(pilot, EVERY_CLASS)
        await wait_run_over(pilot, thread_id)
        session.store.rename_thread(thread_id, EVERY_CLASS)
        app.main.thread_list.reload(thread_id)
        app.main.update_title()
        await wait_for(pilot, lambda: "Answer" in screen_text(app), timeout=5)
        for card in app.main.chat.query("ToolCallCard"):
            if not card.expanded:
                card.toggle()
        await pilot.pause()
        for where in ("main", "inspector"):
            if where == "inspector":
                await pilot.press("ctrl+t")
                await pilot.pause()
            lines, cells = _screen_cells(app)
            assert set(cells) == {app.size.width}, f"layout broken on {where}"
            screen = "\n".join(lines)
            assert_terminal_safe(screen, f"the {where} screen")
            assert "삼성전자 주가" in screen
            output = _driver_output(app)
            assert_terminal_safe(
                output.replace("\x1b", "").replace("\r", ""), f"what the terminal gets ({where})"
            )
