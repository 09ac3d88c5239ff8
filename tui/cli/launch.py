"""No subcommand: open the full-screen app.

The session (store, backend, tools) is built by the app after its first frame, so start-up
does not wait for it; mistakes (a missing terminal, a missing or malformed key, a bad
provider) are still caught before the screen is taken over.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Any

from assistant_core.config import check_provider, load_settings
from assistant_core.errors import ConfigError

if TYPE_CHECKING:
    from assistant_core.session import Session

#: Set by a driver that is not a terminal (textual-serve's web driver sets it; tests and
#: benchmarks may name Textual's headless driver): the terminal check does not apply.
DRIVER_ENV = "TEXTUAL_DRIVER"


def check_terminal() -> None:
    """The full-screen app draws on a terminal: refuse (one line, exit 2) when stdin or
    stdout is not one, rather than write escape codes into a pipe or a file."""
    if os.environ.get(DRIVER_ENV):
        return
    missing = [
        name
        for name, stream in (("stdin", sys.stdin), ("stdout", sys.stdout))
        if not _is_tty(stream)
    ]
    if missing:
        raise ConfigError(
            f"the full-screen app needs a terminal, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not one; in scripts and pipes use "
            'investor-assistant ask "QUESTION"'
        )


def _is_tty(stream: Any) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced
        return False


def open_app(flags: dict[str, Any]) -> int:
    # Start-up allocates a lot and frees little: collections now would only scan it again
    # and again before the first frame. The app freezes that heap and collects again once
    # its main screen is up (assistant_core.gc_tuning).
    gc.disable()
    check_terminal()
    settings = load_settings(flags)  # its notices are shown by the app, as notifications
    check_provider(settings)  # a missing key or bad provider: one line, before full screen

    def build() -> Session:
        from assistant_core.session import build_session

        return build_session(settings)

    from tui.app import run_app

    return run_app(build, settings)
