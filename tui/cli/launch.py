"""No subcommand: open the full-screen app.

The session (store, backend, tools) is built by the app after its first frame, so start-up
does not wait for it; provider mistakes are still caught before the screen is taken over.
"""

from __future__ import annotations

from typing import Any

from assistant_core.config import check_provider, load_settings


def open_app(flags: dict[str, Any]) -> int:
    settings = load_settings(flags)
    check_provider(settings)  # a missing key or bad provider: one line, before full screen

    def build():  # type: ignore[no-untyped-def]
        from assistant_core.session import build_session

        return build_session(settings)

    from tui.app import run_app

    return run_app(build)
