"""Runs of the shown thread that another process executes — the Assistants API server
(``investor-assistant serve``), ``ask`` in another terminal — shown live, from the store.

While a thread is shown, its activity counter (``Store.thread_activity``: one small read)
is checked every second. When it moved and this app runs nothing on the thread: messages
another process added are loaded, and a run active in the store that this process does not
execute is followed (``Runtime.follow_run``: the same typed events, polled from the store)
through the screen's ``route_event`` — the path the app's own runs take, so the chat and the
run panel fold them with the same reducer. Following stops when the run ends or the thread
is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant_core.errors import AssistantError

if TYPE_CHECKING:
    from textual.worker import Worker

    from .main import MainScreen

CHECK_INTERVAL_S = 1.0
FOLLOW_INTERVAL_S = 0.2  # the store is polled this often while a run is followed


class RunWatcher:
    """See the module docstring. ``watch`` when the shown thread changes."""

    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.thread_id: str | None = None
        #: The run followed now (executed elsewhere), if any.
        self.following: str | None = None
        self._stamp: int | None = None
        self._messages = 0
        self._worker: Worker[None] | None = None
        screen.set_interval(CHECK_INTERVAL_S, self.check)

    def watch(self, thread_id: str | None) -> None:
        """The screen shows ``thread_id`` now (its items just loaded from the store)."""
        self.stop()
        self.thread_id = thread_id
        self.rebase()
        self.check(reload=False)  # a run going on elsewhere: follow it at once

    def rebase(self) -> None:
        """What the screen shows is what the store has (e.g. after a run of this app)."""
        self._stamp, self._messages = self._read_activity()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    def check(self, reload: bool = True) -> None:
        """Has the shown thread moved in another process?"""
        thread_id = self.thread_id
        screen = self.screen
        if thread_id is None or self.following is not None or screen.thread_running(thread_id):
            return
        try:
            stamp = screen.store.thread_activity(thread_id)  # the one read, most seconds
            if stamp == self._stamp:
                return
            run = screen.store.active_run(thread_id)
            messages = screen.store.count_messages(thread_id)
        except AssistantError:
            return
        self._stamp = stamp
        foreign = run is not None and not screen.runtime.executing(run.id)
        grew = reload and messages != self._messages
        self._messages = messages
        if foreign or grew:
            self._worker = screen.run_worker(
                self._follow(thread_id, run.id if foreign and run else None, reload=grew),
                group="followed-run",
                exclusive=True,
                exit_on_error=False,
            )

    def _read_activity(self) -> tuple[int | None, int]:
        if self.thread_id is None:
            return None, 0
        try:
            store = self.screen.store
            return store.thread_activity(self.thread_id), store.count_messages(self.thread_id)
        except AssistantError:
            return None, 0

    async def _follow(self, thread_id: str, run_id: str | None, *, reload: bool) -> None:
        screen = self.screen
        if reload:  # questions and answers written elsewhere
            await screen.show_thread(thread_id, watch=False)
        if run_id is None:
            return
        self.following = run_id
        screen.run_started(thread_id)
        try:
            events = screen.runtime.follow_run(run_id, interval=FOLLOW_INTERVAL_S)
            async for event in events:
                if thread_id != self.thread_id:
                    break
                screen.route_event(thread_id, event)
        except AssistantError as exc:
            screen.notify(f"Stopped following the run: {exc}", severity="warning", markup=False)
        finally:
            self.following = None
            screen.run_ended(thread_id)
            if thread_id == self.thread_id:
                self.rebase()
