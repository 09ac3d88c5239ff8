"""``db check`` and ``db migrate`` on PostgreSQL: what state the database is in, and bringing
its schema up to date, without joining it as a replica."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .db_url import DatabaseUrl
from .store_pg import connect
from .store_pg_schema import (
    CURRENT_VERSION,
    OUR_TABLES,
    check_version,
    migrate,
    read_version,
    search_indexed,
    trigram_indexes,
)
from .store_schema import ACTIVE_STATUSES_SQL

COUNTED = ("threads", "messages", "runs", "steps", "tool_calls")


def _value(conn: Any, sql: str) -> Any:
    """The one value ``sql`` selects."""
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


@dataclass
class Replica:
    id: str
    host: str
    pid: int
    lease_left_s: float  # negative: expired that long ago
    active_runs: int


@dataclass
class PgCheck:
    location: str
    server: str
    version: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    replicas: list[Replica] = field(default_factory=list)
    stranded_runs: int = 0  # active runs whose owner's lease expired (closed on next tick)
    search_indexed: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def check_postgres(url: DatabaseUrl) -> PgCheck:
    """Read-only: the schema version, that every table reads in full, references the schema
    cannot enforce, the replicas and their leases, runs left by replicas that stopped."""
    with connect(url) as conn:
        server = str(_value(conn, "SHOW server_version"))
        version = read_version(conn)
        result = PgCheck(str(url), server, version or 0)
        try:
            check_version(str(url), version)
        except Exception as exc:
            result.problems.append(str(exc))
            return result
        assert version is not None
        if version == 0:
            result.notes.append(
                "no tables yet: they are created on first use, or with `db migrate`"
            )
            return result
        if version < CURRENT_VERSION:
            result.notes.append(
                f"schema {version} of {CURRENT_VERSION}: `db migrate` (or any start) updates it"
            )
        for table in OUR_TABLES:
            if table == "meta":
                continue
            # Reading every row's every column finds pages PostgreSQL cannot read.
            try:
                with conn.transaction():
                    count = _value(
                        conn, f"SELECT count(*) FROM (SELECT * FROM {table}) AS every_row"
                    )
            except Exception as exc:
                result.problems.append(f"{table}: {exc}")
                continue
            if table in COUNTED:
                result.rows[table] = int(count)
        orphans = _value(
            conn,
            "SELECT count(*) FROM messages m WHERE m.run_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = m.run_id)",
        )
        if orphans:
            result.notes.append(f"{orphans} message(s) name a run that no longer exists")
        for rid, host, pid, left, active in conn.execute(
            "SELECT rep.id, rep.host, rep.pid, extract(epoch FROM rep.lease_until - now()), "
            f"(SELECT count(*) FROM runs WHERE runs.owner = rep.id AND runs.status IN "
            f"{ACTIVE_STATUSES_SQL}) FROM replicas rep ORDER BY rep.started_at"
        ).fetchall():
            result.replicas.append(Replica(rid, host, int(pid), float(left), int(active)))
        result.stranded_runs = int(
            _value(
                conn,
                "SELECT count(*) FROM runs LEFT JOIN replicas rep ON rep.id = runs.owner "
                "WHERE runs.status IN ('queued', 'in_progress', 'cancelling') "
                "AND (rep.id IS NULL OR rep.lease_until <= now())",
            )
        )
        result.search_indexed = search_indexed(conn)
        if not result.search_indexed:
            result.notes.append(
                "the thread filter scans (pg_trgm is missing: install postgresql-contrib, "
                "then `db migrate`)"
            )
    return result


def migrate_postgres(url: DatabaseUrl) -> tuple[int, int, bool]:
    """Apply missing migrations; (re)create the filter's trigram indexes if they are
    missing and can be made now. Returns (version before, after, filter indexed)."""
    with connect(url) as conn:
        before, after = migrate(conn, str(url))
        indexed = search_indexed(conn) or trigram_indexes(conn)
    return before, after, indexed
