"""What the commands share: loading the settings (and telling their notices), opening the
database the settings point at, writing a private file the user named."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant_core import paths
from assistant_core.config import Settings, load_settings
from assistant_core.errors import AssistantError
from assistant_core.session import open_store as open_settings_store
from assistant_core.store_interface import ThreadStore
from assistant_core.text import one_line


def load_cli_settings(flags: dict[str, Any]) -> Settings:
    """The settings, with their notices (a setting ignored, a config file others can read)
    printed once on stderr."""
    settings = load_settings(flags)
    for notice in settings.notices:
        prefix = "" if notice.startswith("warning:") else "note: "
        print(f"{prefix}{one_line(notice, 500)}", file=sys.stderr)
    return settings


def open_store(flags: dict[str, Any]) -> ThreadStore:
    """The thread database, without a model backend (listing threads needs no model).

    No crash recovery here: a run another process is executing right now looks the same as
    one a crash left behind, and these commands only read (or rename/delete)."""
    return open_settings_store(load_cli_settings(flags), executes_runs=False)


def write_private(path: Path, chunks: Iterable[str]) -> None:
    """Write an export (in pieces) readable by the user only: threads are private
    research. No directory is created for it: a typo in -o must not leave directories
    behind."""
    try:
        paths.write_private_chunks(path, chunks)
    except OSError as exc:
        raise AssistantError(
            f"cannot write {path}: {exc.strerror}; choose another -o FILE"
        ) from None
