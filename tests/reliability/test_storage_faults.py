"""Writes that fail while a run streams, and deleting a thread that is streaming (issue 11,
item 8).

A full disk mid-answer used to print 64 tracebacks (1,177 lines: ``log.exception`` with no
handler) while the answer kept printing to the end although only 80 characters were
stored. Now the first failed write stops the run (``failed``, ``storage_error``, one line
saying how much of the shown answer is saved), the log goes to a private file, and a
thread that another process is streaming cannot be deleted from under it.

The disk is made full the way SQLite sees one: ``PRAGMA max_page_count`` at the current
size gives exactly the error a full disk gives (SQLITE_FULL, "database or disk is full").
"""

from __future__ import annotations

import logging
import os
import signal
import stat
from pathlib import Path
from typing import Any

import pytest

from assistant_core.logs import configure_logging
from assistant_core.runtime import RetryPolicy, Runtime
from assistant_core.store import Store
from tests.support.scripted_backend import Pause, ScriptedBackend, make_test_tools, text_turn

from .processes import CliProcess, cli_env, run_cli

PIECE = "The balance sheet is strong and revenue keeps growing, so the outlook is fair. "


def fill_disk(store: Store) -> None:
    (pages,) = store._db.execute("PRAGMA page_count").fetchone()
    store._db.execute(f"PRAGMA max_page_count = {pages}")


async def test_a_full_disk_mid_answer_stops_the_run_with_one_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(tmp_path / "threads.db")
    backend = ScriptedBackend(
        [[*(step for _ in range(400) for step in (*text_turn(PIECE, finish=None), Pause(0.002)))]]
    )
    runtime = Runtime(
        store,
        backend,
        make_test_tools(),
        model="scripted",
        flush_interval=0.02,
        retry_policy=RetryPolicy(max_retries=0),
    )
    thread = runtime.create_thread()
    events: list[Any] = []
    with caplog.at_level(logging.DEBUG):
        async for event in runtime.ask(thread.id, "How is Apple doing?"):
            events.append(event)
            if event.event == "thread.message.created":
                fill_disk(store)
    streamed = "".join(e.data.value for e in events if e.event == "thread.message.delta")
    assert len(streamed) < len(PIECE) * 200  # it stopped: not the whole 400-piece answer
    assert [e.event for e in events][-2:] in (
        ["thread.run.failed", "done"],
        ["error", "done"],  # even the run's end could not be written
    )
    error = events[-2].data if events[-2].event == "error" else events[-2].data.last_error
    assert error.code == "storage_error"
    assert "database or disk is full" in error.message and "it was stopped" in error.message
    assert "\n" not in error.message
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= 2 and not any(r.exc_info for r in errors)  # no traceback flood
    # What the message says is saved is exactly what the store holds, and it is what
    # was shown, from the start.
    [answer] = [m for m in store.list_messages(thread.id) if m.role == "assistant"]
    assert streamed.startswith(answer.text)
    if len(answer.text) < len(streamed):
        assert f"only the first {len(answer.text):,} are saved" in error.message
    await runtime.aclose()
    store.close()
    with Store(tmp_path / "threads.db") as reopened:  # the next start closes what was left
        reopened.recover_interrupted()
        statuses = {m.role: m.status for m in reopened.list_messages(thread.id)}
        assert statuses == {"user": "completed", "assistant": "incomplete"}
        assert not reopened.active_run(thread.id)


def test_the_cli_on_a_full_disk_says_so_in_one_line_and_logs_to_a_private_file(
    tmp_path: Path,
) -> None:
    env = cli_env(
        tmp_path, db=tmp_path / "threads.db", pace=0.01, RELIABILITY_PATCHES="disk_full_on_answer"
    )
    result = run_cli(["ask", "Should I buy Apple?"], env, module="tests.reliability.patched_cli")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("run ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("run failed: storage_error: could not save this run")
    assert "database or disk is full" in errors[0]
    assert len(result.stderr.splitlines()) <= 4  # the demo note, the thread line, the error
    assert "Not financial advice" not in result.stdout  # the answer did not go on to its end
    log = tmp_path / "data" / "investor-assistant" / "logs" / "investor-assistant.log"
    assert "stopped: a write to the store failed" in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    # --debug shows the log on stderr as well.
    debug = run_cli(
        ["--debug", "ask", "Should I buy Apple?"], env, module="tests.reliability.patched_cli"
    )
    assert "stopped: a write to the store failed" in debug.stderr


def test_a_thread_streaming_in_another_process_cannot_be_deleted(tmp_path: Path) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", pace=0.05)
    asking = CliProcess(["ask", "Should I buy Apple?"], env)
    try:
        asking.stdout.wait_for(lambda text: "## Apple" in text, timeout=30, what="the answer")
        [thread_id] = [
            line.split()[0] for line in run_cli(["threads", "list"], env).stdout.splitlines()
        ]
        refused = run_cli(["threads", "delete", thread_id], env)
        assert refused.returncode == 2
        assert "has a run in progress" in refused.stderr and "cannot be deleted" in refused.stderr
        assert asking.wait(60) == 0  # the run was not disturbed
    finally:
        asking.close()
    assert run_cli(["threads", "delete", thread_id], env).returncode == 0


def test_a_run_stranded_by_a_killed_process_does_not_block_deleting_its_thread(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", pace=0.05)
    asking = CliProcess(["ask", "Should I buy Apple?"], env)
    asking.stdout.wait_for(lambda text: "## Apple" in text, timeout=30, what="the answer")
    asking.send(signal.SIGKILL)
    asking.wait(10)
    [thread_id] = [
        line.split()[0] for line in run_cli(["threads", "list"], env).stdout.splitlines()
    ]
    deleted = run_cli(["threads", "delete", thread_id], env)
    assert deleted.returncode == 0, deleted.stderr
    assert run_cli(["threads", "list"], env).stdout.strip() == ""


def test_the_log_is_private_rotated_and_never_on_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    old_umask = os.umask(0)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        path = configure_logging(path=tmp_path / "logs" / "app.log")
        assert path is not None
        log = logging.getLogger("assistant_core.test")
        for i in range(4500):
            log.error("line %d %s", i, "x" * 1000)  # 4.5 MB: rotated past its three backups
    finally:
        os.umask(old_umask)
        for handler in root.handlers[:]:
            if getattr(handler, "_investor_assistant", False):
                root.removeHandler(handler)
                handler.close()
        root.handlers[:], root.level = saved
    out, err = capfd.readouterr()
    assert "line 4499" not in err and "line 4499" not in out
    files = sorted((tmp_path / "logs").iterdir())
    assert [f.name for f in files] == ["app.log", "app.log.1", "app.log.2", "app.log.3"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    assert "line 4499" in files[0].read_text()
