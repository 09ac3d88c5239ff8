"""Small helpers shared by the panels and screens: literal text, times, statuses.

Everything that comes from a model, a tool, the web or the user goes through the core text
policy (``assistant_core.text``: ``for_terminal`` for text, ``one_line`` for labels) and is
placed in a ``Content`` as plain text, so markup (``[bold]``) is never parsed and terminal
escapes never reach the terminal.
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from textual.content import Content

# One definition of "shown literally" for the exports, the CLI and the TUI.
from assistant_core.text import argument_labels, for_terminal, one_line


def plain(text: object, style: str = "") -> Content:
    """Content showing ``text`` literally (never parsed as markup)."""
    safe = for_terminal(text)
    return Content.styled(safe, style) if style else Content(safe)


def fit_cells(text: object, width: int) -> str:
    """``text`` as a one-line label of at most ``width`` terminal cells, cut with an
    ellipsis (wide characters — Korean, CJK, most emoji — take two cells each)."""
    line = one_line(text, None)
    if cell_len(line) <= width:
        return line
    kept: list[str] = []
    used = 0
    for char in line:
        used += cell_len(char)
        if used > width - 1:
            break
        kept.append(char)
    # Through the label rule again: the cut may leave a joiner with nothing after it.
    return one_line("".join(kept), None).rstrip() + "…" if width > 0 else ""


def relative_time(ts: float | None, now: float | None = None) -> str:
    """``now``, ``5m``, ``3h``, ``2d``, or a date for anything older than a week."""
    if not ts:
        return ""
    delta = (time.time() if now is None else now) - ts
    if delta < 60:
        return "now"
    if delta < 3600:
        return f"{int(delta // 60)}m"
    if delta < 86400:
        return f"{int(delta // 3600)}h"
    if delta < 7 * 86400:
        return f"{int(delta // 86400)}d"
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def elapsed(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def clock_time(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else ""


# Colours by status, in theme variables so they follow the app theme.
STATUS_STYLES: dict[str, str] = {
    "queued": "$text-muted",
    "in_progress": "bold $accent",
    "running": "bold $accent",
    "requires_action": "bold $warning",
    "awaiting_approval": "bold $warning",
    "cancelling": "$warning",
    "cancelled": "$text-muted",
    "denied": "$warning",
    "failed": "bold $error",
    "error": "bold $error",
    "expired": "$error",
    "incomplete": "$warning",
    "completed": "$success",
}


def status_content(status: str) -> Content:
    return Content.styled(status, STATUS_STYLES.get(status, ""))


def args_summary(arguments: str, width: int = 40) -> str:
    """``ticker="AAPL", period="annual"`` from a tool call's raw JSON arguments (the raw
    text while they are still streaming), in at most ``width`` cells: whole arguments, as
    many as fit, then ``…`` — a value is never cut in the middle unless the first argument
    alone is wider than ``width``."""
    labels = argument_labels(arguments or "")
    shown: list[str] = []
    for index, label in enumerate(labels):
        rest = "" if index == len(labels) - 1 else ", …"
        candidate = ", ".join([*shown, label])
        if cell_len(candidate + rest) <= width:
            shown.append(label)
            continue
        if not shown:
            return fit_cells(label, width)
        return ", ".join(shown) + ", …"
    return ", ".join(shown)


def call_lines(name: str, arguments: str, width: int, indent: int = 4) -> list[str]:
    """``name(arg=…, arg=…)`` in lines of at most ``width`` cells, broken between whole
    arguments (continuation lines indented by ``indent``); an argument wider than a line
    is cut with an ellipsis."""
    name = one_line(name, None) or "?"
    labels = argument_labels(arguments or "")
    tokens = [f"{label}," for label in labels[:-1]] + [f"{labels[-1]})" if labels else ")"]
    lines: list[tuple[int, str]] = []  # (indent, text)
    margin, line = 0, f"{name}("
    for position, token in enumerate(tokens):
        if position == 0 and (cell_len(line + token) <= width or token == ")"):
            line += token
        elif position > 0 and margin + cell_len(line) + 1 + cell_len(token) <= width:
            line += f" {token}"
        else:
            lines.append((margin, line))
            margin, line = indent, token
    lines.append((margin, line))
    return [" " * margin + fit_cells(text, max(width - margin, 1)) for margin, text in lines]
