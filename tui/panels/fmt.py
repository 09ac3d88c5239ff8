"""Small helpers shared by the panels and screens: literal text, times, statuses.

Everything that comes from a model, a tool, the web or the user goes through the core text
policy (``assistant_core.text``: ``for_terminal`` for text, ``one_line`` for labels) and is
placed in a ``Content`` as plain text, so markup (``[bold]``) is never parsed and terminal
escapes never reach the terminal.
"""

from __future__ import annotations

import time

from textual.content import Content

# One definition of "shown literally" for the exports, the CLI and the TUI.
from assistant_core.text import call_arguments, for_terminal, one_line


def plain(text: object, style: str = "") -> Content:
    """Content showing ``text`` literally (never parsed as markup)."""
    safe = for_terminal(text)
    return Content.styled(safe, style) if style else Content(safe)


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
    text while they are still streaming), cut to ``width``."""
    return one_line(call_arguments(arguments or ""), width)
