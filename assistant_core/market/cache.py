"""A small SQLite cache of provider answers (its own file, mode 0600, WAL).

Values are the providers' plain JSON-able shapes. The cache never makes a tool fail: a
corrupt file is moved aside and rebuilt, a locked one is bypassed, each with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..paths import create_private_file
from ..store_schema import enable_wal

log = logging.getLogger(__name__)

#: Entries this long past expiry are deleted on open (younger ones stay for stale-on-failure).
KEEP_EXPIRED_S = 7 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    expires_at REAL NOT NULL
)
"""


def cache_key(
    provider: str, function: str, symbol: str, params: dict[str, Any] | None = None
) -> str:
    encoded = json.dumps(params or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{provider}|{function}|{symbol}|{encoded}"


@dataclass(frozen=True)
class CacheEntry:
    value: Any
    fetched_at: float
    expires_at: float


def _is_corrupt(exc: Exception) -> bool:
    text = str(exc).lower()
    return (
        "not a database" in text
        or "malformed" in text
        or (
            isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
        )
    )


class MarketCache:
    def __init__(self, path: Path, *, busy_timeout_s: float = 0.25, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []  # what went wrong with the file, for the UI/log
        self._busy_timeout_s = busy_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._conn = self._connect()
        except (sqlite3.Error, OSError) as exc:  # OSError: the directory is not writable
            self._recover(exc, "open")

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    # -- file handling ---------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        create_private_file(self.path)
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            enable_wal(conn, self._busy_timeout_s)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.execute(
                "DELETE FROM entries WHERE expires_at < ?", (self._clock() - KEEP_EXPIRED_S,)
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def _recover(self, exc: Exception, operation: str) -> None:
        """Corrupt file → move it aside and start afresh; anything else → skip the cache this time."""
        if not _is_corrupt(exc):
            if self._conn is None:
                self._warn(f"market cache {self.path} unavailable ({exc}); fetching without it")
            else:
                self._warn(f"market cache {operation} skipped ({exc}); fetching without it")
            return
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                sidecar = Path(f"{self.path}{suffix}")
                if sidecar.exists():
                    os.replace(sidecar, Path(f"{aside}{suffix}"))
            self._conn = self._connect()
        except (OSError, sqlite3.Error) as again:
            self._warn(
                f"market cache {self.path} is corrupt ({exc}) and could not be rebuilt ({again}); caching is off"
            )
            return
        self._warn(
            f"market cache {self.path} was corrupt ({exc}); moved it to {aside.name} and started a new one"
        )

    # -- entries ---------------------------------------------------------------------------
    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` whether fresh or expired (the caller decides), or None."""
        with self._lock:
            if self._conn is None:
                return None
            try:
                row = self._conn.execute(
                    "SELECT value, fetched_at, expires_at FROM entries WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error as exc:
                self._recover(exc, "read")
                return None
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None
        return CacheEntry(value, row[1], row[2])

    def put(self, key: str, value: Any, *, fetched_at: float, ttl_s: float) -> None:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute(
                    "INSERT OR REPLACE INTO entries (key, value, fetched_at, expires_at) VALUES (?, ?, ?, ?)",
                    (key, encoded, fetched_at, fetched_at + ttl_s),
                )
            except sqlite3.Error as exc:
                self._recover(exc, "write")

    def clear(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("DELETE FROM entries")
                except sqlite3.Error as exc:
                    self._recover(exc, "clear")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
