"""Every store operation, and the bad inputs each refuses without changing anything — on
both engines: each test taking ``store`` (or ``open_db``) runs on SQLite and on PostgreSQL
(a throwaway cluster, see tests/support/postgres.py)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant_core import store_schema
from assistant_core.errors import ActiveRunError, NotFoundError
from assistant_core.objects import (
    ACTIVE_RUN_STATUSES,
    FunctionCall,
    InvalidTransition,
    LastError,
    Run,
    RunStep,
    ToolCall,
    Usage,
    new_id,
    now,
)
from assistant_core.paths import default_db_path
from assistant_core.store import (
    DEFAULT_ASSISTANT_NAME,
    DEFAULT_INSTRUCTIONS,
    Store,
)
from assistant_core.store_interface import ThreadStore
from assistant_core.text import make_title, one_line

ENGINES = ["sqlite", "postgresql"]
OpenDb = Callable[[], ThreadStore]


@pytest.fixture(params=ENGINES)
def open_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenDb]:
    """Opens a store on the test's database (a new connection each call), on each engine."""
    if request.param == "sqlite":
        database: str = str(tmp_path / "threads.db")
    else:
        database = request.getfixturevalue("pg_url")
    opened: list[ThreadStore] = []

    def open_store() -> ThreadStore:
        if request.param == "sqlite":
            store: ThreadStore = Store(database)
        else:
            from assistant_core.store_pg import PostgresStore

            store = PostgresStore(database)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(open_db: OpenDb) -> ThreadStore:
    return open_db()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "threads.db") as s:
        yield s


def count_rows(store: ThreadStore, table: str) -> int:
    with store._read() as db:  # type: ignore[attr-defined]
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def new_run(store: ThreadStore, thread_id: str, **fields: object) -> Run:
    run = Run(
        id=new_id("run"),
        created_at=now(),
        thread_id=thread_id,
        assistant_id="asst_x",
        model="gpt-5-mini",
        **fields,
    )  # type: ignore[arg-type]
    return store.create_run(run)


def new_step(store: ThreadStore, run: Run, calls: int = 0, **fields: object) -> RunStep:
    step = RunStep(
        id=new_id("step"),
        created_at=now(),
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        type="tool_calls" if calls else "message_creation",
        tool_calls=[
            ToolCall(id=new_id("call"), function=FunctionCall("lookup", f'{{"i": {i}}}'))
            for i in range(calls)
        ],
        **fields,  # type: ignore[arg-type]
    )
    return store.create_step(step)


# -- opening -----------------------------------------------------------------------------
def test_default_path_is_under_the_user_data_dir(_isolated_home: Path) -> None:
    with Store() as s:
        assert s.path == default_db_path()
        assert str(s.path).startswith(str(_isolated_home / "data"))
        assert s.path.exists()


def test_file_is_private_wal_with_foreign_keys(sqlite_store: Store) -> None:
    store = sqlite_store
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    version = store._db.execute("SELECT version FROM schema_version").fetchall()
    assert version == [(store_schema.CURRENT_VERSION,)]


def test_data_survives_reopening(open_db: OpenDb) -> None:
    with open_db() as s:
        thread = s.create_thread("kept")
        s.add_message(thread.id, "user", "hello")
    with open_db() as s:
        assert s.get_thread(thread.id).title == "kept"
        assert [m.text for m in s.list_messages(thread.id)] == ["hello"]


def test_in_memory_store_works() -> None:
    with Store(":memory:") as s:
        thread = s.create_thread()
        s.add_message(thread.id, "user", "in memory")
        assert s.count_messages(thread.id) == 1


def test_partial_index_matches_active_statuses() -> None:
    quoted = {part.strip(" '()") for part in store_schema.ACTIVE_STATUSES_SQL.split(",")}
    assert quoted == ACTIVE_RUN_STATUSES


# -- assistants --------------------------------------------------------------------------
def test_assistant_crud(store: ThreadStore) -> None:
    a = store.create_assistant(
        "m1",
        name="A",
        instructions="i",
        tools=[{"type": "function"}],
        description="d",
        metadata={"k": "v"},
    )
    assert store.get_assistant(a.id) == a
    a.name, a.model = "B", "m2"
    store.update_assistant(a)
    assert store.get_assistant(a.id).name == "B"
    b = store.create_assistant("m3")
    assert [x.id for x in store.list_assistants()] == [a.id, b.id]
    store.delete_assistant(a.id)
    assert [x.id for x in store.list_assistants()] == [b.id]
    with pytest.raises(NotFoundError, match=a.id):
        store.get_assistant(a.id)
    with pytest.raises(NotFoundError, match=a.id):
        store.update_assistant(a)
    with pytest.raises(NotFoundError, match=a.id):
        store.delete_assistant(a.id)


def test_default_assistant_is_seeded_once(open_db: OpenDb) -> None:
    with open_db() as s:
        first = s.default_assistant()
        assert first.name == DEFAULT_ASSISTANT_NAME == "Investor Assistant"
        assert first.instructions == DEFAULT_INSTRUCTIONS
        assert "buy a stock" in DEFAULT_INSTRUCTIONS
        assert first.model
        assert s.default_assistant() == first
    with open_db() as s:
        assert s.default_assistant() == first
        assert len(s.list_assistants()) == 1
        s.delete_assistant(first.id)
        again = s.default_assistant()
        assert again.id != first.id and again.name == DEFAULT_ASSISTANT_NAME


# -- threads -----------------------------------------------------------------------------
def test_thread_create_get_rename_summary(store: ThreadStore) -> None:
    thread = store.create_thread("  Apple \x1b[1mresearch  ", metadata={"k": "v"})
    assert thread.title == "Apple research"
    assert thread.updated_at == thread.created_at
    assert store.get_thread(thread.id) == thread
    renamed = store.rename_thread(thread.id, "Samsung\nElectronics")
    assert renamed.title == "Samsung Electronics"
    store.set_thread_summary(thread.id, "asked about revenue")
    loaded = store.get_thread(thread.id)
    assert (loaded.title, loaded.summary, loaded.metadata) == (
        "Samsung Electronics",
        "asked about revenue",
        {"k": "v"},
    )


def test_unknown_thread_ids_raise_not_found(store: ThreadStore) -> None:
    for call in (
        lambda: store.get_thread("thread_nope"),
        lambda: store.rename_thread("thread_nope", "x"),
        lambda: store.set_thread_summary("thread_nope", "x"),
        lambda: store.delete_thread("thread_nope"),
        lambda: store.add_message("thread_nope", "user", "x"),
        lambda: store.list_messages("thread_nope"),
        lambda: store.count_messages("thread_nope"),
        lambda: store.list_runs("thread_nope"),
        lambda: new_run(store, "thread_nope"),
    ):
        with pytest.raises(NotFoundError, match="thread_nope"):
            call()


def test_auto_title_from_first_user_message(store: ThreadStore) -> None:
    thread = store.create_thread()
    store.add_message(thread.id, "assistant", "Hello! Ask me anything.")
    assert store.get_thread(thread.id).title == ""
    store.add_message(thread.id, "user", "\n\n  삼성전자\t주가   어때?\x07\nmore detail")
    assert store.get_thread(thread.id).title == "삼성전자 주가 어때?"
    store.add_message(thread.id, "user", "second question")
    assert store.get_thread(thread.id).title == "삼성전자 주가 어때?"
    titled = store.create_thread("Mine")
    store.add_message(titled.id, "user", "not a title")
    assert store.get_thread(titled.id).title == "Mine"


def test_make_title_cuts_long_lines_at_a_word() -> None:
    title = make_title("Should I buy Apple stock given its revenue growth and the risks of " * 3)
    assert len(title) <= 60 and title.endswith("…")
    assert not title[:-1].endswith(" ")
    assert make_title("x" * 100) == "x" * 59 + "…"
    assert make_title("   \n \t ") == ""
    assert one_line("a\u202eb\x1b]8;;http://x\x07link\x1b]8;;\x07\u200dc", None) == "ablink\u200dc"


def test_list_threads_by_last_activity(store: ThreadStore) -> None:
    a, b, c = (store.create_thread(t) for t in "abc")
    assert [t.title for t in store.list_threads()] == ["c", "b", "a"]
    store.add_message(a.id, "user", "bump a")  # same second: order still exact
    assert [t.title for t in store.list_threads()] == ["a", "c", "b"]
    new_run(store, b.id)
    assert [t.title for t in store.list_threads()] == ["b", "a", "c"]
    assert [t.title for t in store.list_threads(limit=2)] == ["b", "a"]
    store.rename_thread(c.id, "renamed")  # a rename is not activity
    assert store.list_threads()[-1].title == "renamed"


@pytest.fixture(params=["fts5", "like", "postgresql"])
def search_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ThreadStore]:
    """The thread filter's three implementations, which must agree: SQLite's FTS5 trigram
    index, SQLite's LIKE scan (an SQLite without FTS5/trigram), PostgreSQL's pg_trgm."""
    if request.param == "postgresql":
        from assistant_core.store_pg import PostgresStore

        with PostgresStore(request.getfixturevalue("pg_url")) as pg:
            assert pg.search_indexed
            yield pg
        return
    if request.param == "like":
        monkeypatch.setattr(store_schema, "fts5_trigram_available", lambda db: False)
    with Store(tmp_path / f"{request.param}.db") as s:
        assert s._fts == (request.param == "fts5")
        yield s


def test_list_threads_filter(search_store: ThreadStore) -> None:
    s = search_store
    apple = s.create_thread("Apple research")
    samsung = s.create_thread()
    s.add_message(samsung.id, "user", "삼성전자 매출 알려줘")
    s.add_message(samsung.id, "assistant", "Revenue was ₩300T; margin 50%_ok")
    other = s.create_thread("Other")
    s.add_message(other.id, "user", 'say "hi" OR NEAR(x) * -')

    def titles(q: str) -> list[str]:
        return sorted(t.id for t in s.list_threads(q))

    assert titles("apple") == [apple.id]  # title, case-insensitive
    assert titles("REVENUE") == [samsung.id]  # message text
    assert titles("venu") == [samsung.id]  # substring inside a word
    assert titles("삼성") == [samsung.id]  # two Korean characters
    assert titles("삼성전자 매출") == [samsung.id]
    assert titles("50%_") == [samsung.id]  # LIKE wildcards are literal
    assert titles("0%") == [samsung.id]
    assert titles("%") == [samsung.id]
    assert titles('"hi" OR') == [other.id]  # FTS syntax is literal
    assert titles("NEAR(x) *") == [other.id]
    assert titles("nothing here") == []
    assert titles("  ") == sorted([apple.id, samsung.id, other.id])
    assert [t.id for t in s.list_threads("e", limit=1)] == [other.id]


def test_filter_follows_message_edits_and_deletes(search_store: ThreadStore) -> None:
    s = search_store
    thread = s.create_thread("t")
    message = s.add_message(thread.id, "assistant", "", status="in_progress")
    assert s.list_threads("dividend") == []
    message.set_text("The dividend yield is 0.5%")
    s.update_message(message)
    assert [t.id for t in s.list_threads("dividend")] == [thread.id]
    s.delete_thread(thread.id)
    assert s.list_threads("dividend") == []


def test_delete_thread_cascades(store: ThreadStore) -> None:
    thread = store.create_thread("doomed")
    keep = store.create_thread("kept")
    message = store.add_message(thread.id, "user", "hello")
    run = new_run(store, thread.id)
    step = new_step(store, run, calls=2)
    kept_run = new_run(store, keep.id)
    new_step(store, kept_run, calls=1)
    for status in ("in_progress", "completed"):
        run.status = status  # type: ignore[assignment]
        store.update_run(run)
    store.delete_thread(thread.id)
    for call, object_id in (
        (store.get_thread, thread.id),
        (store.get_message, message.id),
        (store.get_run, run.id),
        (store.get_step, step.id),
    ):
        with pytest.raises(NotFoundError, match=object_id):
            call(object_id)
    assert store.list_tool_calls(run_id=run.id) == []
    assert len(store.list_tool_calls()) == 1
    for table in ("messages", "runs", "steps"):
        assert count_rows(store, table) == (0 if table == "messages" else 1)


def test_delete_thread_is_refused_while_a_run_is_active(store: ThreadStore) -> None:
    # Issue 11 (8): deleting a thread another process was streaming broke that run. The
    # check and the delete are one transaction, so it holds between processes too.
    thread = store.create_thread("busy")
    store.add_message(thread.id, "user", "hello")
    run = new_run(store, thread.id)
    with pytest.raises(ActiveRunError, match=f"{run.id}.*cannot be deleted"):
        store.delete_thread(thread.id)
    assert store.get_thread(thread.id).title == "busy"
    for status in ("in_progress", "cancelled"):
        run.status = status  # type: ignore[assignment]
        store.update_run(run)
    store.delete_thread(thread.id)
    with pytest.raises(NotFoundError):
        store.get_thread(thread.id)


# -- messages ----------------------------------------------------------------------------
def test_add_and_get_message(store: ThreadStore) -> None:
    thread = store.create_thread()
    user = store.add_message(thread.id, "user", "What is AAPL's revenue?")
    reply = store.add_message(
        thread.id, "assistant", "", status="in_progress", run_id="run_x", assistant_id="asst_x"
    )
    assert store.get_message(user.id) == user
    assert store.get_message(reply.id) == reply
    assert (reply.status, reply.run_id, reply.completed_at) == ("in_progress", "run_x", None)
    assert store.count_messages(thread.id) == 2
    with pytest.raises(NotFoundError, match="msg_nope"):
        store.get_message("msg_nope")


@pytest.mark.parametrize(("role", "status"), [("system", "completed"), ("user", "done")])
def test_add_message_refuses_bad_values(store: ThreadStore, role: str, status: str) -> None:
    thread = store.create_thread()
    with pytest.raises(ValueError, match=repr(role if role == "system" else status)):
        store.add_message(thread.id, role, "x", status=status)
    assert store.count_messages(thread.id) == 0


def test_update_message_checks_the_stored_status(store: ThreadStore) -> None:
    thread = store.create_thread()
    message = store.add_message(thread.id, "assistant", "", status="in_progress")
    message.set_text("partial answer")
    store.update_message(message)
    assert store.get_message(message.id).text == "partial answer"
    message.status, message.completed_at = "completed", now()
    message.set_text("full answer")
    store.update_message(message)
    assert store.get_message(message.id).status == "completed"
    stale = store.get_message(message.id)
    stale.status = "in_progress"
    stale.set_text("rewritten")
    with pytest.raises(InvalidTransition, match="'completed' to 'in_progress'"):
        store.update_message(stale)
    assert store.get_message(message.id).text == "full answer"
    stale.id = "msg_nope"
    with pytest.raises(NotFoundError, match="msg_nope"):
        store.update_message(stale)


def test_list_messages_order_limit_and_paging(store: ThreadStore) -> None:
    thread = store.create_thread()
    other = store.create_thread()
    ids = [
        store.add_message(thread.id, "user" if i % 2 else "assistant", f"m{i}").id
        for i in range(25)
    ]
    store.add_message(other.id, "user", "elsewhere")
    assert [m.id for m in store.list_messages(thread.id)] == ids  # same second: still exact
    assert [m.id for m in store.list_messages(thread.id, limit=10)] == ids[-10:]
    assert [m.id for m in store.list_messages(thread.id, limit=10, before=ids[15])] == ids[5:15]
    assert [m.id for m in store.list_messages(thread.id, before=ids[3])] == ids[:3]
    assert store.list_messages(thread.id, limit=10, before=ids[0]) == []
    # Paging backwards from the end visits every message once.
    seen: list[str] = []
    page = store.list_messages(thread.id, limit=7)
    while page:
        seen = [m.id for m in page] + seen
        page = store.list_messages(thread.id, limit=7, before=page[0].id)
    assert seen == ids
    with pytest.raises(NotFoundError, match="msg_nope"):
        store.list_messages(thread.id, before="msg_nope")
    foreign = store.list_messages(other.id)[0].id
    with pytest.raises(NotFoundError, match=foreign):
        store.list_messages(thread.id, before=foreign)


def test_paged_reads_visit_every_row_once_in_order(store: ThreadStore) -> None:
    # Exports and `threads show` read a thread this way, in bounded memory, on both engines.
    thread = store.create_thread()
    other = store.create_thread()
    store.add_message(other.id, "user", "elsewhere")
    answered = new_run(store, thread.id)
    ids = [store.add_message(thread.id, "user", f"m{i}").id for i in range(7)]
    store.add_message(thread.id, "assistant", "answer", run_id=answered.id)
    answered.status = "cancelled"
    store.update_run(answered)
    silent = new_run(store, thread.id, status="failed")
    assert [m.id for m in store.iter_messages(thread.id, page=3)][:7] == ids
    assert list(store.iter_messages(thread.id, page=3)) == store.list_messages(thread.id)
    assert [r.id for r in store.iter_runs(thread.id, page=1)] == [answered.id, silent.id]
    assert [r.id for r in store.iter_runs(thread.id, unanswered=True, page=1)] == [silent.id]
    counts = store.thread_counts(thread.id)
    assert (counts.messages, counts.runs, counts.tool_calls) == (8, 2, 0)
    with pytest.raises(NotFoundError):
        next(store.iter_messages("thread_nope"))


def test_list_messages_uses_the_thread_seq_index(sqlite_store: Store) -> None:
    plan = sqlite_store._db.execute(
        "EXPLAIN QUERY PLAN SELECT data FROM (SELECT seq, data FROM messages "
        "WHERE thread_id = ? ORDER BY seq DESC LIMIT 100) ORDER BY seq",
        ("t",),
    ).fetchall()
    assert any("messages_by_thread" in row[-1] for row in plan)


# -- runs --------------------------------------------------------------------------------
def test_run_create_get_update_list(store: ThreadStore) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id)
    assert store.get_run(run.id) == run
    assert store.active_run(thread.id) == run
    run.status, run.started_at = "in_progress", now()
    store.update_run(run)
    run.status, run.completed_at, run.usage = "completed", now(), Usage(10, 5, 15)
    store.update_run(run)
    assert store.get_run(run.id) == run
    assert store.active_run(thread.id) is None
    second = new_run(store, thread.id)
    assert [r.id for r in store.list_runs(thread.id)] == [run.id, second.id]
    for unknown in (store.get_run, store.list_steps):
        with pytest.raises(NotFoundError, match="run_nope"):
            unknown("run_nope")


def test_second_active_run_is_refused(store: ThreadStore) -> None:
    thread = store.create_thread()
    first = new_run(store, thread.id)
    for status in ACTIVE_RUN_STATUSES:
        with pytest.raises(ActiveRunError, match=first.id):
            new_run(store, thread.id, status=status)
    assert [r.id for r in store.list_runs(thread.id)] == [first.id]
    other = store.create_thread()
    new_run(store, other.id)  # other threads are independent
    first.status = "cancelled"
    store.update_run(first)
    new_run(store, thread.id)


def test_duplicate_run_id_is_refused(store: ThreadStore) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id, status="completed")
    with pytest.raises(ValueError, match=run.id):
        store.create_run(run)


@pytest.mark.parametrize(
    ("stored", "new"),
    [
        ("completed", "in_progress"),
        ("failed", "queued"),
        ("queued", "completed"),
        ("cancelled", "cancelling"),
    ],
)
def test_invalid_run_transition_changes_nothing(store: ThreadStore, stored: str, new: str) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id, status=stored)
    before = store.get_run(run.id)
    run.status, run.last_error = new, LastError("server_error", "should not be saved")
    with pytest.raises(InvalidTransition, match=f"'{stored}' to '{new}'"):
        store.update_run(run)
    assert store.get_run(run.id) == before


def test_transition_is_checked_against_the_stored_status(store: ThreadStore) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id)
    stale = store.get_run(run.id)
    run.status = "cancelled"
    store.update_run(run)
    stale.status = "in_progress"  # fine from the stale copy's "queued", not from "cancelled"
    with pytest.raises(InvalidTransition):
        store.update_run(stale)
    assert store.get_run(run.id).status == "cancelled"
    stale.id = "run_nope"
    with pytest.raises(NotFoundError, match="run_nope"):
        store.update_run(stale)


# -- steps and tool calls ----------------------------------------------------------------
def test_steps_and_tool_calls(store: ThreadStore) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id)
    tools = new_step(store, run, calls=2)
    assert store.get_step(tools.id) == tools
    tools.tool_calls[0].function.output = '{"price": 1}'
    tools.tool_calls[0].status, tools.tool_calls[0].source = "completed", "yahoo"
    tools.tool_calls[1].status, tools.tool_calls[1].is_error = "error", True
    tools.tool_calls.append(ToolCall(id="call_late", function=FunctionCall("quote", "{}")))
    tools.status, tools.completed_at = "completed", now()
    store.update_step(tools)
    assert store.get_step(tools.id) == tools
    message_step = new_step(store, run, message_id="msg_1")
    assert [s.id for s in store.list_steps(run.id)] == [tools.id, message_step.id]
    assert store.get_step(message_step.id).message_id == "msg_1"

    records = store.list_tool_calls(run_id=run.id)
    assert [r.call for r in records] == tools.tool_calls
    assert {(r.step_id, r.run_id, r.thread_id, r.created_at) for r in records} == {
        (tools.id, run.id, thread.id, tools.created_at)
    }
    assert store.list_tool_calls(thread_id=thread.id) == records
    tools.tool_calls.pop(0)  # an update that drops a call drops it from the log too
    store.update_step(tools)
    assert [r.call.id for r in store.list_tool_calls(run_id=run.id)] == [
        c.id for c in tools.tool_calls
    ]


def test_tool_calls_of_a_thread_span_runs_in_order(store: ThreadStore) -> None:
    thread = store.create_thread()
    calls: list[str] = []
    for _ in range(3):
        run = new_run(store, thread.id)
        calls += [c.id for c in new_step(store, run, calls=2).tool_calls]
        calls += [c.id for c in new_step(store, run, calls=1).tool_calls]
        run.status = "cancelled"
        store.update_run(run)
    new_step(store, new_run(store, store.create_thread().id), calls=3)
    assert [r.call.id for r in store.list_tool_calls(thread_id=thread.id)] == calls
    assert len(store.list_tool_calls()) == len(calls) + 3


def test_thread_tickers_are_the_symbols_its_calls_named_in_order(store: ThreadStore) -> None:
    thread, other, empty = store.create_thread(), store.create_thread(), store.create_thread()
    arguments = [
        '{"company_name": "Apple"}',
        '{"ticker": "$msft "}',
        '{"tickers": ["AAPL", "msft", "GOOGL"], "period": "6mo"}',
        '{"tickers": "NVDA, TSLA"}',
        '{"ticker": "DROP TABLE threads; --"}',  # not a symbol: left out
        "not json",
    ]
    step = new_step(store, new_run(store, thread.id), calls=len(arguments))
    for call, raw in zip(step.tool_calls, arguments):
        call.function.arguments = raw
    store.update_step(step)
    new_step(store, new_run(store, other.id), calls=1)
    found = store.thread_tickers([thread.id, other.id, empty.id])
    assert found == {
        thread.id: ["MSFT", "AAPL", "GOOGL", "NVDA", "TSLA"],
        other.id: [],
        empty.id: [],
    }


def test_same_call_id_in_two_steps_is_kept(store: ThreadStore) -> None:
    # Some OpenAI-compatible servers number calls per response: "call_0" again and again.
    thread = store.create_thread()
    run = new_run(store, thread.id)
    for _ in range(2):
        step = new_step(store, run, calls=1)
        step.tool_calls[0].id = "call_0"
        store.update_step(step)
    assert [r.call.id for r in store.list_tool_calls(run_id=run.id)] == ["call_0", "call_0"]


def test_step_bad_inputs(store: ThreadStore) -> None:
    thread = store.create_thread()
    run = new_run(store, thread.id)
    step = new_step(store, run, calls=1, status="completed")
    before = store.get_step(step.id)
    step.status = "in_progress"
    step.tool_calls[0].function.output = "not saved"
    with pytest.raises(InvalidTransition, match="'completed' to 'in_progress'"):
        store.update_step(step)
    assert store.get_step(step.id) == before
    assert store.list_tool_calls(run_id=run.id)[0].call == before.tool_calls[0]
    with pytest.raises(NotFoundError, match="step_nope"):
        store.get_step("step_nope")
    step.id = "step_nope"
    with pytest.raises(NotFoundError, match="step_nope"):
        store.update_step(step)
    orphan = RunStep(
        id=new_id("step"),
        created_at=now(),
        run_id="run_nope",
        thread_id=thread.id,
        assistant_id="a",
        type="message_creation",
    )
    with pytest.raises(NotFoundError, match="run_nope"):
        store.create_step(orphan)


# -- threads of one process --------------------------------------------------------------
def test_one_store_shared_by_threads(store: ThreadStore) -> None:
    thread = store.create_thread()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                store.add_message(thread.id, "user", f"{n}-{i}")
                store.list_messages(thread.id, limit=5)
                store.list_threads("1-")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    texts = [m.text for m in store.list_messages(thread.id)]
    assert sorted(texts) == sorted(f"{n}-{i}" for n in range(4) for i in range(50))
    for n in range(4):  # each writer's messages keep its order
        mine = [t for t in texts if t.startswith(f"{n}-")]
        assert mine == [f"{n}-{i}" for i in range(50)]


def test_thread_activity_moves_with_every_change_even_within_a_second(store: ThreadStore) -> None:
    thread = store.create_thread()
    other = store.create_thread()
    seen = [store.thread_activity(thread.id)]
    store.add_message(thread.id, "user", "hello")
    seen.append(store.thread_activity(thread.id))
    store.add_message(other.id, "user", "elsewhere")  # another thread's change is not ours
    seen.append(store.thread_activity(thread.id))
    store.add_message(thread.id, "user", "again")
    seen.append(store.thread_activity(thread.id))
    assert seen[0] < seen[1] == seen[2] < seen[3]
    with pytest.raises(NotFoundError, match="thread_missing"):
        store.thread_activity("thread_missing")
