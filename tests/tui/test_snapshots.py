"""SVG snapshots of the app (pytest-textual-snapshot): the main screen in demo mode after an
answer, the tool-call inspector, the main screen in an 80×24 terminal, and a Korean
statement table at 80×24.

Everything that would vary between runs is pinned: the wall clock (timestamps, "as of",
durations, relative times), the time zone, object ids, the demo data's "today", and the
prompt's cursor blink. Update with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/test_snapshots/``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui.app import InvestorApp

from .app_helpers import _fixed_demo_day, ask_and_wait, demo_session, wait_for, wait_ready  # noqa: F401

FIXED_NOW = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
QUESTION = "Should I buy Apple?"


class _CountingTokens:
    """Stands in for ``secrets`` in the object model: ids from a counter."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def token_urlsafe(self, nbytes: int) -> str:
        return f"{next(self._counter):0{nbytes + 6}d}"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant_core.objects as objects
    from assistant_core import market

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(time, "time", lambda: FIXED_NOW)
    monkeypatch.setattr(objects, "secrets", _CountingTokens())
    monkeypatch.setitem(market.create_market.__kwdefaults__, "clock", lambda: FIXED_NOW)
    yield
    monkeypatch.undo()
    time.tzset()


def make_app(db: Path) -> InvestorApp:
    return InvestorApp(demo_session(db), first_run_hint=False, clock=lambda: FIXED_NOW)


def answered(
    *,
    inspector: bool = False,
    show_chart: bool = False,
    question: str = QUESTION,
    show_card: str | None = None,
) -> Callable[[Any], Any]:
    async def run_before(pilot: Any) -> None:
        app = pilot.app
        await wait_ready(pilot)
        app.main.prompt.cursor_blink = False
        await ask_and_wait(pilot, question)
        await wait_for(pilot, lambda: app.main.run_panel.render_run().plain.startswith("completed"))
        if show_chart:
            # The price chart's card at the top: cards, chart and the answer's start.
            chat = app.main.chat
            chart = chat.query("PriceChart").first()
            card = next(
                node for node in chart.ancestors if node.__class__.__name__ == "ToolCallCard"
            )
            chat.scroll_to_widget(card, animate=False, top=True)
            # Figures are drawn in a worker thread: wait for them, not for a fixed time.
            await wait_for(pilot, lambda: all(c.drawn for c in app.query("PriceChart")))
        if show_card is not None:
            chat = app.main.chat
            card = next(c for c in chat.query("ToolCallCard") if c.call.function.name == show_card)
            chat.scroll_to_widget(card, animate=False, top=True)
        if inspector:
            await pilot.press("f3")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
            app.screen.query_one("#calls").move_cursor(row=3)  # the price series call
        await pilot.pause(0.3)

    return run_before


def test_main_screen_after_a_demo_answer(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = make_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(130, 40), run_before=answered(show_chart=True))


def test_inspector(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = make_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(130, 40), run_before=answered(inspector=True))


def test_main_screen_80x24(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = make_app(tmp_path / "threads.db")
    assert snap_compare(app, terminal_size=(80, 24), run_before=answered())


def test_korean_statement_table_80x24(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    """A Korean question's income statement card in a small terminal: the unit said once
    (단위: 조 원), EPS in 원 without decimals, share counts in 억, the oldest periods left
    out rather than numbers split."""
    app = make_app(tmp_path / "threads.db")
    run_before = answered(question="삼성전자 실적 알려줘", show_card="get_income_statement")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
