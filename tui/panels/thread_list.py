"""The thread list: every saved thread, most recent first, with a filter box.

Each row is two lines that fit the pane: the title (cut with an ellipsis, measured in
terminal cells), with ● when a run of that thread is streaming in this process; then, dim,
the tickers its tool calls named, where it was started when not here (``api``, ``cli``) and
its last activity. Choosing a row (Enter or click) posts ``Selected``. A filter that
matches nothing says so; Escape clears it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, ClassVar, Unpack

from rich.cells import cell_len
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from assistant_core.objects import Thread
from assistant_core.store_interface import ThreadStore
from assistant_core.text import one_line

from .fmt import fit_cells, relative_time

if TYPE_CHECKING:
    from ..widgets.options import WidgetOptions

FILTER_DEBOUNCE_S = 0.15
UNTITLED = "New thread"
ACTIVE_MARK = "●"
#: Where a thread was started, when not in this app (``Thread.origin``).
ORIGIN_LABELS = {"api": "api", "cli": "cli"}
TICKERS_SHOWN = 3
#: Threads (from the top) whose tickers are read after each reload.
TICKER_ROWS = 200


class ThreadOptions(OptionList):
    """The rows of ``ThreadList``, one a thread; their keys act on the highlighted one.

    | Key(s) | Description |
    | :- | :- |
    | n | Start a new thread. |
    | r | Rename the highlighted thread. |
    | d, delete | Delete the highlighted thread, after asking. |
    | / | Filter the threads. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_thread", "New", show=False),
        Binding("r", "app.rename_thread", "Rename", show=False),
        Binding("d,delete", "app.delete_thread", "Delete", show=False),
        Binding("slash", "screen.filter_threads", "Filter", show=False),
    ]


class ThreadList(Vertical):
    """Filter box over an option list of threads. In a narrow terminal it is shown over the
    chat (CSS class ``-overlay``) and goes again when a thread is chosen, on Escape, or when
    the focus leaves it (``Dismissed``).

    | Key(s) | Description |
    | :- | :- |
    | escape | Clear the filter; else close the list shown over the chat; else cancel the running answer. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "escape", show=False)]

    @dataclass
    class Selected(Message):
        thread_id: str

    class Dismissed(Message):
        """Escape, or the focus left the list, while it is shown over the chat."""

    def __init__(
        self,
        store: ThreadStore,
        *,
        is_streaming: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
        **options: Unpack[WidgetOptions],
    ) -> None:
        super().__init__(**options)
        self.store = store
        self.is_streaming = is_streaming
        self.clock = clock
        self.threads: list[Thread] = []
        self.current_id: str | None = None
        self._filter_timer: Timer | None = None
        #: thread id → (its updated_at when read, the tickers its tool calls named)
        self._tickers: dict[str, tuple[int, list[str]]] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter threads…", id="thread-filter", compact=True)
        yield ThreadOptions(id="thread-options")
        yield Static("", id="threads-empty")

    def on_mount(self) -> None:
        self.border_title = "Threads"
        # Relative times age: refresh them now and then.
        self.set_interval(30, self.refresh_rows)

    def on_resize(self) -> None:
        self.refresh_rows()  # rows are cut to the pane's width

    @property
    def options(self) -> OptionList:
        return self.query_one(ThreadOptions)

    @property
    def filter_text(self) -> str:
        return self.query_one("#thread-filter", Input).value.strip()

    # -- contents ------------------------------------------------------------------------
    def reload(self, current: str | None = None) -> None:
        """Re-read the threads from the store (keeping or moving the highlight)."""
        if current is not None:
            self.current_id = current
        self.threads = self.store.list_threads(filter=self.filter_text or None)
        options = self.options
        options.clear_options()
        options.add_options([Option(self._row(t), id=t.id) for t in self.threads])
        self._highlight_current()
        self._show_empty()
        stale = [t.id for t in self.threads[:TICKER_ROWS] if self._tickers_stale(t)]
        if stale:
            read = partial(self._read_tickers, stale, {t.id: t.updated_at for t in self.threads})
            self.run_worker(read, thread=True, group="thread-tickers", exclusive=True)

    def _show_empty(self) -> None:
        """Say why the list is empty: nothing matches the filter, or no thread yet."""
        note = self.query_one("#threads-empty", Static)
        note.display = not self.threads
        self.options.display = bool(self.threads)
        if self.threads:
            return
        needle = self.filter_text
        if needle:
            note.update(
                Content.assemble(
                    "No threads match “",
                    (one_line(needle, 40), "bold"),
                    "”.\n",
                    ("Escape clears the filter.", "$text-muted"),
                )
            )
        else:
            note.update(Content.styled("No threads yet: ask a question.", "$text-muted"))

    @property
    def tickers_read(self) -> bool:
        """Every row that shows tickers has them (tests and snapshots wait for it)."""
        return not any(self._tickers_stale(t) for t in self.threads[:TICKER_ROWS])

    def forget_tickers(self, thread_id: str) -> None:
        """Read the thread's tickers again at the next reload (a run added tool calls)."""
        self._tickers.pop(thread_id, None)

    def _tickers_stale(self, thread: Thread) -> bool:
        known = self._tickers.get(thread.id)
        return known is None or known[0] != thread.updated_at

    def _read_tickers(self, thread_ids: list[str], stamps: dict[str, int]) -> None:
        """In a thread: the store reads every tool call's arguments of these threads."""
        found = self.store.thread_tickers(thread_ids)
        self.app.call_from_thread(self._tickers_read, found, stamps)

    def _tickers_read(self, found: dict[str, list[str]], stamps: dict[str, int]) -> None:
        for thread_id, tickers in found.items():
            self._tickers[thread_id] = (stamps.get(thread_id, 0), tickers)
        self.refresh_rows()

    def select(self, thread_id: str) -> None:
        """Highlight ``thread_id``: only the highlight moves when its row is listed (a
        switch needs no store read); otherwise re-read the list, e.g. a thread created
        elsewhere or one the filter hides."""
        self.current_id = thread_id
        if any(thread.id == thread_id for thread in self.threads):
            self._highlight_current()
        else:
            self.reload()

    def refresh_rows(self) -> None:
        """Redraw every row (markers and relative times) without re-reading the store."""
        if not self.is_mounted:
            return
        options = self.options
        for thread in self.threads:
            options.replace_option_prompt(thread.id, self._row(thread))

    def set_active(self, thread_id: str) -> None:
        """Redraw one thread's row, e.g. when its run starts or ends."""
        for thread in self.threads:
            if thread.id == thread_id:
                self.options.replace_option_prompt(thread_id, self._row(thread))
                return

    def _highlight_current(self) -> None:
        if self.current_id is None:
            return
        try:
            self.options.highlighted = self.options.get_option_index(self.current_id)
        except Exception:  # the current thread is filtered out: keep no highlight
            self.options.highlighted = None

    def row_width(self) -> int:
        """Cells a row may take: the list's width, less its scrollbar."""
        width = self.options.scrollable_content_region.width or self.size.width - 1
        return max(width, 8)

    def _row(self, thread: Thread) -> Content:
        width = self.row_width()
        marker = (
            Content.styled(f"{ACTIVE_MARK} ", "bold $accent")
            if self.is_streaming(thread.id)
            else Content("  ")
        )
        title = fit_cells(thread.title or UNTITLED, width - 2)
        return Content.assemble(
            marker,
            (title, "" if thread.title else "italic $text-muted"),
            "\n  ",
            (fit_cells(self._details(thread, width - 2), width - 2), "$text-muted"),
        )

    def _details(self, thread: Thread, width: int) -> str:
        """The row's second line in ``width`` cells: tickers (as many as fit, then +N),
        where it was started, last activity."""
        rest = [
            label
            for label in (
                ORIGIN_LABELS.get(thread.origin),
                relative_time(thread.updated_at or thread.created_at, self.clock()),
            )
            if label
        ]
        known = self._tickers.get(thread.id)
        tickers = [one_line(t, 16) for t in known[1]] if known else []
        room = width - cell_len(" · ".join(rest)) - (3 if rest else 0)
        for count in range(min(len(tickers), TICKERS_SHOWN), 0, -1):
            more = len(tickers) - count
            label = ", ".join(tickers[:count]) + (f" +{more}" if more else "")
            if cell_len(label) <= room:
                return " · ".join([label, *rest])
        return " · ".join(rest)

    # -- events --------------------------------------------------------------------------
    def action_escape(self) -> None:
        """Escape: clear the filter; else leave the list shown over the chat; else the
        screen's Escape (cancel the run)."""
        box = self.query_one("#thread-filter", Input)
        if box.value:
            box.value = ""
            if self._filter_timer is not None:
                self._filter_timer.stop()
            self.reload()
            return
        if self.has_class("-overlay"):
            self.post_message(self.Dismissed())
            return
        raise SkipAction()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        if self.has_class("-overlay"):
            self.call_after_refresh(self._check_focus_left)

    def _check_focus_left(self) -> None:
        if self.display and self.has_class("-overlay") and not self.has_focus_within:
            self.post_message(self.Dismissed())

    @on(Input.Changed, "#thread-filter")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DEBOUNCE_S, self.reload)

    @on(Input.Submitted, "#thread-filter")
    def _filter_submitted(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.reload()
        self.screen.set_focus(self.options)  # now, as every focus move a key makes

    @on(OptionList.OptionSelected, "#thread-options")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.current_id = event.option.id
            self.post_message(self.Selected(event.option.id))
