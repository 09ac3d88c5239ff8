"""The command line on PostgreSQL: ``--db postgresql://…`` for every command, ``db migrate``
and ``db check`` on both engines, ``db copy`` of a person's SQLite threads into the team's
database, keys and projects shared by every replica, and one-line errors that never show a
password."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import psycopg
import pytest

from assistant_core.objects import Run, new_id, now
from assistant_core.store_pg import PostgresStore
from tests.reliability.processes import cli_env
from tests.server.conftest import DEPRECATIONS, cli_run
from tests.server.test_projects_keys import make_key

pytestmark = DEPRECATIONS


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def same_json(text: str) -> list[str]:
    """Lines with any JSON object in them written with sorted keys."""
    lines = []
    for line in text.splitlines():
        start = line.find("{")
        try:
            value = json.loads(line[start:]) if start >= 0 else None
        except ValueError:
            value = None
        lines.append(line if value is None else line[:start] + json.dumps(value, sort_keys=True))
    return lines


def run_ok(env: dict[str, str], *args: str) -> str:
    result = cli_run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_noted(env: dict[str, str], *args: str) -> str:
    """stdout, then the notes on stderr."""
    result = cli_run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_db_migrate_and_check_on_both_engines(tmp_path: Path, pg_url: str) -> None:
    for db, before, after in ((str(tmp_path / "t.db"), 0, 3), (pg_url, 0, 1)):
        env = cli_env(tmp_path, db=db)  # type: ignore[arg-type]
        shown = db if db.endswith(".db") else "postgresql://postgres@/"
        first = run_ok(env, "db", "migrate")
        assert f"schema {before} → {after}" in first and shown in first
        assert f"schema {after}, up to date" in run_ok(env, "db", "migrate")
        run_ok(env, "ask", "Should I buy Apple?")
        checked = run_ok(env, "db", "check")
        assert ": ok (" in checked and "threads 1" in checked, checked
    checked = run_ok(cli_env(tmp_path, db=pg_url), "db", "check")  # type: ignore[arg-type]
    assert "PostgreSQL 1" in checked and "trigram-indexed filter" in checked


def test_db_check_reports_replicas_and_stranded_runs(make_replica: Any, pg_url: str) -> None:
    replica = make_replica("api-1").start()
    env = replica.env
    checked = run_ok(env, "db", "check")
    assert "replica api-1" in checked and "lease" in checked and "0 active run(s)" in checked
    replica.stop()
    assert "replica api-1" not in run_ok(env, "db", "check")  # it left on SIGTERM
    with PostgresStore(pg_url, join=False) as store:  # a run no replica executes
        thread = store.create_thread()
        store.create_run(Run(new_id("run"), now(), thread.id, "asst_x", "m"))
    checked = run_noted(env, "db", "check")
    assert "1 active run(s) belong to no live replica" in checked


def test_db_copy_moves_a_persons_threads_into_the_team_database(
    tmp_path: Path, pg_url: str
) -> None:
    personal = cli_env(tmp_path, db=tmp_path / "mine.db")
    for question in ("Should I buy Apple?", "삼성전자 주식 사도 될까?"):
        run_ok(personal, "ask", question)
    team = cli_env(tmp_path, db=pg_url)  # type: ignore[arg-type]
    run_ok(team, "ask", "How is Microsoft doing?")  # the team already has a thread
    copied = run_ok(
        personal, "db", "copy", "--to", pg_url, "--project", "ana"
    )  # --from: the database in use
    assert "copied 2 thread(s)" in copied and "project 'ana'" in copied
    assert "postgresql://postgres@/" in copied
    mine = json_lines(run_ok(personal, "threads", "list", "--json"))
    theirs = json_lines(run_ok(team, "threads", "list", "--json"))
    assert len(theirs) == 3
    for thread in mine:  # the same ids, titles and contents, on the other engine
        assert thread["id"] in {t["id"] for t in theirs}
        for command in (
            ("threads", "show", thread["id"]),
            ("runs", "list", "--thread", thread["id"]),
        ):
            assert run_ok(team, *command) == run_ok(personal, *command)
        run_id = run_ok(personal, "runs", "list", "--thread", thread["id"]).split()[0]
        # jsonb keeps an object's keys in its own order (the run's memory report here)
        assert same_json(run_ok(team, "runs", "show", run_id, "--full")) == same_json(
            run_ok(personal, "runs", "show", run_id, "--full")
        )
    korean = json_lines(run_ok(team, "threads", "list", "--json", "--filter", "삼성"))
    assert [t["id"] for t in korean] == [t["id"] for t in mine if "삼성" in t["title"]]
    with psycopg.connect(pg_url) as conn:
        projects = conn.execute("SELECT project, count(*) FROM threads GROUP BY 1").fetchall()
    assert sorted(projects) == [("ana", 2), ("default", 1)]
    again = run_noted(
        personal, "db", "copy", "--from", f"sqlite:{tmp_path / 'mine.db'}", "--to", pg_url
    )
    assert "copied 0 thread(s)" in again and "2 thread(s) were already there" in again


def test_errors_are_one_line_and_never_show_the_password(tmp_path: Path) -> None:
    url = f"postgresql://ia:hunter2-secret@/team?host={tmp_path}&port=9"
    env = cli_env(tmp_path, db=url)  # type: ignore[arg-type]
    for command in (("threads", "list"), ("db", "check"), ("ask", "hello")):
        result = cli_run(env, *command)
        assert result.returncode == 2, result
        assert "cannot connect to the database postgresql://ia:***@/team" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "hunter2" not in result.stderr + result.stdout
    shown = run_ok(env, "config", "show")
    assert "postgresql://ia:***@/team" in shown and "hunter2" not in shown
    bad = cli_run(cli_env(tmp_path, db="postgresql://h:notaport/x"), "threads", "list")  # type: ignore[arg-type]
    assert bad.returncode == 2 and "bad value" in bad.stderr and "PostgreSQL URL" in bad.stderr


def test_keys_and_projects_hold_on_every_replica(make_replica: Any) -> None:
    a = make_replica("A")
    research = make_key(a, "research")  # keys create on the PostgreSQL database
    other = make_key(a, "other")
    a.start()
    b = make_replica("B").start()
    assert "API keys required" in b.output
    thread = a.client(research).beta.threads.create(
        messages=[{"role": "user", "content": "Apple?"}]
    )
    assert b.client(research).beta.threads.retrieve(thread.id).id == thread.id
    for client in (a.client(other), b.client(other)):
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.retrieve(thread.id)
        with pytest.raises(openai.NotFoundError):
            client.beta.threads.messages.list(thread.id)
    with pytest.raises(openai.AuthenticationError):
        b.client("any-token").beta.assistants.list()
    key_id = next(
        line.split()[0] for line in run_ok(a.env, "keys", "list").splitlines() if "research" in line
    )
    run_ok(a.env, "keys", "revoke", key_id)
    with pytest.raises(openai.AuthenticationError):  # revoked for every replica at once
        b.client(research).beta.threads.retrieve(thread.id)


def test_config_set_db_saves_the_url_and_never_echoes_its_password(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    url = "postgresql://ia:hunter2-secret@db.example/team"
    said = run_ok(env, "config", "set", "db", url)
    assert "postgresql://ia:***@db.example/team" in said and "hunter2" not in said
    saved = (tmp_path / "config" / "investor-assistant" / "config.toml").read_text()
    assert f'db = "{url}"' in saved  # the file holds what the user set
    shown = run_ok(env, "config", "show")
    assert "postgresql://ia:***@db.example/team" in shown and "hunter2" not in shown
