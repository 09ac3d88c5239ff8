"""A small Markdown renderer: source → one Rich ``Text`` of lines already wrapped to a width.

Why not Textual's ``Markdown`` widget: it makes a widget per block, per list item and per
table cell, and Textual's layout cost grows with the number of widgets on the screen
(measured here: an 18k-character answer became ~6,500 widgets, each layout pass took
~0.7 s, and streaming it took ~5 s of event-loop time). Rendering a message as a handful of
plain widgets that each paint one ``Text`` keeps layout cheap, makes mouse selection pick up
text only (borders and padding are CSS, not characters), and keeps the text literal: the
tokens come from ``markdown-it`` and are turned into ``Text`` spans, never into markup.

The caller puts the source through the text policy first (``assistant_core.text.for_terminal``);
so does this module with the text markdown-it decodes from entities (``&#x202e;``, ``&zwnj;``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from io import StringIO
from typing import TYPE_CHECKING, Literal

from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Text

from assistant_core import markdown_tokens
from assistant_core.text import JOINERS, for_terminal

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from rich.syntax import ANSISyntaxTheme

BULLETS = ("• ", "◦ ", "▪ ")
LIST_OPENS = ("bullet_list_open", "ordered_list_open")
QUOTE_PREFIX = "▌ "
MIN_WIDTH = 8


@dataclass(frozen=True)
class MarkdownStyles:
    """The styles the renderer applies; the widgets fill it from their CSS (theme colours)."""

    text: Style = field(default_factory=Style)
    headings: tuple[Style, ...] = field(
        default_factory=lambda: tuple(Style(bold=True) for _ in range(6))
    )
    em: Style = field(default_factory=lambda: Style(italic=True))
    strong: Style = field(default_factory=lambda: Style(bold=True))
    strike: Style = field(default_factory=lambda: Style(strike=True))
    code_inline: Style = field(default_factory=lambda: Style(bold=True))
    code_block: Style = field(default_factory=Style)
    link: Style = field(default_factory=lambda: Style(underline=True))
    url: Style = field(default_factory=lambda: Style(dim=True))
    quote: Style = field(default_factory=lambda: Style(dim=True))
    bullet: Style = field(default_factory=lambda: Style(bold=True))
    table_header: Style = field(default_factory=lambda: Style(bold=True))
    rule: Style = field(default_factory=lambda: Style(dim=True))
    html: Style = field(default_factory=lambda: Style(dim=True))


BlockKind = Literal["heading", "paragraph", "code", "table", "item", "quote", "html"]

# Token type → the kind of block it opens (a list is recorded item by item; rules are not
# recorded: there is nothing in one to copy).
_BLOCK_KINDS: dict[str, BlockKind] = {
    "heading_open": "heading",
    "paragraph_open": "paragraph",
    "fence": "code",
    "code_block": "code",
    "table_open": "table",
    "list_item_open": "item",
    "blockquote_open": "quote",
    "html_block": "html",
    "inline": "paragraph",
}


@dataclass(frozen=True)
class Block:
    """A top-level block of a rendered source (a list gives one per item): where its lines
    are in the rendering, and its text for copying."""

    kind: BlockKind
    first_line: int
    line_count: int
    source: str  # its Markdown source; for a code block, the code without the fences

    def shifted(self, lines: int) -> Block:
        return replace(self, first_line=self.first_line + lines)


class _BlockRecorder:
    """Collects the top-level blocks while ``_Renderer.blocks`` lays them out."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines(keepends=True)
        self.blocks: list[Block] = []

    def add(self, token: Token, first_line: int, line_count: int) -> None:
        kind = _BLOCK_KINDS.get(token.type)
        if kind is None or line_count <= 0:
            return
        if kind == "code":
            text = token.content.rstrip("\n")
        elif token.map is not None:
            start, end = token.map
            text = "".join(self.lines[start:end]).strip("\n").rstrip()
        else:
            text = token.content.strip()
        self.blocks.append(Block(kind, first_line, line_count, text))


@lru_cache(maxsize=1)
def measure_console() -> Console:
    # Only used by Text.wrap for measuring; never prints.
    return Console(file=StringIO(), width=200, color_system=None, legacy_windows=False)


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like")


def parse(source: str) -> list[Token]:
    return parser().parse(source)


def finished_prefix_length(source: str) -> int:
    """Length of the prefix of ``source`` made of finished top-level blocks.

    While an answer streams, every top-level block but the last is final: Markdown is
    line based and a block, once another one has started below it, is not changed by
    what follows (reference-style link definitions aside). The prefix ends at the start of
    the line where the last block begins; 0 when there is one block or none.
    """
    starts = [
        token.map[0]
        for token in parse(source)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0
    line = starts[-1]
    offset = 0
    for _ in range(line):
        offset = source.index("\n", offset) + 1
    return offset


_DELIMITER_ROW = re.compile(r" {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*")


def _cells(row: str) -> int:
    """How many cells a pipe-table row has (escaped pipes are text)."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return len(re.split(r"(?<!\\)\|", inner))


def streaming_view(source: str) -> str:
    """What of a still-streaming ``source`` to show: all of it, except a table whose
    delimiter row (``|---|--:|``) has not arrived whole — until then Markdown reads its
    header as a paragraph of pipes, and showing that would flash ``| USD | FY2025 |`` as
    raw text for the moment before it turns into a table. Rows that arrive after the
    delimiter are shown as they come (a partial row is a row with fewer cells)."""
    start = source.rfind("\n\n") + 2 if "\n\n" in source else 0
    lines = source[start:].split("\n")
    first = next((i for i, line in enumerate(lines) if line.lstrip().startswith("|")), None)
    if first is None or not all(line.lstrip().startswith("|") for line in lines[first:-1]):
        return source
    rest = lines[first:]
    header_done = len(rest) >= 3  # the delimiter row is followed by a newline
    if header_done and _DELIMITER_ROW.fullmatch(rest[1]) and _cells(rest[1]) == _cells(rest[0]):
        return source  # a table now: its rows render as rows
    if len(rest) >= 2 and rest[1] and not rest[1].lstrip().startswith(("|", ":", "-")):
        return source  # not a table after all
    held = start + sum(len(line) + 1 for line in lines[:first])
    return source[:held].rstrip("\n") if held > start else source[:held]


def render(source: str, width: int, styles: MarkdownStyles) -> Text:
    """``source`` as lines no wider than ``width``, joined by newlines (no trailing one)."""
    lines = _Renderer(styles).blocks(parse(source), max(width, MIN_WIDTH))
    return Text("\n", end="").join(lines)


def render_blocks(source: str, width: int, styles: MarkdownStyles) -> tuple[Text, list[Block]]:
    """:func:`render`, and the top-level blocks it laid out (for a block cursor)."""
    recorder = _BlockRecorder(source)
    lines = _Renderer(styles).blocks(parse(source), max(width, MIN_WIDTH), record=recorder)
    return Text("\n", end="").join(lines), recorder.blocks


# A block is a list of lines; blocks are separated by one blank line unless "tight".
Lines = list[Text]


class _Renderer:
    def __init__(self, styles: MarkdownStyles) -> None:
        self.styles = styles
        self.list_depth = 0

    # -- blocks ----------------------------------------------------------------------------
    def blocks(
        self,
        tokens: list[Token],
        width: int,
        *,
        tight: bool = False,
        record: _BlockRecorder | None = None,
    ) -> Lines:
        """Render a sequence of sibling block tokens (and their contents); ``record``
        collects them (a list: its items) with their line positions."""
        out: Lines = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            end = markdown_tokens.closing(tokens, index)
            items: list[tuple[Token, int, int]] | None = (
                [] if record is not None and token.type in LIST_OPENS else None
            )
            block = self.block(tokens, index, end, width, items=items)
            index = end + 1
            if block is None:
                continue
            if out and not tight:
                out.append(Text(""))
            if record is not None:
                spans = items if items is not None else [(token, 0, len(block))]
                for opener, first, count in spans:
                    record.add(opener, len(out) + first, count)
            out.extend(block)
        return out

    def block(
        self,
        tokens: list[Token],
        start: int,
        end: int,
        width: int,
        *,
        items: list[tuple[Token, int, int]] | None = None,
    ) -> Lines | None:
        token = tokens[start]
        kind = token.type
        styles = self.styles
        if kind == "heading_open":
            level = int(token.tag[1:]) if token.tag[1:].isdigit() else 1
            text = self.inline(tokens[start + 1], styles.headings[min(level, 6) - 1])
            return self.wrap(text, width)
        if kind == "paragraph_open":
            return self.wrap(self.inline(tokens[start + 1], styles.text), width)
        if kind in LIST_OPENS:
            return self.list_block(tokens, start, end, width, items=items)
        if kind == "blockquote_open":
            if not _room_for(width, cell_len(QUOTE_PREFIX)):  # nested too deep to mark
                return self.blocks(tokens[start + 1 : end], width)
            inner = self.blocks(tokens[start + 1 : end], width - cell_len(QUOTE_PREFIX))
            return [_prefixed(Text.assemble((QUOTE_PREFIX, styles.quote)), line) for line in inner]
        if kind in ("fence", "code_block"):
            return self.code(token.content, token.info.strip(), width)
        if kind == "hr":
            return [Text("─" * width, styles.rule, end="")]
        if kind == "table_open":
            return self.table(tokens[start : end + 1], width)
        if kind == "html_block":
            return self.wrap(Text(token.content.rstrip("\n"), styles.html, end=""), width)
        if kind == "inline":  # a stray inline token (e.g. inside a table cell)
            return self.wrap(self.inline(token, styles.text), width)
        if token.content:
            return self.wrap(Text(token.content.rstrip("\n"), styles.text, end=""), width)
        return None

    def list_block(
        self,
        tokens: list[Token],
        start: int,
        end: int,
        width: int,
        *,
        items: list[tuple[Token, int, int]] | None = None,
    ) -> Lines:
        """A list; ``items`` (if given) receives each item's token, first line and line
        count."""
        ordered = tokens[start].type == "ordered_list_open"
        bullet = BULLETS[self.list_depth % len(BULLETS)]
        entries: list[tuple[str, int, int]] = []
        index = start + 1
        while index < end:
            close = markdown_tokens.closing(tokens, index)
            if tokens[index].type == "list_item_open":
                marker = f"{tokens[index].info}{tokens[index].markup} " if ordered else bullet
                entries.append((marker, index + 1, close))
            index = close + 1
        marker_width = max((cell_len(marker) for marker, _, _ in entries), default=2)
        loose = any(
            t.type == "paragraph_open" and not t.hidden and t.level == tokens[start].level + 2
            for t in tokens[start:end]
        )
        out: Lines = []
        self.list_depth += 1
        try:
            indent = _room_for(width, marker_width)
            pad = " " * marker_width if indent else ""
            for marker, first, last in entries:
                body = self.blocks(tokens[first:last], width - len(pad), tight=not loose)
                if out and loose:
                    out.append(Text(""))
                if not body:
                    body = [Text("")]
                if not indent:
                    # Nested too deep for the width: the marker on a line of its own (cut
                    # to fit), the item under it at the full width.
                    body = [Text("", end=""), *body] if body[0].plain else body
                if items is not None:
                    items.append((tokens[first - 1], len(out), len(body)))
                label = marker.rjust(marker_width) if ordered else marker.ljust(marker_width)
                if not indent:
                    label = label.strip()[:width]
                out.append(_prefixed(Text.assemble((label, self.styles.bullet)), body[0]))
                out.extend(_prefixed(Text(pad), line) for line in body[1:])
        finally:
            self.list_depth -= 1
        return out

    def code(self, code: str, language: str, width: int) -> Lines:
        # The block style (background) is each line's base style, under the highlighting.
        style = self.styles.code_block
        code = code.rstrip("\n")
        text = Text(code, end="")
        if language:
            _highlight(text, code, language)
        lines: Lines = []
        inner = max(width - 2, MIN_WIDTH - 2)
        for source_line in text.split("\n", allow_blank=True):
            for part in wrap_text(source_line, inner):
                part.rstrip()
                line = Text(" ", style=style, end="")
                line.append_text(part)
                line.append(" " * max(0, width - 1 - cell_len(part.plain)))
                lines.append(line)
        return lines

    def table(self, tokens: list[Token], width: int) -> Lines:
        cells = markdown_tokens.table(tokens)

        def render(inline: Token | None, style: Style) -> Text:
            return self.inline(inline, style) if inline else Text("", end="")

        header = [render(cell, self.styles.table_header) for cell in cells.header]
        rows = [[render(cell, self.styles.text) for cell in row] for row in cells.rows]
        aligns = [align or "left" for align in cells.aligns]
        return layout_table(header, rows, aligns, width, self.styles.rule)

    def wrap(self, text: Text, width: int) -> Lines:
        return wrap_text(text, width)

    # -- inline ----------------------------------------------------------------------------
    def inline(self, token: Token, base: Style) -> Text:
        styles = self.styles
        text = Text(style=base, end="")
        stack: list[Style] = [base]
        links: list[tuple[str, int]] = []
        for child in token.children or []:
            kind = child.type
            if kind == "text":  # entities are decoded in it: the policy applies again
                text.append(for_terminal(child.content), stack[-1])
            elif kind == "softbreak":
                text.append(" ")
            elif kind == "hardbreak":
                text.append("\n")
            elif kind == "code_inline":
                # Its own run of text: a selector at its start lost the base outside it.
                text.append(for_terminal(child.content), stack[-1] + styles.code_inline)
            elif kind == "em_open":
                stack.append(stack[-1] + styles.em)
            elif kind == "strong_open":
                stack.append(stack[-1] + styles.strong)
            elif kind == "s_open":
                stack.append(stack[-1] + styles.strike)
            elif kind == "link_open":
                stack.append(stack[-1] + styles.link)
                links.append((for_terminal(child.attrs.get("href", "")), len(text)))
            elif kind in ("em_close", "strong_close", "s_close"):
                if len(stack) > 1:
                    stack.pop()
            elif kind == "link_close":
                if len(stack) > 1:
                    stack.pop()
                if links:
                    href, begin = links.pop()
                    # Show where a link goes: the text of a link can claim anything.
                    label = text.plain[begin:]
                    if href and href not in (label, f"mailto:{label}", f"http://{label}"):
                        text.append(f" ({href})", styles.url)
            elif kind == "image":
                alt = for_terminal(child.content) or "image"
                src = for_terminal(child.attrs.get("src", ""))
                text.append(f"[image: {alt}]", styles.url)
                if src:
                    text.append(f" ({src})", styles.url)
            elif kind == "html_inline":
                text.append(child.content, styles.html)
            elif child.content:
                text.append(for_terminal(child.content), stack[-1])
        return text


def wrap_text(text: Text, width: int) -> Lines:
    """``text`` wrapped to ``width`` cells, long words folded. A joiner (ZWJ/ZWNJ) that a
    fold leaves at the edge of a line joins nothing there, so it is dropped (the text
    policy keeps joiners only between two visible characters)."""
    lines = list(text.wrap(measure_console(), width, overflow="fold")) or [Text("")]
    for index, line in enumerate(lines):
        plain = line.plain
        start = len(plain) - len(plain.lstrip(JOINERS))
        end = len(plain.rstrip(JOINERS))
        if start or end < len(plain):
            lines[index] = line[start:end] if end > start else Text("", end=line.end)
    return lines


def layout_table(
    header: list[Text],
    rows: list[list[Text]],
    aligns: list[str],
    width: int,
    rule_style: Style,
) -> Lines:
    """Columns two spaces apart, a rule under the header, cells wrapped when too wide
    (right-aligned columns — figures — last, so numbers stay whole while text can wrap)."""
    columns = max([len(header)] + [len(row) for row in rows]) if (header or rows) else 0
    if columns == 0:
        return []
    grid = [header + [Text("")] * (columns - len(header))] if header else []
    grid += [row[:columns] + [Text("")] * (columns - len(row)) for row in rows]
    aligns = (aligns + ["left"] * columns)[:columns]
    natural = [max(cell_len(row[c].plain) for row in grid) for c in range(columns)]
    widths = fit_widths(natural, width, gap=2, firm=[a == "right" for a in aligns])
    out: Lines = []
    for row_index, row in enumerate(grid):
        cells = [wrap_text(row[c], widths[c]) for c in range(columns)]
        for line_index in range(max(len(cell) for cell in cells)):
            line = Text(end="")
            for c, cell in enumerate(cells):
                part = cell[line_index] if line_index < len(cell) else Text("")
                part.rstrip()
                pad = widths[c] - cell_len(part.plain)
                if aligns[c] == "right":
                    line.append(" " * pad)
                    line.append_text(part)
                elif aligns[c] == "center":
                    line.append(" " * (pad // 2))
                    line.append_text(part)
                    line.append(" " * (pad - pad // 2))
                else:
                    line.append_text(part)
                    line.append(" " * pad)
                if c < columns - 1:
                    line.append("  ")
            line.rstrip()
            out.append(line)
        if row_index == 0 and header:
            out.append(Text("  ".join("─" * w for w in widths), rule_style, end=""))
    return out


def fit_widths(
    natural: list[int], width: int, *, gap: int, firm: list[bool] | None = None
) -> list[int]:
    """Shrink the widest columns until they fit ``width`` (never below 3 cells); ``firm``
    columns only once the others can shrink no more."""
    widths = [max(w, 1) for w in natural]
    firm = firm or [False] * len(widths)
    available = width - gap * (len(widths) - 1)
    for shrinking in ([c for c in range(len(widths)) if not firm[c]], list(range(len(widths)))):
        while shrinking and sum(widths) > available:
            widest = max(shrinking, key=widths.__getitem__)
            if widths[widest] <= 3:
                break
            widths[widest] -= 1
    return widths


def _room_for(width: int, prefix_width: int) -> bool:
    """Whether a block nested behind a prefix (list marker, quote bar) of ``prefix_width``
    still gets the narrowest width anything is laid out in; if not, it is not indented."""
    return width - prefix_width >= MIN_WIDTH


def _prefixed(prefix: Text, line: Text) -> Text:
    """``prefix`` then ``line``, each keeping its own styles (``+`` would spread the
    prefix's base style over the line)."""
    prefix.end = ""
    prefix.append_text(line)
    return prefix


def _highlight(text: Text, code: str, language: str) -> None:
    """Colour ``text`` (plain ``code``) with Pygments, if it knows ``language``."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return
    theme = _ansi_theme()
    position = 0
    for token_type, value in lexer.get_tokens(code):
        end = position + len(value)
        style = theme.get_style_for_token(token_type)
        if style and end <= len(code):
            text.stylize(style, position, end)
        position = end


@lru_cache(maxsize=1)
def _ansi_theme() -> ANSISyntaxTheme:
    # ANSI colours follow the terminal's palette, so they read on dark and light themes.
    from rich.syntax import ANSI_DARK, ANSISyntaxTheme

    return ANSISyntaxTheme(ANSI_DARK)
