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
from .test_snapshots import FIXED_NOW, QUESTION, frozen, make_app  # noqa: F401  (fixture)


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


# -- cards and the inspector at the sizes of a laptop terminal (issue 12.5) -------------------
def card_shown(card: str, question: str = QUESTION) -> Any:
    """The demo answer to ``question``, scrolled to the card of tool ``card`` (its chart
    drawn, if it has one)."""

    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await wait_ready(pilot)
        app.main.prompt.cursor_blink = False
        await ask_and_wait(pilot, question)
        await wait_for(pilot, lambda: app.main.run_panel.render_run().plain.startswith("completed"))
        chat = app.main.chat
        target = next(c for c in chat.query("ToolCallCard") if c.call.function.name == card)
        chat.scroll_to_widget(target, animate=False, top=True)
        await wait_for(pilot, lambda: all(c.drawn for c in app.query("PriceChart")))
        await pilot.pause(0.3)

    return run_before


def inspector_shown() -> Any:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await wait_ready(pilot)
        app.main.prompt.cursor_blink = False
        await ask_and_wait(pilot, QUESTION)
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
        app.screen.query_one("#calls").move_cursor(row=3)
        await pilot.pause(0.3)

    return run_before


SIZES = [(80, 24), (100, 30)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_statement_table_card(
    snap_compare: Any, frozen: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=size, run_before=card_shown("get_balance_sheet"))


@pytest.mark.parametrize("size", [*SIZES, (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_chart_card(snap_compare: Any, frozen: None, tmp_path: Path, size: tuple[int, int]) -> None:
    app = make_app(tmp_path / "threads.db")
    run_before = card_shown("get_daily_stock_performance")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_comparison_card(
    snap_compare: Any, frozen: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path / "threads.db")
    run_before = card_shown("compare_stocks", "Compare Apple and Microsoft")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inspector_at_laptop_sizes(
    snap_compare: Any, frozen: None, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = make_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=size, run_before=inspector_shown())
