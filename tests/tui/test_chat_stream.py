"""Streaming answers into the ChatView: coalesced deltas, the final text, incomplete
answers, failed runs, and hostile text shown literally."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui.widgets import AssistantMessage, ChatView, ErrorLine, UserMessage
from tui.widgets.message import CHUNK_CHARS, MarkdownChunk

from .chat_helpers import (
    ChatHost,
    EventFactory,
    ThreadBuilder,
    chat_showing,
    new_thread,
    screen_output,
    screen_text,
    wait_for,
)

ANSWER = (
    "## Apple (AAPL)\n\n"
    "Revenue reached **391.0B** in fiscal 2024.\n\n"
    "| Metric | 2024 | 2023 |\n|---|--:|--:|\n| Revenue | 391.0B | 383.3B |\n\n"
    "- strong services growth\n- iPhone still the largest segment\n\n"
    "```python\nprint('not financial advice')\n```\n\n"
    "This is not financial advice."
)
HOSTILE = (
    "Look: [bold]x[/] and [link=http://evil]click[/link] "
    "\x1b]0;pwned\x07\x1b[2J \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ end"
)


def tokens(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def apple_thread(tmp_path: Path) -> ThreadBuilder:
    thread = new_thread(tmp_path)
    thread.user("How is Apple doing?")
    return thread


async def stream(app: ChatHost, events: EventFactory, text: str, *, pause: float = 0.0):  # type: ignore[no-untyped-def]
    chat = app.chat
    message = events.message()
    chat.handle_event(events.created(message))
    for token in tokens(text):
        chat.handle_event(events.delta(message, token))
        if pause:
            await asyncio.sleep(pause)
    return message


async def test_streamed_deltas_end_as_the_final_markdown(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, ANSWER, pause=0.001)
        widget = app.query_one(AssistantMessage)
        await wait_for(pilot, lambda: widget.shown_text == ANSWER)  # flushed without an event
        app.chat.handle_event(events.completed(message, ANSWER))
        await pilot.pause()
        assert widget.status == "completed"
        assert widget.shown_text == ANSWER
        screen = screen_text(app)
        assert "Apple (AAPL)" in screen and "Revenue reached 391.0B" in screen
        assert "• strong services growth" in screen
        assert "print('not financial advice')" in screen
        assert "**" not in screen and "```" not in screen


async def test_deltas_are_coalesced(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = events.message()
        app.chat.handle_event(events.created(message))
        await pilot.pause()
        widget = app.query_one(AssistantMessage)
        flushes = 0
        original = widget.flush

        def counting_flush() -> None:
            nonlocal flushes
            flushes += 1
            original()

        widget.flush = counting_flush  # type: ignore[method-assign]
        for token in tokens(ANSWER * 3, 2):  # ~700 deltas at once
            app.chat.handle_event(events.delta(message, token))
        await wait_for(pilot, lambda: widget.shown_text == ANSWER * 3)
        assert 1 <= flushes <= 3


async def test_long_answer_is_chunked_into_few_widgets(tmp_path: Path) -> None:
    long_answer = "\n\n".join(f"### Part {i}\n\n" + "Revenue grew again. " * 30 for i in range(40))
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, long_answer)
        app.chat.handle_event(events.completed(message, long_answer))
        await pilot.pause()
        widget = app.query_one(AssistantMessage)
        chunks = list(widget.query(MarkdownChunk))
        assert widget.shown_text == long_answer
        assert 1 < len(chunks) <= len(long_answer) // CHUNK_CHARS + 2
        assert len(list(widget.query("*"))) <= len(chunks) + 1


async def test_final_text_wins_over_missed_deltas(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, "First paragraph.\n\nSecond")
        app.chat.handle_event(events.completed(message, "Rewritten.\n\nSecond paragraph."))
        await pilot.pause()
        assert app.query_one(AssistantMessage).shown_text == "Rewritten.\n\nSecond paragraph."
        assert "Rewritten." in screen_text(app)


async def test_incomplete_answer_is_marked(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, "Partial answ")
        app.chat.handle_event(events.incomplete(message, "Partial answ"))
        await pilot.pause()
        screen = screen_text(app)
        assert "Partial answ" in screen
        assert "⚠ incomplete — the run was cancelled" in screen


async def test_failed_run_shows_its_error(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        app.chat.handle_event(
            events.failed("rate_limit_exceeded", "Too many requests [bold]now[/]")
        )
        await pilot.pause()
        assert app.query_one(ErrorLine).text.startswith("✗ Run failed: Too many requests")
        assert "Too many requests [bold]now[/] (rate_limit_exceeded)" in screen_text(app)


async def test_hostile_model_answer_is_shown_literally(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, HOSTILE)
        app.chat.handle_event(events.completed(message, HOSTILE))
        await pilot.pause()
        screen = screen_text(app)
        assert "[bold]x[/]" in screen and "[link=http://evil]click[/link]" in screen
        assert "link end" in screen
        assert "pwned" not in screen
        output = screen_output(app)  # what would be written to the terminal
        assert "[bold]x[/]" in output
        assert "\x1b]" not in output and "\x1b[2J" not in output and "pwned" not in output
        svg = app.export_screenshot()
        assert "pwned" not in svg and "\x1b" not in svg


async def test_user_message_is_literal_and_copyable(tmp_path: Path) -> None:
    thread = apple_thread(tmp_path)
    async with chat_showing(thread) as (app, pilot, _):
        message = thread.user("what about [bold]MSFT[/]?\x1b[2J")
        app.chat.add_user_message(message)
        await pilot.pause()
        widget = app.query(UserMessage).last()
        assert widget.copy_text == "what about [bold]MSFT[/]?"
        assert "what about [bold]MSFT[/]?" in screen_text(app)
        widget.focus()
        await pilot.pause()
        assert app.chat.focused_copy() == ("what about [bold]MSFT[/]?", "question")


async def test_other_threads_events_are_not_shown_but_their_text_is_kept(tmp_path: Path) -> None:
    thread = apple_thread(tmp_path)
    other = ThreadBuilder(thread.store, "other")
    other.user("q")
    async with chat_showing(thread) as (app, pilot, _):
        chat: ChatView = app.chat
        events = EventFactory(other.id)
        run = other.run(status="in_progress")
        events.run = run
        stored = other.answer(run, "", status="in_progress")
        message = events.message()
        message.id = stored.id
        chat.handle_event(events.created(message))
        for token in tokens("Streaming elsewhere, all of it."):
            chat.handle_event(events.delta(message, token))
        await pilot.pause()
        assert not chat.query(AssistantMessage)
        await chat.show_thread(other.id)  # the store has "" (not flushed yet)
        await pilot.pause()
        assert chat.query_one(AssistantMessage).text == "Streaming elsewhere, all of it."


async def test_mouse_selection_picks_up_text_not_borders(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.turn("question one", "First answer line.\n\nSecond paragraph here.")
    async with chat_showing(thread, size=(80, 20)) as (app, pilot, _):
        chunk = app.query(MarkdownChunk).first()
        await pilot.mouse_down(chunk, offset=(0, 0))
        await pilot.hover(chunk, offset=(22, 2))
        await pilot.mouse_up(chunk, offset=(22, 2))
        await pilot.pause()
        assert app.screen.get_selected_text() == "First answer line.\n\nSecond paragraph here."


async def test_a_streaming_table_never_shows_as_raw_pipes(tmp_path: Path) -> None:
    """Issue 12.7: until its delimiter row is whole, a table's header would render as a
    paragraph of pipes (``| USD | FY2025 |``); it is held back instead, and every row that
    follows renders as a row."""
    answer = (
        "Here are the figures.\n\n"
        "| USD | FY2025 | FY2024 |\n|---|--:|--:|\n"
        "| Revenue | 391.0B | 383.3B |\n| Net income | 93.7B | 97.0B |\n\n"
        "That is all."
    )
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        chat = app.chat
        message = events.message()
        chat.handle_event(events.created(message))
        widget = None
        for token in tokens(answer, 2):
            chat.handle_event(events.delta(message, token))
            widget = widget or app.query_one(AssistantMessage)
            widget.flush()
            await pilot.pause()
            shown = screen_text(app)
            assert "|" not in shown, shown
        chat.handle_event(events.completed(message, answer))
        await pilot.pause()
        shown = screen_text(app)
        assert "Revenue" in shown and "That is all." in shown and "|" not in shown


async def test_new_text_below_is_announced_when_scrolled_up(tmp_path: Path) -> None:
    """Issue 12.7: reading further up while an answer streams, a "↓ new" marker says text
    is arriving below; a click on it jumps to the end (and it goes away there)."""
    thread = new_thread(tmp_path)
    for turn in range(4):
        thread.turn(f"question {turn}", "A long answer line. " * 60)
    thread.user("and now?")
    async with chat_showing(thread, size=(80, 24)) as (app, pilot, events):
        chat = app.chat
        marker = chat.new_below
        message = events.message()
        chat.handle_event(events.created(message))
        chat.handle_event(events.delta(message, "First words of the answer. "))
        await pilot.pause()
        assert not marker.display  # following the end: nothing to announce

        chat.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        for token in tokens("More text arrives while the user reads above. " * 5, 9):
            chat.handle_event(events.delta(message, token))
        await pilot.pause()
        assert marker.display and "↓ new" in screen_text(app)

        await pilot.click(marker)
        await pilot.pause()
        assert not marker.display
        assert chat.scroll_y == chat.max_scroll_y
        assert "while the user reads above." in screen_text(app)
