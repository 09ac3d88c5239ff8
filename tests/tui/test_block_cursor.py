"""The block cursor in an answer: J/K (Down/Up) or a click select a paragraph, code block,
table or list item, highlighted, and the copy key takes that block's source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant_core.session import Session
from tests.support.scripted_backend import ScriptedBackend, text_turn
from tui.app import InvestorApp
from tui.render import markdown as md_render
from tui.render.markdown import MarkdownStyles, render_blocks
from tui.widgets import AssistantMessage, MarkdownChunk, UserMessage
from tui.widgets.theme import theme_style

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask_and_wait,
    make_scripted_session,
)
from .chat_helpers import ThreadBuilder, chat_showing, new_thread, wait_for
from .test_chat_stream import ANSWER, apple_thread, stream

TABLE_SOURCE = "| Metric | 2024 | 2023 |\n|---|--:|--:|\n| Revenue | 391.0B | 383.3B |"
CODE = "print('not financial advice')"
KINDS = ["heading", "paragraph", "table", "item", "item", "code", "paragraph"]


def highlighted_rows(app: Any) -> list[str]:
    """The screen rows painted in the block cursor's colour, as text."""
    chunk = app.query(MarkdownChunk).first()
    colour = theme_style(chunk, "md--block-cursor").bgcolor
    right = app.chat.scrollable_content_region.right  # not the scrollbar
    rows = []
    for strip in app.screen._compositor.render_strips():
        if any(seg.style is not None and seg.style.bgcolor == colour for seg in strip):
            rows.append(strip.crop(0, right).text.strip(" ▌█"))  # the answer's bar (thick: focused)
    return rows


def answered(tmp_path: Path, answer: str) -> ThreadBuilder:
    thread = new_thread(tmp_path)
    thread.turn("How is Apple doing?", answer)
    return thread


def test_renderer_reports_each_block_with_its_lines_and_source() -> None:
    text, blocks = render_blocks(ANSWER + "\n\n---\n\n> a quote", 60, MarkdownStyles())
    lines = text.plain.split("\n")
    assert [b.kind for b in blocks] == [*KINDS, "quote"]  # the rule has nothing to copy
    shown = {
        b.kind + str(i): lines[b.first_line : b.first_line + b.line_count]
        for i, b in enumerate(blocks)
    }
    assert shown["heading0"] == ["Apple (AAPL)"]
    assert [line.split()[0] for line in shown["table2"]] == ["Metric", "───────", "Revenue"]
    assert shown["item3"] == ["• strong services growth"]
    assert shown["code5"][0].strip() == CODE
    assert blocks[2].source == TABLE_SOURCE
    assert blocks[3].source == "- strong services growth"
    assert blocks[5].source == CODE  # without the fences
    assert blocks[7].source == "> a quote"


async def test_keys_move_a_highlighted_cursor_and_copy_takes_the_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with chat_showing(answered(tmp_path, ANSWER)) as (app, pilot, _):
        answer = app.query_one(AssistantMessage)
        answer.focus()
        await pilot.pause()
        assert highlighted_rows(app) == [] and answer.copy_text == ANSWER

        renders: list[str] = []
        original = md_render.render_blocks
        monkeypatch.setattr(
            md_render,
            "render_blocks",
            lambda source, *a: renders.append(source) or original(source, *a),
        )
        copied = []
        for _ in KINDS:
            await pilot.press("j")
            copied.append((answer.copy_label, answer.copy_text))
            if answer.copy_label == "table":
                assert highlighted_rows(app) == [
                    "Metric     2024    2023",
                    "───────  ──────  ──────",
                    "Revenue  391.0B  383.3B",
                ]
        assert copied[2] == ("table", TABLE_SOURCE)
        assert copied[3] == ("list item", "- strong services growth")
        assert copied[5] == ("code block", CODE)
        assert [label for label, _ in copied] == [
            "heading",
            "paragraph",
            "table",
            "list item",
            "list item",
            "code block",
            "paragraph",
        ]
        assert highlighted_rows(app) == ["This is not financial advice."]
        assert renders == []  # moving the cursor repaints; it does not render Markdown again

        await pilot.press("k", "k")
        assert answer.copy_text == "- iPhone still the largest segment"
        await pilot.press("down", "down", "down")  # past the last block: the whole answer
        assert answer.cursor is None and answer.copy_text == ANSWER
        assert highlighted_rows(app) == []
        await pilot.press("up")  # from nothing, Up starts at the last (visible) block
        assert answer.copy_text == "This is not financial advice."

        app.query_one(UserMessage).focus()  # leaving the answer drops its cursor
        await pilot.pause()
        assert answer.cursor is None and highlighted_rows(app) == []


async def test_a_click_selects_the_block_under_the_mouse(tmp_path: Path) -> None:
    async with chat_showing(answered(tmp_path, ANSWER)) as (app, pilot, _):
        chunk = app.query(MarkdownChunk).first()
        table = chunk.blocks[2]
        await pilot.click(chunk, offset=(3, table.first_line + 2))
        answer = app.query_one(AssistantMessage)
        assert app.focused is answer
        assert app.chat.focused_copy() == (TABLE_SOURCE, "table")
        await pilot.click(chunk, offset=(3, table.first_line - 1))  # the blank line above
        assert app.chat.focused_copy() == (ANSWER, "answer")


async def test_the_cursor_crosses_chunks_and_keeps_its_block_in_view(tmp_path: Path) -> None:
    parts = [f"### Part {i}\n\n" + f"Revenue grew {i} times. " * 30 for i in range(12)]
    long_answer = "\n\n".join(parts)
    async with chat_showing(answered(tmp_path, long_answer), size=(100, 24)) as (app, pilot, _):
        answer = app.query_one(AssistantMessage)
        assert len(answer.query(MarkdownChunk)) >= 3
        answer.focus()
        await pilot.press("k")  # the last block on screen (the view is at the end)
        assert answer.copy_text == parts[-1].split("\n\n")[1].strip()
        seen = []
        while answer.cursor:  # to the first block, across every chunk
            answer.action_move_cursor(-1)
            await pilot.pause()
            rows = highlighted_rows(app)
            block = answer.selected_block
            assert block is not None and rows, "the selected block is not on screen"
            assert len(rows) == block.line_count
            seen.append(rows[0])
        assert seen[-1] == "Part 0" and "Part 6" in seen
        assert app.chat.scroll_y < 8  # back at the top: above the answer, only the question
        await pilot.press("j")
        assert answer.copy_text.startswith("Revenue grew 0 times.")


async def test_a_selected_block_stays_selected_while_the_answer_streams(tmp_path: Path) -> None:
    async with chat_showing(apple_thread(tmp_path)) as (app, pilot, events):
        message = await stream(app, events, ANSWER[:60])
        answer = app.query_one(AssistantMessage)
        await wait_for(pilot, lambda: answer.shown_text == ANSWER[:60])
        answer.focus()
        await pilot.press("j")
        assert answer.copy_text == "## Apple (AAPL)"
        for token in [ANSWER[i : i + 7] for i in range(60, len(ANSWER), 7)]:
            app.chat.handle_event(events.delta(message, token))
        app.chat.handle_event(events.completed(message, ANSWER))
        await pilot.pause()
        assert answer.copy_text == "## Apple (AAPL)"
        assert highlighted_rows(app) == ["Apple (AAPL)"]


async def test_copy_key_copies_the_selected_block(
    make_scripted_session: Callable[..., Session],
) -> None:
    session = make_scripted_session(ScriptedBackend([text_turn(ANSWER, chunk=40)]))
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await ask_and_wait(pilot, "How is Apple doing?")
        app.main.chat.query_one(AssistantMessage).focus()
        await pilot.press(*"jjjjjj", "y")
        assert app.clipboard == CODE
        notes = [n.message for n in app._notifications]
        assert notes[-1] == f"Copied the code block ({len(CODE)} characters)."
        await pilot.press("j", "j", "y")  # past the end: the whole answer
        assert app.clipboard == ANSWER
