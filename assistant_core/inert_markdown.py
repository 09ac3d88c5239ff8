"""An answer's Markdown, rebuilt from markdown-it's tokens so that it is inert in any
CommonMark or GFM renderer (the Markdown-export rule of ``assistant_core.text``).

A model's answer is Markdown on purpose (headings, tables, lists, code), so the export
keeps it as Markdown. But a prompt-injected model can write HTML (``<img onerror>``),
``javascript:`` links or remote images that would run or load when the export is opened.
Deciding what is safe by scanning lines does not work: whether a line is inside a code
block depends on the containers around it (an indented fence in a list item closes where
the item ends), and whether ``[x](jav&#x61;script:…)`` is a link depends on entities. So
the answer is parsed once, by markdown-it, and written back out from the tokens:

* every block and inline structure is re-emitted in a canonical spelling (ATX headings,
  fenced code with a fence longer than any backtick run inside, pipe tables, each list
  item indented by its marker's width), so every renderer finds the same structure;
* every text leaf is backslash-escaped, so nothing in text becomes structure elsewhere;
* raw HTML (blocks and inline) becomes escaped text, shown as written;
* links keep their URL only for http, https, mailto and relative URLs (checked after
  markdown-it decoded entities and escapes); any other link becomes its text followed by
  the URL as code;
* images become links ("image: alt"), so opening the export never fetches anything.

The parser is the chat's ("gfm-like": CommonMark with tables, strikethrough and bare-URL
links), so the export shows the structure the user saw.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from .markdown_tokens import closing, table
from .text import (
    code_span,
    escape_markdown,
    escape_markdown_inline,
    escape_markdown_line_start,
    for_terminal,
)

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
# Characters with a meaning inside a link destination (entities, brackets, the end of the
# destination, table cells): backslash-escaped, which every CommonMark renderer undoes.
_URL_SPECIAL = re.compile(r"([\\&()<>\[\]|`\"{}])")
_FENCE_INFO = re.compile(r"[^A-Za-z0-9_+#.-]")
_BACKTICKS = re.compile(r"`+")
# Without these, Markdown opens no HTML (inline or block), link, autolink, image,
# reference definition or fenced code block: such an answer is inert as it stands (its
# paragraphs, lists, quotes and indented code all end at the blank line after it).
_NEEDS_REBUILD = re.compile(r"[<\[]|```|~~~")
THEMATIC_BREAK = "___"  # not "---": under a paragraph line that would make it a heading

# Blocks that may follow a paragraph line directly, as they interrupt it in every renderer
# (a list only when its first item is not empty, an ordered one only when it starts at 1):
# elsewhere blocks are separated by a blank line, so nothing continues what came before.
_INTERRUPTS_PARAGRAPH = frozenset({"fence", "code_block", "heading_open", "hr", "blockquote_open"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like")


def inert_markdown(answer: str) -> str:
    """``answer`` (Markdown) rebuilt so that no renderer finds HTML, a script link or an
    image in it, whatever it contains; ordinary Markdown keeps its structure."""
    text = for_terminal(answer)
    if _NEEDS_REBUILD.search(text) is None:
        return text.strip("\n")  # inert as it is; parsing would only cost time
    tokens = _parser().parse(text)
    return "\n".join(_Writer().blocks(tokens, tight=False))


def safe_url(href: str) -> bool:
    """Whether a link to ``href`` (as a renderer hands it to a browser) may stay a link:
    http, https, mailto, or relative (no scheme)."""
    scheme = _SCHEME.match(href.strip())
    return scheme is None or scheme.group()[:-1].lower() in SAFE_SCHEMES


def _destination(href: str) -> str:
    return _URL_SPECIAL.sub(r"\\\1", href)


def _interrupts(tokens: list[Token], index: int) -> bool:
    """Whether the block opened at ``index`` would interrupt a paragraph line before it."""
    token = tokens[index]
    if token.type in _INTERRUPTS_PARAGRAPH:
        return True
    if token.type in ("bullet_list_open", "ordered_list_open") and index + 2 < len(tokens):
        first_item, first_content = tokens[index + 1], tokens[index + 2]
        if first_content.type == "list_item_close":
            return False  # an empty item
        return token.type == "bullet_list_open" or first_item.info == "1"
    return False


class _Writer:
    # -- blocks ----------------------------------------------------------------------------
    def blocks(self, tokens: list[Token], *, tight: bool) -> list[str]:
        """Sibling blocks, one blank line apart (in a tight list: none where the next block
        interrupts a paragraph anyway)."""
        out: list[str] = []
        previous: str | None = None
        index = 0
        while index < len(tokens):
            start, end = index, closing(tokens, index)
            token = tokens[start]
            lines = self.block(tokens, start, end, tight=tight)
            index = end + 1
            if lines is None:
                continue
            if previous is not None:
                joined = tight and previous == "paragraph_open" and _interrupts(tokens, start)
                if not joined:
                    out.append("")
            out.extend(lines)
            previous = token.type
        return out

    def block(self, tokens: list[Token], start: int, end: int, *, tight: bool) -> list[str] | None:
        token = tokens[start]
        kind = token.type
        if kind == "paragraph_open":
            return self.inline_lines(tokens[start + 1])
        if kind == "heading_open":
            level = int(token.tag[1:]) if token.tag[1:].isdigit() else 1
            text = " ".join(line.strip() for line in self.inline_lines(tokens[start + 1]))
            return [f"{'#' * level} {text}".rstrip()]
        if kind == "blockquote_open":
            inner = self.blocks(tokens[start + 1 : end], tight=False) or [""]
            return [f"> {line}" if line else ">" for line in inner]
        if kind in ("bullet_list_open", "ordered_list_open"):
            return self.list_lines(tokens, start, end)
        if kind in ("fence", "code_block"):
            return self.code_lines(token.content, token.info if kind == "fence" else "")
        if kind == "hr":
            return [THEMATIC_BREAK]
        if kind == "table_open":
            return self.table_lines(tokens[start : end + 1])
        if kind == "html_block":
            return escape_markdown(token.content.rstrip("\n")).split("\n")
        if kind == "inline":
            return self.inline_lines(token)
        if token.content:
            return escape_markdown(token.content).split("\n")
        return None

    def list_lines(self, tokens: list[Token], start: int, end: int) -> list[str]:
        level = tokens[start].level
        paragraphs = [
            t for t in tokens[start:end] if t.type == "paragraph_open" and t.level == level + 2
        ]
        tight = all(p.hidden for p in paragraphs)
        out: list[str] = []
        index = start + 1
        while index < end:
            close = closing(tokens, index)
            item = tokens[index]
            if item.type == "list_item_open":
                if tokens[start].type == "ordered_list_open":
                    marker = f"{item.info or '1'}{item.markup or '.'}"
                else:
                    marker = item.markup or "-"
                body = self.blocks(tokens[index + 1 : close], tight=tight)
                if out and not tight:
                    out.append("")
                indent = " " * (len(marker) + 1)
                out.append(f"{marker} {body[0]}".rstrip() if body else marker)
                out.extend(indent + line if line else "" for line in body[1:])
            index = close + 1
        return out

    def code_lines(self, code: str, info: str) -> list[str]:
        longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
        fence = "`" * max(3, longest + 1)
        words = info.split()
        language = _FENCE_INFO.sub("", words[0]) if words else ""
        lines = code.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [fence + language, *lines, fence]

    def table_lines(self, tokens: list[Token]) -> list[str]:
        cells = table(tokens)
        columns = len(cells.header)
        if columns == 0:
            return []

        def row(inlines: list[Token | None]) -> str:
            texts = [" ".join(self.inline_lines(i, in_table=True)) if i else "" for i in inlines]
            return "| " + " | ".join((texts + [""] * columns)[:columns]) + " |"

        delimiter = {"left": ":--", "right": "--:", "center": ":-:"}
        aligns = [delimiter.get(a, "---") for a in cells.aligns[:columns]]
        return [row(cells.header), "| " + " | ".join(aligns) + " |", *map(row, cells.rows)]

    # -- inline ----------------------------------------------------------------------------
    def inline_lines(self, token: Token | None, *, in_table: bool = False) -> list[str]:
        """An inline token's children as escaped Markdown lines (no blank line among them)."""
        parts: list[str] = []
        links: list[tuple[bool, str]] = []
        for child in (token.children if token is not None else None) or []:
            kind = child.type
            if kind in ("text", "text_special", "html_inline"):
                # Each run of text on its own: a selector or joiner whose neighbour was
                # Markdown syntax (a backtick, an asterisk) would be left without it.
                parts.append(escape_markdown_inline(for_terminal(child.content)))
            elif kind == "softbreak":
                parts.append("\n")
            elif kind == "hardbreak":
                parts.append("\\\n")
            elif kind == "code_inline":
                span = code_span(child.content)
                parts.append(span.replace("|", "\\|") if in_table else span)
            elif kind in ("em_open", "em_close"):
                parts.append("*")
            elif kind in ("strong_open", "strong_close"):
                parts.append("**")
            elif kind in ("s_open", "s_close"):
                parts.append("~~")
            elif kind == "link_open":
                href = str(child.attrs.get("href", ""))
                links.append((safe_url(href), href))
                parts.append("[" if links[-1][0] else "")
            elif kind == "link_close" and links:
                safe, href = links.pop()
                parts.append(f"]({_destination(href)})" if safe else f" ({code_span(href)})")
            elif kind == "image":
                parts.append(self.image(child))
            elif child.content:
                parts.append(escape_markdown_inline(for_terminal(child.content)))
        text = "".join(parts)
        # The text's own line breaks; an empty line would end the paragraph.
        return [
            escape_markdown_line_start(line.lstrip(" \t"))
            for line in text.split("\n")
            if line.strip()
        ]

    def image(self, token: Token) -> str:
        alt = "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))
        label = escape_markdown_inline(f"image: {alt}" if alt else "image")
        src = str(token.attrs.get("src", ""))
        if src and safe_url(src):
            return f"[{label}]({_destination(src)})"
        return f"{label} ({code_span(src)})" if src else label
