"""The store's SQLite file: opening it (refusing files that are not ours, untouched), its
schema, and the forward migrations.

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``; each runs inside the
caller's write transaction, so a failed migration leaves the file as it was. Never edit a
released migration: append a new one.

Objects are kept as the JSON of their ``to_dict()`` in a ``data`` column, next to the few
columns that queries filter or sort on. Every table has an ``INTEGER PRIMARY KEY`` ``seq``:
it orders rows exactly (timestamps are whole seconds) and is stable under VACUUM, which the
full-text index relies on.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import DatabaseDamaged, StoreError
from .paths import APP_NAME, create_private_file
from .surrogates import scrub

SCHEMA_VERSION_TABLE = "schema_version"
BUSY_TIMEOUT_S = 5.0
SQLITE_MAGIC = b"SQLite format 3\x00"

# The statuses that make a run "active" (objects.ACTIVE_RUN_STATUSES), spelled out because
# a partial index needs a constant expression. A test checks the two agree.
ACTIVE_STATUSES_SQL = "('queued', 'in_progress', 'requires_action', 'cancelling')"


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` in the caller's transaction (``executescript``
    would COMMIT it first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement.strip()[:60]}")


def _v1_core_tables(db: sqlite3.Connection) -> None:
    _script(
        db,
        f"""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE assistants (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            data       TEXT NOT NULL
        );

        CREATE TABLE threads (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,   -- last activity, Unix seconds (for display)
            activity   INTEGER NOT NULL,   -- last activity, exact order (a counter)
            title      TEXT NOT NULL DEFAULT '',
            data       TEXT NOT NULL
        );
        CREATE INDEX threads_by_activity ON threads (activity);

        CREATE TABLE messages (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            thread_id  TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            run_id     TEXT,
            role       TEXT NOT NULL,
            status     TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            text       TEXT NOT NULL DEFAULT '',
            data       TEXT NOT NULL
        );
        CREATE INDEX messages_by_thread ON messages (thread_id, seq);
        CREATE INDEX messages_open ON messages (run_id) WHERE status = 'in_progress';

        CREATE TABLE runs (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            thread_id  TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            status     TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            data       TEXT NOT NULL
        );
        CREATE INDEX runs_by_thread ON runs (thread_id, seq);
        -- One active run per thread, enforced by the database itself so that two processes
        -- cannot both start one.
        CREATE UNIQUE INDEX runs_one_active ON runs (thread_id)
            WHERE status IN {ACTIVE_STATUSES_SQL};

        CREATE TABLE steps (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            thread_id  TEXT NOT NULL,
            status     TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            data       TEXT NOT NULL
        );
        CREATE INDEX steps_by_run ON steps (run_id, seq);
        """,
    )


def fts5_trigram_available(db: sqlite3.Connection) -> bool:
    """FTS5 with the trigram tokenizer (SQLite >= 3.34): substring search in any script."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._probe USING fts5(x, tokenize = 'trigram')")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp._probe")
    return True


def _v2_tool_calls_and_search(db: sqlite3.Connection) -> None:
    """The tool-call log as its own table (v1 kept calls only inside the step JSON), and a
    full-text index over message text where this SQLite has FTS5 + trigram."""
    _script(
        db,
        """
        CREATE TABLE tool_calls (
            step_id    TEXT NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
            id         TEXT NOT NULL,      -- the call id; servers may reuse one across steps
            step_seq   INTEGER NOT NULL,
            position   INTEGER NOT NULL,
            run_id     TEXT NOT NULL,
            thread_id  TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            data       TEXT NOT NULL,
            PRIMARY KEY (step_id, id)
        );
        CREATE INDEX tool_calls_by_thread ON tool_calls (thread_id, step_seq, position);
        CREATE INDEX tool_calls_by_run ON tool_calls (run_id, step_seq, position);
        """,
    )
    tool_calls_from_steps(db)

    if not fts5_trigram_available(db):
        return  # the store falls back to LIKE scans
    _script(
        db,
        """
        CREATE VIRTUAL TABLE message_fts USING fts5(
            text, content = 'messages', content_rowid = 'seq', tokenize = 'trigram'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO message_fts (rowid, text) VALUES (new.seq, new.text);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO message_fts (message_fts, rowid, text) VALUES ('delete', old.seq, old.text);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
            INSERT INTO message_fts (message_fts, rowid, text) VALUES ('delete', old.seq, old.text);
            INSERT INTO message_fts (rowid, text) VALUES (new.seq, new.text);
        END;
        INSERT INTO message_fts (message_fts) VALUES ('rebuild');
        """,
    )


#: The project of everything the app and the command line create, and of the API server's
#: objects while no API key exists.
DEFAULT_PROJECT = "default"


def _v3_projects_and_keys(db: sqlite3.Connection) -> None:
    """Projects and their API keys (a hash of each key, never the key), and which project
    owns each assistant and thread (messages, runs and steps belong to their thread's)."""
    _script(
        db,
        f"""
        CREATE TABLE projects (
            name       TEXT PRIMARY KEY,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE api_keys (
            seq        INTEGER PRIMARY KEY,
            id         TEXT NOT NULL UNIQUE,
            project    TEXT NOT NULL REFERENCES projects (name),
            name       TEXT NOT NULL DEFAULT '',
            hash       TEXT NOT NULL UNIQUE,    -- sha256 of the key
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        ALTER TABLE assistants ADD COLUMN project TEXT NOT NULL DEFAULT '{DEFAULT_PROJECT}';
        ALTER TABLE threads ADD COLUMN project TEXT NOT NULL DEFAULT '{DEFAULT_PROJECT}';
        CREATE INDEX assistants_by_project ON assistants (project, seq);
        """,
    )
    db.execute(
        "INSERT INTO projects (name, created_at) VALUES (?, ?)", (DEFAULT_PROJECT, int(time.time()))
    )


def tool_calls_from_steps(db: sqlite3.Connection, *, skip_duplicates: bool = False) -> None:
    """Fill the tool-call table from the calls kept inside each step's JSON (all schema 1
    had; ``db recover`` of such a file needs it too, and skips what it cannot add)."""
    insert = "INSERT OR IGNORE" if skip_duplicates else "INSERT"
    rows = db.execute("SELECT id, seq, run_id, thread_id, created_at, data FROM steps")
    for step_id, step_seq, run_id, thread_id, created_at, data in rows.fetchall():
        details = json.loads(data).get("step_details") or {}
        for position, call in enumerate(details.get("tool_calls") or []):
            db.execute(
                f"{insert} INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    step_id,
                    call["id"],
                    step_seq,
                    position,
                    run_id,
                    thread_id,
                    created_at,
                    json.dumps(call, ensure_ascii=False),
                ),
            )


Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = [_v1_core_tables, _v2_tool_calls_and_search, _v3_projects_and_keys]
CURRENT_VERSION = len(MIGRATIONS)


def read_version(db: sqlite3.Connection) -> int | None:
    """The schema version, 0 for an empty database, None for a database that has tables
    but is not ours (never touch those)."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if SCHEMA_VERSION_TABLE in tables:
        row = db.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone()
        return int(row[0] or 0)
    return 0 if not tables else None


def migrate(db: sqlite3.Connection, current: int, target: int = CURRENT_VERSION) -> None:
    """Apply migrations ``current`` → ``target``. The caller holds a write transaction."""
    if current == 0:
        db.execute(f"CREATE TABLE {SCHEMA_VERSION_TABLE} (version INTEGER NOT NULL)")
    for version in range(current, target):
        MIGRATIONS[version](db)
        db.execute(f"DELETE FROM {SCHEMA_VERSION_TABLE}")
        db.execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} (version) VALUES (?)", (version + 1,))


# -- damage --------------------------------------------------------------------------------
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (not full, locked or unwritable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError  # how sqlite3 reports corruption


def damaged(path: Path, exc: sqlite3.Error) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"the database {path} is damaged ({exc}); it was left as it is. See what is wrong "
        f"with `{APP_NAME} db check`, and save what can still be read to a new file with "
        f"`{APP_NAME} db recover` (with the same --db, if you use one)"
    )


# -- the connection ----------------------------------------------------------------------
def _encodable(value: object) -> object:
    return scrub(value) if isinstance(value, str) else value


class EncodableConnection(sqlite3.Connection):
    """A connection that can never be handed a string UTF-8 cannot encode: lone surrogate
    halves in a parameter become U+FFFD instead of failing the write (``UnicodeEncodeError``,
    which left a run's message ``in_progress``). The last line of defence: streams and
    command-line text are cleaned where they enter (``assistant_core.surrogates``)."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _clean(parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        return super().executemany(sql, (_clean(p) for p in seq_of_parameters))


def _clean(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {k: _encodable(v) for k, v in parameters.items()}
    return tuple(_encodable(v) for v in parameters)


# -- opening a file ----------------------------------------------------------------------
def _check_header(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read the database {path}: {exc.strerror}") from exc
    if head and head != SQLITE_MAGIC:
        raise StoreError(
            f"{path} is not an SQLite database; move it aside or choose another database file"
        )


def open_database(path: Path) -> sqlite3.Connection:
    """Open, check and migrate the database, refusing (StoreError) files that are not ours
    without writing to them."""
    memory = str(path) == ":memory:"
    if not memory:
        _check_header(path)
        try:
            create_private_file(path)
        except OSError as exc:
            raise StoreError(f"cannot create the database {path}: {exc.strerror}") from exc
    db = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_S,
        isolation_level=None,
        check_same_thread=False,
        factory=EncodableConnection,
    )
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _check_version(path, read_version(db))
        if not memory:
            enable_wal(db, BUSY_TIMEOUT_S)
            # In WAL mode NORMAL is safe against app crashes (only an OS crash can lose
            # the last commits) and makes each commit much cheaper.
            db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")  # no-op inside a transaction: set it first
        if read_version(db) != CURRENT_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                # Read again under the write lock: another process may have migrated.
                version = read_version(db)
                _check_version(path, version)
                migrate(db, version or 0)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        db.close()
        if is_damage(exc):
            raise damaged(path, exc) from exc
        raise StoreError(f"cannot open the database {path}: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def enable_wal(db: sqlite3.Connection, timeout_s: float) -> None:
    """Switch to WAL. While another process creates or switches the same new file, SQLite
    answers this pragma "database is locked" at once, without its busy handler: retry for
    as long as the busy timeout (``timeout_s``) would have waited."""
    deadline = time.monotonic() + timeout_s
    delay = 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _check_version(path: Path, version: int | None) -> None:
    if version is None:
        raise StoreError(
            f"{path} is an SQLite database of another program; choose another database file"
        )
    if version > CURRENT_VERSION:
        raise StoreError(
            f"{path} was written by a newer Investor Assistant (schema {version}, this "
            f"version knows up to {CURRENT_VERSION}); upgrade the app to open it"
        )


def has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row is not None
