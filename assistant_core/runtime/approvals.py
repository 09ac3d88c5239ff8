"""A run waiting in ``requires_action``: for the user's approvals (policy ``ask``) or for
tool outputs from the client (policy ``client``).

The run's task awaits ``wait()``; ``approve()`` / ``submit()`` are called from other tasks
(the UI) and resolve it once every pending call has a decision or an output. Partial
answers are kept, so a UI may approve calls one by one.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from ..errors import RunStateError
from ..objects import ToolCall

ActionKind = Literal["approval", "outputs"]

ALL_CALLS = "*"  # key in approve()'s decisions meaning "every call still undecided"


class PendingAction:
    def __init__(self, kind: ActionKind, calls: list[ToolCall]) -> None:
        self.kind = kind
        self.calls = {call.id: call for call in calls}
        self.decisions: dict[str, bool] = {}
        self.outputs: dict[str, str] = {}
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def pending_ids(self) -> list[str]:
        answered = self.decisions if self.kind == "approval" else self.outputs
        return [call_id for call_id in self.calls if call_id not in answered]

    async def wait(self) -> None:
        await self._done

    def approve(self, decisions: dict[str, bool]) -> None:
        self._check_open()
        if self.kind != "approval":
            raise RunStateError(
                "this run waits for tool outputs from the client, not for approvals; "
                "use submit_tool_outputs"
            )
        for call_id in decisions:
            if call_id == ALL_CALLS:
                continue
            self._check_id(call_id)
        for call_id, allowed in decisions.items():
            if call_id == ALL_CALLS:
                for pending in self.pending_ids:
                    self.decisions[pending] = bool(allowed)
            else:
                self.decisions[call_id] = bool(allowed)
        self._resolve_if_complete()

    def submit(self, outputs: list[dict[str, str]]) -> None:
        self._check_open()
        if self.kind != "outputs":
            raise RunStateError("this run waits for approvals, not for tool outputs; use approve")
        parsed: dict[str, str] = {}
        for entry in outputs:
            call_id = entry.get("tool_call_id") if isinstance(entry, dict) else None
            if not call_id:
                raise RunStateError('each tool output needs a "tool_call_id"')
            self._check_id(call_id)
            output = entry.get("output")
            parsed[call_id] = (
                output if isinstance(output, str) else "" if output is None else str(output)
            )
        self.outputs.update(parsed)
        self._resolve_if_complete()

    def _check_open(self) -> None:
        """Once every call is answered the run resumes with those answers: a late second
        answer (a double click, two clients) must not change them behind the user's back."""
        if self._done.done():
            raise RunStateError(
                "the pending tool calls of this run were already answered; the run is resuming"
            )

    def _check_id(self, call_id: str) -> None:
        if call_id not in self.calls:
            known = ", ".join(self.calls) or "none"
            raise RunStateError(f"no pending tool call {call_id!r} in this run (pending: {known})")

    def _resolve_if_complete(self) -> None:
        if not self.pending_ids and not self._done.done():
            self._done.set_result(None)
