"""The thread list: every saved thread, most recent first, with a filter box.

Each row shows the title, its last activity as a relative time, and ● when a run of that
thread is streaming in this process. Choosing a row (Enter or click) posts ``Selected``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from assistant_core.objects import Thread
from assistant_core.store_interface import ThreadStore
from assistant_core.text import one_line

from .fmt import relative_time

FILTER_DEBOUNCE_S = 0.15
UNTITLED = "New thread"
ACTIVE_MARK = "●"


class ThreadOptions(OptionList):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_thread", "New", show=False),
        Binding("r", "app.rename_thread", "Rename", show=False),
        Binding("d,delete", "app.delete_thread", "Delete", show=False),
        Binding("slash", "app.filter_threads", "Filter", show=False),
    ]


class ThreadList(Vertical):
    """Filter box over an option list of threads."""

    @dataclass
    class Selected(Message):
        thread_id: str

    def __init__(
        self,
        store: ThreadStore,
        *,
        is_streaming: Callable[[str], bool],
        clock: Callable[[], float] = time.time,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.store = store
        self.is_streaming = is_streaming
        self.clock = clock
        self.threads: list[Thread] = []
        self.current_id: str | None = None
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter threads…", id="thread-filter", compact=True)
        yield ThreadOptions(id="thread-options")

    def on_mount(self) -> None:
        self.border_title = "Threads"
        # Relative times age: refresh them now and then.
        self.set_interval(30, self.refresh_rows)

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

    def _row(self, thread: Thread) -> Content:
        marker = (
            Content.styled(f"{ACTIVE_MARK} ", "bold $accent")
            if self.is_streaming(thread.id)
            else Content("  ")
        )
        title = one_line(thread.title or UNTITLED, None)
        when = relative_time(thread.updated_at or thread.created_at, self.clock())
        return Content.assemble(
            marker,
            (title, "" if thread.title else "italic $text-muted"),
            "\n  ",
            (when, "$text-muted"),
        )

    # -- events --------------------------------------------------------------------------
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
        self.options.focus()

    @on(OptionList.OptionSelected, "#thread-options")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.current_id = event.option.id
            self.post_message(self.Selected(event.option.id))
