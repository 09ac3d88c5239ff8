"""No subcommand: open the full-screen app on a session built from the settings."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from assistant_core.config import load_settings
from assistant_core.session import Session, build_session


def open_app(flags: dict[str, Any]) -> int:
    # Check for the app before building a session, which may contact a model server.
    try:
        from tui.app import run_app
    except ImportError as exc:
        print(
            f"investor-assistant: the full-screen app is not available ({exc}); "
            "use `investor-assistant ask QUESTION` meanwhile",
            file=sys.stderr,
        )
        return 1
    settings = load_settings(flags)
    session = build_session(settings)
    try:
        result = run_app(session)
    finally:
        close_session(session)
    return result if isinstance(result, int) else 0


def close_session(session: Session) -> None:
    """Close what the app left open (closing twice is harmless)."""
    try:
        asyncio.run(session.aclose())
    except Exception:  # nothing left to lose at exit; the store commits as it goes
        session.store.close()
