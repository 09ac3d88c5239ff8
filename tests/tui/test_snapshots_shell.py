"""SVG snapshots of the frame around the chat at the sizes a user has (issue 12): 60×20,
80×24 with the thread list over the chat, 100×30 with one-line thread rows (tickers, origin)
and the starter questions of an empty thread, and the model dialog at 80×24.

Pinned as in ``test_snapshots.py`` (its ``frozen`` fixture). Update with
``pytest tests/tui/test_snapshots_shell.py --snapshot-update`` and look at the SVGs in
``__snapshots__/test_snapshots_shell/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.app import InvestorApp

from .app_helpers import _fixed_demo_day, ask_and_wait, demo_session, wait_for, wait_ready  # noqa: F401
from .chat_helpers import ThreadBuilder, make_call
from .test_snapshots import FIXED_NOW, QUESTION, frozen  # noqa: F401


def with_threads(db: Path, *, starters: bool = False) -> InvestorApp:
    """A demo app whose store already holds threads a user would have after a while."""
    session = demo_session(db)
    store = session.store
    for tickers in (["MSFT"], ["MSFT", "AAPL"], ["GOOGL", "AMZN", "META", "NVDA"]):
        thread = ThreadBuilder(store, "Tell me about Microsoft and its cloud business")
        calls = [make_call(arguments={"ticker": tickers[0]})]
        if len(tickers) > 1:
            calls.append(make_call("compare_stocks", {"tickers": tickers, "period": "6mo"}))
        thread.turn("Tell me about Microsoft", "Microsoft **grew** its cloud revenue.", calls)
    api = store.create_thread("삼성전자 실적과 주가 흐름을 자세히 알려줘", origin="api")
    store.add_message(api.id, "user", "삼성전자 실적과 주가 흐름을 자세히 알려줘")
    cli = store.create_thread("How is Tesla's balance sheet?", origin="cli")
    store.add_message(cli.id, "user", "How is Tesla's balance sheet?")
    return InvestorApp(session, first_run_hint=None if starters else False, clock=lambda: FIXED_NOW)


async def settle(pilot: Any) -> None:
    app = pilot.app
    await wait_ready(pilot)
    app.main.prompt.cursor_blink = False
    # The thread rows' tickers are read in a worker: wait for them.
    await wait_for(pilot, lambda: app.main.thread_list.tickers_read)
    await pilot.pause(0.3)


def test_main_screen_60x20(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    """The chat takes the width; the key bar keeps Help and Quit."""
    app = InvestorApp(
        demo_session(tmp_path / "t.db"), first_run_hint=False, clock=lambda: FIXED_NOW
    )

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await ask_and_wait(pilot, QUESTION)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(60, 20), run_before=run_before)


def test_thread_list_over_the_chat_80x24(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = with_threads(tmp_path / "t.db")

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: pilot.app.main.thread_list.display)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_thread_rows_100x30(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    """One line per title, cut in cells; tickers, origin and time below."""
    app = with_threads(tmp_path / "t.db")

    async def run_before(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_starter_questions_on_an_empty_thread_100x30(
    snap_compare: Any, frozen: None, tmp_path: Path
) -> None:
    app = with_threads(tmp_path / "t.db", starters=True)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: pilot.app.main.query_one("#starters").display)
        await pilot.press("down")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


def test_model_dialog_80x24(snap_compare: Any, frozen: None, tmp_path: Path) -> None:
    app = InvestorApp(
        demo_session(tmp_path / "t.db"), first_run_hint=False, clock=lambda: FIXED_NOW
    )

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        pilot.app.action_switch_model()
        await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "ModelScreen")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
