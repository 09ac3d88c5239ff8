"""ChatView: the chat of the shown thread — a window of its transcript, mounted.

The thread's items (questions, answers, tool calls, error lines) and how live events change
them are the transcript's (``tui.transcript``: plain data, no widgets). This widget mounts a
window of them: ``show_thread`` mounts the latest items (a few screens, within a text budget
so long answers still paint fast) and asks the transcript for older ones when the user
scrolls to the top; when the window grows past ``MAX_MOUNTED`` items it unmounts from the
far end, and mounts them back on the way down. Widgets exist only for the window, so the
widget count does not grow with the thread.

``handle_event`` takes the runtime's events of every thread: the transcript folds them and
says what changed among the shown thread's items (an item added, text added to an answer,
an answer finished, a call changed), which this widget applies to what is mounted.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Unpack

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.message import Message as TextualMessage
from textual.widget import Widget
from textual.widgets import Button, Static

from assistant_core.objects import LastError, Message
from assistant_core.text import one_line

from ..transcript import (
    PAGE_ITEMS,
    RETRY_STATUSES,
    Added,
    CallChanged,
    Finished,
    Item,
    Removed,
    TextAdded,
    Transcript,
    Update,
)
from .message import AssistantMessage, UserMessage
from .rendered import PlainText
from .theme import COMPONENTS, clear_cache, provider_css
from .tool_card import ToolCallCard

if TYPE_CHECKING:
    from textual.timer import Timer

    from assistant_core.events import Event
    from assistant_core.store_interface import ThreadStore

    from .options import WidgetOptions

MAX_MOUNTED = 90  # mounted items before the far end is unmounted
EDGE = 1  # rows from the top/bottom that count as "at the edge"
SPINNER_INTERVAL = 0.1
__all__ = [
    "MAX_MOUNTED",
    "PAGE_ITEMS",
    "ChatView",
    "ErrorLine",
    "NoteLine",
    "RedoOffer",
    "error_text",
]


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
    ErrorLine:focus {
        border-left: thick $accent;
        background: $error 15%;
    }
    """

    copy_label = "error"


class NoteLine(PlainText, can_focus=True):
    """What the app did about the model's behaviour (``run.notes``: a step's call cap,
    repeated calls, a final answer asked for), where it happened."""

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


class NewBelow(Static):
    """ "↓ new" at the bottom of the chat: text or calls arrived below while the user reads
    further up. A click jumps to the end (so do End and Ctrl+End)."""

    DEFAULT_CSS = """
    NewBelow {
        dock: bottom;
        height: 1;
        width: 1fr;
        display: none;
        content-align: right middle;
        padding: 0 1;
        background: $accent 25%;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self) -> None:
        super().__init__("↓ new below · End", id="new-below")

    async def on_click(self) -> None:
        chat = self.parent
        if isinstance(chat, ChatView):
            await chat.scroll_to_latest()


class RedoOffer(Horizontal):
    """After the thread's last run: answer it again — Retry after a failure, a cut or a
    cancel, Regenerate after a complete answer. A new run on the same thread; the old run
    and its answer stay. Its button, the ``r`` key on the run's items, and the palette."""

    DEFAULT_CSS = """
    RedoOffer {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
    }
    RedoOffer > .redo--note { width: auto; color: $text-muted; margin-right: 2; }
    RedoOffer > Button { min-width: 14; }
    """

    def __init__(self, run_id: str, status: str, note: str = "") -> None:
        """``note``: how the run ended, when nothing above says it (a cancel that left
        no answer: a failure has its error line, a cut answer its note)."""
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.note = note
        self.label = "Retry" if status in RETRY_STATUSES else "Regenerate"

    def compose(self) -> ComposeResult:
        if self.note:
            yield Static(self.note, classes="redo--note")
        yield Button(f"↻ {self.label} (r)", id="redo", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        chat = self.parent
        if isinstance(chat, ChatView):
            chat.request_redo()


def error_text(error: LastError | None, prefix: str = "Run failed") -> str:
    """One line for an error: ``✗ Run failed: message (code)``."""
    if error is None:
        return f"✗ {prefix}"
    code = one_line(error.code or "")
    message = one_line(error.message or "", None)
    return f"✗ {prefix}: {message}" + (f" ({code})" if code else "")


class ChatView(VerticalScroll):
    """The chat of the shown thread. See the module docstring.

    | Key(s) | Description |
    | :- | :- |
    | r | Answer the last run again (Retry / Regenerate), from its answer, error or card. |
    """

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
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "redo", "Retry / Regenerate", show=False),
    ]

    class Redo(TextualMessage):
        """The user asked to answer the thread's last run again."""

        def __init__(self, thread_id: str, run_id: str) -> None:
            super().__init__()
            self.thread_id = thread_id
            self.run_id = run_id

    def __init__(self, store: ThreadStore, **options: Unpack[WidgetOptions]) -> None:
        super().__init__(**options)
        self.transcript = Transcript(store)
        #: The mounted window: transcript.items[window_start:window_end], and their widgets.
        self.window_start = 0
        self.window_end = 0
        self._widgets: dict[str, Widget] = {}
        self._busy = False  # a switch or a page load is mounting
        self._shown = False  # a thread is on screen: reaching the top loads older items
        self._spinner: Timer | None = None
        self._spinning: set[str] = set()  # keys of running calls
        self._switching = asyncio.Lock()
        self.new_below = NewBelow()

    @property
    def store(self) -> ThreadStore:
        return self.transcript.store

    @property
    def thread_id(self) -> str | None:
        return self.transcript.thread_id

    @property
    def mounted_items(self) -> int:
        return self.window_end - self.window_start

    def notify_style_update(self) -> None:
        clear_cache(self)
        super().notify_style_update()

    def on_mount(self) -> None:
        self.mount(self.new_below)
        # The first answer would otherwise pay for importing and compiling the Markdown
        # parser and the code highlighter (~80 ms here) in the middle of its stream. After
        # the screen is painted: the warm-up would hold the GIL while it first paints.
        self.call_after_refresh(
            self.run_worker, _warm_up, thread=True, exit_on_error=False, group="chat-warm-up"
        )

    # -- public API ------------------------------------------------------------------------
    async def show_thread(self, thread_id: str | None) -> None:
        """Switch to a thread: its latest items, scrolled to the end; older ones load on
        scroll-up."""
        async with self._switching:  # quick successive switches: one after the other
            await self._show_thread(thread_id)

    async def _show_thread(self, thread_id: str | None) -> None:
        self._shown = False
        self._busy = True
        try:
            self.transcript.load(thread_id)
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
        """Mount the latest items (a window of them) in place of whatever is mounted."""
        region = self.scrollable_content_region
        if not region:  # not laid out yet (the first thread of the app): the screen's size
            region = self.app.screen.size.region
        items = self.transcript.items
        start = self.transcript.latest_window(region.width - 4, region.height)
        self._widgets.clear()
        self._spinning.clear()
        self.window_start = self.window_end = start
        with self.app.batch_update():
            await self.remove_children([w for w in self.children if w is not self.new_below])
            self._show_new_below(False)
            widgets = [self._widget_for(item) for item in items[start:]]
            self.window_end = len(items)
            if widgets:
                await self.mount_all(widgets)

    async def scroll_to_latest(self) -> None:
        """Jump to the end of the thread and follow new output again — also when the
        user has scrolled so far up that the latest items were unmounted."""
        if self.window_end < len(self.transcript.items) and not self._busy:
            self._busy = True
            try:
                for item in self.transcript.items[self.window_start : self.window_end]:
                    self._unbind(item)
                await self._mount_latest()
            finally:
                self._busy = False
        self.anchor()
        self._show_new_below(False)

    def handle_event(self, event: Event, thread_id: str | None = None) -> None:
        """A runtime event of any thread (``thread_id``: its thread, for ``error`` and
        ``done``, which do not say it)."""
        following = self._following()  # before the event adds items at the end
        updates = self.transcript.apply(event, thread_id)
        if updates and not following:
            self._show_new_below(True)
        self._apply(updates)

    def _apply(self, updates: list[Update]) -> None:
        """What changed in the transcript, on the mounted widgets."""
        for update in updates:
            match update:
                case Added(item=item):
                    self._added(item)
                case TextAdded(item=item, text=text):
                    widget = self._widgets.get(item.key)
                    if isinstance(widget, AssistantMessage):
                        widget.append(text)
                case Finished(item=item):
                    widget = self._widgets.get(item.key)
                    if isinstance(widget, AssistantMessage) and item.message is not None:
                        widget.finish(item.message)
                case CallChanged(item=item):
                    card = self._widgets.get(item.key)
                    if isinstance(card, ToolCallCard) and item.call is not None:
                        card.update_call(item.call)
                    self._track_running(item)
                case Removed(item=item):  # the last item
                    widget = self._widgets.pop(item.key, None)
                    if widget is not None:
                        widget.remove()
                        self.window_end -= 1

    def stream_ended(self, thread_id: str) -> None:
        """A thread's run stream is over (with or without its ``done``)."""
        self._apply(self.transcript.stream_ended(thread_id))

    # -- answering the last run again --------------------------------------------------------
    def request_redo(self) -> bool:
        """Ask (``Redo``) to answer the thread's last run again; False when nothing is
        offered (no run yet, or one is going on)."""
        redo = self.transcript.redo
        if redo is None or redo.run_id is None or self.thread_id is None:
            return False
        self.post_message(self.Redo(self.thread_id, redo.run_id))
        return True

    def action_redo(self) -> None:
        """``r`` on an item of the last run (its answer, error line, a card, the offer)."""
        redo = self.transcript.redo
        item = self._focused_item()
        if redo is None or item is None or (item is not redo and item.run != redo.run_id):
            self.notify(
                "r answers the thread's last run again: focus its answer, error or ↻ button.",
                markup=False,
            )
            return
        self.request_redo()

    def _focused_item(self) -> Item | None:
        node: DOMNode | None = self.app.focused
        while node is not None and node.parent is not self:
            node = node.parent
        if node is None:
            return None
        key = next((k for k, w in self._widgets.items() if w is node), None)
        return self.transcript.item(key) if key is not None else None

    def add_user_message(self, message: Message) -> None:
        """Show a message the user just sent (and jump to the end)."""
        for update in self.transcript.add_user_message(message):
            self._added(update.item)
        if message.thread_id == self.thread_id:
            self.anchor()
            self.scroll_end(animate=False)

    def focused_copy(self) -> tuple[str, str] | None:
        """What the copy key takes from the focused message, card or error line — its
        text, or the block selected in an answer — and what to call it (None: nothing
        in the chat is focused)."""
        node: DOMNode | None = self.app.focused
        while node is not None and node is not self:
            text = getattr(node, "copy_text", None)
            if isinstance(text, str):
                return text, getattr(node, "copy_label", "message")
            node = node.parent
        return None

    # -- focus -----------------------------------------------------------------------------
    # While the focus is outside the chat, the chat is one stop in the focus chain (its
    # items are not in it), and taking the focus passes it to the latest item on screen:
    # Tab or Shift+Tab into the chat lands on the latest message, not on the first of the
    # thread. Inside, Tab and Shift+Tab move between the items and out at either end.
    def allow_focus(self) -> bool:
        return super().allow_focus() and not self._focus_within()

    def allow_focus_children(self) -> bool:
        return super().allow_focus_children() and self._focus_within()

    def _focus_within(self) -> bool:
        focused = self.screen.focused if self.is_attached else None
        return focused is not None and focused is not self and self in focused.ancestors

    def on_focus(self) -> None:
        target = self.landing_item()
        if target is not None:
            # One already on screen keeps the view where the user has it.
            target.focus(scroll_visible=not target.region.overlaps(self.content_region))

    def landing_item(self) -> Widget | None:
        """The latest mounted item that is at least partly on screen (the latest item
        when none is)."""
        items = self.transcript.items[self.window_start : self.window_end]
        widgets = [w for item in reversed(items) if (w := self._widgets.get(item.key))]
        view = self.content_region
        for widget in widgets:
            if widget.can_focus and widget.region.overlaps(view):
                return widget
        return next((w for w in widgets if w.can_focus), None)

    # -- loading pages ---------------------------------------------------------------------
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

    def _following(self) -> bool:
        """The view is at the live end and stays there as it grows."""
        at_end = self.window_end == len(self.transcript.items)
        return at_end and (
            (self._anchored and not self._anchor_released)
            or self.scroll_y >= self.max_scroll_y - EDGE
        )

    def _show_new_below(self, show: bool) -> None:
        if self.new_below.display != show:
            self.new_below.display = show

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.new_below.display and self._following():
            self._show_new_below(False)
        if not self._shown or self._busy:
            return
        if new_value <= EDGE and new_value < old_value:
            self._maybe_load_older()
        elif (
            new_value >= self.max_scroll_y - EDGE
            and new_value > old_value
            and self.window_end < len(self.transcript.items)
        ):
            self._busy = True
            self.run_worker(self._load_newer(), group="chat-page", exclusive=True)

    def on_mouse_scroll_up(self) -> None:
        # Scrolling up while already at the top changes nothing, so the watcher is silent.
        if self.scroll_y <= EDGE:
            self._maybe_load_older()

    def _maybe_load_older(self) -> None:
        if self._shown and not self._busy and (self.window_start > 0 or self.transcript.has_older):
            self._busy = True
            self.run_worker(self._load_older(), group="chat-page", exclusive=True)

    async def _load_older(self) -> None:
        try:
            if self.window_start == 0:
                added = len(self.transcript.load_older())
                self.window_start += added
                self.window_end += added
            if self.window_start == 0:
                return
            items = self.transcript.items
            start = max(0, self.window_start - PAGE_ITEMS)
            widgets = [self._widget_for(item) for item in items[start : self.window_start]]
            first = (
                self._widgets.get(items[self.window_start].key)
                if self.window_end > self.window_start
                else None
            )
            if first is not None:
                view = (first, first.virtual_region.y, self.scroll_y)
                await self.mount_all(widgets, before=first)
            else:
                view = None
                await self.mount_all(widgets)
            self.window_start = start
            await self._trim(from_top=False)
            if self.window_end < len(items):
                self.anchor(False)  # the live end is unmounted: nothing to stick to
            if view is not None:
                self.call_after_refresh(self._keep_view, *view)
        finally:
            self._busy = False

    async def _load_newer(self) -> None:
        try:
            items = self.transcript.items
            end = min(len(items), self.window_end + PAGE_ITEMS)
            widgets = [self._widget_for(item) for item in items[self.window_end : end]]
            if widgets:
                await self.mount_all(widgets)
            self.window_end = end
            if self.window_end == len(items):
                # Back at the live end: stick to it again once the user reaches the bottom.
                self._anchored = True
                self._anchor_released = True
            keep = (
                self._widgets.get(items[self.window_end - 1].key)
                if self.window_end > self.window_start
                else None
            )
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
        excess = self.mounted_items - MAX_MOUNTED
        if excess <= 0:
            return 0
        items = self.transcript.items
        if from_top:
            doomed = items[self.window_start : self.window_start + excess]
            self.window_start += excess
        else:
            doomed = items[self.window_end - excess : self.window_end]
            self.window_end -= excess
        widgets = [w for item in doomed if (w := self._widgets.get(item.key)) is not None]
        for item in doomed:
            self._unbind(item)
        if widgets:
            await self.remove_children(widgets)
        return len(doomed)

    # -- items and widgets -----------------------------------------------------------------
    def _widget_for(self, item: Item) -> Widget:
        widget: Widget
        if item.kind == "user":
            assert item.message is not None
            widget = UserMessage(item.message)
        elif item.kind == "assistant":
            assert item.message is not None
            widget = AssistantMessage(item.message, text=item.text)
        elif item.kind == "call":
            assert item.call is not None
            widget = ToolCallCard(
                item.call,
                item.run_id or "",
                expanded=item.expanded,
                locale=self.transcript.locale_for(item),
            )
            if item.call.status == "running":
                self._spinning.add(item.key)
        elif item.kind == "note":
            widget = NoteLine(f"! {one_line(item.note, None)}")
        elif item.kind == "redo":
            widget = RedoOffer(item.run_id or "", item.run_status, item.error_label)
        else:
            widget = ErrorLine(error_text(item.error, item.error_label))
        self._widgets[item.key] = widget
        return widget

    def _unbind(self, item: Item) -> None:
        widget = self._widgets.pop(item.key, None)
        if isinstance(widget, ToolCallCard) and widget.user_toggled:
            item.expanded = widget.expanded  # mounted back as the user left it
        self._spinning.discard(item.key)

    def _added(self, item: Item) -> None:
        """A new item at the end: mount it if the window reaches the end (else it mounts
        when the user scrolls down)."""
        items = self.transcript.items
        # Items come in the order they were appended (several at once for a step's calls).
        at_end = self.window_end < len(items) and items[self.window_end] is item
        if at_end and not self._busy:
            self.mount(self._widget_for(item))
            self.window_end += 1
            following = self._anchored and not self._anchor_released
            if following and self.mounted_items > MAX_MOUNTED:
                self.run_worker(self._trim(from_top=True), group="chat-trim")
        if item.kind == "call":
            self._track_running(item)

    def _mount_live_tail(self) -> None:
        """Mount items that arrived (by events) while a switch was mounting."""
        items = self.transcript.items
        if self.window_end < len(items):
            widgets = [self._widget_for(item) for item in items[self.window_end :]]
            self.mount_all(widgets)
            self.window_end = len(items)

    # -- spinner ---------------------------------------------------------------------------
    def _track_running(self, item: Item) -> None:
        if item.call is not None and item.call.status == "running":
            self._spinning.add(item.key)
        else:
            self._spinning.discard(item.key)
        self._sync_spinner()

    def _sync_spinner(self) -> None:
        if self._spinning and self._spinner is None:
            self._spinner = self.set_interval(SPINNER_INTERVAL, self._tick)
        elif not self._spinning and self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def _tick(self) -> None:
        for key in list(self._spinning):
            item = self.transcript.item(key)
            if item is None or item.call is None or item.call.status != "running":
                self._spinning.discard(key)
            elif isinstance(card := self._widgets.get(key), ToolCallCard):
                card.tick()
        self._sync_spinner()


def _warm_up() -> None:
    from ..render.markdown import MarkdownStyles, render

    render(
        "# a\n\n- b\n\n| c | d |\n|---|---|\n| 1 | 2 |\n\n```python\nx = 1\n```",
        40,
        MarkdownStyles(),
    )
