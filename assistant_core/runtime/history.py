"""A thread's past as model input: its messages, with earlier runs' tool calls in place.

The input is built from ``Unit``\\ s: pieces that are kept or dropped whole. A user or
assistant message is one unit; an assistant item with ``tool_calls`` and the tool outputs
answering it are one unit, so truncation can never split a call from its output (an API
rejects a call without its output).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..backends.base import InputItem
from ..objects import Run, ToolCall
from ..store import MessageRow
from ..store_interface import ThreadStore
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


class MessageLike(Protocol):
    """A stored ``Message`` or a ``MessageRow``: what a message unit is made of."""

    @property
    def id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def text(self) -> str: ...


def message_unit(message: MessageLike, tokens: int = 0) -> Unit | None:
    """``tokens``: its estimate when already known (else it is estimated here)."""
    text = message.text
    if message.role == "assistant" and not text:
        return None  # an empty partial answer says nothing to the model
    return Unit([{"role": message.role, "content": text}], message.role, message.id, tokens)


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


def run_units(store: ThreadStore, run_id: str, messages: Mapping[str, MessageLike]) -> list[Unit]:
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


@dataclass
class History:
    """The latest part of a thread as units, and how many older messages were not read."""

    units: list[Unit]
    omitted_messages: int = 0


FIRST_PAGE = 200  # messages read first; each further page is twice as long


def recent_history(
    store: ThreadStore,
    thread_id: str,
    *,
    token_target: int,
    exclude_run_id: str | None = None,
    leave_out: str | None = None,
) -> History:
    """The thread's latest messages, with earlier runs' tool calls in place, reaching back
    until their text holds more than ``token_target`` estimated tokens (or to the start).

    A model reads no more than its window, so a 50,000-message thread is read from its
    end, a page at a time: a few hundred messages for a small window, never all of them
    on every turn. What is older is counted, not read. ``leave_out``: a run whose answer
    and tool calls are left out too (the run a Retry or Regenerate answers again)."""
    rows: list[MessageRow] = []
    tokens: dict[str, int] = {}
    total = 0
    before: int | None = None
    limit = FIRST_PAGE
    while True:
        page, older = store.recent_message_rows(
            thread_id, limit=limit, before_seq=before, exclude_run_id=exclude_run_id
        )
        kept = [row for row in page if row.run_id != leave_out] if leave_out else page
        for row in reversed(kept):
            tokens[row.id] = estimate_item({"role": row.role, "content": row.text})
            total += tokens[row.id]
        rows[:0] = kept
        if not older or total > token_target:
            break
        before = page[0].seq
        limit *= 2
    left_out = tuple(r for r in (exclude_run_id, leave_out) if r)
    units = thread_units(store, thread_id, rows, exclude_run_ids=left_out, tokens=tokens)
    return History(units, older)


def thread_units(
    store: ThreadStore,
    thread_id: str,
    messages: Sequence[MessageRow],
    *,
    exclude_run_ids: Collection[str] = (),
    tokens: Mapping[str, int] | None = None,
) -> list[Unit]:
    """``messages`` (the thread's latest, oldest first) with earlier runs' tool calls in place.

    A run that called tools is expanded from its steps (exact order of calls and text) at
    the place of its first answer. A run that called tools but never answered (cancelled,
    failed) goes right after the last message it read (``run.memory["input_through"]``).
    Runs that belong before the first of ``messages`` are left out with it. ``tokens``:
    the messages' estimates, when already known.
    """
    if not messages:
        return []
    by_id: dict[str, MessageLike] = {m.id: m for m in messages}
    answered = {m.run_id for m in messages if m.run_id}
    first = messages[0]

    def read_through(run: Run) -> str | None:
        return (run.memory or {}).get("input_through")

    def belongs(run: Run) -> bool:
        through = read_through(run)
        if run.id in answered:
            return True
        if through is not None:
            return through in by_id
        return run.created_at >= first.created_at  # older data: no record of what it read

    runs = store.tool_runs_since(thread_id, created_since=first.created_at, including=answered)
    tool_runs = [r for r in runs if r.id not in exclude_run_ids and belongs(r)]
    tool_run_ids = {r.id for r in tool_runs}
    pending: deque[Run] = deque(tool_runs)
    units: list[Unit] = []

    def flush_next() -> None:
        units.extend(run_units(store, pending.popleft().id, by_id))

    for message in messages:
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
            unit = message_unit(message, (tokens or {}).get(message.id, 0))
            if unit is not None:
                units.append(unit)
        while pending and read_through(pending[0]) == message.id:
            flush_next()
    while pending:
        flush_next()
    return units
