"""Walking markdown-it's token stream: where a block ends, what a table holds. Shared by
the chat's renderer (``tui.render.markdown``) and the export's (``inert_markdown``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it.token import Token


def closing(tokens: list[Token], index: int) -> int:
    """Index of the token closing the one at ``index`` (itself for a self-contained one)."""
    if tokens[index].nesting != 1:
        return index
    depth = 0
    for position in range(index, len(tokens)):
        depth += tokens[position].nesting
        if depth == 0:
            return position
    return len(tokens) - 1


@dataclass
class Table:
    """A table's cells as their inline tokens (``None`` for an empty cell), and each
    column's alignment (``left``, ``right``, ``center`` or ``""``)."""

    header: list[Token | None] = field(default_factory=list)
    rows: list[list[Token | None]] = field(default_factory=list)
    aligns: list[str] = field(default_factory=list)


def table(tokens: list[Token]) -> Table:
    """The table opened by ``tokens[0]`` (``tokens``: up to its closing token)."""
    found = Table()
    row: list[Token | None] | None = None
    in_head = False
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            if in_head:
                found.header = row
            else:
                found.rows.append(row)
            row = None
        elif kind in ("th_open", "td_open") and row is not None:
            if in_head:
                found.aligns.append(str(token.attrs.get("style", "")).removeprefix("text-align:"))
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            row.append(following if following is not None and following.type == "inline" else None)
    return found
