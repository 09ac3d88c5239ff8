"""What the store-only commands share: opening the database the settings point at."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assistant_core import paths
from assistant_core.config import load_settings
from assistant_core.errors import AssistantError
from assistant_core.store import Store


def open_store(flags: dict[str, Any]) -> Store:
    """The thread database, without a model backend (listing threads needs no model).

    No crash recovery here: a run another process is executing right now looks the same as
    one a crash left behind, and these commands only read (or rename/delete)."""
    settings = load_settings(flags)
    return Store(settings.db)


def write_private(path: Path, chunks: Iterable[str]) -> None:
    """Write an export (in pieces) readable by the user only: threads are private research."""
    try:
        paths.write_private_chunks(path, chunks)
    except OSError as exc:
        raise AssistantError(
            f"cannot write {path}: {exc.strerror}; choose another -o FILE"
        ) from None
