"""The terminal driver: Textual's own, plus what was typed before the app took the terminal.

Until a program switches the terminal to raw mode, the kernel's line discipline "cooks" what
is typed: Enter arrives as a line feed (Ctrl+J to Textual, a new line in the prompt, so a
question typed while the app starts was never sent), Backspace has already been applied.
This driver reads those bytes itself, in the same instant as it leaves cooked mode, and hands
them to the app as what they were typed as: text, and Enter. Everything typed later is read
by Textual as usual.
"""

from __future__ import annotations

import fcntl
import os
import re
import termios
import tty

from textual import events
from textual.drivers.linux_driver import LinuxDriver

#: What is not text in bytes typed before the app started: escape sequences (arrows and
#: function keys — CSI, SS3 —, a terminal's replies — OSC, DCS…) and a lone Escape; the
#: character after a lone Escape (Escape then a letter, or Alt+letter) is kept as typed.
_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O[^\n]|[\]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)?)?")
#: Controls other than the line feeds and tabs (Ctrl+letters typed before the start).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: Enter pressed on nothing (or on spaces) before the question: nothing to send.
_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


def cooked_events(data: bytes) -> list[events.Event]:
    """What ``data`` (read from a terminal in cooked mode) was typed as: the first line that
    is not blank, Enter, and the rest as text (one question is sent at start-up)."""
    text = data.decode("utf-8", "replace").replace("\r", "\n")
    text = _BLANK_LINES.sub("", _CONTROL.sub("", _SEQUENCE.sub("", text)))
    first, enter, rest = text.partition("\n")
    typed: list[events.Event] = [events.Paste(first)] if first else []
    if enter:
        typed.append(events.Key("enter", "\r"))
        if rest:
            typed.append(events.Paste(rest))
    return typed


class TypeAheadDriver(LinuxDriver):
    """Textual's Linux/macOS driver that keeps what was typed before raw mode (see module)."""

    _started = False

    def start_application_mode(self) -> None:
        first, self._started = not self._started, True  # resumed after Ctrl+Z: already read
        original = self._typed_before_start() if first else None
        super().start_application_mode()
        if original is not None:
            # Textual restores what it found on exit and suspend: the terminal as it was.
            self.attrs_before = original

    def _typed_before_start(self) -> list[int | list[bytes | int]] | None:
        """Leave cooked mode (no line editing, echo or CR→LF from now on), read what the line
        discipline holds and post it to the app; the attributes found, to restore later.
        Nothing is touched by a process in the background (``app &``): changing the
        terminal would stop it, and what is typed there belongs to the shell."""
        fd = self.fileno
        if not os.isatty(fd) or not _in_foreground(fd):
            return None
        try:
            original = termios.tcgetattr(fd)
            uncooked = termios.tcgetattr(fd)
            uncooked[tty.LFLAG] &= ~(termios.ICANON | termios.ECHO)
            uncooked[tty.IFLAG] &= ~termios.ICRNL
            termios.tcsetattr(fd, termios.TCSANOW, uncooked)
        except (OSError, termios.error):
            return None  # nothing was changed
        try:
            pending = int.from_bytes(
                fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little", signed=True
            )
            data = os.read(fd, pending) if pending > 0 else b""
        except OSError:
            data = b""
        for event in cooked_events(data):
            self._app.post_message(event)
        return original  # changed: to be restored whatever was read


def _in_foreground(fd: int) -> bool:
    """Whether this process may change the terminal without being stopped: it is in the
    terminal's foreground process group, or the terminal is not its controlling one."""
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:  # not this process's controlling terminal: no job control applies
        return True
