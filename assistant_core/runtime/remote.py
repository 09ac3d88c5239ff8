"""Runs another process executes, and requests from other processes for the runs this one
executes: how ``cancel_run`` and ``submit_tool_outputs`` reach a run's owner.

On a store that records run owners (PostgreSQL: several server replicas on one database) a
cancel or tool outputs arriving at a process that does not execute the run are forwarded to
the one that does (``ThreadStore.forward_run_request``); that process applies them to the
live run — the same code path as a local call — and answers. A store that records no
owners (SQLite) forwards nothing, and the caller acts on the store as before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..errors import RunStateError
from ..store_api import NOT_EXECUTING, RequestAnswer, RunRequest
from ..store_interface import RequestKind

if TYPE_CHECKING:
    from . import Runtime

log = logging.getLogger(__name__)

#: How many turns of the event loop a submission may take to move the run on (it is
#: answered once the run has left requires_action, so the sender's next read sees that).
_SETTLE_TURNS = 200


class RemoteRuns:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.loop: asyncio.AbstractEventLoop | None = None  # where this runtime's runs execute
        runtime.store.serve_run_requests(self.deliver)

    # -- the sender's side ---------------------------------------------------------------
    async def forward(
        self, run_id: str, kind: RequestKind, outputs: list[dict[str, str]] | None = None
    ) -> RequestAnswer | None:
        """Hand ``kind`` to the process executing ``run_id``; None when no other live
        process does (act on the store here)."""
        return await asyncio.to_thread(
            self.runtime.store.forward_run_request, run_id, kind, outputs
        )

    # -- the owner's side ----------------------------------------------------------------
    def deliver(self, request: RunRequest) -> None:
        """A request from another process (called on the store's listener thread)."""
        loop = self.loop
        if loop is None or loop.is_closed() or request.run_id not in self.runtime._by_run:
            self.runtime.store.answer_run_request(request, NOT_EXECUTING)
            return
        asyncio.run_coroutine_threadsafe(self._handle(request), loop)

    async def _handle(self, request: RunRequest) -> None:
        error: str | None = None
        execution = self.runtime._by_run.get(request.run_id)
        try:
            if execution is None:
                error = NOT_EXECUTING
            elif request.kind == "cancel":
                await execution.cancel()
            else:
                execution.submit_tool_outputs(request.outputs)
                for _ in range(_SETTLE_TURNS):
                    if execution.run.status != "requires_action" or execution.finished:
                        break
                    await asyncio.sleep(0)
        except RunStateError as exc:
            error = str(exc)
        except Exception as exc:  # answered either way: the sender must not wait in vain
            log.exception("request %d for run %s failed", request.id, request.run_id)
            error = f"{type(exc).__name__}: {exc}"
        await asyncio.to_thread(self.runtime.store.answer_run_request, request, error)


__all__ = ["RemoteRuns"]
