"""``db copy``: one store's threads into another — typically a person's SQLite file into the
team's PostgreSQL database.

Threads come with everything under them (messages, runs, steps, tool calls) and keep their
ids, so links, exports and API clients that know them still work; the assistants the source
created come too. What the target already has (a thread with the same id: an earlier copy)
is left as it is and counted as skipped, so a copy that was interrupted can simply be run
again. Not copied: the source's built-in Investor Assistant (the target has its own), its
API keys (a personal key must not open a team server) and its projects' keys. The whole copy
is one transaction on the target: all of it lands, or none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .objects import now
from .store import SqlStore
from .store_sql import Db, JsonText

# The columns both engines' tables share, parents first (tool_calls.step_seq is rewritten).
_CHILD_TABLES: dict[str, tuple[str, ...]] = {
    "messages": ("id", "thread_id", "run_id", "role", "status", "created_at", "text", "data"),
    "runs": ("id", "thread_id", "status", "created_at", "data"),
    "steps": ("id", "run_id", "thread_id", "status", "created_at", "data"),
}
_CALL_COLUMNS = ("step_id", "id", "position", "run_id", "thread_id", "created_at", "data")
_BATCH = 200  # threads per round of reads


@dataclass
class CopyReport:
    copied: dict[str, int] = field(default_factory=dict)  # table → rows written
    skipped_threads: int = 0  # already in the target
    active_runs: int = 0  # runs the source had active (the target closes them)

    def count(self, table: str, rows: int) -> None:
        self.copied[table] = self.copied.get(table, 0) + rows


def copy_threads(source: SqlStore, target: SqlStore, *, project: str | None = None) -> CopyReport:
    """Copy every thread of ``source`` (and its assistants) into ``target``; ``project``
    puts them in that project of the target (default: the project each had)."""
    report = CopyReport()
    builtin = _builtin_id(source)
    with target._write() as out:
        existing = {row[0] for row in out.execute("SELECT id FROM threads").fetchall()}
        assistants = {row[0] for row in out.execute("SELECT id FROM assistants").fetchall()}
        if project is not None:
            out.execute(
                "INSERT INTO projects (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (project, now()),
            )
        with source._read() as src:
            rows = src.execute(
                "SELECT id, created_at, data, project FROM assistants ORDER BY seq"
            ).fetchall()
            fresh = [r for r in rows if r[0] not in assistants and r[0] != builtin]
            out.executemany(
                "INSERT INTO assistants (id, created_at, data, project) VALUES (?, ?, ?, ?)",
                [(i, c, _json(d), project or p) for i, c, d, p in fresh],
            )
            report.count("assistants", len(fresh))
            threads = src.execute(
                "SELECT id, created_at, updated_at, title, data, project FROM threads "
                "ORDER BY activity"
            ).fetchall()
        todo = [t for t in threads if t[0] not in existing]
        report.skipped_threads = len(threads) - len(todo)
        for start in range(0, len(todo), _BATCH):
            batch = todo[start : start + _BATCH]
            _copy_batch(source, target, out, batch, project, report)
    return report


def _copy_batch(
    source: SqlStore,
    target: SqlStore,
    out: Db,
    threads: list[Any],
    project: str | None,
    report: CopyReport,
) -> None:
    ids = [t[0] for t in threads]
    out.executemany(
        "INSERT INTO threads (id, created_at, updated_at, activity, title, data, project) "
        f"VALUES (?, ?, ?, {target._sql_next_activity}, ?, ?, ?)",
        [(i, c, u, title, _json(d), project or p) for i, c, u, title, d, p in threads],
    )
    report.count("threads", len(threads))
    marks = ", ".join("?" * len(ids))
    with source._read() as src:
        for table, columns in _CHILD_TABLES.items():
            rows = src.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE thread_id IN ({marks}) "
                "ORDER BY seq",
                ids,
            ).fetchall()
            data = columns.index("data")
            out.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [_with_json(row, data) for row in rows],
            )
            report.count(table, len(rows))
            if table == "runs":
                report.active_runs += sum(
                    1 for row in rows if row[2] in ("queued", "in_progress", "cancelling")
                )
        calls = src.execute(
            f"SELECT {', '.join(_CALL_COLUMNS)} FROM tool_calls WHERE thread_id IN ({marks}) "
            "ORDER BY step_seq, position",
            ids,
        ).fetchall()
    # A call's step_seq orders the tool-call log: the step's seq in the target.
    step_seq = dict(
        out.execute(f"SELECT id, seq FROM steps WHERE thread_id IN ({marks})", ids).fetchall()
    )
    out.executemany(
        "INSERT INTO tool_calls (step_id, id, step_seq, position, run_id, thread_id, "
        "created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(c[0], c[1], step_seq[c[0]], *c[2:6], _json(c[6])) for c in calls],
    )
    report.count("tool_calls", len(calls))


def _builtin_id(store: SqlStore) -> str | None:
    with store._read() as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'default_assistant_id'").fetchone()
    return str(row[0]) if row else None


def _json(data: str) -> Any:
    """A ``data`` value as the target takes it (JSON text; the engines differ in how they
    return it, never in what it says)."""
    return JsonText(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))


def _with_json(row: Iterable[Any], index: int) -> tuple[Any, ...]:
    values = list(row)
    values[index] = _json(values[index])
    return tuple(values)
