"""Where the app keeps its files (platformdirs: XDG on Linux)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

APP_NAME = "investor-assistant"

if TYPE_CHECKING:
    from platformdirs import PlatformDirs


def _dirs() -> PlatformDirs:
    import platformdirs

    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the user only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def data_dir() -> Path:
    return Path(_dirs().user_data_dir)


def config_dir() -> Path:
    return Path(_dirs().user_config_dir)


def cache_dir() -> Path:
    return Path(_dirs().user_cache_dir)


def default_db_path() -> Path:
    return data_dir() / "threads.db"


def default_config_path() -> Path:
    return config_dir() / "config.toml"


def default_cache_db_path() -> Path:
    return cache_dir() / "market-cache.db"


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist (umask-proof)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` atomically to a file readable by the user only (umask-proof): threads,
    exports and config are private research."""
    write_private_chunks(path, (text,))


def write_private_chunks(path: Path, chunks: Iterable[str]) -> None:
    """:func:`write_private_text` for text produced in pieces (a long export): written as
    they come, the file replaced only once all of them are written."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
