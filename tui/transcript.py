"""Transcript: the conversation of one thread as a list of items — the chat's model.

Items are the user's questions, the assistant's answers, tool calls and error lines, in the
order a reader expects (a run's tool calls before the answer they led to, a failed run's
error after it). The transcript reads the latest page of a thread from the store, older
pages on demand, and follows live runs by folding the runtime's events through the core's
reducer (``assistant_core.run_view``) — the events of every thread, so that a thread shown
again mid-answer continues exactly from where its run stands (its answer's text is the
fold of every delta, reconciled with what the store held when the page was read).

No Textual here: the chat widget (``tui.widgets.chat``) mounts a window of the items and
applies the updates that :meth:`Transcript.apply` returns.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from assistant_core.errors import AssistantError, NotFoundError
from assistant_core.events import (
    Done,
    ErrorEvent,
    Event,
    MessageCompleted,
    MessageDelta,
    MessageEvent,
    MessageIncomplete,
    RunCreated,
    RunEvent,
    RunExpired,
    RunFailed,
    RunRequiresAction,
    StepDelta,
    StepEvent,
)
from assistant_core.numfmt import Locale, locale_of
from assistant_core.objects import LastError, Message, Run, ToolCall
from assistant_core.run_view import LiveRuns, MessageText, RunView

if TYPE_CHECKING:
    from assistant_core.store import ToolCallRecord
    from assistant_core.store_interface import ThreadStore

PAGE_MESSAGES = 30  # messages read from the store per page
PAGE_ITEMS = 30  # items in a window of the latest ones (messages + cards + error lines)
MIN_ITEMS = 4  # in that window even when they exceed the text budget
TEXT_BUDGET = 12_000  # characters of text in it (rendering cost ~ text length)
SCREENS = 2  # … and about this many screens of rows (more are mounted on scroll-up)
INDEX_CACHE_THREADS = 4  # threads whose tool-call index is kept for switching back

ItemKind = Literal["user", "assistant", "call", "error", "note", "redo"]
#: A run that ended this way is offered a Retry (any other end: Regenerate).
RETRY_STATUSES = frozenset({"failed", "cancelled", "expired", "incomplete"})


@dataclass(eq=False)
class Item:
    """One entry of the conversation. Plain data: the widget showing it is the chat's."""

    #: m:<message id>, c:<step id>:<call id> (a model may reuse a call id), e:…, r:<run id>
    key: str
    kind: ItemKind
    message: Message | None = None
    call: ToolCall | None = None  # a live call is the run view's object, updated in place
    run_id: str | None = None
    step_id: str | None = None  # a call's step
    error: LastError | None = None
    error_label: str = ""  # what failed: "Run failed", "Run expired", "Error"
    run_status: str = ""  # a redo item's run: how it ended
    #: A card's body shown (None: as its state suggests — a result is shown).
    expanded: bool | None = None
    stored_text: str = ""
    #: An answer of a live run: its text as folded (grows; see ``text``).
    live_text: MessageText | None = None
    #: A note: what the app did about the model's behaviour (``run.notes``).
    note: str = ""

    @property
    def text(self) -> str:
        """A message's raw text: as stored, or as streamed so far."""
        return self.live_text.value if self.live_text is not None else self.stored_text

    @property
    def text_length(self) -> int:
        return self.live_text.length if self.live_text is not None else len(self.stored_text)

    @property
    def run(self) -> str | None:
        """The run the item belongs to (None: a question, or a run-less error)."""
        return self.run_id or (self.message.run_id if self.message is not None else None)

    @property
    def cost(self) -> int:
        """Rough rendering cost, in characters of text."""
        if self.kind in ("user", "assistant"):
            return self.text_length + 80
        if (
            self.kind == "call"
            and self.call is not None
            and self.call.display is not None
            and self.expanded is not False
        ):
            return 800
        return 120

    def rows(self, width: int) -> int:
        """Rough height on screen at ``width`` columns (margins included)."""
        if self.kind in ("user", "assistant"):
            # A question's box: margins and a frame; an answer: its label and a margin.
            chrome = 4 if self.kind == "user" else 3
            return chrome + sum(len(line) // width + 1 for line in self.text.split("\n"))
        if self.kind == "call" and self.expanded is not False:
            return 16 if self.call is not None and self.call.display is not None else 6
        return 2


# -- what an event did to the items -------------------------------------------------------
@dataclass(frozen=True)
class Added:
    """A new item at the end."""

    item: Item


@dataclass(frozen=True)
class TextAdded:
    """``text`` was added to the end of an answer (``item.text`` already has it)."""

    item: Item
    text: str


@dataclass(frozen=True)
class Finished:
    """An answer is complete or incomplete (``item.message`` is final)."""

    item: Item


@dataclass(frozen=True)
class CallChanged:
    """A tool call's state changed (``item.call`` is current)."""

    item: Item


@dataclass(frozen=True)
class Removed:
    """The last item went (the offer to answer a run again, once another run started)."""

    item: Item


Update = Added | TextAdded | Finished | CallChanged | Removed


class Transcript:
    """The items of the shown thread; see the module docstring."""

    def __init__(self, store: ThreadStore) -> None:
        self.store = store
        #: The runs being streamed, across threads (their events are all folded here).
        self.live = LiveRuns()
        self.thread_id: str | None = None
        self.items: list[Item] = []
        self._by_key: dict[str, Item] = {}
        self.has_older = False  # the store has messages before the first item
        self._oldest_message: Message | None = None
        self._calls_by_run: dict[str, list[ToolCallRecord]] = {}
        self._has_message: dict[str, bool] = {}  # run id → the run wrote a message
        #: Recently shown threads: thread id → (its activity counter, tool calls by run,
        #: runs known to have an answer, runs that failed quietly); dropped when a run of the
        #: thread reports anything.
        self._index_cache: dict[
            str, tuple[int, dict[str, list[ToolCallRecord]], dict[str, bool], list[Run]]
        ] = {}
        self._placed_runs: set[str] = set()
        self._latest_run: str | None = None  # its cards are not collapsed
        #: Runs of the thread that failed before writing a message or calling a tool.
        self._quiet_failures: list[Run] = []
        #: The offer to answer the thread's last run again (always the last item).
        self.redo: Item | None = None
        self._error_keys = itertools.count()

    def item(self, key: str) -> Item | None:
        return self._by_key.get(key)

    def locale_for(self, item: Item) -> Locale:
        """The language of the question before ``item``: a card writes its numbers the way
        the answer it serves does (``136.5조 원`` for a Korean question). English when that
        question is not loaded (an older page)."""
        passed = False
        for other in reversed(self.items):
            passed = passed or other is item
            if passed and other.kind == "user":
                return locale_of(other.text)
        return "en"

    # -- loading ---------------------------------------------------------------------------
    def load(self, thread_id: str | None) -> None:
        """Show ``thread_id``: its latest page of items (older ones: :meth:`load_older`)."""
        self.thread_id = thread_id
        self.items, self._by_key = [], {}
        self.has_older = False
        self._oldest_message = None
        self._placed_runs = set()
        self.redo = None
        if thread_id is None:
            return
        self._load_thread_index(thread_id)
        messages = self.store.list_messages(thread_id, limit=PAGE_MESSAGES)
        self.has_older = len(messages) == PAGE_MESSAGES
        self._oldest_message = messages[0] if messages else None
        items = self._page_items(messages, upper_ts=None)
        self._collapse_history(items, latest=True)
        self._index(items)
        self.items = items
        self._follow_live(thread_id)
        if self.live.of_thread(thread_id) is None:
            self._offer_redo(self._stored_latest_run(thread_id))

    def load_older(self) -> list[Item]:
        """Read the page before the first item; returns its items, now at the front."""
        thread_id = self.thread_id
        if not self.has_older or thread_id is None:
            return []
        anchor = self._oldest_message
        messages = self.store.list_messages(
            thread_id, limit=PAGE_MESSAGES, before=anchor.id if anchor else None
        )
        self.has_older = len(messages) == PAGE_MESSAGES
        if not messages:
            return []
        upper_ts = anchor.created_at if anchor is not None else None
        self._oldest_message = messages[0]
        items = [
            i for i in self._page_items(messages, upper_ts=upper_ts) if i.key not in self._by_key
        ]
        self._collapse_history(items, latest=False)
        self._index(items)
        self.items[0:0] = items
        return items

    def latest_window(self, width: int, height: int) -> int:
        """Where a window holding the latest items starts: a few screens of them (every
        mounted item is laid out, seen or not), and not too much text."""
        count = len(self.items)
        start, budget = count, TEXT_BUDGET
        width = max(width, 20)
        rows, enough = 0, SCREENS * (height or 24)
        while start > 0 and count - start < PAGE_ITEMS:
            if count - start >= MIN_ITEMS and rows >= enough:
                break
            item = self.items[start - 1]
            cost = item.cost
            if count - start >= MIN_ITEMS and cost > budget:
                break
            budget -= cost
            rows += item.rows(width)
            start -= 1
        return start

    # -- live events -----------------------------------------------------------------------
    def apply(self, event: Event, thread_id: str | None = None) -> list[Update]:
        """Fold an event of any thread (``thread_id``: the event's, for ``error`` and
        ``done``, which do not say it); returns what changed in the shown thread's items."""
        event_thread = event.thread_id or thread_id
        if event_thread is not None and isinstance(event, RunEvent | StepEvent | StepDelta):
            self._index_cache.pop(event_thread, None)  # its tool-call index changed
        view, change = self.live.apply(event, thread_id)
        if self.thread_id is None or (event_thread is not None and event_thread != self.thread_id):
            return []
        match event:
            case MessageEvent(data=message) if message.role != "assistant":
                return self._add(
                    Item(f"m:{message.id}", "user", message=message, stored_text=message.text)
                )
            case MessageDelta(data=delta) if view is not None:
                item, updates = self._answer(view, delta.id)
                if updates:  # the item was added or linked with its text as it now stands
                    return updates
                return [TextAdded(item, change.text)] if change.text else []
            case MessageCompleted(data=message) | MessageIncomplete(data=message) if (
                view is not None
            ):
                item, updates = self._answer(view, message.id)
                item.message = view.message(message.id) or message
                return [*updates, Finished(item)]
            case MessageEvent(data=message) if view is not None:
                return self._answer(view, message.id)[1]
            case StepEvent() | StepDelta() | RunRequiresAction() if change.step is not None:
                step = change.step
                return [self._upsert_call(call, step.id, step.run_id) for call in change.calls]
            case RunCreated():
                return self._withdraw_redo()  # another run: the offer is for the last one
            case RunFailed(data=run) | RunExpired(data=run):
                return [
                    *self._add_notes(run),
                    *self._add(self._run_error(f"e:{run.id}", run)),
                ]
            case RunEvent(data=run) if run.notes:
                return self._add_notes(run)
            case Done() if view is not None and view.run is not None:
                return self._offer_redo(view.run)
            case ErrorEvent(data=error):
                key = f"e:error:{next(self._error_keys)}"  # error events have no id
                return self._add(Item(key, "error", error=error, error_label="Error"))
        return []

    def add_user_message(self, message: Message) -> list[Update]:
        """A question the user just sent (no event announces it)."""
        if message.thread_id != self.thread_id:
            return []
        return self._add(Item(f"m:{message.id}", "user", message=message, stored_text=message.text))

    def stream_ended(self, thread_id: str) -> list[Update]:
        """A thread's stream is over, with or without its ``done``."""
        self.live.end_thread(thread_id)
        if thread_id != self.thread_id or self.redo is not None:
            return []
        return self._offer_redo(self._stored_latest_run(thread_id))

    def _add(self, item: Item) -> list[Update]:
        if item.key in self._by_key:
            return []
        updates = self._withdraw_redo() if item.kind != "redo" else []
        self.items.append(item)
        self._by_key[item.key] = item
        return [*updates, Added(item)]

    # -- answering a run again -------------------------------------------------------------
    def _offer_redo(self, run: Run | None) -> list[Update]:
        """Offer to answer ``run`` (the thread's last, ended) again: Retry after a failure,
        a cut or a cancel; Regenerate after a complete answer."""
        if run is None or run.is_active or run.thread_id != self.thread_id:
            return []
        if self.redo is not None and self.redo.run_id == run.id:
            self.redo.run_status = run.status
            return []
        updates = self._withdraw_redo()
        self.redo = Item(f"r:{run.id}", "redo", run_id=run.id, run_status=run.status)
        answered = any(i.run == run.id and i.kind in ("assistant", "error") for i in self.items)
        if run.status == "cancelled" and not answered:  # nothing else says how it ended
            self.redo.error_label = "■ The run was cancelled."
        return [*updates, *self._add(self.redo)]

    def _withdraw_redo(self) -> list[Update]:
        item, self.redo = self.redo, None
        if item is None or not self.items or self.items[-1] is not item:
            return []
        self.items.pop()
        self._by_key.pop(item.key, None)
        return [Removed(item)]

    def _stored_latest_run(self, thread_id: str) -> Run | None:
        try:
            return self.store.latest_run(thread_id)
        except AssistantError:
            return None

    def _add_notes(self, run: Run) -> list[Update]:
        """The run's notes not shown yet (a note reaches the stream with the run's next
        event, so each event may bring a new one)."""
        return [update for item in note_items(run) for update in self._add(item)]

    def _answer(self, view: RunView, message_id: str) -> tuple[Item, list[Update]]:
        """The item of a live answer (added when new), following the run's view."""
        item = self._by_key.get(f"m:{message_id}")
        if item is None:
            message = view.message(message_id)
            assert message is not None  # the view folded an event of it just now
            item = Item(
                f"m:{message_id}", "assistant", message=message, live_text=view.text(message_id)
            )
            return item, self._add(item)
        if item.live_text is None:
            # Read from the store before the run's view knew the message: follow the view.
            shown = item.text_length
            self._follow(item, view)
            if item.text_length > shown:
                return item, [TextAdded(item, item.text[shown:])]
        return item, []

    def _follow(self, item: Item, view: RunView) -> None:
        """Show a stored answer of a live run as its view has it from now on: the view
        takes what the store had (which may be ahead of the events received so far)."""
        assert item.message is not None
        view.seed_message(item.message)
        item.live_text = view.text(item.message.id)
        item.message = view.message(item.message.id) or item.message

    def _follow_live(self, thread_id: str) -> None:
        """Hand the shown items of the thread's streaming run to its view, and add what the
        store does not have yet (calls whose arguments are still streaming)."""
        view = self.live.of_thread(thread_id)
        if view is None:
            return
        for item in self.items:
            if item.run != view.run_id:
                continue
            if item.kind == "assistant" and item.message is not None:
                self._follow(item, view)
            elif item.kind == "call" and item.call is not None:
                item.call = view.call(item.call.id, item.step_id) or item.call
        for step in view.steps:
            for call in step.tool_calls:
                if _call_key(step.id, call.id) not in self._by_key:
                    self._add(_call_item(call, step.id, step.run_id))

    def _upsert_call(self, call: ToolCall, step_id: str, run_id: str) -> Update:
        item = self._by_key.get(_call_key(step_id, call.id))
        if item is None:
            item = _call_item(call, step_id, run_id)
            self.items.append(item)
            self._by_key[item.key] = item
            return Added(item)
        item.call = call
        return CallChanged(item)

    @staticmethod
    def _run_error(key: str, run: Run) -> Item:
        label = "Run expired" if run.status == "expired" else "Run failed"
        return Item(key, "error", error=run.last_error, error_label=label, run_id=run.id)

    # -- pages -----------------------------------------------------------------------------
    def _index(self, items: list[Item]) -> None:
        for item in items:
            self._by_key[item.key] = item

    def _load_thread_index(self, thread_id: str) -> None:
        """Tool calls of the thread, by run: needed to place the calls of runs that wrote no
        message (failed, cancelled, or still running tools). Reading them costs tens of ms
        in a long thread, so showing again a thread whose runs did nothing since reuses
        them."""
        # The thread's activity counter also moves when another process (a second
        # terminal) runs it, which this transcript gets no events for.
        try:
            stamp = self.store.thread_activity(thread_id)
        except AssistantError:
            stamp = -1
        cached = self._index_cache.pop(thread_id, None)
        if cached is None or cached[0] != stamp:
            index: dict[str, list[ToolCallRecord]] = {}
            for record in self.store.list_tool_calls(thread_id=thread_id):
                index.setdefault(record.run_id, []).append(record)
            # Runs that failed before they wrote anything leave only their error: keep it.
            quiet = [
                run
                for run in self.store.iter_runs(thread_id, unanswered=True)
                if run.status in ("failed", "expired") and run.id not in index
            ]
            cached = (stamp, index, {}, quiet)
        self._index_cache[thread_id] = cached
        while len(self._index_cache) > INDEX_CACHE_THREADS:
            del self._index_cache[next(iter(self._index_cache))]
        _, self._calls_by_run, self._has_message, self._quiet_failures = cached

    def _page_items(self, messages: list[Message], *, upper_ts: int | None) -> list[Item]:
        """Items for a page of messages, oldest first: each message with its run's tool
        calls (before the answer they led to), and a failed run's error after it.
        ``upper_ts``: creation time of the next newer page's first message (None: newest)."""
        if not messages:
            return []
        run_ids = list(
            dict.fromkeys(m.run_id for m in messages if m.role == "assistant" and m.run_id)
        )
        before: dict[str, list[Item]] = {}
        after: dict[str, list[Item]] = {}
        errors: dict[str, Run] = {}
        notes: dict[str, list[Item]] = {}
        for run_id in run_ids:
            self._place_run(run_id, before, after, errors, notes)
        # Runs with tool calls but no message at all, placed by time.
        first_ts = messages[0].created_at
        for run_id, records in self._calls_by_run.items():
            if run_id in self._placed_runs or not records:
                continue
            created = records[0].created_at
            if created < first_ts or (upper_ts is not None and created >= upper_ts):
                continue
            if self._run_has_message(run_id):
                continue  # placed with its answer, on that answer's page
            anchor = messages[0]
            for message in messages:
                if message.created_at <= created:
                    anchor = message
            calls = [_call_item(r.call, r.step_id, r.run_id) for r in records]
            after.setdefault(anchor.id, []).extend(calls)
            self._placed_runs.add(run_id)
            run = self._get_run(run_id)
            if run is not None and run.status in ("failed", "expired"):
                errors.setdefault(anchor.id, run)
        for run in self._quiet_failures:
            if run.id in self._placed_runs or run.created_at < first_ts:
                continue
            if upper_ts is not None and run.created_at >= upper_ts:
                continue
            anchor = messages[0]
            for message in messages:
                if message.created_at <= run.created_at:
                    anchor = message
            after.setdefault(anchor.id, []).append(self._run_error(f"e:{run.id}", run))
            self._placed_runs.add(run.id)
        items: list[Item] = []
        for message in messages:
            items.extend(before.get(message.id, []))
            items.append(
                Item(
                    f"m:{message.id}",
                    "user" if message.role == "user" else "assistant",
                    message=message,
                    stored_text=message.text,
                )
            )
            items.extend(after.get(message.id, []))
            items.extend(notes.get(message.id, []))
            if message.id in errors:
                items.append(self._run_error(f"e:{message.id}", errors[message.id]))
        return items

    def _place_run(
        self,
        run_id: str,
        before: dict[str, list[Item]],
        after: dict[str, list[Item]],
        errors: dict[str, Run],
        notes: dict[str, list[Item]],
    ) -> None:
        """Anchor each tool-calls step of a run to the answer that follows it (or, for the
        last ones, to the answer before them); the run's notes and error go after its last
        answer."""
        if run_id in self._placed_runs:
            return
        self._placed_runs.add(run_id)
        try:
            steps = self.store.list_steps(run_id)
        except NotFoundError:
            return
        pending: list[Item] = []
        last_message: str | None = None
        for step in steps:
            if step.type == "tool_calls":
                pending.extend(_call_item(call, step.id, run_id) for call in step.tool_calls)
            elif step.message_id:
                if pending:
                    before.setdefault(step.message_id, []).extend(pending)
                    pending = []
                last_message = step.message_id
        if last_message is None:
            return
        if pending:
            after.setdefault(last_message, []).extend(pending)
        run = self._get_run(run_id)
        if run is not None and run.notes:
            notes.setdefault(last_message, []).extend(note_items(run))
        if run is not None and run.status in ("failed", "expired"):
            errors[last_message] = run

    def _run_has_message(self, run_id: str) -> bool:
        known = self._has_message.get(run_id)
        if known is None:
            try:
                known = any(step.message_id for step in self.store.list_steps(run_id))
            except NotFoundError:
                known = False
            self._has_message[run_id] = known
        return known

    def _get_run(self, run_id: str) -> Run | None:
        try:
            return self.store.get_run(run_id)
        except NotFoundError:
            return None

    def _collapse_history(self, items: list[Item], *, latest: bool) -> None:
        """Cards of earlier runs start collapsed (their body renders when expanded): what
        a reader of history wants, and charts and tables of a hundred runs would make a
        switch slow. The cards of the latest run (``latest``: ``items`` end the thread)
        keep their state."""
        if latest:
            self._latest_run = next((run for item in reversed(items) if (run := item.run)), None)
        keep = self._latest_run
        for item in items:
            if item.kind == "call" and item.run_id != keep and item.expanded is None:
                item.expanded = False


def _call_key(step_id: str, call_id: str) -> str:
    return f"c:{step_id}:{call_id}"


def _call_item(call: ToolCall, step_id: str, run_id: str) -> Item:
    return Item(_call_key(step_id, call.id), "call", call=call, run_id=run_id, step_id=step_id)


def note_items(run: Run) -> list[Item]:
    """A run's notes as items (``n:<run id>:<index>``: notes are only ever appended)."""
    return [
        Item(f"n:{run.id}:{index}", "note", run_id=run.id, note=str(note.get("message", "")))
        for index, note in enumerate(run.notes)
    ]
