"""``db check|recover``: the way out when the thread database is damaged.

Neither command opens the database the normal way (that refuses a damaged file, and would
migrate or recover runs in it): both read it read-only and never change it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from assistant_core.config import load_settings
from assistant_core.store_repair import check_database, recover_database
from assistant_core.text import one_line

from .exit_codes import EXIT_OK, EXIT_USAGE
from .output import Output

PROG = "investor-assistant"


def db_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    path = Path(load_settings(flags).db)
    out = Output()
    if args.action == "check":
        return check(path, out)
    return recover(path, args.output, out)


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
