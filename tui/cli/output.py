"""Writing to the terminal: plain when piped, a little colour on a terminal, and never a
control sequence that came from a model, a tool or the web.

Every piece of untrusted text goes through the core text policy before it gets here
(``assistant_core.text``: ``for_terminal`` for text, ``one_line`` for one-liners,
``TerminalStream`` for an answer as it streams), so an answer cannot move the cursor,
retitle the window, plant an OSC 8 link, reorder or hide what the user reads.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from assistant_core.surrogates import scrub

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


class WriteFailed(Exception):
    """Standard output could not take what was written (disk full, I/O error): the command
    fails (exit 1) rather than end with a truncated file. A closed pipe is not this: it
    raises BrokenPipeError, and the command stops quietly."""


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is too large",
    errno.EIO: "an I/O error",
}


def checked_write(stream: TextIO, text: str) -> None:
    """Write ``text`` to ``stream`` completely, or raise WriteFailed / BrokenPipeError.

    Python's unbuffered text streams (``PYTHONUNBUFFERED=1``) drop the rest of a short
    write without a word, and buffered ones report a full disk only when flushed: so the
    bytes go out here with ``os.write`` until every one is taken."""
    text = scrub(text)  # a lone surrogate cannot be encoded: it must not end the command
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (e.g. a StringIO in tests)
        _guarded(lambda: (stream.write(text), stream.flush()))
        return
    _guarded(stream.flush)  # anything Python still buffers goes first
    data = memoryview(text.encode(stream.encoding or "utf-8", "replace"))
    while data:
        written = _guarded(functools.partial(_write_some, fd, data))
        if written == 0:
            raise WriteFailed("could not write to standard output: nothing was taken")
        data = data[written:]


def _write_some(fd: int, data: memoryview) -> int:
    try:
        return os.write(fd, data)
    except (BlockingIOError, InterruptedError):  # a non-blocking stdout that is full
        select.select([], [fd], [])
        return os.write(fd, data)


T = TypeVar("T")


def _guarded(action: Callable[[], T]) -> T:
    try:
        return action()
    except BrokenPipeError:
        raise
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise WriteFailed(
            f"could not write to standard output: {exc.strerror or exc} ({reason}); "
            "what was written before is incomplete"
        ) from exc


class Output:
    """stdout and stderr, with styling only when the stream is a terminal. Every write to
    stdout is checked (``checked_write``): a full disk is an error, not a short file."""

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
        checked_write(self.out, text)
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
