"""Chat messages: the user's (plain text) and the assistant's (Markdown, streamed).

A streaming answer is kept cheap on long replies:

* deltas are buffered and applied at most every ``FLUSH_INTERVAL`` (50 ms);
* every top-level Markdown block but the last is final (see
  ``md_render.finished_prefix_length``): finished blocks move, a few hundred characters at
  a time, into chunk widgets where they are rendered once; only the small "live" widget
  (the last blocks) is parsed and laid out again at each flush, and it grows in steps of
  a few lines so that most flushes repaint it without a relayout of the screen;
* chunks hold ~``CHUNK_CHARS`` characters each, so a 20k-character answer is a dozen
  widgets, not thousands (Textual's ``Markdown`` widget makes one per block, list item and
  table cell, and layout time grows with the widget count — bench/bench_tui_stream.py
  --baseline measures it).

Model text is untrusted: it is sanitised (escape sequences removed, control characters made
visible) before it is parsed, and the renderer emits ``Text`` spans, never markup.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Click
from textual.geometry import Region, Size
from textual.widget import Widget
from textual.widgets import Static

from assistant_core.text import for_terminal, one_line

from ..render import markdown as md_render
from ..render.markdown import Block, MarkdownStyles
from .rendered import PlainText, RenderedText, relayout
from .theme import theme_style

if TYPE_CHECKING:
    from textual.timer import Timer

    from assistant_core.objects import Message

FLUSH_INTERVAL = 0.05
CHUNK_CHARS = 2_000
# Finished blocks stay in the live widget until there are this many characters of them:
# moving text to a chunk changes two widgets' heights, and every height change makes
# Textual lay out and repaint the whole screen (~15 ms at 120x40).
SEAL_CHARS = 400
# While streaming, the live widget grows in steps of this many lines, for the same reason
# (blank lines under the growing text instead of a relayout for every new line).
LIVE_STEP = 4

# MarkdownStyles field → theme component (headings: md--h1 … md--h6).
_MD_COMPONENTS = {
    "em": "md--em",
    "strong": "md--strong",
    "strike": "md--strike",
    "code_inline": "md--code-inline",
    "code_block": "md--code-block",
    "link": "md--link",
    "url": "md--url",
    "quote": "md--quote",
    "bullet": "md--bullet",
    "table_header": "md--table-header",
    "rule": "md--rule",
    "html": "md--html",
}


class MarkdownChunk(RenderedText):
    """A run of finished Markdown blocks ("units"); or, in a message's live chunk, the
    still-growing last block (``tail``)."""

    DEFAULT_CSS = """
    MarkdownChunk { height: auto; }
    MarkdownChunk.-continued { margin-top: 1; }
    """

    def __init__(
        self, units: list[str] | None = None, tail: str = "", *, continued: bool = False
    ) -> None:
        super().__init__(classes="-continued" if continued else None)
        self.units: list[str] = list(units or [])
        self.tail = tail
        self.size_chars = sum(len(u) for u in self.units)
        self.step = 1  # height grows in steps of this many lines
        self._unit_cache: dict[int, tuple[tuple[object, ...], Text, list[Block]]] = {}
        self._styles: tuple[str, MarkdownStyles] | None = None
        self._blocks: list[Block] = []  # of the last build, positioned in its lines
        self._highlighted: tuple[Text, int, Text] | None = None  # (built, block, result)

    @property
    def source(self) -> str:
        return "".join(self.units) + self.tail

    def add_unit(self, unit: str) -> None:
        self.units.append(unit)
        self.size_chars += len(unit)
        self.invalidate()

    def set_tail(self, tail: str) -> None:
        if tail != self.tail:
            self.tail = tail
            self.invalidate()

    def height_for_lines(self, lines: int) -> int:
        if self.step <= 1 or lines == 0:
            return lines
        return -(-lines // self.step) * self.step

    def set_step(self, step: int) -> None:
        if step != self.step:
            self.step = step
            relayout(self)

    def markdown_styles(self) -> MarkdownStyles:
        theme = self._theme_key()
        if self._styles is None or self._styles[0] != theme:
            styles = MarkdownStyles(
                text=Style(),
                headings=tuple(theme_style(self, f"md--h{level}") for level in range(1, 7)),
                **{field: theme_style(self, name) for field, name in _MD_COMPONENTS.items()},
            )
            self._styles = (theme, styles)
        return self._styles[1]

    @property
    def blocks(self) -> list[Block]:
        """The top-level blocks shown, with their lines (as laid out for the current
        width: none before the first layout)."""
        width = self.content_size.width
        if width > 0 and self.display:
            self.text_for(width)
            return self._blocks
        return []

    def build(self, width: int) -> Text:
        styles = self.markdown_styles()
        key = (width, self._theme_key())
        parts: list[tuple[Text, list[Block]]] = []
        for index, unit in enumerate(self.units):
            cached = self._unit_cache.get(index)
            if cached is None or cached[0] != key:
                cached = (key, *md_render.render_blocks(unit, width, styles))
                self._unit_cache[index] = cached
            parts.append(cached[1:])
        if self.tail.strip():
            parts.append(md_render.render_blocks(self.tail, width, styles))
        texts: list[Text] = []
        self._blocks = []
        line = 0
        for text, blocks in parts:
            if not text.plain:
                continue
            if texts:
                line += 1  # the blank line between parts
            self._blocks.extend(block.shifted(line) for block in blocks)
            line += text.plain.count("\n") + 1
            texts.append(text)
        return Text("\n\n", end="").join(texts)

    def render(self) -> Text:
        text = super().render()
        message = self.parent
        index = message.cursor_in(self) if isinstance(message, AssistantMessage) else None
        if index is None:
            return text
        cached = self._highlighted
        if cached is None or cached[0] is not text or cached[1] != index:
            block = self._blocks[index]
            # The background only: the block keeps its own colours (syntax, headers).
            style = Style(bgcolor=theme_style(self, "md--block-cursor").bgcolor)
            cached = (
                text,
                index,
                highlight_lines(
                    text, block.first_line, block.line_count, self.content_size.width, style
                ),
            )
            self._highlighted = cached
        return cached[2]

    def block_at(self, line: int) -> int | None:
        """Index of the block shown on ``line`` (None: between blocks)."""
        for index, block in enumerate(self.blocks):
            if block.first_line <= line < block.first_line + block.line_count:
                return index
        return None

    def on_click(self, event: Click) -> None:
        """Select the block under the mouse (a click between blocks: the whole message)."""
        message = self.parent
        offset = event.get_content_offset(self)
        if isinstance(message, AssistantMessage) and offset is not None:
            local = self.block_at(offset.y)
            index = None if local is None else message.block_offset(self) + local
            message.select_block(index, scroll=False)


def highlight_lines(text: Text, first: int, count: int, width: int, style: Style) -> Text:
    """A copy of ``text`` with lines ``first`` … ``first + count - 1`` in ``style``, padded
    to ``width`` so the highlight is a block, not a ragged edge."""
    lines = text.split("\n", allow_blank=True)
    for line in lines[first : first + count]:
        line.pad_right(max(0, width - line.cell_len))
        line.stylize(style)
    return Text("\n", end="").join(lines)


def split_units(source: str, size: int = CHUNK_CHARS) -> list[str]:
    """``source`` cut at top-level block boundaries into pieces of about ``size``
    characters (a single block longer than that stays whole)."""
    if len(source) <= size * 2:
        return [source] if source else []
    starts = [
        token.map[0]
        for token in md_render.parse(source)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    line_offsets = [0]
    for index, char in enumerate(source):
        if char == "\n":
            line_offsets.append(index + 1)
    cuts = [line_offsets[line] for line in starts if line < len(line_offsets)]
    units: list[str] = []
    begin = 0
    for cut in cuts:
        if cut - begin >= size:
            units.append(source[begin:cut])
            begin = cut
    units.append(source[begin:])
    return [u for u in units if u]


class QuestionBox(PlainText):
    """The box a question is drawn in: as wide as its longest line, up to most of the
    chat's width (longer lines fold)."""

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((cell_len(line) for line in self.text.split("\n")), default=0)


class UserMessage(Horizontal, can_focus=True):
    """What the user typed, shown literally: a box titled "You", set to the right — a
    question never reads like an answer, in any theme."""

    DEFAULT_CSS = """
    UserMessage {
        height: auto;
        margin: 1 0 1 0;
        align-horizontal: right;
    }
    UserMessage > QuestionBox {
        width: auto;
        max-width: 85%;
        min-width: 12;
        height: auto;
        padding: 0 1;
        border: round $secondary;
        border-title-color: $text-secondary;
        border-title-style: bold;
    }
    UserMessage:focus > QuestionBox {
        border: heavy $accent;
        border-title-color: $text-accent;
        background: $accent 12%;
    }
    """

    copy_label = "question"

    def __init__(self, message: Message) -> None:
        super().__init__()
        self.message_id = message.id
        self.box = QuestionBox(for_terminal(message.text))
        self.box.border_title = "You"

    def compose(self) -> ComposeResult:
        yield self.box

    @property
    def text(self) -> str:
        return self.box.text

    @property
    def copy_text(self) -> str:
        return self.box.text


class RoleLabel(RenderedText):
    """An answer's first line: who is speaking — and, while the answer has the focus, the
    keys that work on it."""

    DEFAULT_CSS = """
    RoleLabel { height: 1; }
    """

    def __init__(self, message: AssistantMessage) -> None:
        super().__init__(classes="message--role")
        self.message = message

    def build(self, width: int) -> Text:
        text = Text("Assistant", theme_style(self, "chat--role"), end="", no_wrap=True)
        hints = self.message.key_hints() if self.message.has_focus else ""
        if hints:
            text.append(f"  {hints}", theme_style(self, "chat--hint"))
        text.truncate(max(width, 1), overflow="ellipsis")
        return text


# What the copy notification calls a block.
BLOCK_LABELS = {
    "heading": "heading",
    "paragraph": "paragraph",
    "code": "code block",
    "table": "table",
    "item": "list item",
    "quote": "quote",
    "html": "HTML block",
}


class AssistantMessage(Vertical, can_focus=True):
    """The assistant's answer: Markdown, streamed by :meth:`append`, closed by
    :meth:`finish` (an incomplete answer says so).

    When focused it has a block cursor: Down/J and Up/K (or a click) select one of its
    top-level blocks — paragraph, code block, table, list item — for the copy key; moving
    past either end selects nothing again (the whole message). The blocks are the ones the
    renderer laid out, so moving the cursor only repaints.

    | Key(s) | Description |
    | :- | :- |
    | down, j | Select the next block. |
    | up, k | Select the previous block. |
    """

    DEFAULT_CSS = """
    AssistantMessage {
        height: auto;
        padding: 0 1;
        margin-bottom: 1;
        border-left: outer $primary;
    }
    AssistantMessage:focus {
        border-left: thick $accent;
        background: $accent 8%;
    }
    AssistantMessage > .message--note { color: $text-warning; margin-top: 1; }
    AssistantMessage > .message--waiting { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "move_cursor(1)", "Next block", show=False),
        Binding("up,k", "move_cursor(-1)", "Previous block", show=False),
    ]

    def __init__(self, message: Message, *, text: str | None = None) -> None:
        super().__init__()
        self.message_id = message.id
        self.run_id = message.run_id
        self.status = message.status
        self._raw = message.text if text is None else text
        self._pending: list[str] = []
        self._last_flush = 0.0
        self._timer: Timer | None = None
        self._sealed = ""
        self._chunks: list[MarkdownChunk] = []
        self._live: MarkdownChunk | None = None
        self._note: Static | None = None
        self._role = RoleLabel(self)
        self._incomplete_reason = _incomplete_reason(message)
        self._composed = False
        #: The selected block (index over all chunks' blocks), or None: the whole message.
        self.cursor: int | None = None

    def compose(self) -> ComposeResult:
        self._composed = True
        self._chunks, tail = self._initial_chunks(for_terminal(self._raw))
        self._live = MarkdownChunk()
        self._live.step = LIVE_STEP if self.status == "in_progress" else 1
        self._set_live(tail)
        yield self._role
        yield from self._chunks
        yield self._live
        if self.status != "in_progress":
            note = self._make_note()
            if note is not None:
                yield note

    # -- text ------------------------------------------------------------------------------
    @property
    def text(self) -> str:
        """The (sanitised) Markdown source received so far, pending deltas included."""
        return for_terminal(self._raw + "".join(self._pending))

    @property
    def copy_text(self) -> str:
        block = self.selected_block
        return block.source if block is not None else self.text

    @property
    def copy_label(self) -> str:
        block = self.selected_block
        return BLOCK_LABELS[block.kind] if block is not None else "answer"

    @property
    def received_text(self) -> str:
        """Everything received so far, as received (unsanitised), pending deltas included."""
        return self._raw + "".join(self._pending)

    @property
    def shown_text(self) -> str:
        """The Markdown source the widgets hold now (what the next paint shows)."""
        live = self._live.tail if self._live is not None else ""
        return "".join(chunk.source for chunk in self._chunks) + live

    def _initial_chunks(self, clean: str) -> tuple[list[MarkdownChunk], str]:
        """Chunks for the finished part of ``clean``, and the unfinished rest."""
        if self.status == "in_progress":
            sealed_length = md_render.finished_prefix_length(clean)
        else:
            sealed_length = len(clean)
        self._sealed = clean[:sealed_length]
        chunks: list[MarkdownChunk] = []
        current: list[str] = []
        for unit in split_units(self._sealed):
            current.append(unit)
            if sum(len(u) for u in current) >= CHUNK_CHARS:
                chunks.append(MarkdownChunk(current, continued=bool(chunks)))
                current = []
        if current or not chunks:
            chunks.append(MarkdownChunk(current, continued=bool(chunks)))
        return chunks, clean[sealed_length:]

    def _set_live(self, tail: str) -> None:
        """The still-growing last block: its own small widget, so that a flush re-renders
        only it (not the finished blocks above it)."""
        live = self._live
        assert live is not None
        if self.status == "in_progress":  # an unfinished table waits for its delimiter row
            tail = md_render.streaming_view(tail)
        live.set_tail(tail)
        live.display = bool(tail.strip())
        live.set_class(bool(self._sealed.strip()), "-continued")

    # -- streaming -------------------------------------------------------------------------
    def append(self, delta: str) -> None:
        """Queue a fragment; it reaches the screen within ``FLUSH_INTERVAL``."""
        if not delta or self.status != "in_progress":
            return
        if not self._composed:  # compose will show all of _raw
            self._raw += delta
            return
        self._pending.append(delta)
        if self._timer is not None:
            return
        wait = self._last_flush + FLUSH_INTERVAL - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = self.set_timer(wait, self._timer_flush)

    def _timer_flush(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Apply the queued fragments now."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._last_flush = time.monotonic()
        if self._pending:
            self._raw += "".join(self._pending)
            self._pending.clear()
        self._show(for_terminal(self._raw), final=False)

    def _show(self, clean: str, *, final: bool) -> None:
        if not self._composed:
            return  # compose reads _raw
        if not clean.startswith(self._sealed):
            self._rebuild(clean)
            return
        tail = clean[len(self._sealed) :]
        if not final and len(tail) >= SEAL_CHARS:
            finished = md_render.finished_prefix_length(tail)
            if finished >= SEAL_CHARS:
                self._seal(tail[:finished])
                tail = tail[finished:]
        self._set_live(tail)

    def _seal(self, unit: str) -> None:
        self._sealed += unit
        active = self._chunks[-1]
        if active.size_chars >= CHUNK_CHARS:
            active = MarkdownChunk(continued=True)
            self._chunks.append(active)
            self.mount(active, before=self._live)
        active.add_unit(unit)

    def _rebuild(self, clean: str) -> None:
        """Start over (the text changed under the finished part: rare, e.g. an escape
        sequence straddling blocks, or a final text differing from the deltas)."""
        for chunk in self._chunks:
            chunk.remove()
        self._chunks, tail = self._initial_chunks(clean)
        self.mount_all(self._chunks, before=self._live)
        self._set_live(tail)

    def finish(self, message: Message) -> None:
        """The answer is complete or incomplete: show its final text and status."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._pending.clear()
        if message.text or not self._raw:
            self._raw = message.text
        self.status = message.status
        self._incomplete_reason = _incomplete_reason(message)
        self._show(for_terminal(self._raw), final=True)
        if self._live is not None:
            self._live.set_step(1)
        if self._note is None:
            note = self._make_note()  # also sets self._note
            if note is not None and self._composed:
                self.mount(note)

    # -- block cursor ----------------------------------------------------------------------
    def _shown_chunks(self) -> list[MarkdownChunk]:
        return [*self._chunks, self._live] if self._live is not None else list(self._chunks)

    def block_list(self) -> list[tuple[MarkdownChunk, Block]]:
        return [(chunk, block) for chunk in self._shown_chunks() for block in chunk.blocks]

    def block_offset(self, chunk: MarkdownChunk) -> int:
        """How many blocks the chunks before ``chunk`` hold."""
        offset = 0
        for other in self._shown_chunks():
            if other is chunk:
                break
            offset += len(other.blocks)
        return offset

    def cursor_in(self, chunk: MarkdownChunk) -> int | None:
        """The selected block's index within ``chunk``, if it is there."""
        if self.cursor is None:
            return None
        local = self.cursor - self.block_offset(chunk)
        return local if 0 <= local < len(chunk.blocks) else None

    @property
    def selected_block(self) -> Block | None:
        if self.cursor is None:
            return None
        blocks = self.block_list()
        return blocks[self.cursor][1] if self.cursor < len(blocks) else None

    def select_block(self, index: int | None, *, scroll: bool = True) -> None:
        self.cursor = index
        for chunk in self._shown_chunks():
            chunk.refresh()
        if index is not None and scroll:
            self._scroll_to_block(*self.block_list()[index])

    def action_move_cursor(self, step: int) -> None:
        blocks = self.block_list()
        if not blocks:
            raise SkipAction()  # nothing to select: the keys scroll the chat as usual
        if self.cursor is None:
            visible = self._visible_blocks(blocks) or list(range(len(blocks)))
            target: int | None = visible[0] if step > 0 else visible[-1]
        else:
            target = self.cursor + step
            if not 0 <= target < len(blocks):
                target = None
        self.select_block(target)

    def _scroller(self) -> Widget | None:
        parent = self.parent
        return parent if isinstance(parent, Widget) and parent.is_scrollable else None

    def _visible_blocks(self, blocks: list[tuple[MarkdownChunk, Block]]) -> list[int]:
        scroller = self._scroller()
        if scroller is None:
            return []
        view = scroller.scrollable_content_region
        visible = []
        for index, (chunk, block) in enumerate(blocks):
            top = chunk.content_region.y + block.first_line
            if top < view.bottom and top + block.line_count > view.y:
                visible.append(index)
        return visible

    def _scroll_to_block(self, chunk: MarkdownChunk, block: Block) -> None:
        scroller = self._scroller()
        if scroller is None:
            return
        # In the scroller's virtual space, which does not move when it scrolls.
        top = self.virtual_region.y + chunk.region.y - self.region.y + block.first_line
        scroller.scroll_to_region(
            Region(0, top, 1, block.line_count), animate=False, immediate=True
        )

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)
        self._role.invalidate(layout=False)  # its key hints

    def on_blur(self) -> None:
        if self.cursor is not None:
            self.select_block(None)

    def key_hints(self) -> str:
        """The keys that work on the focused answer, for its label."""
        return "↑↓ block · y copy"

    def _make_note(self) -> Static | None:
        if self.status != "incomplete":
            return None
        reason = self._incomplete_reason
        text = Text("⚠ incomplete", end="")
        if reason:
            text.append(f" — {reason}")
        self._note = Static(text, classes="message--note")
        return self._note


def _incomplete_reason(message: Message) -> str:
    details = message.incomplete_details or {}
    reason = details.get("reason") if isinstance(details, dict) else None
    labels = {
        "run_cancelled": "the run was cancelled",
        "run_failed": "the run failed",
        "run_expired": "the run expired",
        "max_tokens": "the answer hit the token limit",
        "content_filter": "stopped by the content filter",
    }
    if not reason:
        return ""
    return labels.get(str(reason), one_line(reason))
