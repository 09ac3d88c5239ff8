"""Focus in the chat (issue 12.6): Tab or Shift+Tab into the chat lands on the latest item
on screen, not on the first message of the thread; inside, they move between items and out
at either end; every focusable item and pane shows clearly that it has the focus (a frame
or bar of another shape and colour, not only a background)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from assistant_core.session import Session
from tui.app import InvestorApp
from tui.widgets import AssistantMessage, ToolCallCard, UserMessage
from tui.widgets.chat import ErrorLine

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    make_demo_session,
    wait_ready,
)
from .chat_helpers import TABLE, ThreadBuilder, make_call


def conversation(thread: ThreadBuilder, turns: int = 3) -> None:
    for turn in range(turns):
        calls = [make_call("get_income_statement", display=TABLE, output={"ok": turn})]
        thread.turn(f"question {turn}", f"Answer {turn}.\n\nSecond paragraph {turn}.", calls)


def chat_items(app: InvestorApp) -> list[Any]:
    return [w for w in app.main.chat.children if w.can_focus]


async def test_tab_and_shift_tab_into_the_chat_land_on_the_latest_item(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    conversation(ThreadBuilder(session.store))
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        items = chat_items(app)
        latest = items[-1]
        assert isinstance(latest, AssistantMessage)

        app.main.query_one("#thread-options").focus()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is latest

        await pilot.press("shift+tab")  # inside: to the item before it
        assert app.focused is items[-2]
        await pilot.press("tab", "tab")  # the latest again, then its ↻ Regenerate button
        assert getattr(app.focused, "id", None) == "redo"
        await pilot.press("tab")  # and out at the end, to the prompt
        assert app.focused is app.main.prompt

        await pilot.press("shift+tab")  # from below: the latest item too
        await pilot.pause()
        assert app.focused is latest


async def test_shift_tab_from_the_first_item_leaves_the_chat(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    conversation(ThreadBuilder(session.store), turns=1)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        first = chat_items(app)[0]
        first.focus()
        await pilot.pause()
        await pilot.press("shift+tab")
        await pilot.pause()
        focused = app.focused
        assert focused is not None and app.main.chat not in focused.ancestors_with_self


async def test_tab_into_a_chat_scrolled_up_lands_on_what_is_on_screen(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    conversation(ThreadBuilder(session.store), turns=6)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        chat = app.main.chat
        chat.scroll_to(y=chat.max_scroll_y // 3, animate=False, immediate=True)
        await pilot.pause()
        before = chat.scroll_y
        app.main.query_one("#thread-options").focus()
        await pilot.press("tab")
        await pilot.pause()
        focused = app.focused
        assert focused is not None and focused.parent is chat
        assert focused.region.overlaps(chat.content_region)
        assert focused is not chat_items(app)[-1]
        assert abs(chat.scroll_y - before) <= 1  # the view did not jump


async def test_every_focusable_item_and_pane_marks_its_focus(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    thread = ThreadBuilder(session.store)
    conversation(thread, turns=1)
    from assistant_core.objects import LastError

    thread.user("and then?")
    failed = thread.run(status="failed", last_error=LastError("server_error", "down"))
    thread.tool_step(failed, [make_call("get_stock_quote", output={"ok": 1})])
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        chat = app.main.chat

        def frame(widget: Any) -> tuple[Any, ...]:
            target = widget.box if isinstance(widget, UserMessage) else widget
            styles = target.styles
            return (styles.border_left, styles.border_top, styles.background)

        kinds = (UserMessage, ToolCallCard, AssistantMessage)
        widgets = [chat.query(kind).first() for kind in kinds]
        error = app.main.chat.query(ErrorLine)
        widgets += list(error)
        for widget in widgets:
            app.main.prompt.focus()
            await pilot.pause()
            unfocused = frame(widget)
            widget.focus()
            await pilot.pause()
            focused = frame(widget)
            # Not only the background: the frame's shape (heavy/thick) changes.
            assert focused[:2] != unfocused[:2], type(widget).__name__
            assert "heavy" in str(focused[:2]) or "thick" in str(focused[:2])

        # Panes: the thread list's edge lights up while the focus is in it.
        pane = app.main.query_one("#threads-pane")
        app.main.prompt.focus()
        await pilot.pause()
        edge = pane.styles.border_right
        app.main.query_one("#thread-options").focus()
        await pilot.pause()
        assert pane.styles.border_right != edge


async def test_a_focused_answer_and_card_say_which_keys_work(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    conversation(ThreadBuilder(session.store), turns=1)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        chat = app.main.chat
        answer = chat.query(AssistantMessage).last()
        card = chat.query(ToolCallCard).last()
        answer.focus()
        await pilot.pause()
        assert "y copy" in answer._role.text_for(60).plain
        card.focus()
        await pilot.pause()
        assert "collapse" in card.header_text(120).plain
        assert "y copy" not in answer._role.text_for(60).plain
