"""Layout of the chat after an answer ends (issue 12.2): the last line of an answer cut by
Escape and its ``⚠ incomplete`` note are inside the chat's scrollable region and on screen
once it is scrolled to the end, wherever the stream was cut.

The cause of the stale layout is tested at the level of one widget: Textual counts a
widget's layout generation only when no layout is pending for it, and caches its measured
height per generation. When the screen lays out between two height changes of one widget (a
sibling asked for a layout: a chunk sealed above, a card, the run panel), the second change
reused the first measurement — the widget kept its old height, hiding its last lines (and
what follows them), until something else (toggling a panel) made it measure again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui.widgets import AssistantMessage, ChatView
from tui.widgets.message import MarkdownChunk
from tui.widgets.rendered import PlainText

from .chat_helpers import ChatHost, EventFactory, chat_showing, new_thread, screen_text

SECTION = (
    "## Apple (AAPL)\n\n"
    "Revenue reached **391.0B** in fiscal 2024, up 2% over the year before.\n\n"
    "| Metric | 2024 | 2023 |\n|---|--:|--:|\n| Revenue | 391.0B | 383.3B |\n\n"
    "- strong services growth\n- iPhone still the largest segment\n\n"
)


def tokens(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


ANSWER = "".join(SECTION.replace("Apple", f"Company {i}") for i in range(6))


def visible_lines(chat: ChatView) -> tuple[int, int]:
    """The rows of the chat's content shown now (scroll offset to the bottom of the view)."""
    top = round(chat.scroll_y)
    return top, top + chat.scrollable_content_region.height


def assert_end_shown(app: ChatHost, message: AssistantMessage, last_line: str) -> None:
    chat = app.chat
    note = message.query_one(".message--note")
    # Every part of the answer is measured at its full height…
    for chunk in message.query(MarkdownChunk):
        if chunk.display:
            assert (
                chunk.size.height >= chunk.text_for(chunk.content_size.width).plain.count("\n") + 1
            ), "a chunk is shorter than its text"
    inner = sum(c.outer_size.height + c.styles.margin.top for c in message.children if c.display)
    assert message.size.height >= inner, "the answer is shorter than its parts"
    # …inside the scrollable region…
    assert note.virtual_region.bottom <= chat.virtual_size.height
    assert message.virtual_region_with_margin.bottom <= chat.virtual_size.height
    # …and on screen at the end.
    top, bottom = visible_lines(chat)
    note_row = note.virtual_region.y - chat.virtual_region.y
    assert top <= note_row < bottom
    screen = screen_text(app)
    assert "⚠ incomplete" in screen
    assert last_line in screen


async def cut(app: ChatHost, pilot: Any, events: EventFactory, text: str) -> AssistantMessage:
    chat = app.chat
    message = events.message()
    chat.handle_event(events.created(message))
    for token in tokens(text, 7):
        chat.handle_event(events.delta(message, token))
    chat.handle_event(events.incomplete(message, text))
    await pilot.pause(0.1)
    chat.scroll_end(animate=False, immediate=True)
    await pilot.pause()
    return app.query_one(AssistantMessage)


@pytest.mark.parametrize("cut_at", [40, 170, 333, 700, 1100, len(ANSWER) - 5])
async def test_answer_cut_mid_stream_shows_its_end_and_marker(tmp_path: Path, cut_at: int) -> None:
    thread = new_thread(tmp_path)
    thread.user("How are they doing?")
    async with chat_showing(thread, size=(80, 24)) as (app, pilot, events):
        text = ANSWER[:cut_at]
        message = await cut(app, pilot, events, text)
        last = text.rstrip().splitlines()[-1].strip("|-# ").split("|")[0].strip()
        assert_end_shown(app, message, last[:20])


def _plain(lines: int) -> PlainText:
    return PlainText("\n".join(f"line {i}" for i in range(lines)))


def _set_plain(widget: PlainText, lines: int) -> None:
    widget.text = "\n".join(f"line {i}" for i in range(lines))
    widget.invalidate()


def _chunk(lines: int) -> MarkdownChunk:
    return MarkdownChunk(tail="\n\n".join(f"para {i}" for i in range((lines + 1) // 2)))


def _set_chunk(widget: MarkdownChunk, lines: int) -> None:
    widget.set_tail("\n\n".join(f"para {i}" for i in range((lines + 1) // 2)))


@pytest.mark.parametrize(("make", "change"), [(_plain, _set_plain), (_chunk, _set_chunk)])
async def test_a_widget_keeps_its_height_current_across_a_layout(
    tmp_path: Path, make: Callable[[int], Any], change: Callable[[Any, int], None]
) -> None:
    """The class at the level of one widget drawn from a cached Text (answer chunks, error
    lines, card headers): two height changes with a layout of its container between."""
    thread = new_thread(tmp_path)
    async with chat_showing(thread, size=(60, 20)) as (app, pilot, _events):
        widget = make(1)
        await app.chat.mount(widget)
        await pilot.pause()
        change(widget, 3)
        app.chat._clear_arrangement_cache()  # a sibling's layout: the chat is arranged again
        app.screen._refresh_layout()
        change(widget, 7)
        await asyncio.sleep(0.05)
        await pilot.pause(0.1)
        assert widget.size.height == 7
