"""Recovering from a crash, migrating old databases, and refusing files that are not ours
(without ever writing to them)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant_core import store_schema
from assistant_core.errors import StoreError
from assistant_core.objects import (
    FunctionCall,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    now,
    required_action_for,
    text_content,
)
from assistant_core.store import INTERRUPTED_MESSAGE, Store
from tests.test_store import new_run, new_step

REPO = Path(__file__).resolve().parent.parent


# -- recovery ----------------------------------------------------------------------------
def test_recover_interrupted_closes_what_a_crash_left_open(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    busy = store.create_thread("busy")
    store.add_message(busy.id, "user", "question")
    run = new_run(store, busy.id)
    run.status, run.started_at = "in_progress", now()
    store.update_run(run)
    step = new_step(store, run, calls=2)
    step.tool_calls[0].status, step.tool_calls[0].function.output = "completed", '{"ok": 1}'
    step.tool_calls[1].status = "running"
    store.update_step(step)
    done_step = new_step(store, run, status="completed", message_id="msg_done")
    partial = store.add_message(
        busy.id, "assistant", "Apple's revenue", status="in_progress", run_id=run.id
    )

    waiting_thread = store.create_thread("waiting")
    waiting = new_run(store, waiting_thread.id)
    waiting.status = "in_progress"
    store.update_run(waiting)
    waiting.status = "requires_action"
    waiting.required_action = required_action_for([step.tool_calls[1]])
    store.update_run(waiting)
    queued = new_run(store, store.create_thread("queued").id)
    finished_thread = store.create_thread("finished")
    finished = new_run(store, finished_thread.id, status="completed")
    store.close()

    with Store(tmp_path / "r.db") as store:
        closed = store.recover_interrupted()
        assert closed == [run.id, waiting.id, queued.id]
        for run_id in closed:
            recovered = store.get_run(run_id)
            assert recovered.status == "failed"
            assert recovered.failed_at is not None
            assert recovered.last_error is not None
            assert (recovered.last_error.code, recovered.last_error.message) == (
                "app_stopped",
                INTERRUPTED_MESSAGE,
            )
            assert recovered.required_action is None
            assert store.active_run(recovered.thread_id) is None
        assert store.get_run(finished.id).status == "completed"

        failed_step = store.get_step(step.id)
        assert failed_step.status == "failed" and failed_step.failed_at is not None
        assert failed_step.last_error is not None and failed_step.last_error.code == "app_stopped"
        first, second = failed_step.tool_calls
        assert (first.status, first.function.output, first.is_error) == (
            "completed",
            '{"ok": 1}',
            False,
        )
        assert (second.status, second.is_error, second.error) == (
            "error",
            True,
            INTERRUPTED_MESSAGE,
        )
        assert [r.call for r in store.list_tool_calls(run_id=run.id)] == failed_step.tool_calls
        assert store.get_step(done_step.id).status == "completed"

        message = store.get_message(partial.id)
        assert (message.status, message.text) == ("incomplete", "Apple's revenue")
        assert message.incomplete_at is not None
        assert message.incomplete_details == {"reason": "run_failed"}

        assert store.recover_interrupted() == []  # idempotent
        new_run(store, busy.id)  # the thread is usable again


def test_recovery_after_a_real_crash(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    script = textwrap.dedent(f"""
        import os
        from assistant_core.objects import Run, new_id, now
        from assistant_core.store import Store
        store = Store({str(path)!r})
        thread = store.create_thread("crashing")
        run = store.create_run(Run(id="run_crash", created_at=now(), thread_id=thread.id,
                                   assistant_id="asst_x", model="m", status="in_progress"))
        message = store.add_message(thread.id, "assistant", "", status="in_progress", run_id=run.id)
        message.set_text("half an ans")
        store.update_message(message)
        os._exit(3)  # no close, no cleanup
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr
    with Store(path) as store:
        assert store.recover_interrupted() == ["run_crash"]
        (thread,) = store.list_threads()
        (message,) = store.list_messages(thread.id)
        assert (message.status, message.text) == ("incomplete", "half an ans")
        assert store.get_run("run_crash").status == "failed"


# -- migrations --------------------------------------------------------------------------
def _make_v1_database(path: Path) -> dict[str, str]:
    """A database as version 1 of the schema wrote it: tool calls only inside step JSON,
    no search index."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    store_schema.migrate(db, 0, target=1)
    thread = Thread(id="thread_old", created_at=100, title="old thread")
    data = thread.to_dict()
    del data["title"], data["updated_at"]
    db.execute(
        "INSERT INTO threads (id, created_at, updated_at, activity, title, data) "
        "VALUES (?, 100, 100, 1, 'old thread', ?)",
        (thread.id, json.dumps(data)),
    )
    for i, text in enumerate(["삼성전자 배당 정책은?", "The dividend payout ratio is 25%."]):
        message = Message(
            id=f"msg_old{i}",
            created_at=100 + i,
            thread_id=thread.id,
            role="user" if i == 0 else "assistant",
            content=text_content(text),
        )
        db.execute(
            "INSERT INTO messages (id, thread_id, run_id, role, status, created_at, text, "
            "data) VALUES (?, ?, NULL, ?, 'completed', ?, ?, ?)",
            (
                message.id,
                thread.id,
                message.role,
                message.created_at,
                text,
                json.dumps(message.to_dict()),
            ),
        )
    run = Run(
        id="run_old",
        created_at=101,
        thread_id=thread.id,
        assistant_id="asst_x",
        model="m",
        status="completed",
    )
    db.execute(
        "INSERT INTO runs (id, thread_id, status, created_at, data) VALUES (?, ?, ?, ?, ?)",
        (run.id, thread.id, run.status, run.created_at, json.dumps(run.to_dict())),
    )
    step = RunStep(
        id="step_old",
        created_at=101,
        run_id=run.id,
        thread_id=thread.id,
        assistant_id="asst_x",
        type="tool_calls",
        status="completed",
        tool_calls=[
            ToolCall(id=f"call_old{i}", function=FunctionCall("f", "{}", "1"), status="completed")
            for i in range(2)
        ],
    )
    db.execute(
        "INSERT INTO steps (id, run_id, thread_id, status, created_at, data) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (step.id, run.id, thread.id, step.status, step.created_at, json.dumps(step.to_dict())),
    )
    db.execute("COMMIT")
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    db.close()
    return {"thread": thread.id, "run": run.id, "step": step.id}


def test_migrates_a_v1_database_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    ids = _make_v1_database(path)
    with Store(path) as store:
        version = store._db.execute("SELECT version FROM schema_version").fetchall()
        assert version == [(store_schema.CURRENT_VERSION,)]
        assert [r.call.id for r in store.list_tool_calls(thread_id=ids["thread"])] == [
            "call_old0",
            "call_old1",
        ]
        assert store.list_tool_calls(run_id=ids["run"])[0].step_id == ids["step"]
        assert [t.id for t in store.list_threads("payout ratio")] == [ids["thread"]]
        assert [t.id for t in store.list_threads("배당 정책")] == [ids["thread"]]
        assert store.get_thread(ids["thread"]).title == "old thread"
        # Writing works on the migrated file, and appends sort after the old messages.
        store.add_message(ids["thread"], "user", "new")
        assert [m.text for m in store.list_messages(ids["thread"], limit=2)] == [
            "The dividend payout ratio is 25%.",
            "new",
        ]


def test_a_failing_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.db"
    _make_v1_database(path)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_schema, "MIGRATIONS", [store_schema.MIGRATIONS[0], broken])
    with pytest.raises(RuntimeError, match="migration bug"):
        Store(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables and "tool_calls" not in tables
    db.close()


# -- files that are not ours -------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_refused(path: Path, match: str) -> None:
    before = _digest(path)
    with pytest.raises(StoreError, match=match) as info:
        Store(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert _digest(path) == before
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("my precious notes\n" * 100)
    _assert_refused(path, "not an SQLite database")
    assert path.read_text() == "my precious notes\n" * 100


def test_refuses_a_corrupt_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    _assert_refused(path, "is damaged .* db recover")


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with Store(path) as store:
        store.add_message(store.create_thread().id, "user", "from the future")
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (store_schema.CURRENT_VERSION + 1,))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    _assert_refused(path, f"newer Investor Assistant \\(schema {store_schema.CURRENT_VERSION + 1}")


def test_refuses_another_programs_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT)")
    db.execute("INSERT INTO contacts VALUES ('Ann')")
    db.commit()
    db.close()
    _assert_refused(path, "another program")


def test_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot"):
        Store(tmp_path)


def test_accepts_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as store:
        assert store.list_threads() == []
