"""SVG snapshots of the chat (issue 12): who is speaking, in a dark and a light theme; focus
on a card; cards at the sizes a laptop terminal has (80×24, 100×30, 160×45).

Pinned as in ``test_snapshots.py`` (its ``frozen`` fixture). Update with ``pytest
tests/tui/test_snapshots_chat.py --snapshot-update`` and look at each SVG in
``__snapshots__/test_snapshots_chat/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant_core.objects import LastError
from tui.app import InvestorApp

from .app_helpers import _fixed_demo_day, ask_and_wait, demo_session, wait_for, wait_ready  # noqa: F401
from .chat_helpers import TABLE, ThreadBuilder, make_call
from .test_snapshots import FIXED_NOW, frozen  # noqa: F401  (fixture)


def conversation_app(db: Path) -> InvestorApp:
    """Two short exchanges and a question whose run failed: questions, answers, a card
    and an error line on one screen."""
    session = demo_session(db)
    thread = ThreadBuilder(session.store, "Apple and Microsoft")
    thread.turn(
        "How did Apple do last year?",
        "Revenue grew **2%** to $391.0B; net income fell 3%.\n\n"
        "- Services grew fastest\n- iPhone is still the largest segment",
    )
    call = make_call("get_income_statement", {"ticker": "MSFT"}, display=TABLE, output={"ok": 1})
    thread.turn("And Microsoft?", "Microsoft grew faster: revenue up **16%**.", [call])
    thread.user("Which one would you pick for ten years?")
    failed = thread.run(
        status="failed", last_error=LastError("rate_limit_exceeded", "Rate limit reached")
    )
    thread.tool_step(failed, [make_call("get_stock_quote", {"ticker": "AAPL"}, output={"ok": 1})])
    return InvestorApp(session, first_run_hint=False, clock=lambda: FIXED_NOW)


def showing(*, theme: str | None = None, focus: str | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await wait_ready(pilot)
        app.main.prompt.cursor_blink = False
        if theme is not None:
            app.theme = theme
        chat = app.main.chat
        if focus == "card":
            card = chat.query("ToolCallCard").first()
            card.focus()
            chat.scroll_to_widget(card, animate=False, top=True)
        elif focus == "tab":
            app.main.query_one("#thread-options").focus()
            await pilot.pause()
            await pilot.press("tab")
        await pilot.pause(0.3)

    return run_before


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_roles_in_a_theme(snap_compare: Any, frozen: None, tmp_path: Path, theme: str) -> None:
    app = conversation_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(100, 30), run_before=showing(theme=theme))


def test_roles_at_80x24(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = conversation_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(80, 24), run_before=showing())


def test_focused_card(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = conversation_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(100, 30), run_before=showing(focus="card"))


def test_tab_into_the_chat(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = conversation_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(100, 30), run_before=showing(focus="tab"))
