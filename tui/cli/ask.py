"""``ask``: one question, answered headless, streamed to stdout.

Text mode prints the answer as it arrives and one line per finished tool call; ``--json``
prints every Assistants streaming event as one JSON line. Ctrl+C (or SIGTERM) cancels the
run through the runtime, so it ends ``cancelled`` with its partial answer kept; a second
Ctrl+C stops waiting for that.

Approval ``ask`` needs someone to answer: on a terminal each call is confirmed on stderr;
without one (stdin or stderr not a tty, e.g. in a script or with the question on stdin)
each call is denied with a note on stderr, and the model is told so. Scripts that want
tools use ``--approval auto``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from assistant_core import events
from assistant_core.config import Settings, check_provider
from assistant_core.errors import AssistantError, ConfigError
from assistant_core.objects import LastError, Run, RunStep
from assistant_core.run_view import Change, RunView, required_calls
from assistant_core.runtime.storage import DATABASE_DAMAGED
from assistant_core.session import Session, build_session, check_reachable
from assistant_core.surrogates import from_os, scrub
from assistant_core.text import TerminalStream, call_signature, call_summary, dumps_safe, one_line

from .common import load_cli_settings
from .exit_codes import EXIT_BY_SIGNAL, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .output import Output

PROG = "investor-assistant"
CANCEL_GRACE_S = 10.0
# A run's last_error codes that mean its server was never reached.
UNREACHABLE = frozenset(
    {"connection_error", "dns_error", "tls_error"}
)  # how long a cancelled run may take to wind down before we stop waiting


def ask_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    question = read_question(args.question)
    settings = load_cli_settings(flags)
    check_provider(settings)  # a missing or malformed key: one line, before any connection
    output = Output()
    if settings.base_url and settings.provider != "offline":
        # Fail in milliseconds, before any thread is created, when nothing listens there.
        check_reachable(settings.base_url)
    session = build_session(settings)
    try:
        if args.thread:
            session.store.get_thread(args.thread)  # an unknown id fails before anything else
        notice = settings.demo_notice()
        if notice:
            output.note(f"note: {notice}")
        return asyncio.run(_ask_then_close(session, output, question, args))
    finally:
        close_session(session)  # a no-op when the loop already closed it


async def _ask_then_close(
    session: Session, output: Output, question: str, args: argparse.Namespace
) -> int:
    # The backend's HTTP client belongs to this event loop: close it here, not in another.
    try:
        return await AskRun(session, output, json_mode=args.json).run(question, args.thread)
    finally:
        await session.aclose()


def read_question(raw: str) -> str:
    """The question from the command line or stdin; bytes that are not valid in the
    locale's encoding become U+FFFD (the question is still asked, and stored)."""
    text = _read_stdin() if raw == "-" else from_os(raw)
    text = text.strip()
    if not text:
        source = "stdin" if raw == "-" else "the question"
        raise ConfigError(
            f"{source} is empty; pass the question as text, or - to read it from stdin"
        )
    return text


def _read_stdin() -> str:
    binary = getattr(sys.stdin, "buffer", None)
    if binary is None:  # a text stream without bytes underneath (embedding, tests)
        return scrub(sys.stdin.read())
    data: bytes = binary.read()
    return data.decode(sys.stdin.encoding or "utf-8", "replace")


@dataclass
class _State:
    view: RunView = field(default_factory=RunView)  # the run as it stands
    signal: int | None = None  # the signal that asked us to cancel
    cancel_task: asyncio.Task[Any] | None = None
    prompt: asyncio.Future[str] | None = None
    printed_calls: set[str] = field(default_factory=set)
    printed_notes: int = 0  # run.notes already shown
    after_tool_line: bool = False
    grace_timer: asyncio.TimerHandle | None = None
    retry_shown: dict[str, Any] | None = None
    produced: bool = False  # the model sent something (text or tool calls)
    # The answer as it streams, through the text policy (a delta may end mid-sequence).
    answer: TerminalStream = field(default_factory=TerminalStream)


class AskRun:
    def __init__(self, session: Session, output: Output, *, json_mode: bool) -> None:
        self.session = session
        self.runtime = session.runtime
        self.settings: Settings = session.settings
        self.output = output
        self.json_mode = json_mode
        self.state = _State()
        self.interactive = sys.stdin.isatty() and sys.stderr.isatty()

    async def run(self, question: str, thread_id: str | None) -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in EXIT_BY_SIGNAL:
            loop.add_signal_handler(signum, self._on_signal, signum, task)
        self.created_thread = thread_id is None
        try:
            if thread_id is None:
                thread = self.runtime.create_thread(origin="cli")
                if self.json_mode:
                    self._emit_json(events.ThreadCreated(thread))
            else:
                thread = self.session.store.get_thread(thread_id)
            try:
                async for event in self.runtime.ask(thread.id, question):
                    await self._handle(event)
            except asyncio.CancelledError:
                if self.state.signal is None:
                    raise
                # A second signal, or a run that would not wind down: stop waiting.
                task.uncancel()
                self.output.end_line()
                self.output.note("stopped waiting for the run to finish cancelling")
            except BaseException:
                if thread_id is None:
                    self._discard_if_empty(thread.id)
                raise
        finally:
            for signum in EXIT_BY_SIGNAL:
                loop.remove_signal_handler(signum)
            if self.state.grace_timer is not None:
                self.state.grace_timer.cancel()
        return self._finish(thread.id)

    def _discard_if_empty(self, thread_id: str) -> None:
        """A thread this command created and could not even put the question in: remove
        it rather than leave an empty, untitled thread behind a failed start."""
        store = self.session.store
        try:
            if store.count_messages(thread_id) == 0:
                store.delete_thread(thread_id)
        except Exception:  # the store is failing already; the original error is the news
            pass

    def _never_reached(self, error: LastError | None) -> bool:
        """The run's first request could not reach the server (nothing listens, the name
        does not resolve, TLS failed) and nothing came back: a set-up problem, like an
        unreachable server found before the run."""
        state = self.state
        return error is not None and error.code in UNREACHABLE and not state.produced

    # -- signals -------------------------------------------------------------------------
    def _on_signal(self, signum: int, task: asyncio.Task[Any]) -> None:
        state = self.state
        if state.signal is not None:
            task.cancel()  # second Ctrl+C: the user does not want to wait
            return
        state.signal = signum
        if state.prompt is not None and not state.prompt.done():
            state.prompt.cancel()
        if state.view.run is not None:
            self._request_cancel(state.view.run.id)
        # else: cancelled as soon as the run exists (see _handle)
        state.grace_timer = asyncio.get_running_loop().call_later(CANCEL_GRACE_S, task.cancel)

    def _request_cancel(self, run_id: str) -> None:
        if self.state.cancel_task is None:
            self.state.cancel_task = asyncio.ensure_future(self._cancel(run_id))

    async def _cancel(self, run_id: str) -> None:
        try:
            await self.runtime.cancel_run(run_id)
        except AssistantError:
            pass  # it finished on its own meanwhile: nothing left to cancel

    # -- events --------------------------------------------------------------------------
    async def _handle(self, event: events.Event) -> None:
        state = self.state
        change = state.view.apply(event)
        match event:
            case events.RunEvent(data=run):
                if state.signal is not None and run.is_active:
                    self._request_cancel(run.id)
                self._show_retry(run.retry)
            case events.MessageDelta() | events.StepEvent():
                state.produced = True
        if self.json_mode:
            self._emit_json(event)
        else:
            self._render(event, change)
        if isinstance(event, events.RunRequiresAction) and state.signal is None:
            await self._approve(event.data)

    def _show_retry(self, retry: dict[str, Any] | None) -> None:
        """Each retry on stderr as it is scheduled: a slow or failing server is not a
        silent wait (the app's run panel shows the same ``run.retry``)."""
        if retry is None or retry == self.state.retry_shown:
            return
        self.state.retry_shown = retry
        self.output.end_line()
        self.output.note(
            f"retry {retry.get('attempt')}/{retry.get('max')} in {retry.get('wait_s', 0):g} s "
            f"({retry.get('reason')}): {one_line(str(retry.get('message', '')), 200)}"
        )

    def _emit_json(self, event: events.Event) -> None:
        self.output.write(dumps_safe(event.to_json()) + "\n")

    def _render(self, event: events.Event, change: Change) -> None:
        if isinstance(event, events.RunEvent):
            self._print_notes(event.data)
        match event:
            case events.MessageEvent() | events.MessageDelta() if change.text:
                if self.state.after_tool_line:
                    self.output.write("\n")  # a blank line between the tool calls and the answer
                    self.state.after_tool_line = False
                self.output.write(self.state.answer.feed(change.text))
            case events.StepEvent(data=step) if (
                step.type == "tool_calls" and step.status != "in_progress"
            ):
                folded = self.state.view.step(step.id)
                if folded is not None:
                    self._print_calls(folded)
        if isinstance(event, events.MessageCompleted | events.MessageIncomplete):
            self.output.write(self.state.answer.flush())

    def _print_calls(self, step: RunStep) -> None:
        for call in step.tool_calls:
            unfinished = call.status in ("queued", "running", "awaiting_approval")
            if unfinished or call.id in self.state.printed_calls:
                continue
            self.state.printed_calls.add(call.id)
            signature = call_signature(call.function.name, call.function.arguments)
            line = f"→ {signature}  {call_summary(call)}"
            if call.error:
                line += f" · {one_line(call.error, 160)}"
            colour = ("red",) if call.is_error or call.status in ("error", "denied") else ("dim",)
            self.output.line(self.output.style(line, *colour))
            self.state.after_tool_line = True

    def _print_notes(self, run: Run) -> None:
        """What the app did about the model's behaviour (a call cap, repeated calls, a final
        answer asked for), in the flow of the tool-call lines."""
        notes = run.notes[self.state.printed_notes :]
        self.state.printed_notes = len(run.notes)
        for note in notes:
            line = f"! {one_line(str(note.get('message', '')), 300)}"
            self.output.line(self.output.style(line, "yellow"))
            self.state.after_tool_line = True

    # -- approval ------------------------------------------------------------------------
    async def _approve(self, run: Run) -> None:
        pending = required_calls(run)
        decisions: dict[str, bool] = {}
        self.output.end_line()
        for call in pending:
            function = call.get("function", {})
            signature = call_signature(function.get("name", "?"), function.get("arguments", ""))
            if not self.interactive:
                self.output.note(
                    f"denied {signature}: approval is 'ask' but there is no terminal to confirm "
                    "on; use --approval auto to let tools run in scripts"
                )
                decisions[call["id"]] = False
                continue
            try:
                answer = await self._prompt(f"Run tool {signature}? [y/N] ")
            except asyncio.CancelledError:
                if self.state.signal is None:
                    raise
                sys.stderr.write("\n")
                return  # Ctrl+C at the prompt: the run is being cancelled instead
            decisions[call["id"]] = answer.strip().lower() in ("y", "yes")
        await self.runtime.approve(run.id, decisions)

    async def _prompt(self, question: str) -> str:
        """Read one line from the terminal without a blocking thread (so Ctrl+C works)."""
        loop = asyncio.get_running_loop()
        fd = sys.stdin.fileno()
        future: asyncio.Future[str] = loop.create_future()
        self.state.prompt = future

        def readable() -> None:
            data = os.read(fd, 4096)
            if not future.done():
                future.set_result(data.decode("utf-8", "replace"))

        sys.stderr.write(self.output.style(question, "bold", err=True))
        sys.stderr.flush()
        loop.add_reader(fd, readable)
        try:
            return await future
        finally:
            loop.remove_reader(fd)
            self.state.prompt = None

    # -- outcome -------------------------------------------------------------------------
    def _finish(self, thread_id: str) -> int:
        state = self.state
        out = self.output
        if not self.json_mode:
            out.write(state.answer.flush())  # an answer cut off mid-stream
            out.end_line()
        run = state.view.run
        if run is not None:
            try:  # the stored run is the truth (a cancel may have landed after the stream)
                run = self.runtime.get_run(run.id)
            except Exception:
                pass
        status = run.status if run else "not started"
        error = (run.last_error if run else None) or state.view.error
        if error is not None and error.code == DATABASE_DAMAGED:
            # Like a damaged file found at start: one line, exit 2, and the way out.
            out.error(f"{PROG}: error: {one_line(error.message, 800)}")
            return EXIT_USAGE
        if self._never_reached(error) and state.signal is None:
            assert error is not None
            if self.created_thread:  # the question stays in the shell, not in a dead thread
                try:
                    self.session.store.delete_thread(thread_id)
                except Exception:
                    pass
            out.error(f"{PROG}: error: {one_line(error.message, 500)}")
            return EXIT_USAGE
        if not self.json_mode and run is not None:
            out.info(
                f"thread {thread_id} · run {run.id} · {status} (continue with --thread {thread_id})"
            )
        if state.signal is not None:
            out.note(f"cancelled: run is {status}")
            return EXIT_BY_SIGNAL.get(signal.Signals(state.signal), EXIT_INTERRUPTED)
        if run is not None and status == "completed":
            return EXIT_OK
        if error is not None:
            # A run the store could not close is still "in_progress" there: it stopped.
            shown = "stopped" if run is not None and run.is_active else status
            out.error(f"run {shown}: {error.code}: {one_line(error.message, 500)}")
        elif run is not None and run.incomplete_details:
            out.error(f"run {status}: {one_line(str(run.incomplete_details.get('reason', '')))}")
        else:
            out.error(f"run {status}")
        return EXIT_FAILED


def close_session(session: Session) -> None:
    """Close what the run left open (closing twice is harmless)."""
    try:
        asyncio.run(session.aclose())
    except Exception:  # nothing left to lose at exit; the store commits as it goes
        session.store.close()
