"""The hosted Assistants API's recorded SSE run streams, read back as our event types.

``tests/fixtures/recorded/assistants/openai-dotnet_StreamingToolCall.json`` holds two real
run streams (up to ``requires_action``, and after ``submit_tool_outputs``). Parsed with
:func:`parse_stream` they can be folded by the same reducer as our runtime's events, which
checks the reducer against the wire the API really sent: step deltas whose later fragments
carry only an ``index``, message deltas by content part, objects with keys we do not use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant_core import events as ev
from assistant_core.objects import LastError, Message, Run, RunStep, Thread


def recorded_streams(path: Path) -> list[str]:
    """The SSE bodies of a recorded openai-dotnet session, in order."""
    record = json.loads(path.read_text())
    return [
        "".join(entry["ResponseBody"])
        for entry in record["Entries"]
        if "text/event-stream" in entry["ResponseHeaders"].get("Content-Type", "")
    ]


def parse_stream(body: str) -> list[ev.Event]:
    """One SSE run stream as events (the deltas get the run and thread ids of the stream,
    which the hosted API left out of them)."""
    events: list[ev.Event] = []
    run_id = thread_id = ""
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        name, raw = fields.get("event"), fields.get("data")
        if name is None or raw is None:
            continue
        if name == "done":
            events.append(ev.Done())
            continue
        data: dict[str, Any] = json.loads(raw)
        cls = ev.EVENT_TYPES[name]
        if issubclass(cls, ev.RunEvent):
            run = Run.from_dict(data)
            run_id, thread_id = run.id, run.thread_id
            events.append(cls(run))
        elif issubclass(cls, ev.StepEvent):
            events.append(cls(RunStep.from_dict(data)))
        elif cls is ev.StepDelta:
            calls = data["delta"]["step_details"]["tool_calls"]
            events.append(ev.StepDelta(ev.RunStepDelta(data["id"], run_id, thread_id, calls)))
        elif cls is ev.MessageDelta:
            for part in data["delta"]["content"]:
                value = part["text"]["value"]
                events.append(
                    ev.MessageDelta(
                        ev.MessageDeltaData(data["id"], run_id, thread_id, value, part["index"])
                    )
                )
        elif issubclass(cls, ev.MessageEvent):
            events.append(cls(Message.from_dict(data)))
        elif cls is ev.ThreadCreated:
            events.append(ev.ThreadCreated(Thread.from_dict(data)))
        elif cls is ev.ErrorEvent:
            events.append(ev.ErrorEvent(LastError.from_dict(data)))
    return events
