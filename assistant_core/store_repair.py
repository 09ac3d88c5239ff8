"""A damaged thread database: finding out what is wrong, and saving what can still be read.

``check_database`` runs SQLite's ``integrity_check`` and counts what each of our tables
still yields. ``recover_database`` writes a new database of ours holding every row that
can still be read from the damaged one, and never writes to the original (it is opened
read-only).

Python's ``sqlite3`` has no ``.recover`` (the ``sqlite3`` shell's command, which reads every
page of the file, free ones included), and the shell is not installed everywhere, so this
is a row salvage through SQLite itself: each table is read in ``rowid`` order, a stretch
SQLite cannot read is stepped over row by row, every row is checked (its JSON must still
be one of our objects) before it is copied, and rows whose parent was lost are kept where
that is worth it (messages and runs of a lost thread go under a stand-in thread with the
same id). What lies only in pages SQLite can no longer reach from the table's b-tree is
lost; ``sqlite3 DB .recover`` may get more of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .errors import StoreError
from .objects import Assistant, Message, Run, RunStep, Thread, ToolCall, now
from .store_schema import (
    CURRENT_VERSION,
    SCHEMA_VERSION_TABLE,
    open_database,
    tool_calls_from_steps,
)

# Our tables, parents first (the copy keeps the foreign keys on).
TABLES = ("meta", "assistants", "threads", "messages", "runs", "steps", "tool_calls")
COUNTED = ("threads", "messages", "runs", "steps", "tool_calls")
_BATCH = 256  # rows per read while the table reads cleanly
_PROBE_GAP = 4096  # rowids probed one by one past the last readable row before giving up
_MIN_ROWID = -(2**63)

# What a row's JSON must still turn into, per table.
_OBJECTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "assistants": Assistant.from_dict,
    "threads": Thread.from_dict,
    "messages": Message.from_dict,
    "runs": Run.from_dict,
    "steps": RunStep.from_dict,
    "tool_calls": ToolCall.from_dict,
}


# -- check ---------------------------------------------------------------------------------
@dataclass
class CheckResult:
    path: Path
    problems: list[str]  # what integrity_check reported (empty: the file is sound)
    rows: dict[str, int | str]  # rows per table, or why the table could not be counted

    @property
    def ok(self) -> bool:
        return not self.problems


def check_database(path: Path, *, max_problems: int = 20) -> CheckResult:
    """SQLite's full ``integrity_check`` of ``path`` (read-only), and row counts."""
    db = open_read_only(path)
    try:
        try:
            found = [
                line
                for (row,) in db.execute(f"PRAGMA integrity_check({max_problems})")
                for line in str(row).splitlines()
            ]
            problems = [] if found == ["ok"] else found[:max_problems]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        rows: dict[str, int | str] = {}
        for table in COUNTED:
            try:
                rows[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                rows[table] = str(exc)
    finally:
        db.close()
    return CheckResult(path, problems, rows)


def open_read_only(path: Path) -> sqlite3.Connection:
    """``path`` opened so that nothing can be written to it."""
    if not path.is_file():
        raise StoreError(f"there is no database file at {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
        # Lets SQLite read a file shorter than its header says (else it refuses it whole);
        # the connection is read-only, so this can change nothing.
        db.execute("PRAGMA writable_schema = ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"SQLite cannot read {path} at all ({exc}): its first page (the list of tables) "
            "is damaged; `sqlite3 FILE .recover` (the sqlite3 shell) may still save some of it"
        ) from exc
    return db


# -- recover -------------------------------------------------------------------------------
@dataclass
class TableSalvage:
    table: str
    recovered: int = 0
    unreadable: int = 0  # rows SQLite could not read, or whose content is no longer ours
    orphaned: int = 0  # rows whose parent was lost (dropped: a step without its run…)
    stretches_skipped: int = 0  # places where the table could only be read row by row
    error: str | None = None  # the table could not be read at all


@dataclass
class RecoverReport:
    source: Path
    target: Path
    tables: list[TableSalvage] = field(default_factory=list)
    stand_in_threads: int = 0  # threads re-created to hold messages and runs of a lost one
    closed_runs: int = 0  # runs left active in the copy, closed as failed
    integrity: str = ""  # integrity_check of the new file

    @property
    def lost(self) -> int:
        return sum(t.unreadable + t.orphaned for t in self.tables)


def recover_database(source: Path, target: Path) -> RecoverReport:
    """Copy every readable row of ``source`` into a new database ``target``.

    ``source`` is opened read-only; ``target`` must not exist. Raises StoreError when
    nothing can be read, or when ``source`` is from a newer version of the app."""
    if target.exists():
        raise StoreError(f"{target} already exists; choose another output file")
    src = open_read_only(source)
    try:
        version = _source_version(src)
        if version is not None and version > CURRENT_VERSION:
            raise StoreError(
                f"{source} was written by a newer Investor Assistant (schema {version}); "
                "recover it with that version"
            )
        report = RecoverReport(source, target)
        dest = open_database(target)
        try:
            dest.execute("BEGIN IMMEDIATE")
            salvage = _Salvage(src, dest, report)
            for table in TABLES:
                report.tables.append(salvage.copy(table))
            if not _has_table(src, "tool_calls"):  # schema 1 kept calls in the steps only
                tool_calls_from_steps(dest, skip_duplicates=True)
            dest.execute("COMMIT")
            report.integrity = str(dest.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            if dest.in_transaction:
                dest.execute("ROLLBACK")
            dest.close()
    finally:
        src.close()
    from .store import Store

    with Store(target) as store:  # runs the copy shows as active are not running anywhere
        report.closed_runs = len(
            store.recover_interrupted("closed by `db recover`: the database was damaged")
        )
    return report


def _source_version(db: sqlite3.Connection) -> int | None:
    try:
        row = db.execute(f"SELECT max(version) FROM {SCHEMA_VERSION_TABLE}").fetchone()
    except sqlite3.DatabaseError:
        return None
    return int(row[0]) if row and row[0] is not None else None


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    try:
        row = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    except sqlite3.DatabaseError:
        return False
    return row is not None


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")]


class _Salvage:
    def __init__(
        self, src: sqlite3.Connection, dest: sqlite3.Connection, report: RecoverReport
    ) -> None:
        self.src = src
        self.dest = dest
        self.report = report

    def copy(self, table: str) -> TableSalvage:
        result = TableSalvage(table)
        try:
            wanted = _columns(self.dest, table)
            columns = [c for c in _columns(self.src, table) if c in wanted]
        except sqlite3.DatabaseError as exc:
            result.error = str(exc)
            return result
        if not columns:
            return result  # not in the source (an older schema)
        names = ", ".join(columns)
        insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
        for row in self._rows(table, names, result):
            values = dict(zip(columns, row))
            if not _valid(table, values):
                result.unreadable += 1
                continue
            if not self._insert(table, insert, row, values):
                result.orphaned += 1
                continue
            result.recovered += 1
        return result

    def _insert(
        self, table: str, insert: str, row: tuple[Any, ...], values: dict[str, Any]
    ) -> bool:
        try:
            self.dest.execute(insert, row)
            return True
        except sqlite3.IntegrityError:
            if table not in ("messages", "runs") or not values.get("thread_id"):
                return False  # a step without its run, a call without its step: meaningless
        self._stand_in_thread(str(values["thread_id"]), int(values.get("created_at") or now()))
        try:
            self.dest.execute(insert, row)
        except sqlite3.IntegrityError:
            return False
        return True

    def _stand_in_thread(self, thread_id: str, created_at: int) -> None:
        thread = Thread(id=thread_id, created_at=created_at, updated_at=created_at)
        fields = thread.to_dict()
        del fields["title"], fields["updated_at"]
        self.dest.execute(
            "INSERT OR IGNORE INTO threads (id, created_at, updated_at, activity, title, data) "
            "VALUES (?, ?, ?, (SELECT coalesce(max(activity), 0) + 1 FROM threads), ?, ?)",
            (
                thread_id,
                created_at,
                created_at,
                f"Recovered (thread {thread_id} itself was lost)",
                json.dumps(fields, ensure_ascii=False),
            ),
        )
        self.report.stand_in_threads += 1

    def _rows(self, table: str, names: str, result: TableSalvage) -> Iterator[tuple[Any, ...]]:
        """Every row SQLite can still read, in rowid order: in batches while that works,
        row by row across a damaged stretch."""
        after: int | None = _MIN_ROWID
        high = self._max_rowid(table)
        batch_sql = f"SELECT rowid, {names} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        while True:
            assert after is not None
            try:
                batch = self.src.execute(batch_sql, (after, _BATCH)).fetchall()
            except sqlite3.DatabaseError:
                result.stretches_skipped += 1
                after = yield from self._probe(table, names, after, high, result)
                if after is None:
                    return
                continue
            if not batch:
                return
            for row in batch:
                yield tuple(row[1:])
            after = batch[-1][0]

    def _probe(
        self, table: str, names: str, after: int, high: int | None, result: TableSalvage
    ) -> Generator[tuple[Any, ...], None, int | None]:
        """Read rows one by one past ``after`` until a batch read would work again (or the
        table ends); returns where batch reading can go on, or None at the end."""
        sql = f"SELECT rowid, {names} FROM {table} WHERE rowid = ?"
        rowid = max(after, 0) + 1
        failures = misses = 0  # in a row, since the last row read
        while high is None or rowid <= high:
            try:
                row = self.src.execute(sql, (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                failures += 1
            else:
                if row is None:
                    misses += 1
                else:
                    result.unreadable += failures
                    failures = misses = 0
                    yield tuple(row[1:])
                    if self._batch_works(table, rowid):
                        return rowid
            if high is None and failures + misses > _PROBE_GAP:
                break  # nothing readable for a long stretch: the table's end is lost
            rowid += 1
        result.unreadable += failures
        return None

    def _batch_works(self, table: str, after: int) -> bool:
        try:
            self.src.execute(
                f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, _BATCH),
            ).fetchall()
        except sqlite3.DatabaseError:
            return False
        return True

    def _max_rowid(self, table: str) -> int | None:
        try:
            row = self.src.execute(f"SELECT max(rowid) FROM {table}").fetchone()
        except sqlite3.DatabaseError:
            return None
        return int(row[0]) if row and row[0] is not None else 0


def _valid(table: str, values: dict[str, Any]) -> bool:
    """Whether a row read back is still one of ours (damage can garble a row that SQLite
    reads without complaint)."""
    for name, value in values.items():
        if name in ("seq", "created_at", "updated_at", "activity", "step_seq", "position"):
            if not isinstance(value, int):
                return False
        elif name != "run_id" and not isinstance(value, str):
            return False
    parse = _OBJECTS.get(table)
    if parse is None:
        return True
    try:
        parse(json.loads(values["data"]))
    except Exception:  # any way a garbled JSON document can fail to be our object
        return False
    return True
