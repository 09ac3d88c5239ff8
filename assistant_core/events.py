"""The Assistants streaming events, one type per event name.

Every consumer (the TUI, the headless CLI, tests) reads the same stream of these. Each event
carries its object (a Thread, Run, RunStep or Message, snapshotted when the event was made),
a delta, an error, or nothing (``done``). ``to_json()`` / ``to_sse()`` give the form the
hosted API sent: ``event: thread.run.created`` + ``data: {…}``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .objects import LastError, Message, Run, RunStep, Thread, ToolCall

T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    event: ClassVar[str] = ""
    data: Any = None

    def data_dict(self) -> Any:
        data = self.data
        return data.to_dict() if hasattr(data, "to_dict") else data

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "data": self.data_dict()}

    def to_sse(self) -> str:
        data = self.data_dict()
        payload = "[DONE]" if self.event == "done" else json.dumps(data, ensure_ascii=False)
        return f"event: {self.event}\ndata: {payload}\n\n"

    # Which thread/run the event concerns, for routing in clients.
    @property
    def thread_id(self) -> str | None:
        data = self.data
        if isinstance(data, Thread):
            return data.id
        return getattr(data, "thread_id", None) or (
            data.get("thread_id") if isinstance(data, dict) else None
        )

    @property
    def run_id(self) -> str | None:
        data = self.data
        if isinstance(data, Run):
            return data.id
        return getattr(data, "run_id", None) or (
            data.get("run_id") if isinstance(data, dict) else None
        )


EVENT_TYPES: dict[str, type[Event]] = {}


def _event(name: str) -> Any:
    def register(cls: type[Event]) -> type[Event]:
        cls.event = name
        EVENT_TYPES[name] = cls
        return cls

    return register


# -- thread ------------------------------------------------------------------------------
@_event("thread.created")
class ThreadCreated(Event):
    data: Thread


# -- run ---------------------------------------------------------------------------------
class RunEvent(Event):
    data: Run


@_event("thread.run.created")
class RunCreated(RunEvent): ...


@_event("thread.run.queued")
class RunQueued(RunEvent): ...


@_event("thread.run.in_progress")
class RunInProgress(RunEvent): ...


@_event("thread.run.requires_action")
class RunRequiresAction(RunEvent): ...


@_event("thread.run.completed")
class RunCompleted(RunEvent): ...


@_event("thread.run.incomplete")
class RunIncomplete(RunEvent): ...


@_event("thread.run.failed")
class RunFailed(RunEvent): ...


@_event("thread.run.cancelling")
class RunCancelling(RunEvent): ...


@_event("thread.run.cancelled")
class RunCancelled(RunEvent): ...


@_event("thread.run.expired")
class RunExpired(RunEvent): ...


RUN_EVENT_BY_STATUS: dict[str, type[RunEvent]] = {
    cls.event.rsplit(".", 1)[1]: cls
    for cls in (
        RunQueued,
        RunInProgress,
        RunRequiresAction,
        RunCompleted,
        RunIncomplete,
        RunFailed,
        RunCancelling,
        RunCancelled,
        RunExpired,
    )
}


# -- run step ----------------------------------------------------------------------------
class StepEvent(Event):
    data: RunStep


@_event("thread.run.step.created")
class StepCreated(StepEvent): ...


@_event("thread.run.step.in_progress")
class StepInProgress(StepEvent): ...


@_event("thread.run.step.completed")
class StepCompleted(StepEvent): ...


@_event("thread.run.step.failed")
class StepFailed(StepEvent): ...


@_event("thread.run.step.cancelled")
class StepCancelled(StepEvent): ...


@_event("thread.run.step.expired")
class StepExpired(StepEvent): ...


STEP_EVENT_BY_STATUS: dict[str, type[StepEvent]] = {
    "in_progress": StepInProgress,
    "completed": StepCompleted,
    "failed": StepFailed,
    "cancelled": StepCancelled,
    "expired": StepExpired,
}


@dataclass(frozen=True)
class RunStepDelta:
    """``thread.run.step.delta``: argument fragments of tool calls (and, ours, their progress)."""

    id: str  # the step id
    run_id: str
    thread_id: str
    tool_calls: list[
        dict[str, Any]
    ]  # [{"index", "id", "type", "function": {name, arguments, output}}]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.run.step.delta",
            "delta": {"step_details": {"type": "tool_calls", "tool_calls": self.tool_calls}},
            # Not in the API's delta; kept so a JSON Lines consumer can route it.
            "run_id": self.run_id,
            "thread_id": self.thread_id,
        }


@_event("thread.run.step.delta")
class StepDelta(Event):
    data: RunStepDelta


def tool_call_delta(index: int, call: ToolCall, arguments: str | None = None) -> dict[str, Any]:
    """One entry of a step delta's ``tool_calls`` list."""
    entry: dict[str, Any] = {"index": index, "id": call.id, "type": "function"}
    function: dict[str, Any] = {"name": call.function.name}
    if arguments is not None:
        function["arguments"] = arguments
    if call.function.output is not None:
        function["output"] = call.function.output
    entry["function"] = function
    return entry


def call_progress(index: int, call: ToolCall, arguments: str | None = None) -> dict[str, Any]:
    """One entry of a step delta that reports a call's progress (ours: the API streamed only
    names and arguments): its status, timing, error and source, its output once done, and
    what a UI shows of it (``display``, ``cache_hit``) — so a view can draw a finished call
    at once, not when its whole step ends."""
    entry = tool_call_delta(index, call, arguments)
    entry.update(
        status=call.status,
        duration_ms=call.duration_ms,
        is_error=call.is_error,
        error=call.error,
        source=call.source,
        cache_hit=call.cache_hit,
    )
    if call.display is not None:
        entry["display"] = call.display
    if call.recovered:
        entry["recovered"] = True
    if call.repeat_of:
        entry["repeat_of"] = call.repeat_of
    return entry


# -- message -----------------------------------------------------------------------------
class MessageEvent(Event):
    data: Message


@_event("thread.message.created")
class MessageCreated(MessageEvent): ...


@_event("thread.message.in_progress")
class MessageInProgress(MessageEvent): ...


@_event("thread.message.completed")
class MessageCompleted(MessageEvent): ...


@_event("thread.message.incomplete")
class MessageIncomplete(MessageEvent): ...


@dataclass(frozen=True)
class MessageDeltaData:
    id: str  # the message id
    run_id: str
    thread_id: str
    value: str
    index: int = 0
    #: Where ``value`` starts in the message's text (ours, not on the wire). A view that read
    #: the text from the store mid-stream continues from it exactly (run_view.MessageText):
    #: the store is flushed from what the runtime emitted, which the view may not have
    #: received yet. None: right after the previous delta.
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {
                        "index": self.index,
                        "type": "text",
                        "text": {"value": self.value, "annotations": []},
                    }
                ]
            },
            "run_id": self.run_id,
            "thread_id": self.thread_id,
        }


@_event("thread.message.delta")
class MessageDelta(Event):
    data: MessageDeltaData


# -- error and done ----------------------------------------------------------------------
@_event("error")
class ErrorEvent(Event):
    data: LastError

    def data_dict(self) -> Any:
        # The API's error event carries an ErrorObject, which also has ``type`` and ``param``.
        return {**self.data.to_dict(), "type": self.data.code, "param": None}


@_event("done")
@dataclass(frozen=True)
class Done(Event):
    data: str = "[DONE]"


def snapshot(obj: T) -> T:
    """A copy of a mutable object, so an event keeps the state it was emitted with."""
    return copy.deepcopy(obj)
