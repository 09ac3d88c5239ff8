"""The main screen: threads on the left, the chat in the centre, the run panel on the right,
the prompt at the bottom.

The screen owns what is shown; the app owns the runs (one worker per run) and hands every
event to ``route_event``, which passes it to the chat and the run panel (each folds every
thread's events through the core's reducer and draws the shown thread's, so a thread shown
again mid-answer continues exactly), and to the thread list's marker. So a run keeps
streaming while the user reads or writes in another thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import events, getters, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from assistant_core.config import provider_label
from assistant_core.errors import AssistantError, StoreError
from assistant_core.events import Done, Event, RunCreated, RunEvent
from assistant_core.objects import Message, Run
from assistant_core.runtime import ALL_CALLS
from assistant_core.store import DEFAULT_ASSISTANT_NAME

from ..app import InvestorApp
from ..panels.key_footer import KeyFooter
from ..panels.prompt import PromptInput
from ..panels.run_panel import RunPanel
from ..panels.starters import StarterPanel
from ..panels.thread_list import UNTITLED, ThreadList, ThreadOptions
from ..panels.title_bar import TitleBar
from ..widgets import ChatView, ToolCallCard
from .followed_runs import RunWatcher
from .help import HelpScreen
from .modals import ConfirmScreen, RenameScreen

if TYPE_CHECKING:
    from assistant_core.runtime import Runtime
    from assistant_core.store_interface import ThreadStore

# Below this width the thread list is not beside the chat: its key shows it over the chat.
THREADS_INLINE_MIN_WIDTH = 100
# Below this width the run panel hides itself (unless the user toggled it).
RUN_PANEL_MIN_WIDTH = 110


class MainScreen(Screen[None]):
    """Where the user works: the thread list, the chat, the run panel and the prompt,
    under the title bar and over the key bar.

    Pushed by ``InvestorApp`` over the start screen once the session is built. It owns
    what is shown — the current thread, the layout at this width, the latest run seen of
    each thread — while the app owns the runs and hands their events to ``route_event``;
    runs of the shown thread that another process executes are followed by its
    ``RunWatcher``. In a browser tab some keys have others beside them
    (``tui.browser.BROWSER_KEYMAP``).

    | Key(s) | Description |
    | :- | :- |
    | escape | Cancel the shown thread's running answer. |
    | ctrl+n | Start a new thread. |
    | f2 | Rename the thread. |
    | f8 | Delete the thread, after asking. |
    | ctrl+f | Filter the threads by title and text. |
    | ctrl+o | Approve every tool call awaiting approval. |
    | ctrl+g | Deny every tool call awaiting approval. |
    | ctrl+t, f3 | Open the tool-call inspector. |
    | ctrl+b, f9 | Show or hide the thread list. |
    | ctrl+r, f10 | Show or hide the run panel. |
    | ctrl+l | Focus the prompt. |
    | y, ctrl+c | Copy the selection, or the focused message, block or card. |
    | f1 | Show the keys. |
    """

    # Nothing is focused while the screen mounts: what is typed meanwhile is kept by the
    # app's type-ahead and goes into the prompt in order once it is up (Textual would focus
    # the first focusable widget, the thread filter, and keys would go there).
    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel_run", "Cancel run"),
        Binding("down", "into_starters", show=False, priority=True),
        # Ids: a browser tab remaps these keys (tui/browser.py). Priority: so do their
        # browser keys (alt+letter), which the prompt would otherwise type.
        Binding("ctrl+n", "app.new_thread", "New", priority=True, id="main.new_thread"),
        Binding(
            "f2", "app.rename_thread", "Rename", show=False, priority=True, id="main.rename_thread"
        ),
        Binding(
            "f8", "app.delete_thread", "Delete", show=False, priority=True, id="main.delete_thread"
        ),
        Binding("ctrl+f", "filter_threads", "Filter", priority=True, show=False),
        Binding("ctrl+o", "approve_all", "Approve", priority=True),
        Binding("ctrl+g", "deny_all", "Deny", priority=True),
        Binding("ctrl+t,f3", "app.inspector", "Inspector", priority=True, id="main.inspector"),
        # F9/F10 too: Ctrl+B is tmux's prefix key.
        Binding("ctrl+b,f9", "toggle_threads", "Threads", priority=True, id="main.toggle_threads"),
        Binding(
            "ctrl+r,f10", "toggle_run_panel", "Run panel", priority=True, id="main.toggle_run_panel"
        ),
        Binding(
            "ctrl+l", "focus_prompt", "Prompt", show=False, priority=True, id="main.focus_prompt"
        ),
        Binding("y,ctrl+c", "copy", "Copy", show=False),
        Binding("f1", "help", "Help", priority=True, id="main.help"),
    ]

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        starters: bool = True,
    ) -> None:
        super().__init__(id="main")
        self.clock = clock
        #: True once the prompt has the focus and holds what was typed before it was up.
        self.prompt_ready = False
        #: Show the starter questions above empty threads.
        self.starters = starters
        #: Threads whose starters were hidden (Escape).
        self.starters_hidden: set[str | None] = set()
        self.thread_id: str | None = None
        #: Latest run object seen per thread (from events), for cancel and approve.
        self.live_runs: dict[str, Run] = {}
        #: Threads whose run a worker of this app is consuming right now.
        self.running_threads: set[str] = set()
        #: None = automatic (by width); True/False = the user's choice.
        self.show_threads: bool | None = None
        self.show_run_panel: bool | None = None
        #: In a narrow terminal: the thread list is shown over the chat.
        self.threads_overlay = False

    # Textual's typed ``app``: this screen only ever runs in the investor app.
    app = getters.app(InvestorApp)
    # The panes ``compose`` yields, as Textual's typed queries.
    chat = getters.query_one("#chat", ChatView)
    prompt = getters.query_one("#prompt", PromptInput)
    thread_list = getters.query_one("#threads-pane", ThreadList)
    run_panel = getters.query_one("#run-pane", RunPanel)

    @property
    def runtime(self) -> Runtime:
        return self.app.live_session.runtime

    @property
    def store(self) -> ThreadStore:
        return self.app.live_session.store

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield TitleBar(id="title-bar")
        with Horizontal(id="body"):
            yield ThreadList(
                self.store, is_streaming=self.thread_running, clock=self.clock, id="threads-pane"
            )
            with Vertical(id="centre"):
                if self.starters:
                    yield StarterPanel(demo=self.app.live_session.is_demo, id="starters")
                yield ChatView(self.store, id="chat")
                yield PromptInput(
                    id="prompt",
                    placeholder="Ask about a company…  (Enter: send · Shift+Enter: new line)",
                )
            yield RunPanel(self.runtime, clock=self.clock, id="run-pane")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.watcher = RunWatcher(self)  # runs of the shown thread executed elsewhere
        # Before the first layout: at its CSS sizes the panes could leave the chat no room.
        self.apply_layout(self.app.size.width)
        try:
            threads = self.store.list_threads(limit=1)
            self.thread_list.reload(threads[0].id if threads else None)
            await self.show_thread(threads[0].id if threads else None)
        except StoreError as exc:  # e.g. a damaged file: a screen that says so, not a crash
            self.app.database_failed(exc)
            return
        self.update_title()
        # In the app's queue, behind the keys it has kept so far: none can pass the hand-over.
        self.app.call_later(self._take_over_typing)

    def _take_over_typing(self) -> None:
        """Focus the prompt and give it what was typed before it was up (the question sent
        if Enter followed it, then what was typed after Enter)."""
        typed = self.app.end_type_ahead()
        self.set_focus(self.prompt)
        self.prompt_ready = True
        if typed is None or not typed.text:
            return
        self.prompt.insert(typed.text)
        if typed.sent:
            self.prompt.action_submit()
            self.prompt.insert(typed.after)

    def on_resize(self, event: events.Resize) -> None:
        self.apply_layout(event.size.width)

    def threads_inline(self, width: int | None = None) -> bool:
        """Wide enough for the thread list beside the chat."""
        return (self.size.width if width is None else width) >= THREADS_INLINE_MIN_WIDTH

    def apply_layout(self, width: int | None = None) -> None:
        width = self.size.width if width is None else width
        threads = self.query_one("#threads-pane")
        run = self.query_one("#run-pane")
        if self.threads_inline(width):
            self.threads_overlay = False
            threads.display = self.show_threads is not False
        else:
            threads.display = self.threads_overlay
        threads.set_class(not self.threads_inline(width), "-overlay")
        run.display = (
            self.show_run_panel if self.show_run_panel is not None else width >= RUN_PANEL_MIN_WIDTH
        )

    def update_title(self) -> None:
        session = self.app.live_session
        thread = self.thread_title(self.thread_id) if self.thread_id is not None else ""
        self.query_one(TitleBar).show(
            assistant=self.app.assistant_name or DEFAULT_ASSISTANT_NAME,
            provider=provider_label(session.settings, badge=True),
            approval=self.runtime.approval,
            demo=session.is_demo,
            thread=thread,
        )

    # -- threads -------------------------------------------------------------------------
    async def show_thread(self, thread_id: str | None, *, watch: bool = True) -> None:
        """Switch the chat and the run panel to ``thread_id`` at once (``watch``: and
        follow its runs that another process executes)."""
        self.thread_id = thread_id
        self.thread_list.current_id = thread_id
        self.run_panel.show_thread(thread_id)
        await self.chat.show_thread(thread_id)
        self.update_title()
        self.refresh_bindings()
        if watch:
            self.watcher.watch(thread_id)
        self.update_starters()

    @on(ThreadList.Selected)
    async def _thread_selected(self, event: ThreadList.Selected) -> None:
        self.close_threads_overlay()
        if event.thread_id != self.thread_id:
            await self.show_thread(event.thread_id)
        self.set_focus(self.prompt)

    @on(ThreadList.Dismissed)
    def _threads_dismissed(self) -> None:
        if self.threads_overlay:
            self.close_threads_overlay()
            self.set_focus(self.prompt)

    def close_threads_overlay(self) -> None:
        if self.threads_overlay:
            self.threads_overlay = False
            self.apply_layout()

    def target_thread(self) -> str | None:
        """The thread a rename/delete applies to: the highlighted row when the list has
        focus, else the shown thread."""
        if isinstance(self.focused, ThreadOptions):
            option = self.focused.highlighted_option
            if option is not None and option.id is not None:
                return option.id
        return self.thread_id

    def thread_title(self, thread_id: str) -> str:
        for thread in self.thread_list.threads:
            if thread.id == thread_id:
                return thread.title
        return self.store.get_thread(thread_id).title

    async def new_thread(self) -> None:
        if self.thread_id is not None and self.store.count_messages(self.thread_id) == 0:
            self.set_focus(self.prompt)  # the shown thread is still empty: use it
            return
        thread = self.runtime.create_thread()
        self.thread_list.reload(thread.id)
        await self.show_thread(thread.id)
        self.set_focus(self.prompt)

    def rename_thread(self) -> None:
        thread_id = self.target_thread()
        if thread_id is None:
            return

        def renamed(title: str | None) -> None:
            if title:
                self.store.rename_thread(thread_id, title)
                self.thread_list.reload()
                self.update_title()

        self.app.push_screen(RenameScreen(self.thread_title(thread_id)), renamed)

    def delete_thread(self) -> None:
        thread_id = self.target_thread()
        if thread_id is None:
            return
        if self.thread_running(thread_id):
            self.notify(
                "This thread is still answering: cancel the run (Escape) before deleting it.",
                severity="warning",
                markup=False,
            )
            return
        title = self.thread_title(thread_id) or UNTITLED

        async def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            try:  # refused if a run started meanwhile (here or in another process)
                self.store.delete_thread(thread_id)
            except AssistantError as exc:
                self.notify(str(exc), severity="warning", markup=False)
                return
            self.live_runs.pop(thread_id, None)
            if thread_id == self.thread_id:
                remaining = self.store.list_threads(
                    filter=self.thread_list.filter_text or None, limit=1
                )
                next_id = remaining[0].id if remaining else None
                self.thread_list.reload(next_id)
                await self.show_thread(next_id)
            else:
                self.thread_list.reload()
            self.notify(f"Deleted “{title}”.", markup=False)

        self.app.push_screen(
            ConfirmScreen(f"Delete the thread “{title}” with all its messages and runs?"), confirmed
        )

    def action_filter_threads(self) -> None:
        if self.threads_inline():
            self.show_threads = True
        else:
            self.threads_overlay = True
        self.apply_layout()
        # At once, not after the keys already queued (focus() waits for them): what is
        # typed right after the key goes into the filter.
        self.set_focus(self.query_one("#thread-filter"))

    # -- prompt and runs -----------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _prompt_submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if self.thread_id is None:
            thread = self.runtime.create_thread()
            self.thread_list.reload(thread.id)
            await self.show_thread(thread.id)
        assert self.thread_id is not None
        if self.thread_running(self.thread_id):
            self.prompt.give_back(text)
            self.notify(
                "This thread is still answering: wait, or press Escape to cancel the run.",
                severity="warning",
                markup=False,
            )
            return
        started = await self.app.start_run(self.thread_id, text)
        if not started:
            self.prompt.give_back(text)

    def user_message_added(self, message: Message) -> None:
        if message.thread_id == self.thread_id:
            self.chat.add_user_message(message)
            self.update_starters(empty=False)
        # The store bumps the thread's activity and may have auto-titled it.
        self.thread_list.reload()
        self.update_title()

    def route_event(self, thread_id: str, event: Event) -> None:
        """One event of a run of ``thread_id`` (called by the app's run worker)."""
        if isinstance(event, RunEvent):
            self.live_runs[thread_id] = event.data
            if isinstance(event, RunCreated):
                self.thread_list.set_active(thread_id)
            self.refresh_bindings()
        # The chat and the run panel fold every thread's events (assistant_core.run_view),
        # so a thread shown again mid-run continues from where its run stands.
        self.chat.handle_event(event, thread_id)
        self.run_panel.handle_event(event, thread_id)
        if isinstance(event, Done):
            self.run_ended(thread_id)

    def run_started(self, thread_id: str) -> None:
        self.running_threads.add(thread_id)
        self.thread_list.set_active(thread_id)

    def run_ended(self, thread_id: str) -> None:
        """The run's stream is over (done, error or worker ended)."""
        if thread_id not in self.running_threads:
            return
        self.running_threads.discard(thread_id)
        self.chat.stream_ended(thread_id)
        self.run_panel.stream_ended(thread_id)
        self.thread_list.forget_tickers(thread_id)
        self.thread_list.reload()
        self.refresh_bindings()
        if thread_id == self.thread_id:
            self.watcher.rebase()  # what the store has now is shown

    def thread_running(self, thread_id: str) -> bool:
        """A run of this thread is streaming in this app. (Not ``runtime.is_streaming``: the
        runtime lets go of a run a moment after its ``done`` event.)"""
        return thread_id in self.running_threads

    def active_run(self, thread_id: str | None) -> Run | None:
        if thread_id is None:
            return None
        run = self.live_runs.get(thread_id)
        if run is not None and run.is_active:
            return run
        return None

    async def action_cancel_run(self) -> None:
        run = self.active_run(self.thread_id)
        if run is None:
            return
        if run.id == self.watcher.following:
            self.notify(
                "This run executes in another process (the API server or another terminal): "
                "cancel it there.",
                severity="warning",
                markup=False,
            )
            return
        try:
            await self.runtime.cancel_run(run.id)
        except AssistantError as exc:
            self.notify(str(exc), severity="error", markup=False)

    async def _decide_all(self, approved: bool) -> None:
        run = self.active_run(self.thread_id)
        if run is None or run.status != "requires_action":
            self.notify("No tool call is waiting for approval in this thread.", markup=False)
            return
        # ALL_CALLS decides every pending call, including any not yet shown here.
        await self._decide(run.id, {ALL_CALLS: approved})

    async def _decide(self, run_id: str, decisions: dict[str, bool]) -> None:
        try:
            await self.runtime.approve(run_id, decisions)
        except AssistantError as exc:
            self.notify(str(exc), severity="error", markup=False)

    async def action_approve_all(self) -> None:
        await self._decide_all(True)

    async def action_deny_all(self) -> None:
        await self._decide_all(False)

    # -- answering the last run again (Retry / Regenerate) ------------------------------------
    @on(ChatView.Redo)
    async def _redo(self, event: ChatView.Redo) -> None:
        event.stop()
        if self.thread_running(event.thread_id) or self.active_run(event.thread_id):
            self.notify("This thread is still answering.", severity="warning", markup=False)
            return
        await self.app.redo_run(event.thread_id, event.run_id)

    def action_redo_last(self) -> None:
        """Retry (or regenerate) the shown thread's last answer: a new run, the old kept."""
        if not self.chat.request_redo():
            self.notify("Nothing to retry or regenerate in this thread now.", markup=False)

    @on(ToolCallCard.Decision)
    async def _card_decision(self, event: ToolCallCard.Decision) -> None:
        event.stop()
        await self._decide(event.run_id, {event.call_id: event.approved})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("approve_all", "deny_all"):
            run = self.active_run(self.thread_id)
            # Hidden from the footer unless something awaits approval.
            return run is not None and run.status == "requires_action"
        if action == "cancel_run":
            return self.active_run(self.thread_id) is not None
        return True

    # -- starter questions ---------------------------------------------------------------
    def update_starters(self, *, empty: bool | None = None) -> None:
        """Show the starter questions when the shown thread has no message yet."""
        panels = self.query(StarterPanel)
        if not panels:
            return
        if empty is None:
            thread_id = self.thread_id
            empty = thread_id is None or self.store.count_messages(thread_id) == 0
        shown = empty and self.thread_id not in self.starters_hidden
        panels.first().display = shown
        if not shown and self.focused is not None and panels.first() in self.focused.ancestors:
            self.set_focus(self.prompt)

    @on(StarterPanel.Chosen)
    def _starter_chosen(self, event: StarterPanel.Chosen) -> None:
        self.prompt.load_text(event.question)
        self.set_focus(self.prompt)
        self.prompt.action_submit()

    @on(StarterPanel.Dismissed)
    def _starters_dismissed(self) -> None:
        self.starters_hidden.add(self.thread_id)
        self.update_starters()
        self.set_focus(self.prompt)

    @on(StarterPanel.Left)
    def _starters_left(self) -> None:
        self.set_focus(self.prompt)

    def _starters_shown(self) -> StarterPanel | None:
        panels = self.query(StarterPanel)
        return panels.first() if panels and panels.first().display else None

    def _starters_at_hand(self) -> StarterPanel | None:
        """The starter questions when a key from the prompt acts on them: shown, and the
        prompt (up and holding what was typed before it) focused and empty."""
        if not self.prompt_ready or self.focused is not self.prompt or self.prompt.text:
            return None
        return self._starters_shown()

    def on_key(self, event: events.Key) -> None:
        # From the empty prompt (before the screen's own keys): Escape hides the starter
        # questions when no run is there to cancel.
        if (
            event.key == "escape"
            and self._starters_at_hand() is not None
            and self.active_run(self.thread_id) is None
        ):
            event.stop()
            self._starters_dismissed()

    def action_into_starters(self) -> None:
        """↓ from the empty prompt: into the starter questions. A binding, not a key
        handler: bindings run before the next key is read, so ↓ Enter typed together asks
        the first question (a handler runs in the prompt's queue, after Enter was bound)."""
        starters = self._starters_at_hand()
        if starters is None:
            raise SkipAction  # the prompt's own ↓ (history, cursor)
        starters.enter()

    # -- panes, focus, copy, help --------------------------------------------------------
    def action_toggle_threads(self) -> None:
        pane = self.query_one("#threads-pane")
        if self.threads_inline():
            self.show_threads = not pane.display
            self.apply_layout()
            return
        # Narrow: over the chat, with the focus, until a thread is chosen or Escape.
        self.threads_overlay = not self.threads_overlay
        self.apply_layout()
        self.set_focus(self.thread_list.options if self.threads_overlay else self.prompt)

    def action_toggle_run_panel(self) -> None:
        pane = self.query_one("#run-pane")
        self.show_run_panel = not pane.display
        self.apply_layout()

    def action_focus_prompt(self) -> None:
        self.set_focus(self.prompt)

    async def action_scroll_chat(self, where: str) -> None:
        """Scroll the chat while the focus stays where it is (the prompt's page keys)."""
        chat = self.chat
        if where == "page_up":
            chat.scroll_page_up(animate=False)
        elif where == "page_down":
            chat.scroll_page_down(animate=False)
        elif where == "top":
            chat.scroll_home(animate=False)
        else:
            await chat.scroll_to_latest()

    def action_copy(self) -> None:
        selected = self.get_selected_text()
        copied = (selected, "selection") if selected else self.chat.focused_copy()
        if copied is None or not copied[0]:
            self.notify(
                "Nothing to copy: select text, or focus a message in the chat first.", markup=False
            )
            return
        text, label = copied
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied the {label} ({len(text):,} characters).", markup=False)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(web=self.app.is_web))
