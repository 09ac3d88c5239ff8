"""The run as it stands: one fold of the event stream, read by every view.

The chat, the run panel, the command line's printer and the server's streams all need "the
run so far" — its status, its steps with their tool calls (arguments as they stream, status,
output, timing), and the text of its messages — and they all get it here, by folding the
runtime's events (``assistant_core.events``) into a :class:`RunView`::

    view = RunView()
    for event in events:
        change = view.apply(event)   # what the event changed: calls, appended text
    view.run, view.steps, view.call(call_id), view.message(message_id), view.retries

Events carry snapshots that other consumers hold too, so a view never changes them: it
keeps its own copies (shallow: nested dicts such as a call's ``display`` or a run's
``required_action`` are shared and nobody changes them) and updates those in place, so an
object a view hands out stays the current one for the rest of the run. What a view hands
out is read-only for its readers.

A view can join a run that is already going (``RunView.from_store``), or be given a
message's text read from the store while it follows the run (``seed_message``): the store
is written from what the runtime emitted, which may be ahead of or behind the events this
view has received, and :class:`MessageText` reconciles the two exactly (each delta says
where it starts). :class:`LiveRuns` keeps the views of every run being streamed, so a client
that shows one thread at a time continues another thread's answer exactly when it shows it
again.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from .events import (
    Done,
    ErrorEvent,
    Event,
    MessageDelta,
    MessageDeltaData,
    MessageEvent,
    RunEvent,
    RunRequiresAction,
    RunStepDelta,
    StepDelta,
    StepEvent,
)
from .objects import (
    FunctionCall,
    LastError,
    Message,
    Run,
    RunStep,
    ToolCall,
    ToolCallStatus,
    now,
)

#: Call statuses a run's ``requires_action`` may change (a finished call keeps its own).
OPEN_CALL_STATUSES = frozenset({"queued", "awaiting_approval", "running"})
_CALL_FIELDS = tuple(f.name for f in fields(ToolCall) if f.name != "function")
_STEP_FIELDS = tuple(f.name for f in fields(RunStep) if f.name != "tool_calls")


@dataclass(frozen=True)
class Change:
    """What one event changed in a view, for views that redraw only that."""

    #: The step the event created or changed (the view's own object).
    step: RunStep | None = None
    #: Its calls whose state changed (the view's own objects), in step order.
    calls: tuple[ToolCall, ...] = ()
    #: Text the event added to the end of its message's text — exactly the new part: a
    #: delta the view already had (from the store) adds nothing.
    text: str = ""


NO_CHANGE = Change()


class MessageText:
    """A streaming message's text: deltas, reconciled with text read from the store.

    Both a delta and a read from the store are pieces of one final text: a delta says where
    it starts (``MessageDeltaData.offset``), and the store holds a prefix (the runtime
    flushes what it has emitted so far). So the known text only ever grows by what it lacks:
    a delta that repeats text already known adds nothing, one that starts past the known
    end (the text between was emitted before this view existed and is not in the store yet)
    waits until a later read fills the gap. ``value`` is always a prefix of the final text.
    """

    __slots__ = ("_ahead", "_next", "_parts", "length")

    def __init__(self, text: str = "") -> None:
        self._parts: list[str] = [text] if text else []
        self.length = len(text)
        #: Where a delta without an offset starts: right after the previous one.
        self._next = len(text)
        #: Deltas past a gap, by offset.
        self._ahead: dict[int, str] = {}

    @property
    def value(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def add(self, fragment: str, offset: int | None = None) -> str:
        """A delta; returns the text it added to the end (often all of it, or nothing)."""
        start = self._next if offset is None else offset
        self._next = start + len(fragment)
        if start > self.length:
            if fragment:
                self._ahead[start] = fragment
            return ""
        return self._extend(fragment[self.length - start :]) + self._drain()

    def seed(self, text: str) -> str:
        """Text read from the store (a prefix of the final text); returns what it added."""
        if len(text) <= self.length:
            return ""
        return self._extend(text[self.length :]) + self._drain()

    def finish(self, text: str) -> str | None:
        """The final text. Returns what it added to the end, or None when it differs from
        what was known (the text was replaced, not extended)."""
        if not text or text == self.value:
            return ""
        known = self.value
        self._ahead.clear()
        if text.startswith(known):
            return self._extend(text[len(known) :])
        self._parts, self.length = [text], len(text)
        return None

    def _extend(self, piece: str) -> str:
        if piece:
            self._parts.append(piece)
            self.length += len(piece)
        return piece

    def _drain(self) -> str:
        added = []
        while self._ahead:
            start = min(self._ahead)
            if start > self.length:
                break
            fragment = self._ahead.pop(start)
            added.append(self._extend(fragment[self.length - start :]))
        return "".join(added)


@dataclass
class _MessageState:
    message: Message  # the view's copy; its content is brought up to ``text`` when read
    text: MessageText
    synced: int = -1  # text length the copy's content holds


class RunView:
    """One run folded from its events; see the module docstring."""

    def __init__(self) -> None:
        #: The run as last reported (an event's snapshot: read it, never change it).
        self.run: Run | None = None
        #: An ``error`` event's error (a run's own failure is ``run.last_error``).
        self.error: LastError | None = None
        #: Every retry the run reported (``run.retry`` holds only the one in progress).
        self.retries: list[dict[str, Any]] = []
        #: ``done`` was received: nothing more will come.
        self.done = False
        self._run_id: str | None = None  # known before the run itself (a view joined late)
        self._steps: dict[str, RunStep] = {}
        self._messages: dict[str, _MessageState] = {}

    @classmethod
    def from_store(
        cls, run: Run, steps: Iterable[RunStep] = (), messages: Iterable[Message] = ()
    ) -> RunView:
        """A view of a run as stored (finished, or going on elsewhere: events may follow)."""
        view = cls()
        view._set_run(run)
        for step in steps:
            view._merge_step(step)
        for message in messages:
            view.seed_message(message)
        return view

    # -- reading ---------------------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        return self.run.id if self.run is not None else self._run_id

    @property
    def steps(self) -> list[RunStep]:
        """The run's steps in the order they were created."""
        return list(self._steps.values())

    def step(self, step_id: str) -> RunStep | None:
        return self._steps.get(step_id)

    def call(self, call_id: str, step_id: str | None = None) -> ToolCall | None:
        """A call by id: in ``step_id``, or the latest of that id (a model may use an id
        again in a later step)."""
        steps = [self._steps[step_id]] if step_id in self._steps else []
        if step_id is None:
            steps = list(reversed(self._steps.values()))
        for step in steps:
            for call in step.tool_calls:
                if call.id == call_id:
                    return call
        return None

    @property
    def messages(self) -> list[Message]:
        """The run's messages, each with its text as folded so far."""
        return [self._read(state) for state in self._messages.values()]

    def message(self, message_id: str) -> Message | None:
        state = self._messages.get(message_id)
        return self._read(state) if state is not None else None

    def text(self, message_id: str) -> MessageText | None:
        """A message's text as it grows (read ``.value`` when needed; cheaper than
        :meth:`message` on every delta)."""
        state = self._messages.get(message_id)
        return state.text if state is not None else None

    # -- folding ---------------------------------------------------------------------------
    def apply(self, event: Event) -> Change:
        """Fold one event (in the order the runtime emits them)."""
        self._run_id = self._run_id or event.run_id
        match event:
            case RunRequiresAction(data=run):
                self._set_run(run)
                return self._mark_required(run)
            case RunEvent(data=run):
                self._set_run(run)
            case StepEvent(data=step):
                own = self._merge_step(step)
                return Change(step=own, calls=tuple(own.tool_calls))
            case StepDelta(data=delta):
                return self._apply_step_delta(delta)
            case MessageDelta(data=delta):
                return Change(text=self._apply_text(delta))
            case MessageEvent(data=message):
                return Change(text=self._merge_message(message))
            case ErrorEvent(data=error):
                self.error = error
            case Done():
                self.done = True
        return NO_CHANGE

    def seed_message(self, message: Message) -> str:
        """A message of this run read from the store (see :class:`MessageText`); returns
        the text it added to the end."""
        return self._merge_message(message, stored=True)

    def _set_run(self, run: Run) -> None:
        self.run = run
        if run.retries:  # the run's own timeline (also for a run read from the store)
            if len(run.retries) != len(self.retries):
                self.retries = [dict(retry) for retry in run.retries]
        elif run.retry and (not self.retries or self.retries[-1] != run.retry):
            self.retries.append(dict(run.retry))

    def _mark_required(self, run: Run) -> Change:
        """``requires_action`` changes the waiting calls' status without a step event:
        awaiting the user's approval, or (approval ``client``) running on the client."""
        status: ToolCallStatus = "awaiting_approval" if run.approval == "ask" else "running"
        wanted = {str(entry.get("id")) for entry in required_calls(run)}
        # They are the calls of the latest tool step.
        for step in reversed(self._steps.values()):
            calls = [call for call in step.tool_calls if call.id in wanted]
            if calls:
                for call in calls:
                    if call.status in OPEN_CALL_STATUSES:
                        call.status = status
                return Change(step=step, calls=tuple(calls))
        return NO_CHANGE

    def _merge_step(self, snapshot: RunStep) -> RunStep:
        own = self._steps.get(snapshot.id)
        known = {call.id: call for call in own.tool_calls} if own is not None else {}
        calls = [_merge_call(known.get(call.id), call) for call in snapshot.tool_calls]
        if own is None:
            own = self._steps[snapshot.id] = replace(snapshot, tool_calls=calls)
        else:
            for name in _STEP_FIELDS:
                setattr(own, name, getattr(snapshot, name))
            own.tool_calls = calls
        return own

    def _apply_step_delta(self, delta: RunStepDelta) -> Change:
        step = self._steps.get(delta.id)
        if step is None:
            # Only a view that joined mid-step gets here: the runtime creates a step first.
            step = self._steps[delta.id] = RunStep(
                id=delta.id,
                created_at=now(),
                run_id=delta.run_id,
                thread_id=delta.thread_id,
                assistant_id=self.run.assistant_id if self.run is not None else "",
                type="tool_calls",
            )
        changed: dict[str, ToolCall] = {}
        for entry in delta.tool_calls:
            call = _find_call(step, entry)
            if call is None:
                if not entry.get("id"):
                    continue
                # The first delta of a call (its id and name) creates it, as in the API.
                call = ToolCall(id=str(entry["id"]), function=FunctionCall(name=""))
                step.tool_calls.append(call)
            _apply_call_entry(call, entry)
            changed[call.id] = call
        return Change(step=step, calls=tuple(changed.values()))

    def _state(self, message_id: str, run_id: str, thread_id: str) -> _MessageState:
        state = self._messages.get(message_id)
        if state is None:
            # A delta before its message.created: only a view that joined mid-message.
            message = Message(
                id=message_id,
                created_at=now(),
                thread_id=thread_id,
                role="assistant",
                status="in_progress",
                run_id=run_id,
            )
            state = self._messages[message_id] = _MessageState(message, MessageText())
        return state

    def _apply_text(self, delta: MessageDeltaData) -> str:
        state = self._state(delta.id, delta.run_id, delta.thread_id)
        return state.text.add(delta.value, delta.offset)

    def _merge_message(self, message: Message, *, stored: bool = False) -> str:
        """A message's snapshot, from an event or (``stored``) the store — either may be
        ahead of the other, so a finished message never goes back to in progress."""
        state = self._messages.get(message.id)
        if state is None:
            self._messages[message.id] = _MessageState(
                copy.copy(message), MessageText(message.text)
            )
            return message.text
        finished = state.message.status != "in_progress"
        if message.status == "in_progress":
            if finished:
                return ""
            if not stored:
                state.message, state.synced = copy.copy(message), -1
            return state.text.seed(message.text)
        if finished and stored:
            return ""  # the final event came already: it is the truth
        state.message, state.synced = copy.copy(message), -1
        return state.text.finish(message.text) or ""

    @staticmethod
    def _read(state: _MessageState) -> Message:
        if state.synced != state.text.length:
            state.message.set_text(state.text.value)
            state.synced = state.text.length
        return state.message


def _merge_call(own: ToolCall | None, snapshot: ToolCall) -> ToolCall:
    """The view's copy of a call, brought up to ``snapshot`` (in place when it has one)."""
    if own is None:
        return replace(snapshot, function=replace(snapshot.function))
    for name in _CALL_FIELDS:
        setattr(own, name, getattr(snapshot, name))
    own.function = replace(snapshot.function)
    return own


def _find_call(step: RunStep, entry: dict[str, Any]) -> ToolCall | None:
    """The call a step delta's entry is about: by id, or (later fragments) by index."""
    call_id = entry.get("id")
    if call_id:
        return next((call for call in step.tool_calls if call.id == call_id), None)
    index = entry.get("index")
    if isinstance(index, int) and 0 <= index < len(step.tool_calls):
        return step.tool_calls[index]
    return None


def required_calls(run: Run) -> list[dict[str, Any]]:
    """The calls a ``requires_action`` run waits for, as in ``required_action``."""
    action = run.required_action or {}
    calls: list[dict[str, Any]] = (action.get("submit_tool_outputs") or {}).get("tool_calls") or []
    return calls


def _apply_call_entry(call: ToolCall, entry: dict[str, Any]) -> None:
    """One ``tool_calls`` entry of a ``thread.run.step.delta`` applied to ``call`` (the
    inverse of ``events.tool_call_delta`` / ``call_progress``): argument fragments while the
    model streams them; and (ours) status, output, timing, error, source, cache hit and
    display form as the call runs."""
    function = entry.get("function") or {}
    if function.get("name") and not call.function.name:
        call.function.name = function["name"]
    if function.get("arguments"):
        call.function.arguments += function["arguments"]
    if function.get("output") is not None:
        call.function.output = function["output"]
    if entry.get("status"):
        call.status = entry["status"]
    for key in ("duration_ms", "error", "source", "repeat_of", "display"):
        if entry.get(key) is not None:
            setattr(call, key, entry[key])
    if entry.get("recovered"):
        call.recovered = True
    for key in ("is_error", "cache_hit"):
        if entry.get(key) is not None:
            setattr(call, key, bool(entry[key]))


class LiveRuns:
    """The views of the runs being streamed, across threads, by run id.

    A client that shows one thread at a time folds every event of every thread here, so
    that showing a thread again mid-run finds its run as it stands, not as last flushed to
    the store. A run's view is let go when its ``done`` arrives (or :meth:`end_thread`,
    when a stream ended without one).
    """

    def __init__(self) -> None:
        self._views: dict[str, RunView] = {}
        self._by_thread: dict[str, str] = {}  # thread id → its streaming run's id

    def apply(self, event: Event, thread_id: str | None = None) -> tuple[RunView | None, Change]:
        """Fold ``event`` into its run's view. ``error`` and ``done`` name no run: they
        belong to the streaming run of ``thread_id``."""
        thread_id = event.thread_id or thread_id
        run_id = event.run_id or (self._by_thread.get(thread_id) if thread_id else None)
        if run_id is None:
            return None, NO_CHANGE
        view = self._views.get(run_id)
        if view is None:
            if isinstance(event, Done | ErrorEvent):
                return None, NO_CHANGE
            view = self._views[run_id] = RunView()
        if thread_id is not None:
            self._by_thread[thread_id] = run_id
        change = view.apply(event)
        if view.done:
            self._forget(run_id)
        return view, change

    def get(self, run_id: str) -> RunView | None:
        return self._views.get(run_id)

    def of_thread(self, thread_id: str) -> RunView | None:
        """The view of the thread's run being streamed, if any."""
        run_id = self._by_thread.get(thread_id)
        return self._views.get(run_id) if run_id is not None else None

    def end_thread(self, thread_id: str) -> None:
        """The thread's stream ended (its ``done`` may never come)."""
        run_id = self._by_thread.get(thread_id)
        if run_id is not None:
            self._forget(run_id)

    def _forget(self, run_id: str) -> None:
        self._views.pop(run_id, None)
        for thread_id in [t for t, r in self._by_thread.items() if r == run_id]:
            del self._by_thread[thread_id]

    def __len__(self) -> int:
        return len(self._views)
