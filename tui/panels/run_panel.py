"""The run panel: one run of the shown thread, live from the event stream.

It shows the run's status, elapsed time, model and provider, its steps in order with the
tool calls under them, token usage, what thread memory dropped or summarised, a retry in
progress and the last error. A selector picks an earlier run of the thread, shown as stored.

The run shown is a view from the core's reducer (``assistant_core.run_view``): the panel
folds the events of every thread's runs into its own ``LiveRuns`` (``handle_event``), so a
thread shown again mid-run finds its run as it stands; a run that is not streaming here is
read from the store, once, when the thread or the selected run changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Select, Static

from assistant_core.events import Event, MessageDelta, MessageEvent, RunCreated
from assistant_core.objects import Run, RunStep, ToolCall
from assistant_core.run_view import LiveRuns, RunView, required_calls
from assistant_core.text import for_terminal, format_duration, one_line

from ..widgets.rendered import relayout
from .fmt import call_lines, clock_time, elapsed, status_content

if TYPE_CHECKING:
    from ..widgets.options import WidgetOptions

MAX_RUN_CHOICES = 30  # earlier runs offered in the selector
RENDER_DELAY_S = 0.05  # coalesce bursts of events (argument deltas) into one redraw


class RunSource(Protocol):
    """Where stored runs are read (the Runtime)."""

    def get_run(self, run_id: str) -> Run: ...
    def list_runs(self, thread_id: str) -> list[Run]: ...
    def list_steps(self, run_id: str) -> list[RunStep]: ...


def run_elapsed(run: Run, now: float) -> float | None:
    start = run.started_at or run.created_at
    if not start:
        return None
    end = run.completed_at or run.failed_at or run.cancelled_at
    if end is None and not run.is_active:
        return None
    return (end or now) - start


def retry_label(retry: dict[str, Any]) -> str:
    """``2/3``: which attempt of how many."""
    return f"{retry.get('attempt', '?')}/{retry.get('max', '?')}"


def step_seconds(step: RunStep) -> int | None:
    end = step.completed_at or step.failed_at or step.cancelled_at or step.expired_at
    return None if end is None else max(end - step.created_at, 0)


class RunPanel(VerticalScroll):
    """Right-hand pane. ``show_thread`` loads; ``handle_event`` follows the live runs."""

    def __init__(
        self,
        runtime: RunSource,
        *,
        clock: Callable[[], float] = time.time,
        **options: Unpack[WidgetOptions],
    ) -> None:
        super().__init__(**options)
        self.runtime = runtime
        self.clock = clock
        #: Every run streaming in this app, folded from its events.
        self.live = LiveRuns()
        self.thread_id: str | None = None
        self.runs: list[Run] = []
        #: The run shown: a live view, or one read from the store.
        self.view: RunView | None = None
        #: The thread whose runs are loaded (None while reading them).
        self.loaded_thread: str | None = None
        self._render_pending = False
        self._syncing_select = False

    @property
    def run(self) -> Run | None:
        return self.view.run if self.view is not None else None

    def compose(self) -> ComposeResult:
        yield Select[str]([], prompt="No runs yet", id="run-select", compact=True)
        yield Static(id="run-body")

    def on_mount(self) -> None:
        self.border_title = "Run"
        self.can_focus = False
        # The elapsed time of a live run ticks.
        self.set_interval(1.0, self._tick)

    # -- loading -------------------------------------------------------------------------
    def show_thread(self, thread_id: str | None) -> None:
        """Show ``thread_id``'s latest run. The runs are read in a thread after this
        returns, so a switch to a thread with a thousand runs paints at once."""
        self.thread_id = thread_id
        self.runs, self.view = [], None
        self.loaded_thread = None
        self._sync_select(None)
        self.render_now()
        if thread_id is not None:
            # After the next frame: decoding a thousand runs would hold the GIL while the
            # chat paints.
            self.app.call_after_refresh(self._start_load, thread_id)

    def _start_load(self, thread_id: str) -> None:
        if thread_id == self.thread_id and self.loaded_thread is None:
            self.run_worker(self._load_thread(thread_id), group="run-panel-load", exclusive=True)

    async def _load_thread(self, thread_id: str) -> None:
        runs = await asyncio.to_thread(self.runtime.list_runs, thread_id)
        if thread_id != self.thread_id:
            return
        if self.view is not None:
            # A run started while we read: events already drive it; keep it.
            known = {run.id for run in runs}
            runs += [run for run in self.runs if run.id not in known]
            self.runs = runs
            self._sync_select(self.view.run_id)
        else:
            self.runs = runs
            latest = runs[-1] if runs else None
            view = await self._view_of(latest) if latest is not None else None
            if thread_id != self.thread_id or self.view is not None:
                return
            self._sync_select(latest.id if latest else None)
            self.view = view
        self.loaded_thread = thread_id
        self.render_now()

    async def _view_of(self, run: Run) -> RunView:
        """The run's live view when it streams here, else the run as stored."""
        live = self.live.get(run.id)
        if live is not None:
            return live
        steps = await asyncio.to_thread(self.runtime.list_steps, run.id)
        return self.live.get(run.id) or RunView.from_store(run, steps)

    def _sync_select(self, selected: str | None) -> None:
        select = self.query_one("#run-select", Select)
        self._syncing_select = True
        try:
            # The latest runs only: a Select of a thousand options costs a frame.
            latest = list(enumerate(self.runs))[-MAX_RUN_CHOICES:]
            options = [(self._run_label(i, run), run.id) for i, run in reversed(latest)]
            if selected is not None and selected not in {value for _, value in options}:
                older = next(((i, r) for i, r in enumerate(self.runs) if r.id == selected), None)
                if older is not None:
                    options.append((self._run_label(*older), selected))
            select.set_options(options)
            if selected is not None and any(value == selected for _, value in options):
                select.value = selected
        finally:
            self.call_after_refresh(self._end_sync)

    def _end_sync(self) -> None:
        self._syncing_select = False

    def _run_label(self, index: int, run: Run) -> str:
        # No status here: the label would go stale; the body shows it.
        return f"Run #{index + 1} · {clock_time(run.created_at)}"

    @on(Select.Changed, "#run-select")
    async def _run_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if self._syncing_select or not isinstance(event.value, str):
            return
        chosen = next((run for run in self.runs if run.id == event.value), None)
        if chosen is None or chosen.id == (self.view.run_id if self.view else None):
            return  # a late change from the selector of a thread no longer shown
        thread_id = self.thread_id
        view = await self._view_of(self.runtime.get_run(chosen.id))
        if thread_id == self.thread_id:
            self.view = view
            self.render_now()

    # -- live events ---------------------------------------------------------------------
    def handle_event(self, event: Event, thread_id: str | None = None) -> None:
        """An event of any thread's run (``thread_id``: its thread, for ``error`` and
        ``done``, which do not say it)."""
        view, _ = self.live.apply(event, thread_id)
        if view is None or (event.thread_id or thread_id) != self.thread_id:
            return
        match event:
            case RunCreated(data=run):
                # A new run of the shown thread: follow it (one followed from the store
                # may be among the runs just read).
                if all(known.id != run.id for known in self.runs):
                    self.runs.append(run)
                self.view = view
                self._sync_select(run.id)
            case MessageEvent() | MessageDelta():
                return  # the answer's text is the chat's
        if view is self.view:
            self._schedule_render()

    def stream_ended(self, thread_id: str) -> None:
        """A thread's run stream is over (with or without its ``done``)."""
        self.live.end_thread(thread_id)
        if thread_id == self.thread_id:
            self._schedule_render()

    # -- drawing -------------------------------------------------------------------------
    def _schedule_render(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            self.set_timer(RENDER_DELAY_S, self.render_now)

    def _tick(self) -> None:
        if self.run is not None and self.run.is_active:
            self.render_now()

    def render_now(self) -> None:
        self._render_pending = False
        if not self.is_mounted:
            return
        body = self.query_one("#run-body", Static)
        body.update(self.render_run())
        relayout(body)  # several updates may come between two layouts (see relayout)

    def render_run(self) -> Content:
        run = self.run
        if run is None:
            if self.thread_id is not None and self.loaded_thread != self.thread_id:
                return Content("")  # reading the thread's runs: a moment
            return Content.styled("No run yet.\nAsk a question to start one.", "$text-muted")
        seconds = run_elapsed(run, self.clock())
        lines: list[Content] = [
            Content.assemble(
                status_content(run.status),
                (f"  {elapsed(seconds)}" if seconds is not None else "", "$text-muted"),
            ),
            Content.styled(
                one_line(" · ".join(m for m in (run.model, run.provider) if m)), "$text-muted"
            ),
        ]
        if run.approval and run.approval != "auto":
            lines.append(Content.assemble(("approval ", "$text-muted"), run.approval))
        if run.status == "requires_action":
            pending = required_calls(run)
            lines.append(
                Content.styled(
                    f"{len(pending)} tool call(s) await approval: ctrl+o approve all, ctrl+g deny all",
                    "$warning",
                )
            )
        lines.extend(self._retry_lines(run))
        lines.extend(self._error_lines(run))
        lines.extend(self._note_lines(run))
        lines.extend(self._step_lines())
        lines.extend(self._usage_lines(run))
        lines.extend(self._memory_lines(run))
        return Content("\n").join(lines)

    def _section(self, title: str) -> Content:
        return Content.styled(f"\n{title}", "bold $text-secondary")

    def _step_lines(self) -> list[Content]:
        steps = self.view.steps if self.view is not None else []
        if not steps:
            return []
        lines = [self._section("Steps")]
        for number, step in enumerate(steps, start=1):
            seconds = step_seconds(step)
            label = "tool calls" if step.type == "tool_calls" else "message"
            lines.append(
                Content.assemble(
                    f"{number}. {label} ",
                    status_content(step.status),
                    # Whole seconds only: sub-second steps would all read "0s".
                    (f" {elapsed(seconds)}" if seconds else "", "$text-muted"),
                )
            )
            lines.extend(self._call_line(call) for call in step.tool_calls)
        return lines

    def _call_line(self, call: ToolCall) -> Content:
        # name(args) in the panel's width, broken between whole arguments.
        width = max((self.scrollable_content_region.width or 36) - 2, 12)
        lines = call_lines(call.function.name, call.function.arguments, width)
        name_end = len(one_line(call.function.name, None) or "?")
        first, rest = lines[0], lines[1:]
        details = [format_duration(call.duration_ms, missing="")]
        if call.source:
            details.append(one_line(call.source) + (" (cached)" if call.cache_hit else ""))
        if call.recovered:
            details.append("recovered from text")
        if call.repeat_of:
            details.append("repeat, not run again")
        parts: list[str | Content | tuple[str, str]] = [
            "  ",
            (first[:name_end], "bold"),
            (first[name_end:], "$text-muted"),
        ]
        for line in rest:
            parts += ["\n  ", (line, "$text-muted")]
        parts += ["\n    ", status_content(call.status)]
        extra = " · ".join(d for d in details if d)
        if extra:
            parts.append((f" · {extra}", "$text-muted"))
        if call.error:
            parts.append(("\n    " + one_line(call.error, 80), "$error"))
        return Content.assemble(*parts)

    def _usage_lines(self, run: Run) -> list[Content]:
        usage = run.usage
        if usage is None:
            return []
        return [
            self._section("Tokens"),
            Content(
                f"prompt {usage.prompt_tokens:,} · completion {usage.completion_tokens:,}"
                f" · total {usage.total_tokens:,}"
            ),
        ]

    def _memory_lines(self, run: Run) -> list[Content]:
        """What thread memory did for this run (the runtime's ``run.memory`` report)."""
        memory = run.memory
        if not memory:
            return []
        lines = [self._section("Memory")]
        window = memory.get("context_window")
        estimate = memory.get("estimated_prompt_tokens")
        if run.provider == "offline":
            # Its "window" is the runtime's stand-in: the rule-based analyst reads no prompt.
            lines.append(Content.styled("no context window (rule-based)", "$text-muted"))
        elif window:
            text = f"window {window:,}"
            if estimate is not None:
                text += f" · prompt ≈{estimate:,}"
            lines.append(Content.styled(text, "$text-muted"))
        dropped = [
            f"{memory[key]:,} {label}"
            for key, label in (
                ("dropped_messages", "messages"),
                ("dropped_tool_calls", "tool calls"),
            )
            if memory.get(key)
        ]
        lines.append(Content("dropped " + ", ".join(dropped) if dropped else "nothing dropped"))
        if memory.get("summarised"):
            lines.append(Content("summarised the dropped turns"))
        elif memory.get("summary_in_context"):
            lines.append(Content.styled("earlier summary in context", "$text-muted"))
        if memory.get("summary_error"):
            lines.append(
                Content.styled(
                    "summary failed: " + one_line(memory["summary_error"], 60), "$warning"
                )
            )
        return lines

    def _retry_lines(self, run: Run) -> list[Content]:
        """The retry being waited for, then the run's timeline of retries (kept after the
        run ends: a 429 that was retried is part of what happened)."""
        lines: list[Content] = []
        retry = run.retry
        if retry and run.is_active:
            text = f"retry {retry_label(retry)}: {one_line(retry.get('reason', ''), 40)}"
            wait = retry.get("wait_s")
            if wait:
                text += f", waiting {wait:.1f}s" if wait < 10 else f", waiting {wait:.0f}s"
            lines.append(Content.styled(text, "$warning"))
        retries = self.view.retries if self.view is not None else run.retries
        if retries:
            lines.append(self._section(f"Retries ({len(retries)})"))
            for past in retries:
                details = [f"↻ {retry_label(past)}", one_line(past.get("reason", ""), 30)]
                if past.get("wait_s"):
                    details.append(f"after {past['wait_s']:g}s")
                if past.get("at"):
                    details.append(clock_time(past["at"]))
                lines.append(Content.styled(" · ".join(d for d in details if d), "$text-warning"))
                message = one_line(past.get("message", ""), 70)
                if message:
                    lines.append(Content.styled(f"  {message}", "$text-muted"))
        return lines

    def _note_lines(self, run: Run) -> list[Content]:
        """What the app did about the model's behaviour, and why an incomplete run stopped."""
        texts = [str(note.get("message", "")) for note in run.notes]
        details = run.incomplete_details or {}
        if run.status == "incomplete" and details.get("message"):
            texts.append(str(details["message"]))
        return [Content.styled(one_line(text, 300), "$warning") for text in texts]

    def _error_lines(self, run: Run) -> list[Content]:
        event_error = self.view.error if self.view is not None else None
        source = run.last_error or event_error
        error = f"{source.code}: {source.message}" if source else None
        if not error:
            return []
        return [Content.styled(for_terminal(error), "$error")]
