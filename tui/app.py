"""The full-screen app: ``InvestorApp(session)`` and ``run_app(session)``.

The app owns the runs: each run is consumed by its own worker, which hands every event to
the main screen (``MainScreen.route_event``), so runs of several threads stream at once and
switching threads never stops one. Everything else the app does is a command: new thread,
inspector, export, approval mode, model/provider, theme.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.content import Content
from textual.notifications import SeverityLevel

from assistant_core import paths
from assistant_core.errors import AssistantError, StoreError
from assistant_core.gc_tuning import settle_after_start
from assistant_core.redact import redact
from assistant_core.text import for_terminal, one_line

from .screens.start import StartScreen
from .type_ahead import TypeAhead

if TYPE_CHECKING:
    # For annotations only: the session module (and the store, runtime and backends it
    # imports) loads after the first frame, when the session is built.
    from textual.driver import Driver

    from assistant_core.config import Settings
    from assistant_core.events import Event
    from assistant_core.runtime import RunOptions
    from assistant_core.session import Session

    from .screens.main import MainScreen
    from .screens.modals import ModelChoice

CANCEL_ON_QUIT_TIMEOUT_S = 3.0
YIELD_EVERY_S = 0.005
if TYPE_CHECKING:
    SessionSource = Session | Callable[[], Session]  # or a callable that builds one


def _investor_commands() -> type[Provider]:
    # The palette's provider (and what it imports) loads when the palette first opens.
    from .palette import InvestorCommands

    return InvestorCommands


class InvestorApp(App[None]):
    """The full-screen app: one per terminal (``run_app``, from ``tui.cli.launch``), one
    per browser tab under ``investor-assistant web``, or one per test with a built session.

    It owns the ``Session`` — given, or built in a thread after the first frame from a
    factory — and closes it on exit (unless ``close_session`` is False). It owns the runs
    too: each is consumed by a worker of its own that hands every event to the
    ``MainScreen``. Its commands (new thread, inspector, export, approval mode, model and
    market data) are actions, bound to keys on the main screen and listed in the palette.

    | Key(s) | Description |
    | :- | :- |
    | ctrl+q | Quit: running answers are cancelled, what they said so far is kept. |
    """

    # Absolute, so subclasses elsewhere (tests, benchmarks) find it too.
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "Investor Assistant"
    COMMANDS = App.COMMANDS | {_investor_commands}
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        session: SessionSource,
        *,
        clock: Callable[[], float] = time.time,
        first_run_hint: bool | None = None,
        close_session: bool = True,
        tune_gc: bool = False,
        settings: Settings | None = None,
    ) -> None:
        """``session``: an ``assistant_core.session.Session`` (store, runtime, settings,
        provider_label, is_demo), or a zero-argument callable that builds one — then it is
        built after the first frame, in a thread, and ``settings`` (those it is built from)
        let the first frame's title say who answers. ``first_run_hint``: False hides the
        starter questions (and the demo-mode note) shown above empty threads. ``clock``
        drives relative and elapsed times."""
        super().__init__()
        self.start_settings = settings
        #: None until the session is built (see ``live_session``).
        self.session: Session | None
        self._session_factory: Callable[[], Session] | None
        if callable(session) and not hasattr(session, "runtime"):
            self.session = None
            self._session_factory = session
        else:  # a Session, or a test's stand-in for one (a mock is callable too)
            self.session = cast("Session", session)
            self._session_factory = None
        self.clock = clock
        self.first_run_hint = first_run_hint
        self.close_session = close_session
        self.tune_gc = tune_gc  # process-wide: only for the real app, not tests
        self.assistant_name: str = ""
        self._main: MainScreen | None = None
        #: Set once the main screen is mounted (tests and benchmarks wait for it).
        self.ready = asyncio.Event()
        #: An error that stopped the start (e.g. a ConfigError from the session factory).
        self.start_error: BaseException | None = None
        self._warnings_shown: set[str] = set()
        #: What is typed before the prompt is up; None once the prompt has taken it.
        self.type_ahead: TypeAhead | None = TypeAhead()

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        # A real terminal (not a test's headless driver nor a browser tab's): keep what was
        # typed before the app took it (``tui.terminal_driver``).
        if driver.__module__ == "textual.drivers.linux_driver":
            from .terminal_driver import TypeAheadDriver

            return TypeAheadDriver
        return driver

    def get_default_screen(self) -> StartScreen:
        # The first frame: nothing heavy is imported or built before it is painted.
        return StartScreen(self._start_title())

    def _start_title(self) -> Content:
        from assistant_core.config import provider_label

        from .panels.title_bar import title_content

        settings = self.session.settings if self.session is not None else self.start_settings
        if settings is None:
            return Content.styled(f" {self.TITLE} ", "bold")
        return title_content(
            assistant=self.TITLE,
            provider=provider_label(settings, badge=True),
            demo=settings.is_demo,
        )

    @property
    def live_session(self) -> Session:
        """The session, once built: every command and every screen after the first runs
        after that."""
        assert self.session is not None, "the session is not built yet"
        return self.session

    @property
    def main(self) -> MainScreen:
        assert self._main is not None, "the main screen is not mounted yet"
        return self._main

    def on_mount(self) -> None:
        if self.is_web:  # in a browser tab: keys the browser keeps get alternatives
            from .browser import BROWSER_KEYMAP

            self.update_keymap(BROWSER_KEYMAP)
        # A worker, not a callback: the start awaits screens that need the app's own
        # message queue to be free.
        self.call_after_refresh(self.run_worker, self._start(), name="start", exit_on_error=True)

    async def _start(self) -> None:
        """After the first frame: build the session (if given a factory), load the main
        screen (with the starter questions on an empty thread)."""
        building = None
        if self.session is None:
            assert self._session_factory is not None
            building = asyncio.ensure_future(asyncio.to_thread(self._session_factory))
        # Imported while the session is built: that thread waits on the disk at times.
        from .screens.main import MainScreen

        if building is not None:
            try:
                self.session = await building
            except Exception as exc:  # re-raised by run_app once the terminal is restored
                self.start_error = exc
                self.exit(return_code=2)
                return

        try:
            self.assistant_name = self.live_session.store.default_assistant().name or ""
        except AssistantError:
            self.assistant_name = ""
        # Pushed over the start screen (which stays, unseen, at the bottom of the stack).
        self._main = MainScreen(clock=self.clock, starters=self.first_run_hint is not False)
        await self.push_screen(self._main)
        if self.tune_gc:
            # Measured with bench/bench_tui_stream.py: full collections stalled streaming.
            settle_after_start()
        self.show_market_warnings()  # e.g. a corrupt cache found while the session opened
        self.show_settings_notices()
        self.ready.set()
        self.call_after_refresh(self.warm_up)

    async def on_event(self, event: events.Event) -> None:
        # Until the prompt is up, what is typed is kept here, in the app's queue, which every
        # key passes through in order (see ``TypeAhead``); other keys (ctrl+q…) act as usual.
        typed = self.type_ahead
        if (
            typed is not None
            and isinstance(event, (events.Key, events.Paste))
            and not event.is_forwarded
            and typed.take(event)
        ):
            return
        await super().on_event(event)

    def end_type_ahead(self) -> TypeAhead | None:
        """What was typed before the prompt was up (None if already taken); keys from now
        on go where the focus is. The main screen calls it in this app's queue
        (``call_later``), so no key passes in between; a failed start discards it."""
        typed, self.type_ahead = self.type_ahead, None
        return typed

    def warm_up(self) -> None:
        """Once the screen is painted, prepare what the first question would otherwise wait
        for on the event loop (the model client's imports, the tool validator), in a thread:
        the question is echoed and answered without a freeze (``Session.warm``)."""
        warm = getattr(self.session, "warm", None)
        if callable(warm):
            self.run_worker(warm, thread=True, group="warm-up", exit_on_error=False)

    # -- a database that fails under the app ------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        # Textual's hook for an exception no handler caught (it shows a traceback and
        # exits). A damaged, full or unwritable database is not a bug: say what happened.
        from textual.worker import WorkerFailed

        cause = error.error if isinstance(error, WorkerFailed) else error
        if isinstance(cause, StoreError):
            self.database_failed(cause)
            return
        super()._handle_exception(error)

    def database_failed(self, error: StoreError) -> None:
        """Show the store's message on a screen of its own; quitting exits with code 2 and
        the command line prints the message again once the terminal is restored."""
        from .screens.failure import FailureScreen

        if self.start_error is None:
            self.start_error = error
        self.end_type_ahead()  # the failure screen's keys are its own
        if isinstance(self.screen, FailureScreen):
            return
        title = "The thread database cannot be used"
        self.push_screen(FailureScreen(title, for_terminal(str(error))))

    async def on_unmount(self) -> None:
        if self.close_session and self.session is not None:
            # In this event loop: the model client's connections belong to it.
            try:
                await self.session.aclose()
            except Exception:  # quitting anyway; the store commits as it goes
                pass

    # -- runs ----------------------------------------------------------------------------
    async def start_run(self, thread_id: str, text: str) -> bool:
        """Add the user's message and start a run of the thread in its own worker."""
        runtime = self.live_session.runtime
        try:
            message = await runtime.add_message(thread_id, text)
        except AssistantError as exc:
            self.notify(one_line(exc, None), severity="error", markup=False)
            return False
        self.main.user_message_added(message)
        self.main.run_started(thread_id)
        self.run_worker(
            self._consume_run(thread_id),
            name=f"run {thread_id}",
            group="runs",
            exit_on_error=False,
        )
        return True

    async def redo_run(self, thread_id: str, run_id: str) -> None:
        """Answer run ``run_id`` of the thread again (Retry / Regenerate): a new run that
        leaves the old one's answer and calls out of its input; the old one stays."""
        self.main.run_started(thread_id)
        self.run_worker(
            self._consume_run(thread_id, replaces=run_id),
            name=f"run {thread_id}",
            group="runs",
            exit_on_error=False,
        )

    async def _consume_run(self, thread_id: str, replaces: str | None = None) -> None:
        try:
            last_yield = time.monotonic()
            options: RunOptions = {"replaces": replaces} if replaces else {}
            async for event in self.live_session.runtime.stream_run(thread_id, **options):
                self._route(thread_id, event)
                # Chunks that arrive together are processed back to back; give the
                # compositor a turn every few ms so frames don't wait for the burst.
                if time.monotonic() - last_yield > YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    last_yield = time.monotonic()
        except AssistantError as exc:
            self.notify(one_line(exc, None), severity="error", markup=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a lower layer must not take the UI down
            self.notify(
                f"The run stopped unexpectedly: {type(exc).__name__}: {one_line(exc)}",
                severity="error",
                markup=False,
            )
        finally:
            if self.is_running:
                self.main.run_ended(thread_id)
                self.show_market_warnings()

    def _route(self, thread_id: str, event: Event) -> None:
        from assistant_core.events import StepCompleted  # loaded by then; not before the frame

        self.main.route_event(event.thread_id or thread_id, event)
        if isinstance(event, StepCompleted) and event.data.type == "tool_calls":
            self.show_market_warnings()

    def show_market_warnings(self) -> None:
        """Show each new market-cache warning (a corrupt cache rebuilt, a locked one
        bypassed) once; the log alone would never reach the user."""
        drain = getattr(self.live_session.market, "drain_warnings", None)
        if drain is None:
            return
        for warning in drain():
            text = one_line(warning)
            if text in self._warnings_shown:  # e.g. "locked" again at every write
                continue
            self._warnings_shown.add(text)
            self.notify(
                text, title="Market data cache", severity="warning", timeout=12, markup=False
            )

    def show_settings_notices(self) -> None:
        """What loading the settings had to say (a config file others can read, a setting
        that does not apply), once, as the command line prints it on stderr."""
        for notice in self.live_session.settings.notices:
            warning = notice.startswith("warning:")
            self.notify(
                notice.removeprefix("warning:").strip(),
                title="Settings",
                severity="warning" if warning else "information",
                timeout=20 if warning else 8,
                markup=False,
            )

    def streaming_threads(self) -> list[str]:
        if self._main is None:  # still starting (e.g. Ctrl+Q on the first frame)
            return []
        return sorted(self.main.running_threads)

    async def cancel_all_runs(self) -> None:
        threads = self.streaming_threads()
        if not threads:
            return
        runtime = self.live_session.runtime
        for thread_id in threads:
            run = self.main.active_run(thread_id)
            if run is None:
                continue
            with contextlib.suppress(TimeoutError, AssistantError):
                await asyncio.wait_for(runtime.cancel_run(run.id), CANCEL_ON_QUIT_TIMEOUT_S)

    async def action_quit(self) -> None:
        # Close running runs properly (cancelled, partial answer kept) rather than leave
        # them for start-up recovery to mark failed.
        await self.cancel_all_runs()
        self.exit()

    # -- threads -------------------------------------------------------------------------
    async def action_new_thread(self) -> None:
        await self.main.new_thread()

    def action_rename_thread(self) -> None:
        self.main.rename_thread()

    def action_delete_thread(self) -> None:
        self.main.delete_thread()

    async def switch_thread(self, thread_id: str) -> None:
        main = self.main
        main.thread_list.select(thread_id)
        await main.show_thread(thread_id)
        main.set_focus(main.prompt)

    # -- inspector and export ------------------------------------------------------------
    def action_inspector(self) -> None:
        from .screens.inspector import InspectorScreen

        main = self.main
        if main.thread_id is None:
            self.notify("No thread yet: ask a question first.", markup=False)
            return
        if isinstance(self.screen, InspectorScreen):
            return
        title = main.thread_title(main.thread_id)
        self.push_screen(InspectorScreen(self.live_session.store, main.thread_id, title=title))

    def export_thread(self, fmt: str) -> None:
        from assistant_core.export import StoredThread, json_chunks, markdown_chunks

        from .screens.inspector import exports_dir

        thread_id = self.main.thread_id
        if thread_id is None:
            self.notify("No thread to export yet.", markup=False)
            return
        source = StoredThread(self.live_session.store, thread_id)
        slug = (
            re.sub(r"[^A-Za-z0-9]+", "-", source.thread.title).strip("-").lower()[:40] or "thread"
        )
        path = exports_dir() / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}.{fmt}"
        chunks = markdown_chunks(source) if fmt == "md" else json_chunks(source)

        def write() -> None:  # in a thread: a long thread takes seconds, the UI goes on
            try:
                paths.write_private_chunks(path, chunks)
            except OSError as exc:
                message = f"Could not export to {path}: {exc.strerror}"
                self.call_from_thread(
                    self.notify, message, severity="error", timeout=10, markup=False
                )
            else:
                from .browser import offer_export

                self.call_from_thread(offer_export, self, path, "Exported the thread")

        self.run_worker(write, thread=True, group="export", exit_on_error=False)

    # -- settings ------------------------------------------------------------------------
    def action_toggle_approval(self) -> None:
        runtime = self.live_session.runtime
        runtime.approval = "ask" if runtime.approval == "auto" else "auto"
        self.live_session.settings.approval = runtime.approval
        note = self._save_settings({"approval": runtime.approval})
        self.main.update_title()
        what = (
            "ask before each tool call" if runtime.approval == "ask" else "run tools without asking"
        )
        self.notify(f"Approval mode: {runtime.approval} ({what}) for new runs.{note}", markup=False)

    def _save_settings(self, values: dict[str, str]) -> str:
        """Save to the config file; returns a note for the user ("" when saved)."""
        from assistant_core.config_file import save_settings

        try:
            save_settings(self.live_session.settings.config_path, values)
        except (AssistantError, OSError) as exc:
            return f" Not saved: {exc}"
        return ""

    async def switch_market_data(self, data: str) -> None:
        """Yahoo Finance or DEMO market data for new runs (palette; saved to the config)."""
        try:
            switch = await self.live_session.switch_data(data)
        except AssistantError as exc:
            self.notify(one_line(exc, None), severity="warning", markup=False)
            return
        self.main.update_title()
        what = "DEMO data (synthetic)" if data == "demo" else "Yahoo Finance"
        note = f" Not saved: {switch.save_error}" if switch.save_error else ""
        self.notify(f"Market data: {what}, for new runs.{note}", markup=False)

    def action_switch_model(self, note: str = "", choice: ModelChoice | None = None) -> None:
        from .screens.modals import LIST_TIMEOUT_S, ModelChoice, ModelScreen

        settings = self.live_session.settings
        # A model someone chose is shown; a default one is left to the field's hint, so
        # saving does not pin today's default.
        chosen = settings.source("model") not in ("default", "auto")
        current = choice or ModelChoice(
            settings.provider,
            settings.base_url or "",
            settings.model if chosen and settings.model else "",
        )
        api_key = settings.api_key  # for the listing only; the dialog never shows it

        def list_models(base_url: str) -> list[str]:
            from assistant_core.backends.models import list_models

            return list_models(base_url, api_key, timeout=LIST_TIMEOUT_S)

        self.push_screen(
            ModelScreen(
                current,
                saved_models=settings.provider_models,
                note=note,
                list_models=list_models,
            ),
            self._model_chosen,
        )

    async def _model_chosen(self, choice: ModelChoice | None) -> None:
        if choice is None:
            return
        from assistant_core.backends.base import BackendError

        try:
            switch = await self.live_session.switch_provider(
                choice.provider, base_url=choice.base_url or None, model=choice.model or None
            )
        except (AssistantError, BackendError) as exc:  # a bad choice, a run in progress, a
            # server that will not list its models: nothing changed; the form says why.
            self.action_switch_model(note=redact(str(exc)), choice=choice)
            return
        self.main.update_title()
        self.warm_up()  # the new model's client
        note = f" Not saved: {switch.save_error}" if switch.save_error else ""
        self.notify(f"Now answering: {switch.label}.{note}", markup=False)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification of the app and its screens passes here: errors may quote the
        API key (a server echoing it, an exception), so secrets are masked first."""
        super().notify(
            redact(message), title=redact(title), severity=severity, timeout=timeout, markup=markup
        )


def run_app(session: SessionSource, settings: Settings | None = None) -> int:
    """Open the full-screen app on ``session`` (a Session, or a callable building one after
    the first frame from ``settings``); returns the exit code. An error from the session
    factory is raised here, after the terminal is restored, for the command line to report."""
    app = InvestorApp(session, tune_gc=True, settings=settings)
    app.run()
    if app.start_error is not None:
        raise app.start_error
    return app.return_code or 0
