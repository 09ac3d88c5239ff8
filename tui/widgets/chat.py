"""ChatView: the conversation of one thread — messages and tool-call cards, live.

What is on screen is a window over the thread: ``show_thread`` mounts only the latest
items (a page, within a text budget so long answers still paint fast) and loads older ones
from the store when the user scrolls to the top; when the window grows past
``MAX_MOUNTED`` items it unmounts from the far end, and mounts them back on the way down.
Loaded items are kept as data (``_Item``); widgets exist only for the window, so the widget
count does not grow with the thread.

Runtime events (``handle_event``) update the data and, when mounted, the widget. Events of
other threads are accepted and ignored, except that the text of an answer streaming there is
remembered, so switching to that thread mid-answer shows it whole (the store holds the text
only as of its last flush).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual.containers import VerticalScroll
from textual.widget import Widget

from assistant_core.errors import AssistantError, NotFoundError
from assistant_core.objects import FunctionCall, LastError, Message, ToolCall, now

from ..render.safe_text import sanitize_inline
from .message import AssistantMessage, UserMessage
from .rendered import PlainText
from .theme import COMPONENTS, clear_cache, provider_css
from .tool_card import ToolCallCard, apply_call_delta

if TYPE_CHECKING:
    from textual.timer import Timer

    from assistant_core.events import Event
    from assistant_core.objects import Run, RunStep
    from assistant_core.store import Store, ToolCallRecord

PAGE_MESSAGES = 30  # messages fetched from the store per page
PAGE_ITEMS = 30  # items mounted at once (messages + cards + error lines)
MAX_MOUNTED = 90  # mounted items before the far end is unmounted
MIN_ITEMS = 4  # mounted on a switch even when they exceed the text budget
TEXT_BUDGET = 12_000  # characters of text mounted at once (rendering cost ~ text length)
SCREENS = 2  # a switch mounts about this many screens of the latest items (more on scroll-up)
EDGE = 1  # rows from the top/bottom that count as "at the edge"
SPINNER_INTERVAL = 0.1
INDEX_CACHE_THREADS = 4  # threads whose tool-call index is kept for switching back

ItemKind = Literal["user", "assistant", "call", "error", "note"]


@dataclass
class _Item:
    key: str
    kind: ItemKind
    message: Message | None = None
    text: str = ""  # an assistant message's raw text as received (deltas included)
    call: ToolCall | None = None
    run_id: str | None = None
    error: str = ""
    #: A card's body shown (None: as its state suggests — a result is shown).
    expanded: bool | None = None
    widget: Widget | None = field(default=None, repr=False)

    @property
    def cost(self) -> int:
        """Rough rendering cost, in characters of text."""
        if self.kind in ("user", "assistant"):
            return len(self.text) + 80
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
            return 2 + sum(len(line) // width + 1 for line in self.text.split("\n"))
        if self.kind == "call" and self.expanded is not False:
            return 16 if self.call is not None and self.call.display is not None else 6
        return 2


class ErrorLine(PlainText, can_focus=True):
    """A failed run's error, in the chat where the answer would have been."""

    DEFAULT_CSS = """
    ErrorLine {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        color: $text-error;
        border-left: outer $error;
    }
    ErrorLine:focus { background: $error 10%; }
    """

    copy_label = "error"


class NoteLine(PlainText, can_focus=True):
    """What the app did about the model's behaviour (``run.notes``), where it happened."""

    DEFAULT_CSS = """
    NoteLine {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        color: $text-warning;
        border-left: outer $warning;
    }
    NoteLine:focus { background: $warning 10%; }
    """

    copy_label = "note"


def note_items(run: Run) -> list[_Item]:
    return [
        _Item(
            f"n:{run.id}:{i}",
            "note",
            error=f"! {sanitize_inline(str(note.get('message', '')))}",
            run_id=run.id,
        )
        for i, note in enumerate(run.notes)
    ]


def error_text(error: LastError | None, prefix: str = "Run failed") -> str:
    if error is None:
        return f"✗ {prefix}"
    code = sanitize_inline(error.code or "")
    message = sanitize_inline(error.message or "")
    return f"✗ {prefix}: {message}" + (f" ({code})" if code else "")


class ChatView(VerticalScroll):
    """The chat of the shown thread. See the module docstring."""

    DEFAULT_CSS = f"""
    ChatView {{
        height: 1fr;
        padding: 0 1;
        scrollbar-gutter: stable;
    }}
    {provider_css("ChatView")}
    """

    # Declared once here for every message, card and chart inside (see theme.py).
    COMPONENT_CLASSES: ClassVar[set[str]] = set(COMPONENTS)

    def __init__(self, store: Store, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.thread_id: str | None = None
        self._items: list[_Item] = []
        self._by_key: dict[str, _Item] = {}
        self._lo = 0  # mounted window: self._items[self._lo:self._hi]
        self._hi = 0
        self._has_older = False
        self._oldest_message: Message | None = None
        self._calls_by_run: dict[str, list[ToolCallRecord]] = {}
        self._has_message: dict[str, bool] = {}  # run id → the run wrote a message
        # Recently shown threads' (_calls_by_run, _has_message), most recent last; dropped
        # when a run of the thread reports anything.
        #: thread id → (its activity counter, tool calls by run, runs known to have an answer)
        self._index_cache: dict[
            str, tuple[int, dict[str, list[ToolCallRecord]], dict[str, bool]]
        ] = {}
        self._placed_runs: set[str] = set()
        self._notes_after: dict[str, list[_Item]] = {}  # message id → its run's notes
        self._latest_run: str | None = None  # its cards are not collapsed (see _collapse_history)
        self._busy = False  # a switch or a page load is mounting
        self._shown = False  # a thread is on screen: reaching the top loads older items
        self._spinner: Timer | None = None
        self._spinning: set[str] = set()
        self._offscreen: dict[str, str] = {}  # msg id → text streamed in another thread
        self._switching = asyncio.Lock()

    def notify_style_update(self) -> None:
        clear_cache(self)
        super().notify_style_update()

    def on_mount(self) -> None:
        # The first answer would otherwise pay for importing and compiling the Markdown
        # parser and the code highlighter (~80 ms here) in the middle of its stream.
        self.run_worker(_warm_up, thread=True, exit_on_error=False, group="chat-warm-up")

    # -- public API ------------------------------------------------------------------------
    async def show_thread(self, thread_id: str | None) -> None:
        """Switch to a thread: its latest items, scrolled to the end; older ones load on
        scroll-up."""
        async with self._switching:  # quick successive switches: one after the other
            await self._show_thread(thread_id)

    async def _show_thread(self, thread_id: str | None) -> None:
        self.thread_id = thread_id
        self._shown = False
        self._busy = True
        self._items, self._by_key = [], {}
        self._lo = self._hi = 0
        self._has_older = False
        self._oldest_message = None
        self._placed_runs = set()
        self._notes_after = {}
        self._spinning.clear()
        try:
            if thread_id is not None:
                self._load_thread_index(thread_id)
                messages = self.store.list_messages(thread_id, limit=PAGE_MESSAGES)
                self._has_older = len(messages) == PAGE_MESSAGES
                self._oldest_message = messages[0] if messages else None
                self._items = self._page_items(messages, upper_ts=None)
                self._collapse_history(self._items, latest=True)
                for item in self._items:
                    self._by_key[item.key] = item
            await self._mount_latest()
        finally:
            self._busy = False
        self._mount_live_tail()
        self.anchor()
        self.scroll_end(animate=False, immediate=True)
        self._sync_spinner()
        self._shown = True  # from now on, reaching the top loads older items
        self.call_after_refresh(self._fill_view, thread_id)

    async def _mount_latest(self) -> None:
        """Mount the latest items (within budget) in place of whatever is mounted."""
        lo = self._window_start(len(self._items))
        self._lo = self._hi = lo
        with self.app.batch_update():
            await self.remove_children()
            widgets = [self._widget_for(item) for item in self._items[lo:]]
            self._hi = len(self._items)
            if widgets:
                await self.mount_all(widgets)

    async def scroll_to_latest(self) -> None:
        """Jump to the end of the thread and follow new output again — also when the
        user has scrolled so far up that the latest items were unmounted."""
        if self._hi < len(self._items) and not self._busy:
            self._busy = True
            try:
                for item in self._items[self._lo : self._hi]:
                    self._unbind(item)
                await self._mount_latest()
            finally:
                self._busy = False
        self.anchor()

    def handle_event(self, event: Event) -> None:
        """Apply a runtime event (see module docstring)."""
        thread_id = event.thread_id
        if thread_id is not None and event.event.startswith("thread.run"):
            self._index_cache.pop(thread_id, None)
        if thread_id is not None and thread_id != self.thread_id:
            self._remember_offscreen(event)
            return
        if self.thread_id is None:
            return
        handler = _HANDLERS.get(event.event)
        if handler is not None:
            handler(self, event.data)

    def add_user_message(self, message: Message) -> None:
        """Show a message the user just sent (and jump to the end)."""
        if message.thread_id != self.thread_id:
            return
        self._add_item(_Item(f"m:{message.id}", "user", message=message, text=message.text))
        self.anchor()
        self.scroll_end(animate=False)

    def focused_copy(self) -> tuple[str, str] | None:
        """What the copy key takes from the focused message, card or error line — its
        text, or the block selected in an answer — and what to call it (None: nothing
        in the chat is focused)."""
        widget = self.app.focused
        while widget is not None and widget is not self:
            text = getattr(widget, "copy_text", None)
            if isinstance(text, str):
                return text, getattr(widget, "copy_label", "message")
            widget = widget.parent  # type: ignore[assignment]
        return None

    @property
    def mounted_items(self) -> int:
        return self._hi - self._lo

    # -- loading pages ---------------------------------------------------------------------
    def _load_thread_index(self, thread_id: str) -> None:
        """Tool calls of the thread, by run: needed to place the calls of runs that wrote no
        message (failed, cancelled, or still running tools). Reading them costs tens of ms
        in a long thread, so switching back to a thread whose runs did nothing since reuses
        them."""
        # The thread's activity counter also moves when another process (a second
        # terminal) runs it, which this view gets no events for.
        try:
            stamp = self.store.thread_activity(thread_id)
        except AssistantError:
            stamp = -1
        cached = self._index_cache.pop(thread_id, None)
        if cached is None or cached[0] != stamp:
            index: dict[str, list[ToolCallRecord]] = {}
            for record in self.store.list_tool_calls(thread_id=thread_id):
                index.setdefault(record.run_id, []).append(record)
            cached = (stamp, index, {})
        self._index_cache[thread_id] = cached
        while len(self._index_cache) > INDEX_CACHE_THREADS:
            del self._index_cache[next(iter(self._index_cache))]
        _, self._calls_by_run, self._has_message = cached

    def _window_start(self, count: int) -> int:
        """Where the mounted window starts so it holds the last items within budget: a few
        screens of them (Textual lays out every mounted item, seen or not), and not too
        much text."""
        start, budget = count, TEXT_BUDGET
        width = max(self.scrollable_content_region.width - 4, 20)
        rows, enough = 0, SCREENS * (self.scrollable_content_region.height or 24)
        while start > 0 and count - start < PAGE_ITEMS:
            if count - start >= MIN_ITEMS and rows >= enough:
                break
            item = self._items[start - 1]
            cost = item.cost
            if count - start >= MIN_ITEMS and cost > budget:
                break
            budget -= cost
            rows += item.rows(width)
            start -= 1
        return start

    def _page_items(self, messages: list[Message], *, upper_ts: int | None) -> list[_Item]:
        """Items for a page of messages, oldest first: each message with its run's tool
        calls (before the answer they led to), and a failed run's error after it.
        ``upper_ts``: creation time of the next newer page's first message (None: newest)."""
        if not messages:
            return []
        run_ids = list(
            dict.fromkeys(m.run_id for m in messages if m.role == "assistant" and m.run_id)
        )
        before: dict[str, list[tuple[ToolCall, str]]] = {}
        after: dict[str, list[tuple[ToolCall, str]]] = {}
        errors: dict[str, str] = {}
        for run_id in run_ids:
            self._place_run(run_id, before, after, errors)
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
            calls = [(r.call, r.run_id) for r in records]
            after.setdefault(anchor.id, []).extend(calls)
            self._placed_runs.add(run_id)
            run = self._get_run(run_id)
            if run is not None and run.status in ("failed", "expired"):
                errors.setdefault(anchor.id, error_text(run.last_error, f"Run {run.status}"))
        items: list[_Item] = []
        for message in messages:
            for call, run_id in before.get(message.id, []):
                items.append(self._call_item(call, run_id))
            items.append(self._message_item(message))
            for call, run_id in after.get(message.id, []):
                items.append(self._call_item(call, run_id))
            items.extend(self._notes_after.pop(message.id, []))
            if message.id in errors:
                items.append(_Item(f"e:{message.id}", "error", error=errors[message.id]))
        return items

    def _place_run(
        self,
        run_id: str,
        before: dict[str, list[tuple[ToolCall, str]]],
        after: dict[str, list[tuple[ToolCall, str]]],
        errors: dict[str, str],
    ) -> None:
        """Anchor each tool-calls step of a run to the answer that follows it (or, for the
        last ones, to the answer before them)."""
        if run_id in self._placed_runs:
            return
        self._placed_runs.add(run_id)
        try:
            steps = self.store.list_steps(run_id)
        except NotFoundError:
            return
        pending: list[tuple[ToolCall, str]] = []
        last_message: str | None = None
        for step in steps:
            if step.type == "tool_calls":
                pending.extend((call, run_id) for call in step.tool_calls)
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
            self._notes_after.setdefault(last_message, []).extend(note_items(run))
        if run is not None and run.status in ("failed", "expired"):
            errors[last_message] = error_text(run.last_error, f"Run {run.status}")

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

    def _message_item(self, message: Message) -> _Item:
        text = message.text
        if message.status == "in_progress":
            live = self._offscreen.get(message.id)
            if live is not None and len(live) > len(text):
                text = live
        return _Item(
            f"m:{message.id}",
            "user" if message.role == "user" else "assistant",
            message=message,
            text=text,
        )

    def _collapse_history(self, items: list[_Item], *, latest: bool) -> None:
        """Cards of earlier runs start collapsed (their body renders when expanded): what
        a reader of history wants, and charts and tables of a hundred runs would make a
        switch slow. The cards of the latest run (``latest``: ``items`` end the thread)
        keep their state."""
        if latest:
            self._latest_run = next(
                (run for item in reversed(items) if (run := _run_of(item))), None
            )
        keep = self._latest_run
        for item in items:
            if item.kind == "call" and item.run_id != keep and item.expanded is None:
                item.expanded = False

    @staticmethod
    def _call_item(call: ToolCall, run_id: str) -> _Item:
        return _Item(f"c:{call.id}", "call", call=call, run_id=run_id)

    def _fill_view(self, thread_id: str | None, tries: int = 5) -> None:
        if thread_id != self.thread_id:
            return
        children = self.children
        if tries and children and children[-1].size.height == 0:
            # Not laid out yet: the scroll range would read 0 however long the page.
            self.call_after_refresh(self._fill_view, thread_id, tries - 1)
            return
        if self.max_scroll_y == 0:
            # The page does not fill the view: load more now, the user cannot scroll up.
            self._maybe_load_older()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._shown or self._busy:
            return
        if new_value <= EDGE and new_value < old_value:
            self._maybe_load_older()
        elif (
            new_value >= self.max_scroll_y - EDGE
            and new_value > old_value
            and self._hi < len(self._items)
        ):
            self._busy = True
            self.run_worker(self._load_newer(), group="chat-page", exclusive=True)

    def on_mouse_scroll_up(self) -> None:
        # Scrolling up while already at the top changes nothing, so the watcher is silent.
        if self.scroll_y <= EDGE:
            self._maybe_load_older()

    def _maybe_load_older(self) -> None:
        if self._shown and not self._busy and (self._lo > 0 or self._has_older):
            self._busy = True
            self.run_worker(self._load_older(), group="chat-page", exclusive=True)

    async def _load_older(self) -> None:
        thread_id = self.thread_id
        try:
            if self._lo == 0 and self._has_older and thread_id is not None:
                anchor = self._oldest_message
                messages = self.store.list_messages(
                    thread_id, limit=PAGE_MESSAGES, before=anchor.id if anchor else None
                )
                if thread_id != self.thread_id:
                    return
                self._has_older = len(messages) == PAGE_MESSAGES
                if messages:
                    upper_ts = anchor.created_at if anchor is not None else None
                    self._oldest_message = messages[0]
                    items = self._page_items(messages, upper_ts=upper_ts)
                    items = [i for i in items if i.key not in self._by_key]
                    self._collapse_history(items, latest=False)
                    for item in items:
                        self._by_key[item.key] = item
                    self._items[0:0] = items
                    self._lo += len(items)
                    self._hi += len(items)
            if self._lo == 0:
                return
            start = max(0, self._lo - PAGE_ITEMS)
            widgets = [self._widget_for(item) for item in self._items[start : self._lo]]
            first = self._items[self._lo].widget if self._hi > self._lo else None
            if first is not None:
                view = (first, first.virtual_region.y, self.scroll_y)
                await self.mount_all(widgets, before=first)
            else:
                view = None
                await self.mount_all(widgets)
            self._lo = start
            await self._trim(from_top=False)
            if self._hi < len(self._items):
                self.anchor(False)  # the live end is unmounted: nothing to stick to
            if view is not None:
                self.call_after_refresh(self._keep_view, *view)
        finally:
            self._busy = False

    async def _load_newer(self) -> None:
        try:
            end = min(len(self._items), self._hi + PAGE_ITEMS)
            widgets = [self._widget_for(item) for item in self._items[self._hi : end]]
            if widgets:
                await self.mount_all(widgets)
            self._hi = end
            if self._hi == len(self._items):
                # Back at the live end: stick to it again once the user reaches the bottom.
                self._anchored = True
                self._anchor_released = True
            keep = self._items[self._hi - 1].widget if self._hi > self._lo else None
            view = (keep, keep.virtual_region.y, self.scroll_y) if keep is not None else None
            removed = await self._trim(from_top=True)
            if removed and view is not None:
                self.call_after_refresh(self._keep_view, *view)
        finally:
            self._busy = False

    def _keep_view(
        self, widget: Widget, y_before: int, scroll_before: float, tries: int = 5
    ) -> None:
        """After content changed above the viewport, keep showing the same lines: scroll by
        as much as ``widget`` (which stayed mounted) moved — once the layout has it."""
        if not widget.is_attached:
            return
        delta = widget.virtual_region.y - y_before
        if delta:
            self.scroll_to(y=scroll_before + delta, animate=False, immediate=True)
        elif tries:
            self.call_after_refresh(self._keep_view, widget, y_before, scroll_before, tries - 1)

    async def _trim(self, *, from_top: bool) -> int:
        """Unmount items beyond MAX_MOUNTED from one end of the window."""
        excess = (self._hi - self._lo) - MAX_MOUNTED
        if excess <= 0:
            return 0
        if from_top:
            doomed = self._items[self._lo : self._lo + excess]
            self._lo += excess
        else:
            doomed = self._items[self._hi - excess : self._hi]
            self._hi -= excess
        widgets = [item.widget for item in doomed if item.widget is not None]
        for item in doomed:
            self._unbind(item)
        if widgets:
            await self.remove_children(widgets)
        return len(doomed)

    # -- items and widgets -----------------------------------------------------------------
    def _widget_for(self, item: _Item) -> Widget:
        widget: Widget
        if item.kind == "user":
            assert item.message is not None
            widget = UserMessage(item.message)
        elif item.kind == "assistant":
            assert item.message is not None
            widget = AssistantMessage(item.message, text=item.text)
        elif item.kind == "call":
            assert item.call is not None
            widget = ToolCallCard(item.call, item.run_id or "", expanded=item.expanded)
            if item.call.status == "running":
                self._spinning.add(item.key)
        elif item.kind == "note":
            widget = NoteLine(item.error)
        else:
            widget = ErrorLine(item.error)
        item.widget = widget
        return widget

    def _unbind(self, item: _Item) -> None:
        widget = item.widget
        if isinstance(widget, AssistantMessage):
            item.text = widget.received_text
        elif isinstance(widget, ToolCallCard) and widget.user_toggled:
            item.expanded = widget.expanded  # mounted back as the user left it
        item.widget = None
        self._spinning.discard(item.key)

    def _add_item(self, item: _Item) -> _Item:
        """Append a new item at the live end; mount it if the window reaches the end."""
        existing = self._by_key.get(item.key)
        if existing is not None:
            return existing
        at_end = self._hi == len(self._items)  # else it mounts when the user scrolls down
        self._items.append(item)
        self._by_key[item.key] = item
        if at_end and not self._busy:
            self.mount(self._widget_for(item))
            self._hi = len(self._items)
            if self._anchored and not self._anchor_released:
                excess = (self._hi - self._lo) - MAX_MOUNTED
                if excess > 0:
                    self.run_worker(self._trim(from_top=True), group="chat-trim")
        return item

    def _mount_live_tail(self) -> None:
        """Mount items that arrived (by events) while a switch was mounting."""
        if self._hi < len(self._items):
            widgets = [self._widget_for(item) for item in self._items[self._hi :]]
            self.mount_all(widgets)
            self._hi = len(self._items)

    # -- event handlers --------------------------------------------------------------------
    def _on_message_created(self, message: Message) -> None:
        if message.role != "assistant":
            if f"m:{message.id}" not in self._by_key:
                self._add_item(_Item(f"m:{message.id}", "user", message=message, text=message.text))
            return
        self._add_item(_Item(f"m:{message.id}", "assistant", message=message, text=message.text))

    def _assistant_item(self, message_id: str, run_id: str | None) -> _Item:
        item = self._by_key.get(f"m:{message_id}")
        if item is None:
            message = Message(
                id=message_id,
                created_at=now(),
                thread_id=self.thread_id or "",
                role="assistant",
                status="in_progress",
                run_id=run_id,
            )
            item = self._add_item(_Item(f"m:{message_id}", "assistant", message=message))
        return item

    def _on_message_delta(self, data: Any) -> None:
        item = self._assistant_item(data.id, data.run_id)
        item.text += data.value
        if isinstance(item.widget, AssistantMessage):
            item.widget.append(data.value)

    def _on_message_done(self, message: Message) -> None:
        item = self._assistant_item(message.id, message.run_id)
        item.message = message
        if message.text:
            item.text = message.text
        if isinstance(item.widget, AssistantMessage):
            item.widget.finish(message)

    def _on_step(self, step: RunStep) -> None:
        if step.type != "tool_calls":
            return
        for call in step.tool_calls:
            self._upsert_call(call, step.run_id)

    def _upsert_call(self, call: ToolCall, run_id: str) -> None:
        item = self._by_key.get(f"c:{call.id}")
        if item is None:
            self._add_item(self._call_item(call, run_id))
            self._track_running(f"c:{call.id}", call.status)
            return
        item.call = call
        if isinstance(item.widget, ToolCallCard):
            item.widget.update_call(call)
        self._track_running(item.key, call.status)

    def _on_step_delta(self, data: Any) -> None:
        for entry in data.tool_calls:
            call_id = entry.get("id")
            if not call_id:
                continue
            item = self._by_key.get(f"c:{call_id}")
            if item is None:
                name = (entry.get("function") or {}).get("name") or ""
                item = self._add_item(
                    self._call_item(
                        ToolCall(id=call_id, function=FunctionCall(name=name)), data.run_id
                    )
                )
            assert item.call is not None
            if isinstance(item.widget, ToolCallCard):
                item.widget.apply_delta(entry)
            else:
                apply_call_delta(item.call, entry)
            self._track_running(item.key, item.call.status)

    def _on_requires_action(self, run: Run) -> None:
        action = run.required_action or {}
        calls = (action.get("submit_tool_outputs") or {}).get("tool_calls") or []
        status = "awaiting_approval" if run.approval == "ask" else "running"
        for entry in calls:
            item = self._by_key.get(f"c:{entry.get('id')}")
            if item is None or item.call is None:
                continue
            if item.call.status in ("queued", "awaiting_approval", "running"):
                if isinstance(item.widget, ToolCallCard):
                    item.widget.set_status(status)
                else:
                    item.call.status = status  # type: ignore[assignment]
                self._track_running(item.key, status)

    def _on_run(self, run: Run) -> None:
        for item in note_items(run):
            self._add_item(item)  # known keys are skipped

    def _on_run_failed(self, run: Run) -> None:
        self._on_run(run)
        label = "Run expired" if run.status == "expired" else "Run failed"
        self._add_item(
            _Item(f"e:{run.id}", "error", error=error_text(run.last_error, label), run_id=run.id)
        )

    def _on_error(self, error: Any) -> None:
        if isinstance(error, LastError):
            self._add_item(
                _Item(f"e:error:{time.monotonic()}", "error", error=error_text(error, "Error"))
            )

    # -- spinner ---------------------------------------------------------------------------
    def _track_running(self, key: str, status: str) -> None:
        if status == "running":
            self._spinning.add(key)
        else:
            self._spinning.discard(key)
        self._sync_spinner()

    def _sync_spinner(self) -> None:
        if self._spinning and self._spinner is None:
            self._spinner = self.set_interval(SPINNER_INTERVAL, self._tick)
        elif not self._spinning and self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def _tick(self) -> None:
        for key in list(self._spinning):
            item = self._by_key.get(key)
            if item is None or item.call is None or item.call.status != "running":
                self._spinning.discard(key)
            elif isinstance(item.widget, ToolCallCard):
                item.widget.tick()
        self._sync_spinner()

    # -- other threads ---------------------------------------------------------------------
    def _remember_offscreen(self, event: Event) -> None:
        name = event.event
        data = event.data
        if name == "thread.message.created" and getattr(data, "role", "") == "assistant":
            self._offscreen[data.id] = data.text
        elif name == "thread.message.delta" and data.id in self._offscreen:
            self._offscreen[data.id] += data.value
        elif name in ("thread.message.completed", "thread.message.incomplete"):
            self._offscreen.pop(data.id, None)


def _run_of(item: _Item) -> str | None:
    return item.run_id or (item.message.run_id if item.message is not None else None)


def _warm_up() -> None:
    from ..render.markdown import MarkdownStyles, render

    render(
        "# a\n\n- b\n\n| c | d |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```",
        40,
        MarkdownStyles(),
    )


_HANDLERS: dict[str, Any] = {
    "thread.message.created": ChatView._on_message_created,
    "thread.message.delta": ChatView._on_message_delta,
    "thread.message.completed": ChatView._on_message_done,
    "thread.message.incomplete": ChatView._on_message_done,
    "thread.run.step.created": ChatView._on_step,
    "thread.run.step.in_progress": ChatView._on_step,
    "thread.run.step.completed": ChatView._on_step,
    "thread.run.step.failed": ChatView._on_step,
    "thread.run.step.cancelled": ChatView._on_step,
    "thread.run.step.expired": ChatView._on_step,
    "thread.run.step.delta": ChatView._on_step_delta,
    "thread.run.requires_action": ChatView._on_requires_action,
    "thread.run.in_progress": ChatView._on_run,
    "thread.run.completed": ChatView._on_run,
    "thread.run.incomplete": ChatView._on_run,
    "thread.run.cancelled": ChatView._on_run,
    "thread.run.failed": ChatView._on_run_failed,
    "thread.run.expired": ChatView._on_run_failed,
    "error": ChatView._on_error,
}
