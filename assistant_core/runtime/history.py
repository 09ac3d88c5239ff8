"""A thread's past as model input: its messages, with earlier runs' tool calls in place.

The input is built from ``Unit``\\ s: pieces that are kept or dropped whole. A user or
assistant message is one unit; an assistant item with ``tool_calls`` and the tool outputs
answering it are one unit, so truncation can never split a call from its output (an API
rejects a call without its output).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..backends.base import InputItem
from ..objects import Message, Run, ToolCall
from ..store import Store
from ..tokens import estimate_item


@dataclass
class Unit:
    items: list[InputItem]
    kind: str  # "user" | "assistant" | "tools"
    message_id: str | None = None
    tokens: int = field(default=0)

    def __post_init__(self) -> None:
        if not self.tokens:
            self.tokens = sum(estimate_item(item) for item in self.items)

    @property
    def is_message(self) -> bool:
        return self.message_id is not None


def message_unit(message: Message) -> Unit | None:
    text = message.text
    if message.role == "assistant" and not text:
        return None  # an empty partial answer says nothing to the model
    return Unit([{"role": message.role, "content": text}], message.role, message.id)


def tool_unit(calls: Iterable[ToolCall]) -> Unit | None:
    """One assistant turn's calls and their outputs. Calls that never got an output (the
    run was cancelled or failed meanwhile) are left out: an unanswered call is invalid input."""
    done = [c for c in calls if c.function.output is not None]
    if not done:
        return None
    items: list[InputItem] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                for c in done
            ],
        }
    ]
    items.extend(
        {
            "role": "tool",
            "tool_call_id": c.id,
            "name": c.function.name,
            "content": c.function.output or "",
        }
        for c in done
    )
    return Unit(items, "tools")


def _run_units(store: Store, run_id: str, messages: dict[str, Message]) -> list[Unit]:
    """A run's answer and tool calls in the order its steps happened."""
    units: list[Unit] = []
    for step in store.list_steps(run_id):
        if step.type == "tool_calls":
            unit = tool_unit(step.tool_calls)
        else:
            message = messages.get(step.message_id or "")
            unit = message_unit(message) if message is not None else None
        if unit is not None:
            units.append(unit)
    return units


def thread_units(store: Store, thread_id: str, *, exclude_run_id: str | None = None) -> list[Unit]:
    """The thread's messages, oldest first, with earlier runs' tool calls in place.

    A run that called tools is expanded from its steps (exact order of calls and text) at
    the place of its first answer. A run that called tools but never answered (cancelled,
    failed) goes right after the last message it read (``run.memory["input_through"]``).
    """
    messages = store.list_messages(thread_id)
    tool_run_ids = {
        record.run_id
        for record in store.list_tool_calls(thread_id=thread_id)
        if record.run_id != exclude_run_id
    }
    pending: deque[Run] = deque(r for r in store.list_runs(thread_id) if r.id in tool_run_ids)
    by_id = {m.id: m for m in messages}
    units: list[Unit] = []

    def flush_next() -> None:
        units.extend(_run_units(store, pending.popleft().id, by_id))

    def read_through(run: Run) -> str | None:
        return (run.memory or {}).get("input_through")

    for message in messages:
        if exclude_run_id is not None and message.run_id == exclude_run_id:
            continue
        if message.run_id in tool_run_ids:
            if any(r.id == message.run_id for r in pending):
                while pending[0].id != message.run_id:
                    flush_next()
                flush_next()
        elif message.role == "user":
            # Runs without a record of what they read (older data): a run created before
            # this message ended before it (add_message is refused during a run). Timestamps
            # are whole seconds, so this is only a fallback.
            while (
                pending
                and read_through(pending[0]) is None
                and pending[0].created_at < message.created_at
            ):
                flush_next()
        if message.run_id not in tool_run_ids:
            unit = message_unit(message)
            if unit is not None:
                units.append(unit)
        while pending and read_through(pending[0]) == message.id:
            flush_next()
    while pending:
        flush_next()
    return units
