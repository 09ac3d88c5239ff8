"""The store on PostgreSQL: several processes — server replicas, the app, the command line —
on one database, with the same semantics as the SQLite store.

The store's logic is ``store.SqlStore``'s, shared with SQLite; this engine adds the
connection pool (psycopg 3 and psycopg_pool), its transactions, the SQL fragments that
differ, the thread filter (``pg_trgm``, see ``store_pg_schema``) and run ownership: each
process that opens the store joins as a replica with a lease (``store_replicas``), owns the
runs it executes, hands cancels and tool outputs to the owner of a run, and closes the runs
of replicas whose lease expired.

Imported only when the database setting is a ``postgresql://`` URL, so psycopg never loads
for the app's default SQLite file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
import psycopg.errors
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from .db_url import DatabaseUrl
from .errors import StoreError
from .objects import LastError, Run, now
from .settings_spec import DEFAULT_LEASE_S
from .store import (
    FORWARD_TIMEOUT_S,
    INTERRUPTED_CODE,
    INTERRUPTED_MESSAGE,
    SqlStore,
)
from .store_api import RequestAnswer, RunRequest
from .store_pg_schema import migrate, search_indexed
from .store_replicas import Replica
from .store_schema import ACTIVE_STATUSES_SQL
from .store_sql import Cursor, Db, JsonText, like_pattern
from .surrogates import scrub
from .text import one_line

CONNECT_TIMEOUT_S = 10
POOL_MAX = 12
# What a DB-API error means for the caller: the database is unreachable or failing
# (StoreError: the run stops with "could not save…", the CLI exits 2), not a bug.
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
# JSON text escapes a NUL as \u0000, which jsonb refuses: an even number of backslashes
# before it means the escape is real, not a literal backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """The shared code's SQL with psycopg's placeholders (``?`` → ``%s``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _pg_value(value: Any) -> Any:
    """PostgreSQL text holds no NUL character (U+0000): it becomes U+FFFD, as text UTF-8
    cannot encode does (lone surrogates) on both engines."""
    if isinstance(value, JsonText):
        text = scrub(value)
        return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text
    if isinstance(value, str):
        return scrub(value).replace("\x00", "\ufffd")
    return value


def _pg_params(parameters: Any) -> Any:
    return tuple(_pg_value(v) for v in parameters)


class _PgDb:
    """A psycopg connection as the shared store code's ``Db``."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        return self.conn.execute(_pg_sql(sql), _pg_params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> None:
        rows = [_pg_params(p) for p in seq_of_parameters]
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(_pg_sql(sql), rows)


def _configure(conn: psycopg.Connection[Any]) -> None:
    # The shared code reads JSON columns as text and parses them itself (as from SQLite).
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)


def connect(url: DatabaseUrl, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """One connection (for migrations, ``db`` commands and the listener), with a one-line
    StoreError when the server cannot be reached."""
    try:
        conn = psycopg.connect(url.url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StoreError(
            f"cannot connect to the database {url}: {one_line(str(exc), 300)} — is PostgreSQL "
            "running, and are the host, port, user and database name right?"
        ) from None
    _configure(conn)
    return conn


class PostgresStore(SqlStore):
    """The store on one PostgreSQL database (``postgresql://user@host:5432/dbname``).
    Thread-safe: each operation takes a connection from the pool."""

    engine = "postgresql"
    _unique_violation = psycopg.errors.UniqueViolation
    _sql_for_update = " FOR UPDATE"
    _sql_same = "IS NOT DISTINCT FROM"
    _sql_next_activity = "nextval('thread_activity')"
    _sql_not_executed = (
        "AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.id = runs.owner "
        "AND r.lease_until > now())"
    )

    def __init__(
        self,
        url: DatabaseUrl | str,
        *,
        replica: str | None = None,
        lease: float = DEFAULT_LEASE_S,
        join: bool = True,
        pool_size: int = POOL_MAX,
    ) -> None:
        """Connect, migrate (versioned, transactional), and — with ``join`` — take part
        as a replica: register with a lease renewed in the background, own the runs this
        process executes, close the runs of replicas whose lease expired. ``db`` commands
        open it without ``join``. Raises StoreError when the database cannot be used."""
        self.url = url if isinstance(url, DatabaseUrl) else DatabaseUrl(url)
        self.location = str(self.url)
        with connect(self.url) as conn:
            try:
                self.migrated = migrate(conn, self.location)
                self.search_indexed = search_indexed(conn)
            except psycopg.Error as exc:
                self._raise_store_error(exc)
        self._pool = ConnectionPool(
            self.url.url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            timeout=CONNECT_TIMEOUT_S,
            open=False,
            name="investor-assistant",
        )
        self._pool.open()
        self.replica: Replica | None = None
        if join:
            try:
                self.replica = Replica(self, replica, lease)
            except BaseException:
                self._pool.close()
                raise

    def close(self) -> None:
        if self.replica is not None:
            self.replica.leave()
        self._pool.close()

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            if isinstance(exc, self._unique_violation):
                raise
            self._raise_store_error(exc)
        except PoolTimeout as exc:
            self._raise_store_error(exc)

    @contextmanager
    def _read(self) -> Iterator[Db]:
        with self._connection() as conn:  # autocommit: each statement sees the latest
            yield _PgDb(conn)

    @contextmanager
    def _write(self) -> Iterator[Db]:
        with self._connection() as conn, conn.transaction():
            yield _PgDb(conn)

    @contextmanager
    def _snapshot(self) -> Iterator[Db]:
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield _PgDb(conn)

    @contextmanager
    def _savepoint(self, db: Db) -> Iterator[None]:
        # A failed statement aborts PostgreSQL's transaction; a savepoint keeps it usable.
        assert isinstance(db, _PgDb)
        with db.conn.transaction():
            yield

    def _serialize(self, db: Db, name: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))

    def _raise_store_error(self, exc: Exception) -> NoReturn:
        if isinstance(exc, _UNAVAILABLE):
            raise StoreError(f"database {self.location}: {one_line(str(exc), 300)}") from exc
        raise exc

    # -- engine-specific SQL -------------------------------------------------------------
    def _sql_json_text(self, column: str, *path: str) -> str:
        return f"{column} #>> '{{{','.join(path)}}}'"

    def _thread_filter(self, needle: str) -> tuple[str, list[Any]]:
        # ILIKE with a trigram GIN index: substrings of any length, case-insensitively.
        like = like_pattern(needle)
        return "title ILIKE ? OR id IN (SELECT thread_id FROM messages WHERE text ILIKE ?)", [
            like,
            like,
        ]

    # -- run ownership -------------------------------------------------------------------
    def _owned(self, db: Db, run_id: str) -> None:
        if self.replica is not None:
            db.execute("UPDATE runs SET owner = ? WHERE id = ?", (self.replica.id, run_id))

    def recover_interrupted(self, message: str = INTERRUPTED_MESSAGE) -> list[str]:
        """Close the active runs no live replica executes: their owner's lease expired
        (it died, or stopped without closing them). A cancel asked for meanwhile closes
        the run as cancelled. Runs waiting for a client's tool outputs stay."""
        me = self.replica.id if self.replica is not None else ""
        with self._write() as db:
            rows = db.execute(
                "SELECT runs.data, runs.owner, to_char(rep.lease_until AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD HH24:MI:SS'), EXISTS (SELECT 1 FROM run_requests q WHERE "
                "q.run_id = runs.id AND q.kind = 'cancel' AND q.answered_at IS NULL) "
                "FROM runs LEFT JOIN replicas rep ON rep.id = runs.owner "
                f"WHERE runs.status IN {ACTIVE_STATUSES_SQL} AND runs.owner IS DISTINCT FROM ? "
                "AND (rep.id IS NULL OR rep.lease_until <= now()) "
                "ORDER BY runs.seq FOR UPDATE OF runs SKIP LOCKED",
                (me,),
            ).fetchall()
            runs: list[Run] = []
            errors: dict[str, LastError | None] = {}
            for data, owner, expired_at, cancel_asked in rows:
                run = Run.from_dict(json.loads(data))
                runs.append(run)
                errors[run.id] = (
                    None
                    if cancel_asked or run.status == "cancelling"
                    else _stranded(owner, expired_at, me, message)
                )
            closed = self._close_stranded(db, runs, now(), lambda run: errors[run.id])
            if closed:
                db.execute(
                    "UPDATE run_requests SET answered_at = now(), error = ? "
                    "WHERE run_id = ANY(?) AND answered_at IS NULL",
                    ("the run was closed: its server replica stopped", closed),
                )
        return closed

    # -- requests to the owner of a run --------------------------------------------------
    def forward_run_request(
        self,
        run_id: str,
        kind: str,
        outputs: list[dict[str, str]] | None = None,
        *,
        timeout: float = FORWARD_TIMEOUT_S,
    ) -> RequestAnswer | None:
        if self.replica is None:
            return None
        return self.replica.forward(run_id, kind, outputs, timeout)

    def serve_run_requests(self, handler: Callable[[RunRequest], None] | None) -> None:
        if self.replica is not None:
            self.replica.serve(handler)

    def answer_run_request(self, request: RunRequest, error: str | None = None) -> None:
        if self.replica is not None:
            self.replica.answer(request, error)


def _stranded(owner: str | None, expired_at: str | None, me: str, message: str) -> LastError:
    if owner is None:
        return LastError(INTERRUPTED_CODE, f"{message} (no server replica was executing it)")
    when = f" at {expired_at} UTC" if expired_at else ""
    return LastError(
        INTERRUPTED_CODE,
        f"the server replica {owner} executing this run stopped (its lease expired{when}); "
        f"replica {me or 'another process'} closed the run",
    )
