"""Checks of a run's event stream against the Assistants API's documented order (DESIGN.md,
"Streaming order in a tool-calling run"), on the JSON form ``ask --json`` prints."""

from __future__ import annotations

from typing import Any

TERMINAL_RUN = {
    "thread.run.completed",
    "thread.run.incomplete",
    "thread.run.failed",
    "thread.run.cancelled",
    "thread.run.expired",
}
STEP_END = {
    "thread.run.step.completed",
    "thread.run.step.failed",
    "thread.run.step.cancelled",
    "thread.run.step.expired",
}
MESSAGE_END = {"thread.message.completed", "thread.message.incomplete"}


def object_id(event: dict[str, Any]) -> str:
    return str(event["data"].get("id", ""))


def assert_documented_order(events: list[dict[str, Any]]) -> None:
    names = [e["event"] for e in events]
    if names and names[0] == "thread.created":
        names, events = names[1:], events[1:]
    assert names[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"], (
        names[:5]
    )
    assert names[-1] == "done" and names[-2] in TERMINAL_RUN, names[-3:]
    assert names.count("done") == 1 and sum(n in TERMINAL_RUN for n in names) == 1

    step_state: dict[str, str] = {}  # id → created | in_progress | ended
    message_state: dict[str, str] = {}
    message_step: dict[str, str] = {}  # message id → its step id
    open_step: str | None = None
    last_closed_type, last_closed_at = "", 0
    for index, (name, event) in enumerate(zip(names, events)):
        data = event["data"]
        where = f"event {index} {name}"
        if name == "thread.run.step.created":
            assert open_step is None, f"{where}: step {open_step} still open"
            if last_closed_type == "tool_calls":
                assert "thread.run.in_progress" in names[last_closed_at:index], (
                    f"{where}: no run.in_progress after the tool step"
                )
            open_step = data["id"]
            step_state[open_step] = "created"
            if data["type"] == "message_creation":
                message_step[data["step_details"]["message_creation"]["message_id"]] = open_step
        elif name == "thread.run.step.in_progress":
            assert step_state.get(data["id"]) == "created", where
            step_state[data["id"]] = "in_progress"
        elif name == "thread.run.step.delta":
            assert step_state.get(data["id"]) == "in_progress", where
        elif name in STEP_END:
            assert step_state.get(data["id"]) == "in_progress", where
            step_state[data["id"]] = "ended"
            assert open_step == data["id"], where
            open_step = None
            last_closed_type, last_closed_at = data["type"], index
        elif name == "thread.message.created":
            assert data["role"] == "assistant" and message_step.get(data["id"]) == open_step, where
            message_state[data["id"]] = "created"
        elif name == "thread.message.in_progress":
            assert message_state.get(data["id"]) == "created", where
            message_state[data["id"]] = "in_progress"
        elif name == "thread.message.delta":
            assert message_state.get(data["id"]) == "in_progress", where
        elif name in MESSAGE_END:
            assert message_state.get(data["id"]) == "in_progress", where
            message_state[data["id"]] = "ended"
            assert message_step[data["id"]] == open_step, f"{where}: the message outlived its step"
    assert open_step is None, "a step was never closed"
    assert set(step_state.values()) <= {"ended"} and set(message_state.values()) <= {"ended"}


def executed_calls(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls that ran and returned an output (a result or an error result)."""
    calls = []
    for event in events:
        if event["event"] == "thread.run.step.completed" and event["data"]["type"] == "tool_calls":
            for call in event["data"]["step_details"]["tool_calls"]:
                if call["function"].get("output") is not None and call["status"] in (
                    "completed",
                    "error",
                ):
                    calls.append(call)
    return calls


def final_message(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    ended = [e["data"] for e in events if e["event"] in MESSAGE_END]
    return ended[-1] if ended else None


def message_text(message: dict[str, Any]) -> str:
    return "".join(part["text"]["value"] for part in message["content"] if part["type"] == "text")
