"""Where the app's log goes: a private, rotated file under the data directory.

Without a handler, Python prints warnings and errors (tracebacks included) to stderr: a
failing disk made ``ask`` print a traceback a second, and in the full-screen app stderr is
the terminal the app draws on. ``configure_logging`` is called once at start-up by the
command line (which the app is launched from): everything goes to the file; with
``--debug`` the command line also copies it to stderr, the app never does.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from . import paths
from .redact import redact_log_handler

LOG_FILE = "investor-assistant.log"
MAX_BYTES = 1_000_000  # then rotated: the file and three older ones at most
BACKUPS = 3
# Marks the handlers set up here, so a second call replaces them and leaves others alone.
_OURS = "_investor_assistant"
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# Libraries that log every request at INFO: only their warnings, unless debugging.
CHATTY = ("httpx", "httpcore", "openai", "yfinance", "urllib3", "asyncio", "markdown_it")


def log_path() -> Path:
    return paths.data_dir() / "logs" / LOG_FILE


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose files are readable by the user only, whatever the umask (the
    log names threads and errors from the user's research)."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def configure_logging(
    *, debug: bool = False, stderr: bool = False, path: Path | None = None
) -> Path | None:
    """Send the root logger to the log file (INFO, or DEBUG with ``debug``) and, with
    ``stderr``, to stderr too. Calling it again replaces what an earlier call set up.
    Returns the log file, or None when it could not be opened (then nothing is logged
    to the file, and nothing reaches the terminal unless ``stderr``)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    target: Path | None = path or log_path()
    handlers: list[logging.Handler] = []
    try:
        assert target is not None
        # One level at a time, so that every directory made here is private, parents too.
        missing = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
        for directory in reversed(missing):
            paths.private_dir(directory)
        handlers.append(
            PrivateRotatingFileHandler(
                target, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        )
    except OSError:
        target = None  # a read-only home: run without a log rather than not at all
    if stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    if not handlers:
        handlers.append(logging.NullHandler())  # keeps Python's last-resort printer quiet
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        redact_log_handler(handler)  # an error that echoes the API key is masked here too
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    return target
