"""Following a run from the store: the same typed events, for a run another process executes.

Every change of a run's state is in the store (its message text at least every flush
interval), so a process that does not execute the run can show it live by polling its rows
— the run, its steps and the messages they created — and turning each change into the
event the executing process emitted for it: ``thread.run.step.created``, a step delta with
a call's arguments and output, a message delta with the text added since the last poll,
``thread.run.completed``… ending with ``done``. Finer detail (text between flushes, argument
fragments) arrives in larger pieces; the fold of the events is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from ..errors import NotFoundError
from ..events import (
    RUN_EVENT_BY_STATUS,
    STEP_EVENT_BY_STATUS,
    Done,
    ErrorEvent,
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageDeltaData,
    MessageIncomplete,
    MessageInProgress,
    RunCreated,
    RunStepDelta,
    StepCreated,
    StepDelta,
    StepInProgress,
    call_progress,
    snapshot,
)
from ..objects import TERMINAL_RUN_STATUSES, LastError, Message, Run, RunStep, ToolCall
from ..store_interface import ThreadStore

DEFAULT_INTERVAL = 0.2


class RunFollower:
    """What a follower has shown so far, and the events that bring it up to date."""

    def __init__(self) -> None:
        self.run: dict[str, Any] | None = None
        self.steps: dict[str, RunStep] = {}
        self.texts: dict[str, str] = {}  # message id → text shown
        self.message_status: dict[str, str] = {}

    def changes(self, run: Run, steps: list[RunStep], messages: dict[str, Message]) -> list[Event]:
        events: list[Event] = []
        run_dict = run.to_dict()
        run_changed = run_dict != self.run
        if self.run is None:
            events.append(RunCreated(snapshot(run)))
        terminal = run.status in TERMINAL_RUN_STATUSES
        if run_changed and not terminal:
            events.append(RUN_EVENT_BY_STATUS[run.status](snapshot(run)))
        for step in steps:
            events += self._step_changes(step, messages)
        if run_changed and terminal:
            events.append(RUN_EVENT_BY_STATUS[run.status](snapshot(run)))
        self.run = run_dict
        return events

    def _step_changes(self, step: RunStep, messages: dict[str, Message]) -> list[Event]:
        events: list[Event] = []
        seen = self.steps.get(step.id)
        if seen is None:
            opening = snapshot(step)
            opening.status = "in_progress"
            events += [StepCreated(opening), StepInProgress(snapshot(opening))]
        if step.type == "message_creation":
            message = messages.get(step.message_id or "")
            if message is not None:
                events += self._message_changes(message)
        else:
            events += self._call_changes(step, seen.tool_calls if seen else [])
        if step.status != "in_progress" and (seen is None or seen.status != step.status):
            events.append(STEP_EVENT_BY_STATUS[step.status](snapshot(step)))
        self.steps[step.id] = snapshot(step)
        return events

    def _message_changes(self, message: Message) -> list[Event]:
        events: list[Event] = []
        if message.id not in self.texts:
            opening = snapshot(message)
            opening.set_text("")
            opening.status = "in_progress"
            events += [MessageCreated(opening), MessageInProgress(snapshot(opening))]
            self.texts[message.id] = ""
        text, shown = message.text, self.texts[message.id]
        if len(text) > len(shown) and text.startswith(shown):
            events.append(
                MessageDelta(
                    MessageDeltaData(
                        message.id, message.run_id or "", message.thread_id, text[len(shown) :]
                    )
                )
            )
            self.texts[message.id] = text
        if message.status != self.message_status.get(message.id, "in_progress"):
            closing = MessageCompleted if message.status == "completed" else MessageIncomplete
            events.append(closing(snapshot(message)))
        self.message_status[message.id] = message.status
        return events

    @staticmethod
    def _call_changes(step: RunStep, before: list[ToolCall]) -> list[Event]:
        entries: list[dict[str, Any]] = []
        for index, call in enumerate(step.tool_calls):
            old = before[index] if index < len(before) else None
            shown = old.function.arguments if old is not None else ""
            added = (
                call.function.arguments[len(shown) :]
                if old is not None
                else call.function.arguments
            )
            progressed = old is None or (old.status, old.function.output) != (
                call.status,
                call.function.output,
            )
            if not added and not progressed:
                continue
            entry = call_progress(index, call, added or None)
            if old is not None and old.function.output == call.function.output:
                entry["function"].pop("output", None)
                entry.pop("display", None)
            entries.append(entry)
        if not entries:
            return []
        return [StepDelta(RunStepDelta(step.id, step.run_id, step.thread_id, entries))]


def follow_run(
    store: ThreadStore, run_id: str, *, interval: float = DEFAULT_INTERVAL, replay: bool = True
) -> AsyncGenerator[Event, None]:
    """The run's events, read from ``store`` every ``interval`` seconds, ending with
    ``done`` once it ends. ``replay``: start with events describing the run as it stands;
    else the run is read now, and the events are its changes from this call on (nothing
    that happens before the first iteration is missed). Raises NotFoundError for an
    unknown run; a run deleted while followed ends the stream with an ``error`` event."""
    follower = RunFollower()
    if not replay:
        follower.changes(*store.run_state(run_id))
    return _follow(store, run_id, follower, interval)


async def _follow(
    store: ThreadStore, run_id: str, follower: RunFollower, interval: float
) -> AsyncGenerator[Event, None]:
    first = True
    while True:
        try:
            run, steps, messages = store.run_state(run_id)
        except NotFoundError as exc:
            if first:
                raise
            yield ErrorEvent(LastError("not_found", f"{exc}: it was deleted while followed"))
            yield Done()
            return
        first = False
        for event in follower.changes(run, steps, messages):
            yield event
        if run.status in TERMINAL_RUN_STATUSES:
            yield Done()
            return
        await asyncio.sleep(interval)
