"""Objects and events in the Assistants API's shapes.

The fields of each object on the wire are those of its model in ``openai.types.beta`` (the
SDK's definition of the API): our objects carry local extras (a thread's title, a tool
call's timing and display form, a run's provider and memory report) that stay out of the
API's answers, and a field the model has and we don't is sent as null.
"""

from __future__ import annotations

import json
from typing import Any

from openai.types.beta import Assistant as AssistantModel
from openai.types.beta import Thread as ThreadModel
from openai.types.beta.threads import Message as MessageModel
from openai.types.beta.threads import Run as RunModel
from openai.types.beta.threads.runs import FunctionToolCall
from openai.types.beta.threads.runs import RunStep as RunStepModel
from pydantic import BaseModel

from ..events import (
    Done,
    ErrorEvent,
    Event,
    MessageDelta,
    MessageEvent,
    RunEvent,
    StepDelta,
    StepEvent,
    ThreadCreated,
)
from ..objects import Assistant, Message, Run, RunStep, Thread


def _fields(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(model.model_fields)


ASSISTANT_FIELDS = _fields(AssistantModel)
THREAD_FIELDS = _fields(ThreadModel)
MESSAGE_FIELDS = _fields(MessageModel)
RUN_FIELDS = _fields(RunModel)
STEP_FIELDS = _fields(RunStepModel)
CALL_FIELDS = _fields(FunctionToolCall)
FUNCTION_FIELDS = ("name", "arguments", "output")


def _project(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: data.get(name) for name in names}


def _data(obj: Any) -> dict[str, Any]:
    """An object's ``to_dict()``; a dict (as the store keeps it) is taken as it is."""
    return obj if isinstance(obj, dict) else obj.to_dict()


def assistant(obj: Assistant | dict[str, Any]) -> dict[str, Any]:
    return _project(_data(obj), ASSISTANT_FIELDS)


def thread(obj: Thread | dict[str, Any]) -> dict[str, Any]:
    return _project(_data(obj), THREAD_FIELDS)


def message(obj: Message | dict[str, Any]) -> dict[str, Any]:
    return _project(_data(obj), MESSAGE_FIELDS)


def run(obj: Run | dict[str, Any]) -> dict[str, Any]:
    data = _project(_data(obj), RUN_FIELDS)
    if data["last_error"] is not None:
        data["last_error"] = {k: data["last_error"][k] for k in ("code", "message")}
    return data


def _call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "id": call["id"],
        "type": "function",
        "function": {name: function.get(name) for name in FUNCTION_FIELDS},
    }


def step(obj: RunStep | dict[str, Any]) -> dict[str, Any]:
    data = _project(_data(obj), STEP_FIELDS)
    details = data["step_details"]
    if details.get("type") == "tool_calls":
        calls = [_call(c) for c in details["tool_calls"]]
        data["step_details"] = {"type": "tool_calls", "tool_calls": calls}
    if data["last_error"] is not None:
        data["last_error"] = {k: data["last_error"][k] for k in ("code", "message")}
    return data


def deleted(kind: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


def page(items: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


# -- events --------------------------------------------------------------------------------
class EventEncoder:
    """One SSE stream's events as the API sent them: (event name, data text).

    Stateful per stream: a tool call's id, type and name go only in its first delta, as the
    API sent them (the SDK's delta accumulation appends repeated strings)."""

    def __init__(self) -> None:
        self._calls_seen: set[tuple[str, int]] = set()
        # Steps this stream announced: a stream that starts mid-run (tool outputs submitted
        # to a run followed from the store) sends no deltas of steps opened before it, which
        # the SDK could not place.
        self._steps_created: set[str] = set()

    def encode(self, event: Event) -> tuple[str, str] | None:
        """(name, data), or None for an event the API would not have sent."""
        if isinstance(event, Done):
            return "done", "[DONE]"
        data = self.data(event)
        if data is None:
            return None
        return event.event, json.dumps(data, ensure_ascii=False)

    def data(self, event: Event) -> Any:
        if isinstance(event, RunEvent):
            return run(event.data)
        if isinstance(event, StepEvent):
            if event.event == "thread.run.step.created":
                self._steps_created.add(event.data.id)
            return step(event.data)
        if isinstance(event, MessageEvent):
            return message(event.data)
        if isinstance(event, ThreadCreated):
            return thread(event.data)
        if isinstance(event, MessageDelta):
            d = event.data
            text = {"value": d.value}
            content = [{"index": d.index, "type": "text", "text": text}]
            return {"id": d.id, "object": "thread.message.delta", "delta": {"content": content}}
        if isinstance(event, StepDelta):
            sd = event.data
            if sd.id not in self._steps_created:
                return None
            calls = [c for c in (self._call_delta(sd.id, e) for e in sd.tool_calls) if c]
            if not calls:
                return None
            return {
                "id": sd.id,
                "object": "thread.run.step.delta",
                "delta": {"step_details": {"type": "tool_calls", "tool_calls": calls}},
            }
        if isinstance(event, ErrorEvent):
            e = event.data.to_dict()
            return {"code": e["code"], "message": e["message"], "param": None, "type": e["code"]}
        return event.data_dict()

    def _call_delta(self, step_id: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The API streamed a call's name and arguments; its output came with
        ``thread.run.step.completed``. Our progress entries (status, output) stay out: the
        SDK would take each change of index as the end of a call."""
        index = int(entry["index"])
        function = entry.get("function") or {}
        out: dict[str, Any] = {"index": index}
        fn: dict[str, Any] = {}
        if (step_id, index) not in self._calls_seen:
            self._calls_seen.add((step_id, index))
            out["id"], out["type"] = entry["id"], "function"
            fn["name"] = function.get("name")
        if function.get("arguments"):
            fn["arguments"] = function["arguments"]
        if not fn:
            return None
        out["function"] = fn
        return out
