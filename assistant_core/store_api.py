"""The store's part for the Assistants API server and for following runs across processes.

Projects and their API keys (only a hash of each key is kept), the project that owns each
assistant and thread, the API's list pages (``limit``/``order``/``after``/``before``),
metadata edits, and a consistent read of one run's rows (run, steps, their messages) for
processes that follow a run another process executes.

A mixin of ``Store``: each method is one short transaction of plain SQL, so the same
interface can be put on another database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from .errors import NotFoundError
from .objects import (
    ApiObject,
    Assistant,
    Message,
    Run,
    RunStep,
    Thread,
    new_id,
    now,
)
from .store_schema import DEFAULT_PROJECT
from .store_sql import Db, dumps, thread_from_row

T = TypeVar("T", bound=ApiObject)
Order = Literal["asc", "desc"]
EXPIRED_MESSAGE = "the run waited for tool outputs past its expires_at"


@dataclass
class ApiKey:
    """An API key's record. The key itself is shown once, when created, and never stored."""

    id: str
    project: str
    name: str
    created_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class RunRequest:
    """Asked of the process that executes a run by another one (another server replica):
    ``cancel`` it, or take the client's tool ``outputs``."""

    id: int
    run_id: str
    kind: str  # "cancel" | "outputs"
    outputs: list[dict[str, str]] = field(default_factory=list)


#: The answer of a process asked about a run it does not execute (any more).
NOT_EXECUTING = "not executing this run"


@dataclass(frozen=True)
class RequestAnswer:
    """What became of a forwarded request: ``done`` (the owner did it), ``refused`` (the
    owner said why, in ``error``), ``gone`` (the owner no longer executes the run: the
    sender acts on the store itself) or ``pending`` (no answer in time: it stays queued for
    the owner, and for whoever closes the run should the owner be gone)."""

    outcome: Literal["done", "refused", "gone", "pending"]
    error: str | None = None


@dataclass
class Page:
    """One page of a list, in the API's terms."""

    data: list[Any]
    has_more: bool


# (table, column the list is filtered on, object class, kind for NotFoundError)
_LISTS: dict[str, tuple[str, str, type[ApiObject], str]] = {
    "assistants": ("assistants", "project", Assistant, "assistant"),
    "messages": ("messages", "thread_id", Message, "message"),
    "runs": ("runs", "thread_id", Run, "run"),
    "steps": ("steps", "run_id", RunStep, "run step"),
}


_dumps = dumps


class ApiStore:
    #: Narrows a query of runs to those no live process executes (engines that record
    #: run owners; on SQLite the caller says which runs it executes).
    _sql_not_executed: ClassVar[str] = ""

    if TYPE_CHECKING:
        _read: Callable[[], AbstractContextManager[Db]]
        _write: Callable[[], AbstractContextManager[Db]]
        _snapshot: Callable[[], AbstractContextManager[Db]]
        _sql_for_update: ClassVar[str]

        def _owned(self, db: Db, run_id: str) -> None: ...

        def get_thread(self, thread_id: str) -> Thread: ...
        def get_assistant(self, assistant_id: str) -> Assistant: ...
        def default_assistant(self) -> Assistant: ...

    # -- projects and keys ---------------------------------------------------------------
    def add_api_key(self, project: str, key_hash: str, name: str = "") -> ApiKey:
        """Record a new key (by its hash) for ``project``, creating the project."""
        key = ApiKey(new_id("key"), project, name, now())
        with self._write() as db:
            db.execute(
                "INSERT INTO projects (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (project, key.created_at),
            )
            db.execute(
                "INSERT INTO api_keys (id, project, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                (key.id, project, name, key_hash, key.created_at),
            )
        return key

    def list_api_keys(self) -> list[ApiKey]:
        with self._read() as db:
            rows = db.execute(
                "SELECT id, project, name, created_at, revoked_at FROM api_keys ORDER BY seq"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke_api_key(self, key_id: str) -> ApiKey:
        """Revoke (idempotent): the key stops working at once, for every server."""
        with self._write() as db:
            db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now(), key_id),
            )
            row = db.execute(
                "SELECT id, project, name, created_at, revoked_at FROM api_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise NotFoundError("API key", key_id)
        return ApiKey(*row)

    def project_of_key(self, key_hash: str) -> str | None:
        """The project of an active key with this hash, else None."""
        with self._read() as db:
            row = db.execute(
                "SELECT project FROM api_keys WHERE hash = ? AND revoked_at IS NULL", (key_hash,)
            ).fetchone()
        return str(row[0]) if row else None

    def key_project(self, key_hash: str) -> tuple[str | None, bool]:
        """(the project of an active key with this hash or None, whether any key was ever
        created) in one query: what authenticating a request needs."""
        with self._read() as db:
            row = db.execute(
                "SELECT (SELECT project FROM api_keys WHERE hash = ? AND revoked_at IS NULL), "
                "EXISTS (SELECT 1 FROM api_keys)",
                (key_hash,),
            ).fetchone()
        return (str(row[0]) if row[0] is not None else None), bool(row[1])

    def has_keys(self) -> bool:
        """Whether any key was ever created (revoked ones count: revoking every key must
        not open the server to anyone)."""
        with self._read() as db:
            row = db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone()
        return row is not None

    # -- ownership -----------------------------------------------------------------------
    def project_of(self, kind: Literal["assistant", "thread"], object_id: str) -> str:
        table = "assistants" if kind == "assistant" else "threads"
        with self._read() as db:
            row = db.execute(f"SELECT project FROM {table} WHERE id = ?", (object_id,)).fetchone()
        if row is None:
            raise NotFoundError(kind, object_id)
        return str(row[0])

    def owned_thread(self, project: str, thread_id: str) -> Thread:
        """The thread, if ``project`` owns it; NotFoundError otherwise (another project's
        objects do not exist for it). One query: every API request about a thread runs it."""
        with self._read() as db:
            row = db.execute(
                "SELECT data, title, updated_at FROM threads WHERE id = ? AND project = ?",
                (thread_id, project),
            ).fetchone()
        if row is None:
            raise NotFoundError("thread", thread_id)
        return thread_from_row(*row)

    def owned_assistant(self, project: str, assistant_id: str) -> Assistant:
        """The assistant, if ``project`` owns it or it is the built-in one (shared)."""
        if self.project_of("assistant", assistant_id) != project and (
            assistant_id != self.default_assistant().id
        ):
            raise NotFoundError("assistant", assistant_id)
        return self.get_assistant(assistant_id)

    # -- list pages ----------------------------------------------------------------------
    def page(
        self,
        kind: Literal["assistants", "messages", "runs", "steps"],
        parent: str,
        *,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
        run_id: str | None = None,
        also_id: str | None = None,
        raw: bool = False,
    ) -> Page:
        """One page of a list as the API pages it: ``parent`` is the project (assistants),
        thread (messages, runs) or run (steps); ``after``/``before`` are object ids (an
        unknown id gives an empty page); ``run_id`` filters messages; ``also_id`` adds one
        object whatever its parent (the built-in assistant to every project's list).
        ``raw``: the objects' stored dicts (their ``to_dict()``), without building objects."""
        table, column, cls, _ = _LISTS[kind]
        where = f"({column} = ?" + (" OR id = ?)" if also_id else ")")
        params: list[Any] = [parent, also_id] if also_id else [parent]
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)
        forward = order == "asc"
        for cursor, newer in ((after, forward), (before, not forward)):
            if cursor is not None:
                # An unknown id compares with NULL: no row matches, an empty page.
                op = ">" if newer else "<"
                where += f" AND seq {op} (SELECT seq FROM {table} WHERE id = ?)"
                params.append(cursor)
        # ``before`` pages backwards: read towards the cursor, then restore the order.
        backwards = before is not None and after is None
        ascending = forward != backwards
        sql = (
            f"SELECT data FROM {table} WHERE {where} "
            f"ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ?"
        )
        params.append(limit + 1)
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
        has_more = len(rows) > limit
        dicts = [json.loads(data) for (data,) in rows[:limit]]
        items: list[Any] = dicts if raw else [cls.from_dict(d) for d in dicts]
        if backwards:
            items.reverse()
        return Page(items, has_more)

    # -- edits ---------------------------------------------------------------------------
    def set_metadata(
        self, kind: Literal["thread", "message", "run"], object_id: str, metadata: dict[str, str]
    ) -> None:
        """Replace an object's metadata (the API's modify endpoints)."""
        table = {"thread": "threads", "message": "messages", "run": "runs"}[kind]
        with self._write() as db:
            row = db.execute(f"SELECT data FROM {table} WHERE id = ?", (object_id,)).fetchone()
            if row is None:
                raise NotFoundError(kind, object_id)
            data = json.loads(row[0])
            data["metadata"] = dict(metadata)
            db.execute(f"UPDATE {table} SET data = ? WHERE id = ?", (_dumps(data), object_id))

    def delete_message(self, message_id: str) -> None:
        with self._write() as db:
            cursor = db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            if cursor.rowcount == 0:
                raise NotFoundError("message", message_id)

    # -- runs across processes -------------------------------------------------------------
    def run_state(self, run_id: str) -> tuple[Run, list[RunStep], dict[str, Message]]:
        """A run, its steps (in order) and the messages they created, read in one
        transaction (a consistent picture while another process writes)."""
        with self._snapshot() as db:
            row = db.execute("SELECT data FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError("run", run_id)
            step_rows = db.execute(
                "SELECT data FROM steps WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
            steps = [RunStep.from_dict(json.loads(d)) for (d,) in step_rows]
            ids = [s.message_id for s in steps if s.message_id]
            message_rows = (
                db.execute(
                    f"SELECT data FROM messages WHERE id IN ({', '.join('?' * len(ids))})",
                    ids,
                ).fetchall()
                if ids
                else []
            )
        messages = [Message.from_dict(json.loads(d)) for (d,) in message_rows]
        return Run.from_dict(json.loads(row[0])), steps, {m.id: m for m in messages}

    def claim_run(self, run: Run, expected_status: str) -> bool:
        """Write ``run`` only if its stored status is still ``expected_status``: of two
        processes taking up the same waiting run, exactly one wins."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, data = ? WHERE id = ? AND status = ?",
                (run.status, _dumps(run.to_dict()), run.id, expected_status),
            )
            claimed = cursor.rowcount == 1
            if claimed:
                self._owned(db, run.id)
        return claimed

    def expire_runs(self, skip: frozenset[str] | set[str] = frozenset()) -> list[str]:
        """Runs waiting for client tool outputs past their ``expires_at`` become
        ``expired`` (and their open steps too), whoever started them, except the ``skip``
        ids (runs the caller executes, which expire themselves). Returns their ids."""
        stamp = now()
        with self._write() as db:
            rows = db.execute(
                "SELECT data FROM runs WHERE status = 'requires_action' "
                f"{self._sql_not_executed} ORDER BY seq{self._sql_for_update}"
            ).fetchall()
            runs = [Run.from_dict(json.loads(d)) for (d,) in rows]
            expired = [
                r
                for r in runs
                if r.expires_at is not None and r.expires_at <= stamp and r.id not in skip
            ]
            for run in expired:
                self._expire(db, run, stamp)
        return [r.id for r in expired]

    def _awaits_client(self, db: Db, run: Run, stamp: int) -> bool:
        """For start-up recovery: a run waiting for client tool outputs survives a stop
        (expired if its time is up); True when it should be left as it is."""
        if run.status != "requires_action" or run.approval != "client":
            return False
        if run.expires_at is not None and run.expires_at <= stamp:
            self._expire(db, run, stamp)
            return True
        return True

    @staticmethod
    def _expire(db: Db, run: Run, stamp: int) -> None:
        run.status, run.required_action = "expired", None
        run.last_error = None
        db.execute(
            "UPDATE runs SET status = ?, data = ? WHERE id = ?",
            (run.status, _dumps(run.to_dict()), run.id),
        )
        rows = db.execute(
            "SELECT data FROM steps WHERE run_id = ? AND status = 'in_progress'", (run.id,)
        ).fetchall()
        for (data,) in rows:
            step = RunStep.from_dict(json.loads(data))
            step.status, step.expired_at = "expired", stamp
            for call in step.tool_calls:
                if call.status in ("queued", "awaiting_approval", "running"):
                    call.status, call.is_error, call.error = "cancelled", True, EXPIRED_MESSAGE
            db.execute(
                "UPDATE steps SET status = ?, data = ? WHERE id = ?",
                (step.status, _dumps(step.to_dict()), step.id),
            )
            for call in step.tool_calls:
                db.execute(
                    "UPDATE tool_calls SET data = ? WHERE step_id = ? AND id = ?",
                    (_dumps(call.to_dict()), step.id, call.id),
                )


__all__ = ["DEFAULT_PROJECT", "ApiKey", "ApiStore", "Order", "Page", "RequestAnswer", "RunRequest"]
