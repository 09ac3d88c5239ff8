"""Writing to the terminal: plain when piped, a little colour on a terminal, and never a
control sequence that came from a model, a tool or the web.

Every piece of untrusted text goes through the core text policy before it gets here
(``assistant_core.text``: ``for_terminal`` for text, ``one_line`` for one-liners,
``TerminalStream`` for an answer as it streams), so an answer cannot move the cursor,
retitle the window, plant an OSC 8 link, reorder or hide what the user reads.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

_STYLES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
}


def wants_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """stdout and stderr, with styling only when the stream is a terminal."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.colour = wants_colour(self.out)
        self.err_colour = wants_colour(self.err)
        self.at_line_start = True  # of stdout: whether the next line needs a newline first

    def style(self, text: str, *names: str, err: bool = False) -> str:
        if not (self.err_colour if err else self.colour) or not names:
            return text
        codes = ";".join(_STYLES[name] for name in names)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def write(self, text: str) -> None:
        """Stream a fragment (already made safe) to stdout."""
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self.at_line_start = text.endswith("\n")

    def line(self, text: str = "") -> None:
        """A whole line on stdout, starting on a fresh line if a fragment was pending."""
        self.end_line()
        self.write(text + "\n")

    def end_line(self) -> None:
        if not self.at_line_start:
            self.write("\n")

    def error(self, text: str) -> None:
        self.err.write(self.style(text, "red", err=True) + "\n")
        self.err.flush()

    def info(self, text: str) -> None:
        self.err.write(self.style(text, "dim", err=True) + "\n")
        self.err.flush()

    def note(self, text: str) -> None:
        self.err.write(self.style(text, "yellow", err=True) + "\n")
        self.err.flush()
