"""Plain-text helpers for text we did not write (servers, tools, exceptions): it is data."""

from __future__ import annotations


def one_line(text: object, limit: int = 300) -> str:
    """``text`` as one bounded line: whitespace runs (newlines included) collapsed to one
    space, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
