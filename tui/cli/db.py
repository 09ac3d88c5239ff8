"""``db check|recover|migrate|copy``: the thread database's health, schema and moves.

``check`` and ``recover`` never open the database the normal way (that refuses a damaged
file, and would migrate or recover runs in it): they read it read-only and never change it.
On PostgreSQL ``check`` reads every table and reports the replicas and their leases.
``migrate`` brings the schema up to date (any start does too); ``copy`` moves one person's
threads into another database, e.g. a team's PostgreSQL.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from assistant_core.config import load_settings
from assistant_core.db_url import Database, DatabaseUrl, parse_database
from assistant_core.errors import StoreError
from assistant_core.store import SqlStore
from assistant_core.store_repair import check_database, recover_database
from assistant_core.text import one_line

from .actions import CommandActions
from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import Output

PROG = "investor-assistant"

DB_EPILOG = f"""\
examples:
  {PROG} db check                       is the thread database sound?
  {PROG} db recover                     save what can be read to threads.recovered-….db
  {PROG} --db old.db db recover -o new.db
  {PROG} --db postgresql://ia@db.example/ia db migrate
  {PROG} db copy --to postgresql://ia@db.example/ia --project ana

A damaged SQLite database is never changed: commands refuse it (exit 2) until you use a
recovered copy (--db FILE, or put it in the damaged file's place). `recover` is for SQLite
files; PostgreSQL has its own backups (pg_dump).
"""


def add_db_parser(commands: Any, flags: argparse.ArgumentParser) -> argparse.ArgumentParser:
    db: argparse.ArgumentParser = commands.add_parser(
        "db",
        parents=[flags],
        help="the thread database: check, migrate, copy, recover",
        description="The thread database (an SQLite file or PostgreSQL): check it, bring its "
        "schema up to date, copy threads into another one, or recover a damaged SQLite file "
        "into a new one.",
        epilog=DB_EPILOG,
    )
    db_actions = CommandActions(db, flags)
    db_actions.add(
        "check", "is it sound? (SQLite's integrity check; PostgreSQL: every table, the replicas)"
    )
    db_actions.add("migrate", "bring the schema up to date")
    db_copy = db_actions.add(
        "copy", "copy every thread into another database (e.g. SQLite → PostgreSQL)"
    )
    db_copy.add_argument(
        "--from",
        dest="source",
        metavar="DB",
        help="sqlite:PATH, a file, or postgresql://… (default: the database in use, --db)",
    )
    db_copy.add_argument(
        "--to", dest="target", required=True, metavar="DB", help="where to: the same forms"
    )
    db_copy.add_argument(
        "--project",
        metavar="NAME",
        help="put the copied threads and assistants in this project of the target "
        "(default: the project each had, usually 'default')",
    )
    db_recover = db_actions.add(
        "recover", "copy every readable row of a damaged SQLite file into a new file"
    )
    db_recover.add_argument(
        "-o", "--output", metavar="FILE", help="the new file (default: next to the database)"
    )
    return db


def db_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    database = load_settings(flags).db
    out = Output()
    if args.action == "copy":
        source = parse_database(args.source) if args.source else database
        return copy(source, parse_database(args.target), args.project, out)
    if args.action == "migrate":
        return migrate(database, out)
    if isinstance(database, DatabaseUrl):
        if args.action == "recover":
            raise StoreError(
                "`db recover` salvages damaged SQLite files; for PostgreSQL use its own "
                "backups (pg_dump / pg_restore) — `db check` says what is wrong"
            )
        return check_postgres(database, out)
    if args.action == "check":
        return check(database, out)
    return recover(database, args.output, out)


def check(path: Path, out: Output) -> int:

    result = check_database(path)
    rows = ", ".join(
        f"{table} {count:,}" if isinstance(count, int) else f"{table} unreadable"
        for table, count in result.rows.items()
    )
    if result.ok:
        out.line(f"{path}: ok (SQLite integrity_check) · {rows}")
        return EXIT_OK
    out.line(f"{path}: DAMAGED — SQLite integrity_check found:")
    for problem in result.problems:
        out.line(f"  {one_line(problem, 200)}")
    out.line(f"readable: {rows}")
    out.line(f"The file was not changed. Save what can be read to a new file: {PROG} db recover")
    return EXIT_USAGE


def check_postgres(url: DatabaseUrl, out: Output) -> int:
    from assistant_core.store_pg_admin import check_postgres as run_check

    result = run_check(url)
    rows = ", ".join(f"{table} {count:,}" for table, count in result.rows.items())
    search = "trigram-indexed filter" if result.search_indexed else "filter by scan"
    if not result.ok:
        out.line(f"{url}: PROBLEMS (PostgreSQL {result.server}, schema {result.version}):")
        for problem in result.problems:
            out.line(f"  {one_line(problem, 300)}")
    else:
        out.line(
            f"{url}: ok (PostgreSQL {result.server}, schema {result.version}, {search})"
            + (f" · {rows}" if rows else "")
        )
    for replica in result.replicas:
        lease = (
            f"lease {replica.lease_left_s:.1f} s left"
            if replica.lease_left_s > 0
            else f"lease expired {-replica.lease_left_s:.0f} s ago"
        )
        out.line(
            f"  replica {replica.id} ({replica.host} pid {replica.pid}): {lease}, "
            f"{replica.active_runs} active run(s)"
        )
    if result.stranded_runs:
        out.note(
            f"{result.stranded_runs} active run(s) belong to no live replica: the next "
            "replica to renew its lease closes them"
        )
    for note in result.notes:
        out.note(note)
    return EXIT_OK if result.ok else EXIT_USAGE


def migrate(database: Database, out: Output) -> int:
    if isinstance(database, DatabaseUrl):
        from assistant_core.store_pg_admin import migrate_postgres

        before, after, indexed = migrate_postgres(database)
        search = "" if indexed else " (thread filter not indexed: pg_trgm is missing)"
    else:
        from assistant_core import store_schema
        from assistant_core.store import Store

        before = _sqlite_version(database)
        with Store(database):
            pass
        after, search = store_schema.CURRENT_VERSION, ""
    if before == after:
        out.line(f"{database}: schema {after}, up to date{search}")
    else:
        out.line(f"{database}: schema {before} → {after}{search}")
    return EXIT_OK


def _sqlite_version(path: Path) -> int:
    from assistant_core import store_schema
    from assistant_core.store_repair import open_read_only

    if not path.exists() or path.stat().st_size == 0:
        return 0
    db = open_read_only(path)
    try:
        return store_schema.read_version(db) or 0
    finally:
        db.close()


def copy(source: Database, target: Database, project: str | None, out: Output) -> int:
    from assistant_core.store_copy import copy_threads

    if str(source) == str(target):
        raise StoreError("--from and --to name the same database")
    if isinstance(source, Path) and not source.is_file():
        raise StoreError(f"there is no database file at {source}")
    if project is not None and not (0 < len(project) <= 64 and project.isprintable()):
        raise StoreError("a project name is 1–64 printable characters")
    with _open(source) as src, _open(target) as dst:
        report = copy_threads(src, dst, project=project)
    copied = report.copied
    parts = ", ".join(
        f"{copied.get(t, 0):,} {t.replace('_', ' ')}"
        for t in ("messages", "runs", "steps", "tool_calls")
    )
    where = f", project {project!r}" if project else ""
    out.line(
        f"copied {copied.get('threads', 0):,} thread(s) ({parts}) and "
        f"{copied.get('assistants', 0):,} assistant(s) from {source} to {target}{where}"
    )
    if report.skipped_threads:
        out.note(
            f"{report.skipped_threads:,} thread(s) were already there and were left as they are"
        )
    if report.active_runs:
        out.note(
            f"{report.active_runs} run(s) were active in the source; the copy closes them as "
            "failed when it is next opened (they were not running there)"
        )
    return EXIT_OK


def _open(database: Database) -> SqlStore:
    if isinstance(database, DatabaseUrl):
        from assistant_core.store_pg import PostgresStore

        return PostgresStore(database, join=False)
    from assistant_core.store import Store

    if not database.parent.is_dir():
        raise StoreError(f"cannot create {database}: its directory does not exist")
    return Store(database)


def recover(path: Path, output: str | None, out: Output) -> int:

    target = (
        Path(output).expanduser()
        if output
        else path.with_name(f"{path.stem}.recovered-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
    )
    report = recover_database(path, target)
    out.line(f"recovered into {target} (the original {path} is unchanged):")
    for table in report.tables:
        if table.error is not None:
            out.line(f"  {table.table:<11} could not be read: {one_line(table.error, 120)}")
            continue
        losses = []
        if table.unreadable:
            losses.append(f"{table.unreadable:,} unreadable")
        if table.orphaned:
            losses.append(f"{table.orphaned:,} without their parent")
        lost = f" ({', '.join(losses)} — left out)" if losses else ""
        out.line(f"  {table.table:<11} {table.recovered:>8,} rows{lost}")
    if report.stand_in_threads:
        out.line(
            f"  {report.stand_in_threads} lost thread(s) re-created to hold their surviving "
            "messages and runs (titled 'Recovered …')"
        )
    if report.closed_runs:
        out.line(f"  {report.closed_runs} run(s) that were in progress closed as failed")
    out.line(f"integrity_check of the new file: {report.integrity}")
    out.note(
        f"use it with --db {target}, or move the damaged file aside and put this one in its place"
    )
    if report.lost:
        out.note(
            "rows SQLite can no longer reach were left out; the sqlite3 shell's "
            f"`sqlite3 {path} .recover` reads every page and may find more"
        )
    return EXIT_OK
