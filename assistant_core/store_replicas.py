"""One process among those sharing a PostgreSQL database: its lease, the runs it owns, and
the requests other processes send it.

* **Lease.** Each process that opens the store registers a row in ``replicas`` whose
  ``lease_until`` (the database's clock, so hosts need not agree on the time) a background
  thread renews every quarter of the lease. The runs a process executes carry its id
  (``runs.owner``). A process that dies — SIGKILL, a lost host — stops renewing; once its
  lease has expired, the next tick of any other replica closes its runs: ``failed`` with
  ``last_error`` naming the replica and when its lease ran out, or ``cancelled`` if a
  cancel was asked for meanwhile. Runs waiting for a client's tool outputs need no live
  process and stay (whichever replica receives the outputs takes them up).
* **Requests.** A cancel or tool outputs that reach a replica other than the run's owner
  are written to ``run_requests`` and announced with ``NOTIFY`` in the same transaction;
  the owner's listener (a ``LISTEN`` connection of its own) hands them to the runtime,
  which answers, announced the same way. Every tick also polls for requests, so a
  notification lost while a listener reconnects delays a request by one tick, never loses
  it. The sender waits for the answer (``FORWARD_TIMEOUT_S``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import NotFoundError, StoreError
from .objects import ACTIVE_RUN_STATUSES
from .store_api import NOT_EXECUTING, RequestAnswer, RunRequest
from .store_sql import dumps

if TYPE_CHECKING:
    from .store_pg import PostgresStore

log = logging.getLogger(__name__)

CHANNEL = "investor_assistant"
#: How often a waiting sender reads its request's row besides being notified.
_ANSWER_POLL_S = 0.25
#: Answered requests are kept this long (for a look in the database), then deleted.
_KEEP_REQUESTS = "1 hour"


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class Replica:
    def __init__(self, store: PostgresStore, name: str | None, lease: float) -> None:
        self.store = store
        self.id = name or default_name()
        self.lease = lease
        self.tick = min(max(lease / 4, 0.1), 5.0)
        self._handler: Callable[[RunRequest], None] | None = None
        self._waiters: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._listener: threading.Thread | None = None
        self._register()
        self._beats = 0
        self._heartbeat = threading.Thread(target=self._beat, name="replica lease", daemon=True)
        self._heartbeat.start()

    # -- the lease -----------------------------------------------------------------------
    def _register(self) -> None:
        with self.store._write() as db:
            claimed = db.execute(
                "INSERT INTO replicas (id, host, pid, lease_until) "
                "VALUES (?, ?, ?, now() + make_interval(secs => ?)) "
                "ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
                "started_at = now(), lease_until = excluded.lease_until "
                "WHERE replicas.lease_until <= now()",
                (self.id, socket.gethostname(), os.getpid(), float(self.lease)),
            ).rowcount
        if claimed != 1:
            raise StoreError(
                f"another live process on {self.store.location} uses the replica name "
                f"{self.id!r}; give each process its own INVESTOR_ASSISTANT_REPLICA"
            )

    def _renew(self) -> None:
        with self.store._write() as db:
            renewed = db.execute(
                "UPDATE replicas SET lease_until = now() + make_interval(secs => ?) "
                "WHERE id = ? AND lease_until > now()",
                (float(self.lease), self.id),
            ).rowcount
        if renewed != 1:
            # Too slow to renew (a stalled host): other replicas may have closed our runs;
            # their later writes are refused by the stored statuses.
            log.warning("the lease of replica %s lapsed before it was renewed", self.id)
            self._register()

    def _beat(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self._renew()
                closed = self.store.recover_interrupted()
                if closed:
                    log.warning("closed %d run(s) of replicas that stopped", len(closed))
                if self._handler is not None:
                    self._poll_requests()
                self._beats += 1
                if self._beats % 100 == 0:
                    self._clean_up()
            except StoreError as exc:  # the database is away: try again next tick
                log.warning("replica %s: %s", self.id, exc)
            except Exception:
                log.exception("replica %s: lease upkeep failed", self.id)

    def _clean_up(self) -> None:
        with self.store._write() as db:
            db.execute(
                f"DELETE FROM run_requests WHERE answered_at < now() - interval '{_KEEP_REQUESTS}'"
            )
            db.execute(
                "DELETE FROM replicas r WHERE r.lease_until < now() - interval '1 hour' "
                "AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.owner = r.id AND runs.status "
                "IN ('queued', 'in_progress', 'cancelling'))"
            )

    def leave(self) -> None:
        """Stop renewing and leave: runs waiting for client tool outputs are let go (any
        replica takes them up), and the replica's row goes, so anything else it still
        owned is closed by the others at once rather than after the lease."""
        self._stop.set()
        self._heartbeat.join(timeout=5)
        if self._listener is not None:
            self._listener.join(timeout=5)
        try:
            with self.store._write() as db:
                db.execute(
                    "UPDATE runs SET owner = NULL WHERE owner = ? AND status = 'requires_action'",
                    (self.id,),
                )
                db.execute("DELETE FROM replicas WHERE id = ?", (self.id,))
        except StoreError as exc:  # its lease will expire by itself
            log.warning("replica %s could not leave cleanly: %s", self.id, exc)

    # -- listening ------------------------------------------------------------------------
    def _ensure_listening(self) -> None:
        with self._lock:
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="replica requests", daemon=True
                )
                self._listener.start()
        self._listening.wait(5)

    def _listen(self) -> None:
        from .store_pg import connect

        while not self._stop.is_set():
            try:
                with connect(self.store.url) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.25):
                            self._on_notify(note.payload)
            except Exception as exc:
                if not self._stop.is_set():
                    log.warning("replica %s: listening failed (%s); reconnecting", self.id, exc)
                    self._stop.wait(1)

    def _on_notify(self, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        name, _, number = rest.rpartition(" ")
        if name != self.id or not number.isdigit():
            return
        if kind == "req":
            self._deliver(int(number))
        elif kind == "ans":
            with self._lock:
                waiter = self._waiters.get(int(number))
            if waiter is not None:
                waiter.set()

    # -- serving requests -----------------------------------------------------------------
    def serve(self, handler: Callable[[RunRequest], None] | None) -> None:
        self._handler = handler
        if handler is not None:
            self._ensure_listening()
            self._poll_requests()

    def _poll_requests(self) -> None:
        with self.store._read() as db:
            rows = db.execute(
                "SELECT seq FROM run_requests WHERE target = ? AND answered_at IS NULL "
                "AND taken_at IS NULL ORDER BY seq",
                (self.id,),
            ).fetchall()
        for (seq,) in rows:
            self._deliver(int(seq))

    def _deliver(self, seq: int) -> None:
        """Take request ``seq`` (once: a notification and a poll may both bring it) and
        hand it to the handler, or refuse it when nothing here executes runs."""
        try:
            with self.store._write() as db:
                row = db.execute(
                    "UPDATE run_requests SET taken_at = now() WHERE seq = ? AND target = ? "
                    "AND answered_at IS NULL AND taken_at IS NULL RETURNING run_id, kind, outputs",
                    (seq, self.id),
                ).fetchone()
        except StoreError as exc:
            log.warning("replica %s: request %d: %s", self.id, seq, exc)
            return
        if row is None:
            return
        run_id, kind, outputs = row
        request = RunRequest(seq, run_id, kind, json.loads(outputs) if outputs else [])
        handler = self._handler
        if handler is None:
            self.answer(request, NOT_EXECUTING)
            return
        try:
            handler(request)
        except Exception as exc:
            log.exception("replica %s: request %d failed", self.id, seq)
            self.answer(request, f"{type(exc).__name__}: {exc}")

    def answer(self, request: RunRequest, error: str | None) -> None:
        with self.store._write() as db:
            row = db.execute(
                "UPDATE run_requests SET answered_at = now(), error = ? WHERE seq = ? "
                "AND answered_at IS NULL RETURNING sender",
                (error, request.id),
            ).fetchone()
            if row is not None:
                db.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"ans {row[0]} {request.id}"))

    # -- sending requests ------------------------------------------------------------------
    def forward(
        self, run_id: str, kind: str, outputs: list[dict[str, str]] | None, timeout: float
    ) -> RequestAnswer | None:
        """Send ``kind`` for ``run_id`` to its owner and wait for the answer; None when no
        other live replica owns the run (the caller acts on the store itself)."""
        waiter = threading.Event()
        with self.store._write() as db:
            row = db.execute(
                "SELECT runs.owner, runs.status, rep.lease_until > now() FROM runs "
                "LEFT JOIN replicas rep ON rep.id = runs.owner WHERE runs.id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError("run", run_id)
            owner, status, live = row
            if status not in ACTIVE_RUN_STATUSES or owner in (None, self.id) or not live:
                return None
            self._ensure_listening()  # before the request is committed: no answer is missed
            (seq,) = db.execute(
                "INSERT INTO run_requests (run_id, target, sender, kind, outputs) "
                "VALUES (?, ?, ?, ?, ?) RETURNING seq",
                (run_id, owner, self.id, kind, None if outputs is None else dumps(outputs)),
            ).fetchone()
            with self._lock:
                self._waiters[seq] = waiter
            db.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"req {owner} {seq}"))
        try:
            return self._await_answer(seq, waiter, owner, kind, timeout)
        finally:
            with self._lock:
                self._waiters.pop(seq, None)

    def _await_answer(
        self, seq: int, waiter: threading.Event, owner: str, kind: str, timeout: float
    ) -> RequestAnswer:
        deadline = time.monotonic() + timeout
        while True:
            waiter.wait(max(0.0, min(deadline - time.monotonic(), _ANSWER_POLL_S)))
            waiter.clear()
            answer = self._answer_of(seq)
            if answer is not None:
                return answer
            if time.monotonic() >= deadline:
                return self._give_up(seq, owner, kind, timeout)

    def _answer_of(self, seq: int) -> RequestAnswer | None:
        with self.store._read() as db:
            row = db.execute(
                "SELECT answered_at IS NOT NULL, error FROM run_requests WHERE seq = ?", (seq,)
            ).fetchone()
        if row is None:  # the run was deleted meanwhile
            return RequestAnswer("gone", NOT_EXECUTING)
        answered, error = row
        if not answered:
            return None
        if error is None:
            return RequestAnswer("done")
        return RequestAnswer("gone" if error == NOT_EXECUTING else "refused", error)

    def _give_up(self, seq: int, owner: str, kind: str, timeout: float) -> RequestAnswer:
        """No answer in time. A cancel stays queued (the owner acts on it when it can, or
        whoever closes the run after the owner's lease honours it). Tool outputs are
        withdrawn unless the owner took them: the client is told to try again, rather than
        told they were taken when nothing may ever take them."""
        if kind == "cancel":
            return RequestAnswer("pending")
        with self.store._write() as db:
            withdrawn = db.execute(
                "UPDATE run_requests SET answered_at = now(), error = 'withdrawn: no answer' "
                "WHERE seq = ? AND taken_at IS NULL AND answered_at IS NULL",
                (seq,),
            ).rowcount
        if withdrawn:
            return RequestAnswer(
                "refused",
                f"the server replica {owner} executing this run did not answer within "
                f"{timeout:g} s; try again",
            )
        return self._answer_of(seq) or RequestAnswer("pending")


__all__ = ["CHANNEL", "Replica", "default_name"]
