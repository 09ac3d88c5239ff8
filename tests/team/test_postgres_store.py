"""What the PostgreSQL engine adds to the shared store suite (tests/test_store.py runs every
store operation on both engines): versioned, transactional migrations that refuse what is
not theirs; jsonb; the trigram filter's index; text PostgreSQL cannot hold; concurrent
writers from several processes; leases and the take-over of a replica that died; requests
to a run's owner."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from assistant_core.db_url import DatabaseUrl, masked_url, parse_database
from assistant_core.errors import ActiveRunError, StoreError
from assistant_core.store_pg import PostgresStore
from assistant_core.store_pg_schema import CURRENT_VERSION
from tests.test_store import new_run

REPO = Path(__file__).resolve().parents[2]


# -- schema ---------------------------------------------------------------------------------
def test_migrations_are_versioned_and_recorded(pg_url: str) -> None:
    with PostgresStore(pg_url, join=False) as store:
        assert store.migrated == (0, CURRENT_VERSION)
    with PostgresStore(pg_url, join=False) as store:
        assert store.migrated == (CURRENT_VERSION, CURRENT_VERSION)
    with psycopg.connect(pg_url) as conn:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v in range(1, CURRENT_VERSION + 1)]
        types = dict(
            conn.execute(
                "SELECT table_name, data_type FROM information_schema.columns "
                "WHERE column_name = 'data' AND table_schema = current_schema()"
            ).fetchall()
        )
    assert set(types.values()) == {"jsonb"} and "messages" in types


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_open_and_report, [pg_url] * 4)
    assert sorted(results) == [(0, CURRENT_VERSION)] + [(CURRENT_VERSION, CURRENT_VERSION)] * 3


def _open_and_report(url: str) -> tuple[int, int]:
    with PostgresStore(url, join=False) as store:
        store.default_assistant()
        return store.migrated


def test_a_database_of_another_program_is_refused_untouched(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE threads (id int)")
    with pytest.raises(StoreError, match="tables of another program"):
        PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('runs')").fetchone() == (None,)


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    PostgresStore(pg_url, join=False).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (CURRENT_VERSION + 1,))
    with pytest.raises(StoreError, match="newer Investor Assistant"):
        PostgresStore(pg_url)


def test_an_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://nobody:s3cr3t-pass@/db?host={tmp_path}&port=1"
    with pytest.raises(StoreError) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "cannot connect to the database" in message and "is PostgreSQL running" in message
    assert "s3cr3t-pass" not in message and "\n" not in message


def test_urls_are_shown_without_their_password() -> None:
    url = DatabaseUrl("postgresql://ia:s3cret@db.example:5432/team?sslmode=require")
    assert str(url) == "postgresql://ia:***@db.example:5432/team?sslmode=require"
    assert "s3cret" not in repr(url) and url.password == "s3cret"
    assert masked_url("postgres:///x?host=/run&password=hunter22") == (
        "postgres:///x?host=/run&password=***"
    )
    assert parse_database("sqlite:~/a.db") == Path("~/a.db").expanduser()
    assert isinstance(parse_database("POSTGRESQL://h/db"), DatabaseUrl)


# -- text and the filter ---------------------------------------------------------------------
def test_nul_characters_become_replacement_characters(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        thread = store.create_thread("a\x00b", metadata={"k": "v\x00w"})
        message = store.add_message(thread.id, "user", 'x\x00y \\u0000 "\\\\u0000"')
        got = store.get_message(message.id)
        assert got.text == 'x\ufffdy \\u0000 "\\\\u0000"'  # literal backslashes are kept
        assert store.get_thread(thread.id).metadata == {"k": "v\ufffdw"}
        assert store.list_threads("\\u0000")[0].id == thread.id


def test_the_filter_uses_the_trigram_index(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        assert store.search_indexed
        thread = store.create_thread()
        store.add_message(thread.id, "user", "삼성전자 매출 알려줘")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether it can
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT thread_id FROM messages WHERE text ILIKE %s", ("%삼성전%",)
            ).fetchall()
        )
        trigrams = conn.execute("SELECT show_trgm('삼성전자')").fetchone()
    assert "messages_text_trgm" in plan
    assert trigrams is not None and len(trigrams[0]) >= 2  # Korean makes trigrams here


# -- several processes -------------------------------------------------------------------------
def test_only_one_process_starts_a_run_on_a_thread(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        thread = store.create_thread()
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        outcomes = pool.starmap(_try_run, [(pg_url, thread.id)] * 8)
    assert outcomes.count("started") == 1 and outcomes.count("refused") == 7


def _try_run(url: str, thread_id: str) -> str:
    with PostgresStore(url) as store:
        try:
            new_run(store, thread_id)
        except ActiveRunError:
            return "refused"
        return "started"


def test_activity_order_is_exact_across_writers(pg_url: str) -> None:
    with PostgresStore(pg_url) as one, PostgresStore(pg_url) as two:
        a, b = one.create_thread("a"), two.create_thread("b")
        one.add_message(b.id, "user", "bump b")
        two.add_message(a.id, "user", "bump a")
        assert [t.title for t in one.list_threads()] == ["a", "b"]


# -- leases and take-over ---------------------------------------------------------------------
OWNER = """
import sys, time
from assistant_core.objects import Run, new_id, now
from assistant_core.store_pg import PostgresStore
store = PostgresStore(sys.argv[1], replica="doomed", lease=1.0)
thread = store.create_thread("t")
for status in ("in_progress", "cancelling"):
    other = thread if status == "in_progress" else store.create_thread("c")
    run = Run(id=new_id("run"), created_at=now(), thread_id=other.id, assistant_id="a", model="m")
    store.create_run(run)
    run.status = "in_progress"; store.update_run(run)
    if status == "cancelling":
        run.status = "cancelling"; store.update_run(run)
    store.add_message(other.id, "assistant", "partial", status="in_progress", run_id=run.id)
    print(run.id, flush=True)
time.sleep(600)
"""


def test_runs_of_a_killed_process_are_closed_once_its_lease_expires(pg_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, pg_url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert owner.stdout is not None
    running, cancelling = owner.stdout.readline().strip(), owner.stdout.readline().strip()
    with PostgresStore(pg_url, replica="survivor", lease=1.0) as store:
        assert store.recover_interrupted() == []  # its lease is live: not ours to close
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        killed = time.monotonic()
        while store.get_run(running).is_active and time.monotonic() - killed < 10:
            time.sleep(0.05)
        took = time.monotonic() - killed
        failed, cancelled = store.get_run(running), store.get_run(cancelling)
        assert failed.status == "failed" and cancelled.status == "cancelled"
        assert failed.last_error is not None
        assert "replica doomed" in failed.last_error.message
        assert "replica survivor closed the run" in failed.last_error.message
        assert store.list_messages(failed.thread_id)[0].status == "incomplete"
        assert took < 1.0 + 0.5 + 0.5  # the lease, a tick of the survivor's, slack


def test_a_replica_name_in_use_is_refused(pg_url: str) -> None:
    with (
        PostgresStore(pg_url, replica="api-1"),
        pytest.raises(StoreError, match="replica name 'api-1'"),
    ):
        PostgresStore(pg_url, replica="api-1")
    PostgresStore(pg_url, replica="api-1").close()  # free again once it left


def test_a_request_to_a_run_without_a_live_owner_is_not_forwarded(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        thread = store.create_thread()
        run = new_run(store, thread.id)
        assert store.forward_run_request(run.id, "cancel") is None  # our own run
    with PostgresStore(pg_url) as other:
        assert other.forward_run_request(run.id, "cancel") is None  # its owner left
