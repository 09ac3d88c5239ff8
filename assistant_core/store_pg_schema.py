"""The store's schema on PostgreSQL and its versioned migrations.

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``. ``migrate`` applies the
missing ones in one transaction, under an advisory lock, so replicas starting together
migrate once and a failed migration leaves the database as it was (PostgreSQL's DDL is
transactional); each applied version is recorded with its time in ``schema_version``.
Never edit a released migration: append a new one.

The tables are SQLite's (``store_schema``), so the shared store code runs on both: objects
as JSON (here ``jsonb``) beside the columns queries filter or sort on, an identity ``seq``
ordering rows exactly. What PostgreSQL adds: a sequence for thread activity (concurrent
writers), run ownership (``runs.owner``, the ``replicas`` with their leases) and the
requests one replica sends the owner of a run (``run_requests``).

Thread filter: ``pg_trgm`` (a trusted extension from postgresql-contrib) with trigram GIN
indexes on message text and titles serves ``ILIKE '%needle%'`` — any substring, in any
script, case-insensitively, as SQLite's FTS5 trigram index does. ``tsvector`` full-text
search was not used: it matches words and their stems, not substrings, so ``venu`` would not
find "revenue" nor ``삼성`` find "삼성전자" — the filter would answer differently by engine.
Where ``pg_trgm`` cannot be created the filter still works, by scanning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import StoreError
from .store_schema import ACTIVE_STATUSES_SQL, DEFAULT_PROJECT

SCHEMA_VERSION_TABLE = "schema_version"
#: An advisory lock key of ours (any fixed 64-bit number): "ia-migr".
_MIGRATION_LOCK = 0x69612D6D69677200
#: Tables of ours: a database holding any of them without ``schema_version`` is another
#: program's, and is never touched.
OUR_TABLES = (
    "meta",
    "projects",
    "api_keys",
    "assistants",
    "threads",
    "messages",
    "runs",
    "steps",
    "tool_calls",
    "replicas",
    "run_requests",
)

_V1 = f"""
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);

CREATE TABLE projects (name text PRIMARY KEY, created_at bigint NOT NULL);
INSERT INTO projects (name, created_at)
    VALUES ('{DEFAULT_PROJECT}', extract(epoch FROM now())::bigint);

CREATE TABLE api_keys (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    project    text NOT NULL REFERENCES projects (name),
    name       text NOT NULL DEFAULT '',
    hash       text NOT NULL UNIQUE,     -- sha256 of the key, never the key
    created_at bigint NOT NULL,
    revoked_at bigint
);

CREATE TABLE assistants (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL,
    project    text NOT NULL DEFAULT '{DEFAULT_PROJECT}'
);
CREATE INDEX assistants_by_project ON assistants (project, seq);

-- Thread activity: a counter every writer takes from, so the list order is exact even
-- when replicas write at the same moment.
CREATE SEQUENCE thread_activity;
CREATE TABLE threads (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,          -- last activity, Unix seconds (for display)
    activity   bigint NOT NULL,          -- last activity, exact order
    title      text NOT NULL DEFAULT '',
    data       jsonb NOT NULL,
    project    text NOT NULL DEFAULT '{DEFAULT_PROJECT}'
);
CREATE INDEX threads_by_activity ON threads (activity);

CREATE TABLE messages (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    thread_id  text NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    run_id     text,
    role       text NOT NULL,
    status     text NOT NULL,
    created_at bigint NOT NULL,
    text       text NOT NULL DEFAULT '',
    data       jsonb NOT NULL
);
CREATE INDEX messages_by_thread ON messages (thread_id, seq);
CREATE INDEX messages_open ON messages (run_id) WHERE status = 'in_progress';

-- Server processes sharing the database, each with a lease it renews while it lives.
CREATE TABLE replicas (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz NOT NULL
);

CREATE TABLE runs (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    thread_id  text NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    status     text NOT NULL,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL,
    owner      text                      -- the replica that executes it
);
CREATE INDEX runs_by_thread ON runs (thread_id, seq);
-- One active run per thread, enforced by the database for every replica.
CREATE UNIQUE INDEX runs_one_active ON runs (thread_id) WHERE status IN {ACTIVE_STATUSES_SQL};
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE status IN {ACTIVE_STATUSES_SQL};

CREATE TABLE steps (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    run_id     text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    thread_id  text NOT NULL,
    status     text NOT NULL,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL
);
CREATE INDEX steps_by_run ON steps (run_id, seq);

CREATE TABLE tool_calls (
    step_id    text NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    id         text NOT NULL,
    step_seq   bigint NOT NULL,
    position   integer NOT NULL,
    run_id     text NOT NULL,
    thread_id  text NOT NULL,
    created_at bigint NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (step_id, id)
);
CREATE INDEX tool_calls_by_thread ON tool_calls (thread_id, step_seq, position);
CREATE INDEX tool_calls_by_run ON tool_calls (run_id, step_seq, position);

-- Cancels and tool outputs that reached a replica other than the run's owner.
CREATE TABLE run_requests (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    target      text NOT NULL,           -- the owner it is for
    sender      text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('cancel', 'outputs')),
    outputs     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    taken_at    timestamptz,             -- the owner began acting on it
    answered_at timestamptz,
    error       text                     -- why it was refused (NULL: done)
);
CREATE INDEX run_requests_open ON run_requests (target, seq) WHERE answered_at IS NULL;
CREATE INDEX run_requests_by_run ON run_requests (run_id) WHERE answered_at IS NULL;
"""

_TRIGRAM_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_text_trgm ON messages USING gin (text gin_trgm_ops);
CREATE INDEX IF NOT EXISTS threads_title_trgm ON threads USING gin (title gin_trgm_ops);
"""


def _v1_schema(conn: Any) -> None:
    conn.execute(_V1)
    trigram_indexes(conn)


def trigram_indexes(conn: Any) -> bool:
    """Create ``pg_trgm`` and the thread filter's trigram indexes, if this server and role
    can (a savepoint keeps a refusal from failing the caller's transaction). Returns
    whether the filter is indexed."""
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            conn.execute(_TRIGRAM_INDEXES)
    except Exception:  # no contrib package, or no right to create it: filter by scanning
        return False
    return True


def search_indexed(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass('messages_text_trgm') IS NOT NULL").fetchone()
    return bool(row[0])


Migration = Callable[[Any], None]
MIGRATIONS: list[Migration] = [_v1_schema]
CURRENT_VERSION = len(MIGRATIONS)


def read_version(conn: Any) -> int | None:
    """The schema version; 0 for a database without our tables; None for one holding
    tables named like ours that are not (never touch those)."""
    if _exists(conn, SCHEMA_VERSION_TABLE):
        row = conn.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone()
        return int(row[0] or 0)
    return None if any(_exists(conn, t) for t in OUR_TABLES) else 0


def _exists(conn: Any, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row[0])


def migrate(conn: Any, location: str) -> tuple[int, int]:
    """Bring the database to ``CURRENT_VERSION`` in one transaction. Returns (version
    before, version after). Raises StoreError for a database that is not ours or is newer."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        version = read_version(conn)
        check_version(location, version)
        assert version is not None
        if version == 0:
            conn.execute(
                f"CREATE TABLE {SCHEMA_VERSION_TABLE} (version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
        for step in range(version, CURRENT_VERSION):
            MIGRATIONS[step](conn)
            conn.execute(f"INSERT INTO {SCHEMA_VERSION_TABLE} (version) VALUES (%s)", (step + 1,))
    return version, CURRENT_VERSION


def check_version(location: str, version: int | None) -> None:
    if version is None:
        raise StoreError(
            f"the database {location} holds tables of another program (named like ours: "
            f"{', '.join(OUR_TABLES[:5])}…); give Investor Assistant a database of its own "
            "(createdb investor_assistant)"
        )
    if version > CURRENT_VERSION:
        raise StoreError(
            f"{location} was written by a newer Investor Assistant (schema {version}, this "
            f"version knows up to {CURRENT_VERSION}); upgrade it to use this database"
        )
