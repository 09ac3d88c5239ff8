"""Where the app keeps its files (platformdirs: XDG on Linux), and how it writes them.

Two rules for files:

- **Directories.** The app creates its own directories (data, config, cache, and the
  missing parents of those, such as ``~/.config``) with mode 0700 whatever the umask. For
  a path the user gave (``--db``, ``--config``, ``export -o``) it creates no directory: a
  missing parent is an error, so a typo never leaves a tree of directories behind.
- **Writes** are atomic and private: a new temporary file (``mkstemp``: ``O_EXCL``, mode
  0600, a random name, so a symlink planted beside the target is never followed) is
  written, fsynced and renamed over the target. A symlink at the target itself is
  replaced by the new file, not written through: whatever it pointed at is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
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
    """Create ``path`` and any missing parents, each readable by the user only (0700 even
    under ``umask 000``: ``mkdir -p`` would give the parents the umask's mode)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:  # another process made it meanwhile: not ours to chmod
            continue
        os.chmod(directory, 0o700)  # the umask may have removed bits from 0700
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


def file_kind(mode: int) -> str:
    """A few words for a non-regular file: "a directory", "a FIFO", "a character device"…"""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` (following symlinks) cannot be used as a file the app reads or
    replaces — a directory, FIFO, device or socket — or None (a regular file, or absent)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None if stat.S_ISREG(mode) else f"is {file_kind(mode)}, not a regular file"


def missing_parent(path: Path) -> str | None:
    """Why a file cannot be created at ``path`` without creating directories (None: its
    directory exists)."""
    parent = path.parent
    if parent.is_dir():
        return None
    if parent.exists():
        return f"{parent} is not a directory"
    return f"directory {parent} does not exist"


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if it does not exist (umask-proof)."""
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def write_private_text(path: Path, text: str, *, create_parent: bool = False) -> None:
    """Write ``text`` atomically to a file readable by the user only (umask-proof): threads,
    exports and config are private research. ``create_parent``: the path is one of the
    app's own, whose directory may be created; otherwise a missing directory is an error
    (FileNotFoundError), as is a target that is a directory, FIFO or device (OSError). Each
    error's ``strerror`` says what is wrong in a few words, without the path."""
    write_private_chunks(path, (text,), create_parent=create_parent)


def write_private_chunks(path: Path, chunks: Iterable[str], *, create_parent: bool = False) -> None:
    """:func:`write_private_text` for text produced in pieces (a long export): written as
    they come, the file replaced only once all of them are written."""
    if create_parent:
        private_dir(path.parent)
    else:
        problem = missing_parent(path)
        if problem is not None:
            raise FileNotFoundError(errno.ENOENT, problem, str(path))
    problem = not_a_regular_file(path) if not path.is_symlink() else None
    if problem is not None:
        raise OSError(errno.EINVAL, problem, str(path))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)  # a symlink at ``path`` is replaced, never followed
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
