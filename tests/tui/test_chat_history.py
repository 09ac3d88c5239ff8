"""Long threads: only a window of items is mounted; older ones load on scroll-up and the
window never grows with the thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui.widgets import AssistantMessage, ChatView, ToolCallCard
from tui.widgets.chat import MAX_MOUNTED, PAGE_ITEMS

from .chat_helpers import (
    KV,
    ThreadBuilder,
    chat_showing,
    make_call,
    new_thread,
    screen_text,
    wait_for,
)

TURNS = 100  # 200 messages and 10 cards: over twice MAX_MOUNTED items


def long_thread(tmp_path: Path) -> ThreadBuilder:
    thread = new_thread(tmp_path)
    for turn in range(TURNS):
        calls = (
            [make_call("get_quote", {"ticker": f"T{turn}"}, display=KV)] if turn % 10 == 0 else None
        )
        thread.turn(f"question number {turn}", f"Answer number {turn}: **fine**.", calls=calls)
    return thread


async def scroll_to_top(pilot, chat: ChatView) -> None:  # type: ignore[no-untyped-def]
    if chat.scroll_y == 0:
        chat.on_mouse_scroll_up()  # the wheel, at the top already
    else:
        chat.scroll_home(animate=False, immediate=True)
    await pilot.pause()
    await wait_for(pilot, lambda: not chat._busy)
    await pilot.pause()


async def test_switch_mounts_only_the_latest_page(tmp_path: Path) -> None:
    async with chat_showing(long_thread(tmp_path), size=(100, 30)) as (app, _pilot, _):
        chat = app.chat
        assert chat.mounted_items <= PAGE_ITEMS
        assert len(chat.children) == chat.mounted_items + 1  # and the "↓ new" marker
        screen = screen_text(app)
        assert f"Answer number {TURNS - 1}: fine." in screen  # scrolled to the end
        assert chat.scroll_y == chat.max_scroll_y
        assert "question number 0" not in screen


async def test_scrolling_up_loads_older_items_with_a_bounded_window(tmp_path: Path) -> None:
    async with chat_showing(long_thread(tmp_path), size=(100, 30)) as (app, pilot, _):
        chat = app.chat
        widget_counts = []
        for _ in range(40):
            await scroll_to_top(pilot, chat)
            assert chat.mounted_items <= MAX_MOUNTED
            widget_counts.append(len(list(chat.query("*"))))
            if "question number 0" in screen_text(app):
                break
        else:
            raise AssertionError("never reached the first message")
        assert max(widget_counts) < 400  # a few widgets per item, ~3 pages of items
        # The view stayed where the user was: the loaded page is above, not under the cursor.
        assert chat.scroll_y <= 2 and "question number 0" in screen_text(app)
        # Back down: the newest items are mounted again, the oldest unmounted.
        for _ in range(40):
            chat.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            await wait_for(pilot, lambda: not chat._busy)
            await pilot.pause()
            assert chat.mounted_items <= MAX_MOUNTED
            if f"Answer number {TURNS - 1}: fine." in screen_text(app):
                break
        else:
            raise AssertionError("never came back to the last answer")
        cards = list(chat.query(ToolCallCard))
        answers = list(chat.query(AssistantMessage))
        assert cards and answers


async def test_jumping_to_the_latest_remounts_the_end_and_follows_it(tmp_path: Path) -> None:
    async with chat_showing(long_thread(tmp_path), size=(100, 30)) as (app, pilot, events):
        chat = app.chat
        for _ in range(10):
            await scroll_to_top(pilot, chat)
            if chat.window_end < len(chat.transcript.items):
                break
        else:
            raise AssertionError("the latest items were never unmounted")
        assert f"Answer number {TURNS - 1}: fine." not in screen_text(app)
        await chat.scroll_to_latest()  # Ctrl+End
        await pilot.pause()
        assert chat.mounted_items <= PAGE_ITEMS
        assert f"Answer number {TURNS - 1}: fine." in screen_text(app)
        message = events.message()
        chat.handle_event(events.created(message))
        chat.handle_event(events.delta(message, "A new answer streams in.\n\n" * 20 + "The end."))
        await wait_for(pilot, lambda: "The end." in screen_text(app))  # followed
        assert chat.scroll_y == chat.max_scroll_y


async def test_empty_and_none_threads(tmp_path: Path) -> None:
    async with chat_showing(new_thread(tmp_path), size=(80, 24)) as (app, _, _):
        assert app.chat.mounted_items == 0
        await app.chat.show_thread(None)
        assert list(app.chat.children) == [app.chat.new_below]


async def test_cards_of_earlier_runs_start_collapsed_and_expand_on_demand(tmp_path: Path) -> None:
    from .chat_helpers import TABLE

    thread = new_thread(tmp_path)
    thread.turn(
        "first question", "First answer.", calls=[make_call("get_income_statement", display=TABLE)]
    )
    thread.turn(
        "second question",
        "Second answer.",
        calls=[make_call("get_income_statement", display=TABLE)],
    )
    async with chat_showing(thread, size=(100, 50)) as (app, pilot, _):
        older, latest = app.chat.query(ToolCallCard).results()
        assert latest.expanded and latest._body is not None  # the latest run: its result shown
        assert not older.expanded and older._body is None  # history: the body is not built
        assert screen_text(app).count("Total Revenue") == 1
        older.toggle()
        await pilot.pause()
        assert older.expanded and older._body is not None
        assert screen_text(app).count("Total Revenue") == 2


async def test_switching_back_rereads_tool_calls_after_a_run_of_that_thread(tmp_path: Path) -> None:
    from .chat_helpers import EventFactory

    thread = new_thread(tmp_path)
    thread.turn("first question", "First answer.")
    async with chat_showing(thread, size=(100, 40)) as (app, pilot, _):
        chat = app.chat
        reads: list[str | None] = []
        list_tool_calls = chat.store.list_tool_calls

        def counting(*, thread_id: str | None = None, run_id: str | None = None) -> Any:
            reads.append(thread_id)
            return list_tool_calls(thread_id=thread_id, run_id=run_id)

        chat.store.list_tool_calls = counting  # type: ignore[method-assign]
        await chat.show_thread(None)
        await chat.show_thread(thread.id)
        assert reads == []  # nothing happened on the thread since it was shown: reused
        await chat.show_thread(None)
        # A run elsewhere (another process, say) made a call and failed without answering.
        thread.user("second question")
        run = thread.run(status="failed")
        thread.tool_step(run, [make_call("get_quote", {"ticker": "ZZZ"}, display=KV)])
        await chat.show_thread(thread.id)
        await pilot.pause()
        # The thread's activity moved, so the calls read on the first visit are re-read.
        assert any("ZZZ" in card.header_text().plain for card in chat.query(ToolCallCard))
        await chat.show_thread(None)
        thread.user("third question")
        run = thread.run(status="failed")
        thread.tool_step(run, [make_call("get_quote", {"ticker": "YYY"}, display=KV)])
        chat.handle_event(EventFactory(thread.id).failed("server_error", "boom"))
        await chat.show_thread(thread.id)  # an event of the thread also makes the visit re-read
        await pilot.pause()
        assert any("YYY" in card.header_text().plain for card in chat.query(ToolCallCard))
