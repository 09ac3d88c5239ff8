"""Persistence of assistants, threads, messages, runs, steps and tool calls.

``SqlStore`` is the store's logic, in SQL both engines run (see ``store_sql``); ``Store`` is
its SQLite engine, the default: one connection to one database file, shared by the asyncio
thread and the tool worker threads (a re-entrant lock serialises them) and safe to open from
several processes at once (WAL, a busy timeout, and every write in a ``BEGIN IMMEDIATE``
transaction so a writer waits its turn instead of failing half-way). The PostgreSQL engine
is ``store_pg.PostgresStore``; ``open_store`` picks one from the database setting.

Objects are stored as the JSON of their ``to_dict()``; opening the file, the schema and its
migrations are in ``store_schema`` (SQLite) and ``store_pg_schema`` (PostgreSQL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Self, TypeVar

from .errors import ActiveRunError, DatabaseDamaged, NotFoundError, StoreError
from .objects import (
    ACTIVE_RUN_STATUSES,
    MESSAGE_ROLES,
    MESSAGE_STATUSES,
    MESSAGE_TRANSITIONS,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    ApiObject,
    Assistant,
    LastError,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    check_transition,
    new_id,
    now,
    text_content,
)
from .paths import default_db_path
from .settings_spec import DEFAULT_OPENAI_MODEL
from .store_api import ApiStore, RequestAnswer, RunRequest
from .store_schema import (
    ACTIVE_STATUSES_SQL,
    DEFAULT_PROJECT,
    damaged,
    has_table,
    is_damage,
    open_database,
)
from .store_sql import Db, dumps, like_pattern, thread_from_row
from .text import make_title, one_line

DEFAULT_ASSISTANT_NAME = "Investor Assistant"
DEFAULT_INSTRUCTIONS = (
    "You are Investor Assistant. You help users research publicly traded companies and "
    "decide whether to buy a stock. Use the tools to look up tickers, financial statements, "
    "price performance, quotes, news and analyst views; base every figure you give on tool "
    "output and say where it came from. Be balanced: cover strengths and risks, and say "
    "that this is not financial advice."
)
INTERRUPTED_MESSAGE = "the app stopped before this run finished"
INTERRUPTED_CODE = "app_stopped"
STRAY_MESSAGE = "left unfinished when its run ended (a write failed while the run closed)"

#: How long a process waits for the owner of a run to answer a forwarded request.
FORWARD_TIMEOUT_S = 5.0
# Trigram search needs at least three characters; shorter filters scan with LIKE.
_MIN_FTS_CHARS = 3
_DEFAULT_ASSISTANT_KEY = "default_assistant_id"
_UNFINISHED_CALL_STATUSES = frozenset({"queued", "awaiting_approval", "running"})
_MAX_SEQ = 2**63 - 1
_IN_CHUNK = 500  # ids per "IN (…)" list, well under SQLite's limit on parameters
# Rows per page of the paged reads (iter_messages, iter_runs): bounded memory, and the
# lock is free between pages.
PAGE_ROWS = 500

T = TypeVar("T", bound=ApiObject)


@dataclass(frozen=True)
class MessageRow:
    """What model input needs of a message, read without parsing its JSON."""

    seq: int
    id: str
    role: str
    run_id: str | None
    created_at: int
    text: str


@dataclass(frozen=True)
class ThreadCounts:
    messages: int
    runs: int
    tool_calls: int


@dataclass
class ToolCallRecord:
    """A tool call with where it happened, for the tool-call log / inspector."""

    call: ToolCall
    step_id: str
    run_id: str
    thread_id: str
    created_at: int


# -- helpers -----------------------------------------------------------------------------
_dumps = dumps
MAX_THREAD_TICKERS = 8
_SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-=^")


def _named_symbols(arguments: Any) -> list[str]:
    """The symbols a tool call's raw JSON arguments name: ``ticker`` (a symbol) and
    ``tickers`` (a list, or one string of them separated by commas)."""
    try:
        args = json.loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        return []
    if not isinstance(args, dict):
        return []
    named: list[Any] = [args.get("ticker")]
    many = args.get("tickers")
    named += many if isinstance(many, list) else str(many or "").split(",")
    symbols = []
    for value in named:
        if isinstance(value, str):
            symbol = value.strip().lstrip("$").upper()
            if 0 < len(symbol) <= 15 and set(symbol) <= _SYMBOL_CHARS:
                symbols.append(symbol)
    return symbols


def _fts_phrase(needle: str) -> str:
    # A quoted phrase: with the trigram tokenizer it matches any substring, and FTS5
    # operators in the user's text are taken literally.
    return '"' + needle.replace('"', '""') + '"'


_thread_row_to_object = thread_from_row


def _thread_data(thread: Thread) -> str:
    # Title and last activity live in their own columns (they are queried and bumped).
    fields = thread.to_dict()
    del fields["title"], fields["updated_at"]
    return _dumps(fields)


class SqlStore(ApiStore):
    """The store's operations, in SQL both engines run, on an engine's connection (``Db``).

    An engine (``Store`` below for SQLite, ``store_pg.PostgresStore``) opens the database
    and provides the transactions (``_read``, ``_write``, ``_snapshot``), the thread filter
    and the few SQL fragments that differ (the ``_sql_*`` hooks); everything else is here,
    once. Public methods are the store interface (``store_interface.ThreadStore``)."""

    #: The database as messages name it: a file path, or a URL without its password.
    location: str
    #: Which engine: "sqlite" or "postgresql".
    engine: ClassVar[str]
    #: The engine's error for a broken unique constraint (a second active run on a thread).
    _unique_violation: ClassVar[type[Exception]]
    # -- SQL that differs between engines (SQLite's spelling here) --
    #: Locks the rows a write transaction reads before it changes them (SQLite's write
    #: transaction already holds the whole file).
    _sql_for_update: ClassVar[str] = ""
    #: Null-safe equality (``NULL IS NULL`` is true).
    _sql_same: ClassVar[str] = "IS"
    #: The next value of the threads' activity counter.
    _sql_next_activity: ClassVar[str] = "(SELECT coalesce(max(activity), 0) + 1 FROM threads)"

    def _sql_json_text(self, column: str, *path: str) -> str:
        """A JSON column's value at ``path``, as text."""
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    def _read(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _snapshot(self) -> AbstractContextManager[Db]:
        """A read of several statements that sees one consistent state."""
        raise NotImplementedError

    def _thread_filter(self, needle: str) -> tuple[str, list[Any]]:
        """The WHERE condition (and its parameters) of threads whose title or message text
        contains ``needle``, case-insensitively."""
        raise NotImplementedError

    def _savepoint(self, db: Db) -> AbstractContextManager[None]:
        """Around a statement that may fail without failing the transaction (SQLite's
        failed statements never do; PostgreSQL needs a savepoint)."""
        return nullcontext()

    def _serialize(self, db: Db, name: str) -> None:
        """Make write transactions that call this with ``name`` take turns (SQLite's write
        transactions always do)."""

    def _owned(self, db: Db, run_id: str) -> None:
        """Record that this process executes the run (engines with run ownership)."""

    def close(self) -> None:
        raise NotImplementedError

    # -- run owners (engines that record which process executes each run) ----------------
    def forward_run_request(
        self,
        run_id: str,
        kind: str,
        outputs: list[dict[str, str]] | None = None,
        *,
        timeout: float = FORWARD_TIMEOUT_S,
    ) -> RequestAnswer | None:
        """Hand a cancel (``kind`` "cancel") or a client's tool outputs ("outputs") to the
        live process that executes ``run_id``, and wait up to ``timeout`` seconds for its
        answer. None when no other live process is known to execute it: the caller acts on
        the store itself (SQLite records no owners)."""
        return None

    def serve_run_requests(self, handler: Callable[[RunRequest], None] | None) -> None:
        """Call ``handler`` (from another thread) with each request other processes send
        for the runs this one executes; it answers with ``answer_run_request``."""

    def answer_run_request(self, request: RunRequest, error: str | None = None) -> None:
        """Tell the process that sent ``request`` it was done (or refused, with ``error``)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- assistants ----------------------------------------------------------------------
    def create_assistant(
        self,
        model: str,
        *,
        name: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Assistant:
        assistant = Assistant(
            id=new_id("assistant"),
            created_at=now(),
            model=model,
            name=name,
            description=description,
            instructions=instructions,
            tools=list(tools or []),
            metadata=dict(metadata or {}),
        )
        with self._write() as db:
            self._insert_assistant(db, assistant, project)
        return assistant

    @staticmethod
    def _insert_assistant(db: Db, assistant: Assistant, project: str = DEFAULT_PROJECT) -> None:
        db.execute(
            "INSERT INTO assistants (id, created_at, data, project) VALUES (?, ?, ?, ?)",
            (assistant.id, assistant.created_at, _dumps(assistant.to_dict()), project),
        )

    def get_assistant(self, assistant_id: str) -> Assistant:
        return self._load(Assistant, "assistants", "assistant", assistant_id)

    def update_assistant(self, assistant: Assistant) -> Assistant:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE assistants SET data = ? WHERE id = ?",
                (_dumps(assistant.to_dict()), assistant.id),
            )
            if cursor.rowcount == 0:
                raise NotFoundError("assistant", assistant.id)
        return assistant

    def delete_assistant(self, assistant_id: str) -> None:
        with self._write() as db:
            cursor = db.execute("DELETE FROM assistants WHERE id = ?", (assistant_id,))
            if cursor.rowcount == 0:
                raise NotFoundError("assistant", assistant_id)

    def list_assistants(self) -> list[Assistant]:
        with self._read() as db:
            rows = db.execute("SELECT data FROM assistants ORDER BY seq").fetchall()
        return [Assistant.from_dict(json.loads(data)) for (data,) in rows]

    def default_assistant(self) -> Assistant:
        """The seeded "Investor Assistant" (created on first use, and again if deleted)."""
        with self._write() as db:
            self._serialize(db, _DEFAULT_ASSISTANT_KEY)  # two processes seed it once
            row = db.execute(
                "SELECT a.data FROM meta JOIN assistants a ON a.id = meta.value WHERE meta.key = ?",
                (_DEFAULT_ASSISTANT_KEY,),
            ).fetchone()
            if row is not None:
                return Assistant.from_dict(json.loads(row[0]))
            assistant = Assistant(
                id=new_id("assistant"),
                created_at=now(),
                model=DEFAULT_OPENAI_MODEL,  # the runtime picks the model per run
                name=DEFAULT_ASSISTANT_NAME,
                instructions=DEFAULT_INSTRUCTIONS,
            )
            self._insert_assistant(db, assistant)
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_DEFAULT_ASSISTANT_KEY, assistant.id),
            )
        return assistant

    # -- threads -------------------------------------------------------------------------
    def create_thread(
        self,
        title: str = "",
        metadata: dict[str, str] | None = None,
        *,
        origin: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> Thread:
        """``origin``: where it was started ("cli", "api"; "" for the app), for display."""
        created = now()
        thread = Thread(
            id=new_id("thread"),
            created_at=created,
            metadata=dict(metadata or {}),
            title=one_line(title, None),
            updated_at=created,
            origin=origin,
        )
        with self._write() as db:
            db.execute(
                "INSERT INTO threads (id, created_at, updated_at, activity, title, data, project) "
                f"VALUES (?, ?, ?, {self._sql_next_activity}, ?, ?, ?)",
                (thread.id, created, created, thread.title, _thread_data(thread), project),
            )
        return thread

    def get_thread(self, thread_id: str) -> Thread:
        with self._read() as db:
            return self._get_thread(db, thread_id)

    def thread_activity(self, thread_id: str) -> int:
        """A counter that moves whenever the thread has activity (messages, run updates),
        in any process: exact where ``updated_at`` has whole seconds. For caches."""
        with self._read() as db:
            row = db.execute("SELECT activity FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if row is None:
            raise NotFoundError("thread", thread_id)
        return int(row[0])

    @staticmethod
    def _get_thread(db: Db, thread_id: str) -> Thread:
        row = db.execute(
            "SELECT data, title, updated_at FROM threads WHERE id = ?", (thread_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("thread", thread_id)
        return _thread_row_to_object(*row)

    def rename_thread(self, thread_id: str, title: str) -> Thread:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE threads SET title = ? WHERE id = ?", (one_line(title, None), thread_id)
            )
            if cursor.rowcount == 0:
                raise NotFoundError("thread", thread_id)
            return self._get_thread(db, thread_id)

    def set_thread_summary(self, thread_id: str, summary: str) -> None:
        with self._write() as db:
            thread = self._get_thread(db, thread_id)
            thread.summary = summary
            db.execute(
                "UPDATE threads SET data = ? WHERE id = ?", (_thread_data(thread), thread_id)
            )

    def delete_thread(self, thread_id: str) -> None:
        """Removes its messages, runs, steps and tool calls too (foreign-key cascades).
        Refused (ActiveRunError) while the thread has an active run, in any process: the
        check and the delete are one transaction, so no run can start or be deleted
        under the other's feet."""
        with self._write() as db:
            # Locked first: a run another process creates meanwhile is seen by the check.
            db.execute(f"SELECT 1 FROM threads WHERE id = ?{self._sql_for_update}", (thread_id,))
            active = self._active_run_id(db, thread_id)
            if active is not None:
                raise ActiveRunError(
                    thread_id,
                    active,
                    f"thread {thread_id} has a run in progress ({active}); it cannot be "
                    "deleted while that run streams: cancel the run or wait for it to end",
                )
            cursor = db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))
            if cursor.rowcount == 0:
                raise NotFoundError("thread", thread_id)

    def list_threads(self, filter: str | None = None, limit: int | None = None) -> list[Thread]:
        """Most recent activity first; ``filter`` matches titles and message text
        (substrings, case-insensitively)."""
        sql = "SELECT data, title, updated_at FROM threads"
        params: list[Any] = []
        needle = (filter or "").strip()
        if needle:
            where, params = self._thread_filter(needle)
            sql += f" WHERE {where}"
        sql += " ORDER BY activity DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        return [_thread_row_to_object(*row) for row in rows]

    def _touch_thread(self, db: Db, thread_id: str) -> None:
        """Record activity on a thread: it moves to the top of the list."""
        stamp = now()
        db.execute(
            "UPDATE threads SET updated_at = CASE WHEN updated_at > ? THEN updated_at ELSE ? "
            f"END, activity = {self._sql_next_activity} WHERE id = ?",
            (stamp, stamp, thread_id),
        )

    # -- messages ------------------------------------------------------------------------
    def add_message(
        self,
        thread_id: str,
        role: str,
        text: str,
        *,
        status: str = "completed",
        run_id: str | None = None,
        assistant_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Message:
        """Append; also bumps the thread's last activity (and auto-titles an untitled
        thread from its first user message)."""
        if role not in MESSAGE_ROLES:
            raise ValueError(f"message role must be 'user' or 'assistant', not {role!r}")
        if status not in MESSAGE_STATUSES:
            raise ValueError(f"unknown message status {status!r}")
        created = now()
        message = Message(
            id=new_id("message"),
            created_at=created,
            thread_id=thread_id,
            role=role,
            content=text_content(text),
            status=status,
            assistant_id=assistant_id,
            run_id=run_id,
            completed_at=created if status == "completed" and role == "assistant" else None,
            metadata=dict(metadata or {}),
        )
        with self._write() as db:
            row = db.execute("SELECT title FROM threads WHERE id = ?", (thread_id,)).fetchone()
            if row is None:
                raise NotFoundError("thread", thread_id)
            db.execute(
                "INSERT INTO messages "
                "(id, thread_id, run_id, role, status, created_at, text, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    thread_id,
                    run_id,
                    role,
                    status,
                    created,
                    text,
                    _dumps(message.to_dict()),
                ),
            )
            if role == "user" and not row[0]:
                db.execute(
                    "UPDATE threads SET title = ? WHERE id = ?", (make_title(text), thread_id)
                )
            self._touch_thread(db, thread_id)
        return message

    def update_message(self, message: Message) -> None:
        """Persist text/status changes (status transitions are checked)."""
        with self._write() as db:
            self._checked_row(
                db, "messages", "message", MESSAGE_TRANSITIONS, message.id, message.status
            )
            db.execute(
                "UPDATE messages SET run_id = ?, status = ?, text = ?, data = ? WHERE id = ?",
                (
                    message.run_id,
                    message.status,
                    message.text,
                    _dumps(message.to_dict()),
                    message.id,
                ),
            )

    def get_message(self, message_id: str) -> Message:
        return self._load(Message, "messages", "message", message_id)

    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[Message]:
        """Oldest first. With ``limit``: the latest ``limit`` messages (before the message
        id ``before`` when given) — what a chat view loads first, and on scroll-up."""
        with self._read() as db:
            self._require(db, "threads", "thread", thread_id)
            where = "thread_id = ?"
            params: list[Any] = [thread_id]
            if before is not None:
                row = db.execute(
                    "SELECT seq FROM messages WHERE id = ? AND thread_id = ?", (before, thread_id)
                ).fetchone()
                if row is None:
                    raise NotFoundError("message", before)
                where += " AND seq < ?"
                params.append(row[0])
            if limit is None:
                sql = f"SELECT data FROM messages WHERE {where} ORDER BY seq"
            else:
                # The newest ``limit`` rows via the (thread_id, seq) index, then re-sorted.
                sql = (
                    f"SELECT data FROM (SELECT seq, data FROM messages WHERE {where} "
                    "ORDER BY seq DESC LIMIT ?) AS latest ORDER BY seq"
                )
                params.append(limit)
            rows = db.execute(sql, params).fetchall()
        return [Message.from_dict(json.loads(data)) for (data,) in rows]

    def recent_message_rows(
        self,
        thread_id: str,
        *,
        limit: int,
        before_seq: int | None = None,
        exclude_run_id: str | None = None,
    ) -> tuple[list[MessageRow], int]:
        """The thread's latest ``limit`` messages (before ``before_seq`` when given; oldest
        first; leaving out those of run ``exclude_run_id``) and how many older ones remain:
        thread memory reads a long thread from its end, a page at a time."""
        with self._read() as db:
            self._require(db, "threads", "thread", thread_id)
            rows = db.execute(
                "SELECT seq, id, role, run_id, created_at, text FROM messages "
                f"WHERE thread_id = ? AND seq < ? AND (run_id IS NULL OR NOT run_id {self._sql_same} ?) "
                "ORDER BY seq DESC LIMIT ?",
                (thread_id, before_seq or _MAX_SEQ, exclude_run_id, limit),
            ).fetchall()
            older = 0
            if len(rows) == limit:
                (older,) = db.execute(
                    "SELECT count(*) FROM messages WHERE thread_id = ? AND seq < ? "
                    f"AND (run_id IS NULL OR NOT run_id {self._sql_same} ?)",
                    (thread_id, rows[-1][0], exclude_run_id),
                ).fetchone()
        return [MessageRow(*row) for row in reversed(rows)], int(older)

    def count_messages(self, thread_id: str) -> int:
        with self._read() as db:
            self._require(db, "threads", "thread", thread_id)
            (count,) = db.execute(
                "SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,)
            ).fetchone()
        return int(count)

    def thread_counts(self, thread_id: str) -> ThreadCounts:
        with self._read() as db:
            self._require(db, "threads", "thread", thread_id)
            counts = [
                db.execute(
                    f"SELECT count(*) FROM {table} WHERE thread_id = ?", (thread_id,)
                ).fetchone()[0]
                for table in ("messages", "runs", "tool_calls")
            ]
        return ThreadCounts(*counts)

    # -- paged reads: a thread of any length in bounded memory ---------------------------
    def iter_messages(self, thread_id: str, page: int = PAGE_ROWS) -> Iterator[Message]:
        """Every message of the thread, oldest first, read ``page`` rows at a time."""
        self.get_thread(thread_id)  # NotFoundError before the first page, not during it
        sql = "SELECT seq, data FROM messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        for (data,) in self._pages(sql, (thread_id,), page):
            yield Message.from_dict(json.loads(data))

    def iter_runs(
        self, thread_id: str, *, unanswered: bool = False, page: int = PAGE_ROWS
    ) -> Iterator[Run]:
        """Every run of the thread, oldest first, read ``page`` rows at a time; with
        ``unanswered``, only the runs no message belongs to (failed or cancelled before
        they wrote one)."""
        self.get_thread(thread_id)
        where = "thread_id = ?"
        params: tuple[str, ...] = (thread_id,)
        if unanswered:
            where += (
                " AND id NOT IN (SELECT run_id FROM messages"
                " WHERE thread_id = ? AND run_id IS NOT NULL)"
            )
            params += (thread_id,)
        sql = f"SELECT seq, data FROM runs WHERE {where} AND seq > ? ORDER BY seq LIMIT ?"
        for (data,) in self._pages(sql, params, page):
            yield Run.from_dict(json.loads(data))

    def _pages(self, sql: str, params: tuple[Any, ...], page: int) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql`` after its first column (``seq``), a page at a time. ``sql``
        ends with ``seq > ? ORDER BY seq LIMIT ?``; the lock is released between pages, so
        a long read never holds up a writer of this process."""
        after = 0
        while True:
            with self._read() as db:
                rows = db.execute(sql, (*params, after, page)).fetchall()
            for row in rows:
                yield tuple(row[1:])
            if len(rows) < page:
                return
            after = rows[-1][0]

    @staticmethod
    def _require(db: Db, table: str, kind: str, object_id: str) -> None:
        if db.execute(f"SELECT 1 FROM {table} WHERE id = ?", (object_id,)).fetchone() is None:
            raise NotFoundError(kind, object_id)

    # Table names below are constants of this module, never caller input.
    def _load(self, cls: type[T], table: str, kind: str, object_id: str) -> T:
        with self._read() as db:
            row = db.execute(f"SELECT data FROM {table} WHERE id = ?", (object_id,)).fetchone()
        if row is None:
            raise NotFoundError(kind, object_id)
        return cls.from_dict(json.loads(row[0]))

    def _load_children(
        self, cls: type[T], table: str, parent: tuple[str, str, str], parent_id: str
    ) -> list[T]:
        """The rows of ``table`` under one parent, oldest first. ``parent``: its table, its
        kind (for NotFoundError) and the column that points at it."""
        parent_table, parent_kind, column = parent
        with self._read() as db:
            self._require(db, parent_table, parent_kind, parent_id)
            rows = db.execute(
                f"SELECT data FROM {table} WHERE {column} = ? ORDER BY seq", (parent_id,)
            ).fetchall()
        return [cls.from_dict(json.loads(data)) for (data,) in rows]

    # -- runs ----------------------------------------------------------------------------
    def create_run(self, run: Run) -> Run:
        """Refuses (ActiveRunError) when the thread already has an active run. The check
        is a unique index, so it also holds between processes."""
        with self._write() as db:
            self._require(db, "threads", "thread", run.thread_id)
            try:
                with self._savepoint(db):
                    db.execute(
                        "INSERT INTO runs (id, thread_id, status, created_at, data) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (run.id, run.thread_id, run.status, run.created_at, _dumps(run.to_dict())),
                    )
            except self._unique_violation:
                active = self._active_run_id(db, run.thread_id)
                if active is not None and run.status in ACTIVE_RUN_STATUSES:
                    raise ActiveRunError(run.thread_id, active) from None
                raise ValueError(f"a run with id {run.id!r} already exists") from None
            self._owned(db, run.id)
            self._touch_thread(db, run.thread_id)
        return run

    def update_run(self, run: Run) -> None:
        """Persist; refuses an invalid status transition (InvalidTransition), changing nothing."""
        with self._write() as db:
            row = self._checked_row(
                db, "runs", "run", RUN_TRANSITIONS, run.id, run.status, also="thread_id"
            )
            db.execute(
                "UPDATE runs SET status = ?, data = ? WHERE id = ?",
                (run.status, _dumps(run.to_dict()), run.id),
            )
            self._touch_thread(db, row[1])

    def get_run(self, run_id: str) -> Run:
        return self._load(Run, "runs", "run", run_id)

    def list_runs(self, thread_id: str) -> list[Run]:
        """Oldest first."""
        return self._load_children(Run, "runs", ("threads", "thread", "thread_id"), thread_id)

    def latest_run(self, thread_id: str) -> Run | None:
        """The thread's newest run (None: it has none)."""
        with self._read() as db:
            row = db.execute(
                "SELECT data FROM runs WHERE thread_id = ? ORDER BY seq DESC LIMIT 1",
                (thread_id,),
            ).fetchone()
        return Run.from_dict(json.loads(row[0])) if row else None

    def tool_runs_since(
        self, thread_id: str, *, created_since: int, including: Collection[str] = ()
    ) -> list[Run]:
        """The thread's runs that called tools and were created at or after
        ``created_since`` or are named in ``including``, oldest first. Runs are read
        newest first and the scan stops at the first older one once the named runs are
        found, so the cost follows the recent part of the thread, not its length."""
        wanted = set(including)
        picked: list[str] = []
        with self._read() as db:
            cursor = db.execute(
                "SELECT id, created_at FROM runs WHERE thread_id = ? ORDER BY seq DESC",
                (thread_id,),
            )
            for run_id, created_at in cursor:
                if created_at >= created_since or run_id in wanted:
                    picked.append(run_id)
                    wanted.discard(run_id)
                elif not wanted:
                    break
            cursor.close()
            rows: list[tuple[int, str]] = []
            for start in range(0, len(picked), _IN_CHUNK):
                chunk = picked[start : start + _IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows += db.execute(
                    f"SELECT seq, data FROM runs WHERE id IN ({marks}) "
                    "AND EXISTS (SELECT 1 FROM tool_calls t WHERE t.run_id = runs.id)",
                    chunk,
                ).fetchall()
        return [Run.from_dict(json.loads(data)) for _, data in sorted(rows)]

    def latest_summary_through(self, thread_id: str) -> str | None:
        """The message id the thread's running summary covers up to, from the latest run
        that recorded one (read newest first: it is usually among the last runs)."""
        summary = self._sql_json_text("data", "memory", "summary_through")
        with self._read() as db:
            row = db.execute(
                f"SELECT {summary} FROM runs WHERE thread_id = ? AND {summary} IS NOT NULL "
                "ORDER BY seq DESC LIMIT 1",
                (thread_id,),
            ).fetchone()
        return str(row[0]) if row and row[0] else None

    def active_run(self, thread_id: str) -> Run | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT data FROM runs WHERE thread_id = ? AND status IN {ACTIVE_STATUSES_SQL}",
                (thread_id,),
            ).fetchone()
        return Run.from_dict(json.loads(row[0])) if row else None

    @staticmethod
    def _active_run_id(db: Db, thread_id: str) -> str | None:
        row = db.execute(
            f"SELECT id FROM runs WHERE thread_id = ? AND status IN {ACTIVE_STATUSES_SQL}",
            (thread_id,),
        ).fetchone()
        return row[0] if row else None

    # -- steps and tool calls ------------------------------------------------------------
    def create_step(self, step: RunStep) -> RunStep:
        with self._write() as db:
            self._require(db, "runs", "run", step.run_id)
            db.execute(
                "INSERT INTO steps (id, run_id, thread_id, status, created_at, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    step.id,
                    step.run_id,
                    step.thread_id,
                    step.status,
                    step.created_at,
                    _dumps(step.to_dict()),
                ),
            )
            (seq,) = db.execute("SELECT seq FROM steps WHERE id = ?", (step.id,)).fetchone()
            self._write_tool_calls(db, step, seq)
        return step

    def update_step(self, step: RunStep) -> None:
        """Persist the step and its tool calls; refuses an invalid status transition."""
        with self._write() as db:
            row = self._checked_row(
                db, "steps", "run step", STEP_TRANSITIONS, step.id, step.status, also="seq"
            )
            db.execute(
                "UPDATE steps SET status = ?, data = ? WHERE id = ?",
                (step.status, _dumps(step.to_dict()), step.id),
            )
            db.execute("DELETE FROM tool_calls WHERE step_id = ?", (step.id,))
            self._write_tool_calls(db, step, row[1])

    def _checked_row(
        self,
        db: Db,
        table: str,
        kind: str,
        transitions: dict[str, frozenset[str]],
        object_id: str,
        new_status: str,
        also: str | None = None,
    ) -> tuple[Any, ...]:
        """The stored (status[, also]) of an object about to be updated, once its *stored*
        status (not the caller's copy) is known to allow ``new_status``."""
        columns = f"status, {also}" if also else "status"
        row = db.execute(
            f"SELECT {columns} FROM {table} WHERE id = ?{self._sql_for_update}", (object_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(kind, object_id)
        check_transition(kind, transitions, row[0], new_status)
        return tuple(row)

    @staticmethod
    def _write_tool_calls(db: Db, step: RunStep, step_seq: int) -> None:
        db.executemany(
            "INSERT INTO tool_calls "
            "(step_id, id, step_seq, position, run_id, thread_id, created_at, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    step.id,
                    call.id,
                    step_seq,
                    position,
                    step.run_id,
                    step.thread_id,
                    step.created_at,
                    _dumps(call.to_dict()),
                )
                for position, call in enumerate(step.tool_calls)
            ],
        )

    def get_step(self, step_id: str) -> RunStep:
        return self._load(RunStep, "steps", "run step", step_id)

    def list_steps(self, run_id: str) -> list[RunStep]:
        """In order of creation."""
        return self._load_children(RunStep, "steps", ("runs", "run", "run_id"), run_id)

    def list_tool_calls(
        self, *, thread_id: str | None = None, run_id: str | None = None
    ) -> list[ToolCallRecord]:
        """Tool calls of a thread or of a run (both: of that run; neither: all), in the
        order they were made."""
        sql = "SELECT data, step_id, run_id, thread_id, created_at FROM tool_calls"
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params: tuple[str, ...] = (run_id,)
        elif thread_id is not None:
            sql += " WHERE thread_id = ?"
            params = (thread_id,)
        else:
            params = ()
        sql += " ORDER BY step_seq, position"
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        return [
            ToolCallRecord(ToolCall.from_dict(json.loads(data)), step_id, run, thread, created)
            for data, step_id, run, thread, created in rows
        ]

    def thread_tickers(self, thread_ids: Collection[str]) -> dict[str, list[str]]:
        """The symbols each thread's tool calls named (their ``ticker`` or ``tickers``
        argument), in the order first named, at most ``MAX_THREAD_TICKERS`` each: what the
        thread list shows under a title. Only the arguments are read."""
        found: dict[str, list[str]] = {thread_id: [] for thread_id in thread_ids}
        ids = list(found)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            arguments = self._sql_json_text("data", "function", "arguments")
            sql = (
                f"SELECT thread_id, {arguments} FROM tool_calls "
                f"WHERE thread_id IN ({','.join('?' * len(chunk))}) ORDER BY step_seq, position"
            )
            with self._read() as db:
                rows = db.execute(sql, chunk).fetchall()
            for thread_id, raw in rows:
                tickers = found[thread_id]
                if len(tickers) >= MAX_THREAD_TICKERS:
                    continue
                for symbol in _named_symbols(raw):
                    if symbol not in tickers and len(tickers) < MAX_THREAD_TICKERS:
                        tickers.append(symbol)
        return found

    # -- recovery ------------------------------------------------------------------------
    def recover_interrupted(self, message: str = INTERRUPTED_MESSAGE) -> list[str]:
        """Close runs left queued/in_progress/requires_action/cancelling by a crash as
        ``failed`` (last_error code ``app_stopped``), their open steps ``failed`` and their
        in-progress messages ``incomplete``; also any message (and its run's open steps)
        left ``in_progress`` under a run that did end, whatever stopped it from being
        closed. Returns the run ids closed. The caller knows no other process is executing
        runs of this database (``session.DatabaseLease``); engines that record run owners
        close only the runs of owners that are gone."""
        stopped = now()
        error = LastError(INTERRUPTED_CODE, message)
        with self._write() as db:
            rows = db.execute(
                f"SELECT data FROM runs WHERE status IN {ACTIVE_STATUSES_SQL} ORDER BY seq"
            ).fetchall()
            runs = [Run.from_dict(json.loads(data)) for (data,) in rows]
            closed = self._close_stranded(db, runs, stopped, lambda run: error)
        return closed

    def _close_stranded(
        self,
        db: Db,
        runs: list[Run],
        stopped: int,
        error_of: Callable[[Run], LastError | None],
    ) -> list[str]:
        """Close ``runs``, which no live process executes: ``failed`` with ``error_of(run)``,
        or ``cancelled`` where that is None (a cancel was asked for). A run waiting for a
        client's tool outputs needs no live process: it stays for whoever receives them,
        until it expires. Then close messages left open under ended runs. Returns the ids."""
        runs = [r for r in runs if not self._awaits_client(db, r, stopped)]
        for run in runs:
            error = error_of(run)
            if error is None:
                run.status, run.cancelled_at = "cancelled", stopped
            else:
                run.status, run.failed_at, run.last_error = "failed", stopped, error
            run.required_action = None
            db.execute(
                "UPDATE runs SET status = ?, data = ? WHERE id = ?",
                (run.status, _dumps(run.to_dict()), run.id),
            )
            step_error = error or LastError("cancelled", "the run was cancelled")
            self._fail_open_steps(db, run.id, stopped, step_error, cancelled=error is None)
            reason = "run_failed" if error is not None else "run_cancelled"
            self._close_open_messages(db, run.id, stopped, reason)
        self._close_stray_messages(db, stopped, LastError(INTERRUPTED_CODE, STRAY_MESSAGE))
        return [run.id for run in runs]

    def _close_stray_messages(self, db: Db, stopped: int, error: LastError) -> None:
        """Messages still ``in_progress`` although their run ended (or is gone): a write
        that failed while the run closed left them so. Nothing will ever finish them."""
        rows = db.execute(
            "SELECT DISTINCT m.run_id, r.status FROM messages m LEFT JOIN runs r ON r.id = m.run_id "
            f"WHERE m.status = 'in_progress' AND (r.status IS NULL OR r.status NOT IN "
            f"{ACTIVE_STATUSES_SQL})"
        ).fetchall()
        for run_id, status in rows:
            reason = "run_cancelled" if status == "cancelled" else "run_failed"
            if run_id is not None:
                self._fail_open_steps(db, run_id, stopped, error)
            self._close_open_messages(db, run_id, stopped, reason)

    def _fail_open_steps(
        self, db: Db, run_id: str, stopped: int, error: LastError, *, cancelled: bool = False
    ) -> None:
        rows = db.execute(
            "SELECT data, seq FROM steps WHERE run_id = ? AND status = 'in_progress'", (run_id,)
        ).fetchall()
        for data, seq in rows:
            step = RunStep.from_dict(json.loads(data))
            if cancelled:
                step.status, step.cancelled_at = "cancelled", stopped
            else:
                step.status, step.failed_at, step.last_error = "failed", stopped, error
            for call in step.tool_calls:
                if call.status not in _UNFINISHED_CALL_STATUSES:
                    continue
                if cancelled:
                    call.status = "cancelled"
                else:
                    call.status, call.is_error, call.error = "error", True, error.message
            db.execute(
                "UPDATE steps SET status = ?, data = ? WHERE id = ?",
                (step.status, _dumps(step.to_dict()), step.id),
            )
            db.execute("DELETE FROM tool_calls WHERE step_id = ?", (step.id,))
            self._write_tool_calls(db, step, seq)

    def _close_open_messages(
        self, db: Db, run_id: str | None, stopped: int, reason: str = "run_failed"
    ) -> None:
        rows = db.execute(
            f"SELECT data FROM messages WHERE run_id {self._sql_same} ? AND status = 'in_progress'",
            (run_id,),
        ).fetchall()
        for (data,) in rows:
            message = Message.from_dict(json.loads(data))
            message.status, message.incomplete_at = "incomplete", stopped
            message.incomplete_details = {"reason": reason}
            db.execute(
                "UPDATE messages SET status = ?, data = ? WHERE id = ?",
                (message.status, _dumps(message.to_dict()), message.id),
            )


# -- the SQLite engine ------------------------------------------------------------------
class Store(SqlStore):
    """The SQLite engine: one database file. Safe to share between threads of one process
    (internal lock) and between processes (WAL + busy timeout)."""

    path: Path
    engine = "sqlite"
    _unique_violation = sqlite3.IntegrityError

    def __init__(self, path: str | Path | None = None) -> None:
        """Open (creating with mode 0600 and migrating) the database at ``path``, or the
        default under the user data dir. Raises StoreError for a non-SQLite file or one
        from a newer schema version, without touching it."""
        self.path = Path(path) if path is not None else default_db_path()
        self._lock = threading.RLock()
        self._damage: DatabaseDamaged | None = None
        self._db = open_database(self.path)
        self._fts = has_table(self._db, "message_fts")
        self.location = str(self.path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- transactions --------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:
                self._raise_store_error(exc)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. IMMEDIATE takes the write lock up front, so a busy
        database makes us wait (busy timeout) rather than fail after reading. Once the
        file is known to be damaged, nothing more is written to it."""
        with self._lock:
            if self._damage is not None:
                raise DatabaseDamaged(str(self._damage))
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                self._raise_store_error(exc)
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:  # SQLite rolls back by itself when it cannot
                        pass
                if isinstance(exc, sqlite3.DatabaseError):
                    self._raise_store_error(exc)
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        with self._read() as db:
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    def _thread_filter(self, needle: str) -> tuple[str, list[Any]]:
        like = like_pattern(needle)
        if self._fts and len(needle) >= _MIN_FTS_CHARS:
            in_messages = (
                "SELECT m.thread_id FROM message_fts f JOIN messages m ON m.seq = f.rowid "
                "WHERE message_fts MATCH ?"
            )
            params = [like, _fts_phrase(needle)]
        else:
            in_messages = "SELECT thread_id FROM messages WHERE text LIKE ? ESCAPE '\\'"
            params = [like, like]
        return f"title LIKE ? ESCAPE '\\' OR id IN ({in_messages})", params

    def _raise_store_error(self, exc: sqlite3.DatabaseError) -> NoReturn:
        """Raise what ``exc`` means: damage (remembered: nothing more is written), a
        storage failure (disk full, I/O error, locked), or ``exc`` itself (a bug)."""
        if is_damage(exc):
            self._damage = damaged(self.path, exc)
            raise self._damage from exc
        if isinstance(exc, sqlite3.OperationalError):
            raise StoreError(f"database {self.path}: {exc}") from exc
        raise exc
