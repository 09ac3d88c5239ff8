"""One run, executed: the loop RUN → tools → RUN, as a task that feeds an event queue.

The run executes in its own asyncio task and puts events on an unbounded queue, which
``Runtime.stream_run`` hands to the consumer. Keeping the loop out of the consumer's
generator is what makes cancel work from anywhere: ``cancel_run`` cancels this task (which
stops the backend stream and the tool tasks at their awaits), and a consumer that walks
away (``aclose``, Ctrl+C) gets the run closed as ``cancelled`` synchronously.

Invariants:
* every status change is written to the store before its event is queued;
* a streaming message's text is written at least every ``flush_interval`` seconds;
* every event carries a snapshot, so later changes do not alter what was emitted;
* whatever happens (backend error, tool error, a bug here, cancellation), the run ends in a
  terminal status in the store, followed by ``done``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..backends.base import (
    BackendError,
    Finish,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageChunk,
    forced_function,
    json_format,
)
from ..events import (
    RUN_EVENT_BY_STATUS,
    STEP_EVENT_BY_STATUS,
    Done,
    ErrorEvent,
    Event,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageDeltaData,
    MessageEvent,
    MessageIncomplete,
    MessageInProgress,
    RunInProgress,
    RunStepDelta,
    StepCreated,
    StepDelta,
    StepInProgress,
    call_progress,
    snapshot,
    tool_call_delta,
)
from ..objects import (
    RUN_TRANSITIONS,
    TERMINAL_RUN_STATUSES,
    FunctionCall,
    LastError,
    Message,
    Run,
    RunStatus,
    RunStep,
    StepStatus,
    StepType,
    ToolCall,
    Usage,
    check_transition,
    new_id,
    now,
    required_action_for,
)
from ..text import one_line
from ..tokens import estimate_text
from ..tools.result import ToolResult
from .approvals import ActionKind, PendingAction
from .fanout import RunEvents
from .guards import (
    FINAL_ANSWER_NUDGE,
    MIN_TURN_TOKENS,
    NO_FINAL_ANSWER,
    BudgetExpired,
    CallLedger,
    Note,
    RunClock,
    TextCallGate,
    answer_repeat,
    cap_note,
    final_answer_note,
    parse_text_calls,
    split_repeats,
)
from .history import Unit, message_unit, recent_history, tool_unit
from .history import run_units as units_of_run
from .memory import PromptTooLarge, RunMemory, history_target
from .storage import DATABASE_DAMAGED, STORAGE_CODES, is_storage_failure, storage_error

if TYPE_CHECKING:
    from . import Runtime

log = logging.getLogger(__name__)

DENIED_OUTPUT = ToolResult.failure("the user denied this tool call").to_model()
TURN_LIMIT_MESSAGE = (
    "the model's reply reached the token limit of one turn while it listed tool calls; "
    "the {n} complete calls were kept"
)
MAX_TURNS_MESSAGE = (
    "the run stopped after {n} model turns without a final answer "
    "(max_turns is a limit of this app, not of the Assistants API)"
)
# last_error codes from BackendError codes: a broken stream or a server that does not
# answer in time is the API's server_error; the rest (auth_error, model_not_found, and a
# server never reached: connection_error, dns_error, tls_error) are ours and more telling.
ERROR_CODES = {
    "stream_broken": "server_error",
    "timeout": "server_error",
}
OPEN_CALL_STATUSES = frozenset({"queued", "awaiting_approval", "running"})


@dataclass
class Turn:
    """What one model turn produced so far."""

    message: Message | None = None
    message_step: RunStep | None = None
    parts: list[str] = field(default_factory=list)
    text_length: int = 0  # characters in parts
    flush_timer: asyncio.TimerHandle | None = None
    tool_step: RunStep | None = None
    calls: dict[int, tuple[int, ToolCall]] = field(default_factory=dict)  # index → (position, call)
    usage: UsageChunk | None = None
    finish: str | None = None
    chunks: int = 0
    text_units: list[Unit] = field(default_factory=list)  # answers this turn closed early
    saved_chars: int = 0  # of the open answer's text, how much the store holds
    on_first_chunk: Callable[[], object] | None = None  # ends the wait for an answer
    # Weak-model guards (runtime.guards): text held back while it may be a printed call;
    # a reply stopped at the step's call cap; a turn asked for a final answer, whose calls
    # are not run but shown as text ({index: [name, arguments]}).
    gate: TextCallGate = field(default_factory=TextCallGate)
    capped: bool = False
    recovering: bool = False
    final: bool = False
    unrun_calls: dict[int, list[str]] = field(default_factory=dict)

    def stop_flushing(self) -> None:
        if self.flush_timer is not None:
            self.flush_timer.cancel()
            self.flush_timer = None

    @property
    def visible(self) -> bool:
        """Whether anything reached the user (a retry would then repeat it)."""
        return self.message is not None or self.tool_step is not None

    @property
    def completion_estimate(self) -> int:
        args = sum(estimate_text(c.function.arguments) for _, c in self.calls.values())
        unrun = sum(estimate_text("".join(c)) for c in self.unrun_calls.values())
        return estimate_text("".join(self.parts) + self.gate.held) + args + unrun


class StepCallCap(Exception):
    """The model's reply reached the step's tool-call cap: stop reading it."""


class RunClosed(Exception):
    """The run already ended in the store (it expired while waiting): unwind the loop."""


def pending_call_ids(run: Run) -> list[str]:
    """The ids of the calls a run in requires_action waits for."""
    action = (run.required_action or {}).get("submit_tool_outputs") or {}
    return [str(c.get("id")) for c in action.get("tool_calls") or []]


def tools_for_choice(tools: list[dict[str, Any]], choice: Any) -> list[dict[str, Any]]:
    """The tools offered to the model under the run's ``tool_choice``: none for "none", only
    the named one for ``{"type": "function", "function": {"name": …}}``, else all."""
    if choice == "none":
        return []
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = forced_function(choice)
        return [t for t in tools if (t.get("function") or {}).get("name") == name] or tools
    return tools


def turn_tool_choice(run: Run, *, first: bool, final: bool) -> str | dict[str, Any] | None:
    """What a model turn is told about calling tools: nothing to call when the run must
    answer now; on the run's first turn, the run's own ``tool_choice`` when it forces a call
    ("required", or one named function — as the hosted API did, the turns after it may
    answer); else the API's default."""
    if not run.tools:
        return None
    if final:
        return "none"
    choice = run.tool_choice
    if not first:
        return None
    if choice == "required":
        return "required"
    if isinstance(choice, dict) and choice.get("type") == "function":
        named = forced_function(choice)
        offered = {(tool.get("function") or {}).get("name") for tool in run.tools}
        # An unknown name: the API would refuse the request.
        return {"type": "function", "function": {"name": named}} if named in offered else None
    return None


class RunExecution:
    """One run being executed in this process: its task, its event stream and what it
    waits for. Created by ``Runtime`` (``start_run``; or a run resumed from the store with
    the client's tool outputs, its own process gone) and tracked there until ``done``.

    It owns the run's loop — model turn, tool calls, model turn … — and is the only writer
    of that run while it executes: every change goes to the store first, then out as an
    event on ``events``, which any number of readers follow. ``cancel``, ``approve`` and
    ``submit_tool_outputs`` come from other tasks (the UI, the API server)."""

    def __init__(
        self, runtime: Runtime, run: Run, resume: list[dict[str, str]] | None = None
    ) -> None:
        """``resume``: the client's tool outputs for a run that waits for them in the
        store with no task here (its process stopped); the run continues from there."""
        self.runtime = runtime
        self.resume = resume
        self.store = runtime.store
        self.run = run
        self.events = RunEvents()
        self.task: asyncio.Task[None] | None = None
        self.pending: PendingAction | None = None
        self.done_emitted = False
        self.closed = False
        self.turn: Turn | None = None
        self.open_steps: list[RunStep] = []  # steps created and not yet closed
        self.completion_tokens = 0  # reported, or estimated when a server reports none
        self.storage_failure: Exception | None = None  # the first write that failed
        self.ledger = CallLedger()  # the run's calls with results, for repeated calls
        self.clock = RunClock(runtime.max_run_seconds)

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        self.task = asyncio.create_task(self._main(), name=f"run {self.run.id}")
        self.task.add_done_callback(self._on_task_done)

    @property
    def finished(self) -> bool:
        return self.done_emitted

    async def cancel(self) -> Run:
        """cancel_run: cancelling (persisted, emitted) → stop everything → cancelled."""
        if not self.closed and self.run.status not in ("cancelling", *TERMINAL_RUN_STATUSES):
            self._set_status("cancelling")
            if self.task is not None:
                self.task.cancel()
        if self.task is not None and not self.task.done():
            await asyncio.wait({self.task})
        self._close_cancelled()  # when the task was cancelled before it ever ran
        self._emit_done()
        return snapshot(self.run)

    def abandon(self) -> None:
        """The consumer stopped reading: close the run as cancelled now, synchronously (an
        await here might never resume, e.g. while the event loop shuts down)."""
        self._close_cancelled()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def detach(self) -> None:
        """Stop executing here and leave the run as the store has it (see
        ``Runtime.release_waiting``): nothing more is written for it by this process."""
        self.closed = True
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        try:
            self._close_cancelled()  # no-op unless the task never got to close the run
        except Exception as exc:
            self._unrecorded_end(exc)
        finally:
            self._emit_done()  # the consumer would wait for it forever

    def _unrecorded_end(self, exc: Exception) -> None:
        """The store refused to record how the run ended (its thread was deleted meanwhile,
        the disk failed): say so in the stream instead of ending it silently."""
        log.error("run %s: its end could not be recorded: %s", self.run.id, exc)
        if self.storage_failure is not None or is_storage_failure(exc):
            self.storage_failure = self.storage_failure or exc
            error = self._storage_error()
            if error.code != DATABASE_DAMAGED:  # a damaged file is not opened again
                note = "; the run could not be closed in the database either (the next start does)"
                error = LastError(error.code, error.message + note)
            self._emit(ErrorEvent(error))
            return
        reason = one_line(f"{type(exc).__name__}: {exc}")
        message = f"the end of run {self.run.id} could not be saved: {reason}"
        self._emit(ErrorEvent(LastError("internal_error", message)))

    # -- failed writes -------------------------------------------------------------------
    def _storage_failed(self, exc: Exception) -> None:
        """A write failed: stop the run, so that nothing more is streamed that could not be
        saved (a flush runs from a timer, outside the run's task: cancel that task)."""
        if self.storage_failure is None:
            self.storage_failure = exc
            log.error("run %s stopped: a write to the store failed: %s", self.run.id, exc)
            log.debug("the failed write", exc_info=exc)
        task = self.task
        if task is not None and not task.done() and asyncio.current_task() is not task:
            task.cancel()

    def _storage_error(self) -> LastError:
        assert self.storage_failure is not None
        turn = self.turn
        shown = len("".join(turn.parts)) if turn is not None and turn.message else 0
        saved = turn.saved_chars if turn is not None else 0
        return storage_error(
            self.storage_failure, self.store, self.run.thread_id, shown=shown, saved=saved
        )

    def _emit(self, event: Event) -> None:
        self.events.publish(event)

    @property
    def model(self) -> str:
        """The model the backend is asked for."""
        return self.run.served_model or self.run.model

    def _emit_done(self) -> None:
        if not self.done_emitted:
            self.done_emitted = True
            self._emit(Done())
            # Once ``done`` is out the run is over for everyone here (its task may still be
            # unwinding): the thread is no longer streaming and may start another run.
            self.runtime._forget(self)

    async def _main(self) -> None:
        try:
            try:
                await self._loop()
            except asyncio.CancelledError:
                if self.storage_failure is None:
                    self._close_cancelled()
                else:  # stopped by a failed flush
                    self._close_failed(self._storage_error())
            except RunClosed:
                pass
            except Exception as exc:  # never a traceback out of the stream: the run fails
                if is_storage_failure(exc):
                    self._storage_failed(exc)
                    self._close_failed(self._storage_error())
                    return
                log.exception("run %s failed", self.run.id)
                cause = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else exc
                self._close_failed(
                    LastError("internal_error", one_line(f"{type(cause).__name__}: {cause}"))
                )
        except Exception as exc:
            self._unrecorded_end(exc)
        finally:
            self._emit_done()

    # -- the loop ------------------------------------------------------------------------
    async def _loop(self) -> None:
        run = self.run
        if self.resume is not None:
            turns, run_units = self._resume_from_store(self.resume)
        else:
            self._set_status("in_progress", started_at=now())
            turns, run_units = 0, []
        await self.runtime.discover_context_window(self.model)
        memory = self._memory()
        final_because: str | None = None  # why the next turn must answer without tools
        while True:
            self._stop_if_cancelled()
            last_turn = turns == self.runtime.max_turns - 1
            if turns and last_turn and final_because is None:
                final_because = (
                    f"this is the run's last model turn (max_turns {self.runtime.max_turns})"
                )
            if final_because is not None and turns < self.runtime.max_turns:
                self._note(final_answer_note(final_because))  # goes out with the next event
            if turns:
                self._next_turn()
            if turns >= self.runtime.max_turns:
                message = MAX_TURNS_MESSAGE.format(n=turns)
                return self._close_incomplete({"reason": "max_turns", "message": message})
            remaining = self._remaining_completion_tokens()
            if remaining is not None and remaining <= 0:
                return self._close_incomplete({"reason": "max_completion_tokens"})
            turns += 1
            turn_limit = self._turn_limit(remaining)
            try:
                items, raw_estimate = await memory.build(
                    run.instructions, run.tools, run_units, output_reserve=turn_limit
                )
            except PromptTooLarge as exc:
                self._record_memory(memory)
                return self._close_incomplete({"reason": "max_prompt_tokens", "message": str(exc)})
            self._record_memory(memory)
            final = final_because is not None
            if final:
                items = [*items, {"role": "system", "content": FINAL_ANSWER_NUDGE}]
            request = ModelRequest(
                model=self.model,
                instructions=run.instructions,
                input=items,
                tools=tools_for_choice(run.tools, run.tool_choice),
                parallel_tool_calls=run.parallel_tool_calls,
                max_output_tokens=self._request_tokens(turn_limit, remaining, memory),
                temperature=run.temperature,
                top_p=run.top_p,
                tool_choice=turn_tool_choice(run, first=turns == 1, final=final),
                response_format=json_format(run.response_format),
            )
            try:
                async with self.clock.running():
                    turn = await self._model_turn(request, final=final)
            except BudgetExpired as exc:
                return self._close_incomplete(
                    {"reason": "max_run_seconds", "message": str(exc)}, "run_expired"
                )
            if turn is None:
                return  # failed; already closed
            self._stop_if_cancelled()
            self._account(turn, raw_estimate)
            self._settle_text(turn)
            if turn.finish == "length":
                # The run's own max_completion_tokens ends it; the per-turn limit cutting a
                # list of calls does not (its complete calls are kept).
                run_budget_spent = remaining is not None and remaining <= (
                    request.max_output_tokens or 0
                )
                if run_budget_spent or not self._keep_cut_calls(turn):
                    return self._close_incomplete({"reason": "max_completion_tokens"}, "max_tokens")
            if turn.finish == "content_filter":
                return self._close_incomplete({"reason": "content_filter"}, "content_filter")
            self._close_turn_message(turn)
            run_units.extend(turn.text_units)
            if turn.tool_step is None:
                if not turn.text_units and run_units and not turn.final:
                    # After tool results, an empty reply is no answer: ask for one, once.
                    final_because = "the model replied with nothing after the tool results"
                    continue
                self._set_status("completed", completed_at=now())
                return
            try:
                await self._run_tools(turn.tool_step)
            except BudgetExpired as exc:
                return self._close_incomplete(
                    {"reason": "max_run_seconds", "message": str(exc)}, "run_expired"
                )
            unit = tool_unit(turn.tool_step.tool_calls)
            if unit is not None:
                run_units.append(unit)
            final_because = self._why_final_next(turn)

    def _stop_if_cancelled(self) -> None:
        """Stop a run that was cancelled although no CancelledError reached us: code we
        await may swallow it (a tool catching it; ``asyncio.wait_for`` in 3.11 returning a
        result that was ready when the cancel landed). Going on would try cancelling →
        in_progress and fail the run."""
        if self.closed or self.run.status == "cancelling":
            raise asyncio.CancelledError

    def _memory(self) -> RunMemory:
        runtime, run = self.runtime, self.run
        thread = self.store.get_thread(run.thread_id)
        window, window_source = runtime.context_window_and_source(self.model)
        target = history_target(
            window,
            runtime.estimator.ratio(self.model),
            can_summarise=bool(getattr(runtime.backend, "is_llm", False)),
        )
        history = recent_history(
            self.store,
            run.thread_id,
            token_target=target,
            exclude_run_id=run.id,
            leave_out=run.replaces or None,
        )
        covered = self.store.latest_summary_through(run.thread_id) if thread.summary else None
        return RunMemory(
            backend=runtime.backend,
            estimator=runtime.estimator,
            model=self.model,
            window=window,
            window_source=window_source,
            strategy=run.truncation_strategy,
            max_prompt_tokens=run.max_prompt_tokens,
            history=history.units,
            summary=thread.summary,
            covered_through=covered,
            omitted_messages=history.omitted_messages,
        )

    def _record_memory(self, memory: RunMemory) -> None:
        if memory.summary_changed:
            self.store.set_thread_summary(self.run.thread_id, memory.summary)
        if memory.report != self.run.memory:
            self.run.memory = dict(memory.report)
            self.store.update_run(self.run)

    def _remaining_completion_tokens(self) -> int | None:
        limit = self.run.max_completion_tokens
        return None if limit is None else limit - self.completion_tokens

    # -- weak-model guards (see runtime.guards) ---------------------------------------------
    def _turn_limit(self, remaining: int | None) -> int | None:
        """The completion-token limit of the next request: the run's remaining tokens and
        the runtime's per-turn limit (which only a language model needs)."""
        per_turn = (
            self.runtime.max_turn_tokens if getattr(self.runtime.backend, "is_llm", False) else None
        )
        limits = [n for n in (remaining, per_turn) if n is not None]
        return min(limits) if limits else None

    def _request_tokens(
        self, limit: int | None, remaining: int | None, memory: RunMemory
    ) -> int | None:
        """``limit``, lowered to what the context window has room for after the prompt (a
        small server's window is shared by prompt and answer), but never below a useful
        answer, nor above the run's remaining tokens."""
        if limit is None:
            return None
        report = memory.report
        room = int(report.get("context_window", 0)) - int(report.get("estimated_prompt_tokens", 0))
        tokens = min(limit, max(room, MIN_TURN_TOKENS))
        return tokens if remaining is None else min(tokens, remaining)

    def _note(self, note: Note) -> None:
        """Tell the user: the note is stored on the run now and reaches the stream with the
        run's next event (the next turn's thread.run.in_progress, or how the run ended)."""
        self.run.notes.append(note.to_dict())
        self.store.update_run(self.run)

    def _why_final_next(self, turn: Turn) -> str | None:
        """Whether the model must answer without tools next, and why: its reply ran into
        the step's call cap, or every call it made repeated one the run had already made."""
        step = turn.tool_step
        if step is None:
            return None
        if turn.capped:
            return "the model's reply was stopped while it listed tool calls"
        ran = [call for call in step.tool_calls if call.status != "cancelled"]
        if ran and all(call.repeat_of for call in ran):
            return "the model repeated tool calls it had already made"
        return None

    def _keep_cut_calls(self, turn: Turn) -> bool:
        """A reply cut by the per-turn token limit while it listed tool calls (a weak model's
        endless list): run the calls that were complete, drop the one cut in the middle, and
        go on as at the call cap. False when no whole call is left."""
        step = turn.tool_step
        if step is None or turn.final:
            return False
        complete = []
        for call in step.tool_calls:
            try:
                json.loads(call.function.arguments or "{}")
            except ValueError:
                call.status = "cancelled"
                call.error = "cut off by the token limit before its arguments were complete"
                continue
            complete.append(call)
        if not complete:
            return False
        turn.capped = True
        turn.finish = "tool_calls"
        self._note(Note("turn_token_limit", TURN_LIMIT_MESSAGE.format(n=len(complete))))
        return True

    def _settle_text(self, turn: Turn) -> None:
        """End of a turn's stream: text held back as a possible printed call becomes the
        calls it is (recovered, in a tool step) or, after all, the turn's text."""
        held = turn.gate.release() if not turn.gate.released else ""
        if turn.final:
            if turn.unrun_calls:
                printed = [
                    f'{{"name": {json.dumps(name)}, "arguments": {arguments or "{}"}}}'
                    for name, arguments in turn.unrun_calls.values()
                ]
                held = (held + "\n" if held.strip() else "") + "\n".join(printed)
            known = [t.get("function", t).get("name", "") for t in self.run.tools]
            if turn.unrun_calls or (held and parse_text_calls(held, known)):
                self._note(NO_FINAL_ANSWER)
        elif held and turn.tool_step is None and turn.finish != "length":
            known = [t.get("function", t).get("name", "") for t in self.run.tools]
            calls = parse_text_calls(held, known)
            if calls:
                self._recover_calls(turn, calls)
                return
        if held:
            self._show_text(turn, held)

    def _recover_calls(self, turn: Turn, calls: list[tuple[str, str]]) -> None:
        """Calls the model printed as text: offered as real calls, marked ``recovered``."""
        limit = self.runtime.max_tool_calls_per_step
        if len(calls) > limit:
            turn.capped = True
            self._note(cap_note(limit))
        turn.recovering = True
        for index, (name, arguments) in enumerate(calls[:limit]):
            self._on_tool_delta(turn, ToolCallDelta(index=index, name=name, arguments=arguments))
        turn.finish = "tool_calls"

    def _next_turn(self) -> None:
        """Each model turn after the first opens with thread.run.in_progress (after
        requires_action, that is the status change back)."""
        if self.run.status == "in_progress":
            self._emit(RunInProgress(snapshot(self.run)))
        else:
            self._set_status("in_progress", required_action=None)

    def _account(self, turn: Turn, raw_estimate: int) -> None:
        if turn.usage is None:
            self.completion_tokens += turn.completion_estimate
            return
        prompt, completion = turn.usage.prompt_tokens, turn.usage.completion_tokens
        self.completion_tokens += completion
        self.runtime.estimator.observe(self.model, raw_estimate, prompt)
        if self.run.usage is None:
            self.run.usage = Usage()
        self.run.usage.add(prompt, completion)
        step = turn.tool_step or turn.message_step
        if step is not None:
            step.usage = Usage()
            step.usage.add(prompt, completion)
            self.store.update_step(step)
        self.store.update_run(self.run)

    # -- one model turn, with retries ----------------------------------------------------
    async def _model_turn(self, request: ModelRequest, *, final: bool = False) -> Turn | None:
        policy = self.runtime.retry_policy
        retries = 0
        loop = asyncio.get_running_loop()
        budget = policy.give_up_after
        deadline = None if budget is None else loop.time() + budget
        while True:
            turn = self.turn = Turn(final=final)
            try:
                await self._attempt(request, turn, deadline)
                return turn
            except BackendError as error:
                wait = policy.delay(error, retries)
                in_time = deadline is None or loop.time() + wait < deadline
                if not turn.visible and policy.should_retry(error, retries) and in_time:
                    retries += 1
                    self.run.retry = {
                        "attempt": retries,
                        "max": policy.max_retries,
                        "reason": error.code,
                        "message": one_line(error.message),
                        "wait_s": round(wait, 3),
                    }
                    scheduled = {**self.run.retry, "at": round(time.time(), 3)}
                    self.run.retries = [*self.run.retries, scheduled]
                    self.store.update_run(self.run)
                    self._emit(RunInProgress(snapshot(self.run)))
                    await asyncio.sleep(wait)
                    continue
                message = one_line(error.message)
                if retries:
                    message = (
                        f"{message} (after {retries} {'retry' if retries == 1 else 'retries'})"
                    )
                if not in_time and error.retryable and not turn.visible:
                    message += f"; gave up: {budget:g} s in all without an answer"
                code = ERROR_CODES.get(error.code, error.code)
                self._close_failed(LastError(code, message))
                return None

    async def _attempt(self, request: ModelRequest, turn: Turn, deadline: float | None) -> None:
        """One try at a model turn, within what is left of the turn's budget for its first
        chunk (``RetryPolicy.give_up_after``); once a chunk arrives the stream may take as
        long as it streams."""
        if deadline is None:
            return await self._stream_turn(request, turn)
        try:
            async with asyncio.timeout_at(deadline) as budget:
                turn.on_first_chunk = functools.partial(budget.reschedule, None)
                await self._stream_turn(request, turn)
        except TimeoutError:
            if not budget.expired():
                raise
            raise BackendError(
                "timeout",
                "no response from the model within "
                f"{self.runtime.retry_policy.give_up_after:g} s in all — the server is slow or stuck",
            ) from None

    async def _stream_turn(self, request: ModelRequest, turn: Turn) -> None:
        stream = self.runtime.backend.stream(request)
        try:
            async for chunk in stream:
                if not turn.chunks and turn.on_first_chunk is not None:
                    turn.on_first_chunk()
                if not turn.chunks and self.run.retry is not None:
                    self.run.retry = None  # the retry worked: say so
                    self.store.update_run(self.run)
                    self._emit(RunInProgress(snapshot(self.run)))
                turn.chunks += 1
                if isinstance(chunk, TextDelta):
                    self._on_text(turn, chunk.text)
                elif isinstance(chunk, ToolCallDelta):
                    self._on_tool_delta(turn, chunk)
                elif isinstance(chunk, UsageChunk):
                    turn.usage = chunk
                elif isinstance(chunk, Finish):
                    turn.finish = chunk.reason
        except StepCallCap:
            # Stop reading: a weak model can stream parallel calls without end.
            turn.capped = True
            turn.finish = "tool_calls"
            self._note(cap_note(self.runtime.max_tool_calls_per_step))
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # closing a failed stream can fail too; nothing to add
                    pass
        if turn.finish is None:
            raise BackendError(
                "stream_broken",
                "the model's stream ended without a finish reason — the message is incomplete",
                retryable=not turn.visible,
            )

    # -- text ----------------------------------------------------------------------------
    def _on_text(self, turn: Turn, text: str) -> None:
        self._show_text(turn, turn.gate.feed(text))

    def _show_text(self, turn: Turn, text: str) -> None:
        if not text:
            return
        if turn.message is None:
            self._open_message(turn)
        message = turn.message
        assert message is not None
        turn.parts.append(text)
        offset, turn.text_length = turn.text_length, turn.text_length + len(text)
        self._emit(
            MessageDelta(
                MessageDeltaData(message.id, self.run.id, self.run.thread_id, text, offset=offset)
            )
        )
        if turn.flush_timer is None:
            # A timer rather than a check per delta: text must reach the disk within the
            # interval even when the model stalls right after sending it.
            turn.flush_timer = asyncio.get_running_loop().call_later(
                self.runtime.flush_interval, self._flush, turn
            )

    def _flush(self, turn: Turn) -> None:
        turn.flush_timer = None
        message = turn.message
        if message is None or message.status != "in_progress" or self.closed:
            return
        text = "".join(turn.parts)
        message.set_text(text)
        try:
            self.store.update_message(message)
        except Exception as exc:
            self._storage_failed(exc)
        else:
            turn.saved_chars = len(text)

    def _open_message(self, turn: Turn) -> None:
        run = self.run
        message = self.store.add_message(
            run.thread_id,
            "assistant",
            "",
            status="in_progress",
            run_id=run.id,
            assistant_id=run.assistant_id,
        )
        step = self._new_step("message_creation", message_id=message.id)
        turn.message, turn.message_step = message, step
        self._emit(StepCreated(snapshot(step)))
        self._emit(StepInProgress(snapshot(step)))
        self._emit(MessageCreated(snapshot(message)))
        self._emit(MessageInProgress(snapshot(message)))

    def _close_turn_message(self, turn: Turn) -> None:
        """Complete the turn's answer (text, then its step)."""
        if turn.message is None or turn.message.status != "in_progress":
            return
        message = turn.message
        self._end_message(turn, message, MessageCompleted, status="completed", completed_at=now())
        if turn.message_step is not None:
            self._close_step(turn.message_step, "completed")
        unit = message_unit(message)
        if unit is not None:
            turn.text_units.append(unit)

    def _end_message(
        self, turn: Turn, message: Message, event: type[MessageEvent], **changes: Any
    ) -> None:
        """Write the message's final text and status, then emit its closing event."""
        turn.stop_flushing()
        text = "".join(turn.parts)
        message.set_text(text)
        for name, value in changes.items():
            setattr(message, name, value)
        self.store.update_message(message)
        turn.saved_chars = len(text)
        self._emit(event(snapshot(message)))

    # -- tool calls ----------------------------------------------------------------------
    def _on_tool_delta(self, turn: Turn, delta: ToolCallDelta) -> None:
        if turn.final:
            # Asked for an answer without tools, the model called one anyway: not run; shown
            # as text when the turn ends.
            unrun = turn.unrun_calls.setdefault(delta.index, ["", ""])
            unrun[0] = unrun[0] or delta.name or ""
            unrun[1] += delta.arguments
            return
        if (
            delta.index not in turn.calls
            and len(turn.calls) >= self.runtime.max_tool_calls_per_step
        ):
            raise StepCallCap
        if turn.tool_step is None:
            # Text before the calls ("Let me look that up") is a finished answer of its own.
            self._close_turn_message(turn)
            turn.message = turn.message_step = None
            turn.parts, turn.text_length = [], 0
            turn.tool_step = self._new_step("tool_calls")
            self._emit(StepCreated(snapshot(turn.tool_step)))
            self._emit(StepInProgress(snapshot(turn.tool_step)))
        step = turn.tool_step
        entry = turn.calls.get(delta.index)
        if entry is None:
            call = ToolCall(
                id=delta.id or new_id("call"),
                function=FunctionCall(name=delta.name or ""),
                recovered=turn.recovering,
            )
            entry = turn.calls[delta.index] = (len(step.tool_calls), call)
            step.tool_calls.append(call)
        position, call = entry
        if delta.name and not call.function.name:
            call.function.name = delta.name
        call.function.arguments += delta.arguments
        fragment = tool_call_delta(position, call, delta.arguments)
        if call.recovered:
            fragment["recovered"] = True
        self._emit(StepDelta(RunStepDelta(step.id, self.run.id, self.run.thread_id, [fragment])))

    async def _run_tools(self, step: RunStep) -> None:
        self.store.update_step(step)  # the calls' full arguments
        # A call identical to one the run already made is answered from that result.
        queued = [call for call in step.tool_calls if call.status == "queued"]
        calls, repeats = split_repeats(queued, self.ledger)
        self._answer_repeats(step, repeats, finished_only=True)
        approval = self.run.approval
        if approval == "client" and calls:
            # Built-in tools run here first; the client gets the rest.
            here = set(self.run.server_tools or ())
            ours = [c for c in calls if c.function.name in here]
            theirs = [c for c in calls if c.function.name not in here]
            async with self.clock.running():
                await self._execute(step, ours)
            self._stop_if_cancelled()
            if theirs:
                pending = await self._require_action("outputs", step, theirs)
                self._apply_outputs(theirs, pending.outputs)
        elif calls:
            if approval == "ask":
                pending = await self._require_action("approval", step, calls)
                self._set_status("in_progress", required_action=None)
                for call in calls:
                    if not pending.decisions[call.id]:
                        call.function.output = DENIED_OUTPUT
                        call.status = "denied"
                        call.is_error = True
                        call.error = "the user denied this tool call"
                calls = [c for c in calls if pending.decisions[c.id]]
                self.store.update_step(step)
            async with self.clock.running():
                await self._execute(step, calls)
        self._answer_repeats(step, repeats, finished_only=False)
        self.ledger.record(step.tool_calls)
        self._stop_if_cancelled()  # the calls' step closes as cancelled, not completed
        self._close_step(step, "completed")

    def _apply_outputs(self, calls: list[ToolCall], outputs: dict[str, str]) -> None:
        for call in calls:
            call.function.output = outputs[call.id]
            call.status = "completed"
            self._finish_timing(call)

    def _answer_repeats(
        self, step: RunStep, repeats: dict[str, ToolCall], *, finished_only: bool
    ) -> None:
        """Answer repeated calls from their originals: before the step's calls run, those
        repeating an earlier step; after, those repeating a call of this step."""
        answered = []
        for call in step.tool_calls:
            original = repeats.get(call.id)
            if original is None or call.repeat_of is not None:
                continue
            if finished_only and original.status not in ("completed", "error", "denied"):
                continue
            answer_repeat(call, original)
            answered.append(call)
        if answered:
            self.store.update_step(step)
            self._emit_calls(step, answered)

    async def _require_action(
        self, kind: ActionKind, step: RunStep, calls: list[ToolCall] | None = None
    ) -> PendingAction:
        calls = step.tool_calls if calls is None else calls
        for call in calls:
            if kind == "approval":
                call.status = "awaiting_approval"
            else:  # the client runs them
                call.status = "running"
                call.started_at = time.time()
        self.store.update_step(step)
        self.pending = PendingAction(kind, calls)
        self._set_status("requires_action", required_action=required_action_for(calls))
        expires_at = self.run.expires_at if kind == "outputs" else None
        timeout = None if expires_at is None else max(0.0, expires_at - time.time())
        try:
            await asyncio.wait_for(self.pending.wait(), timeout)
            return self.pending
        except TimeoutError:
            self._close_expired()
            raise RunClosed from None
        finally:
            self.pending = None

    def _resume_from_store(self, outputs: list[dict[str, str]]) -> tuple[int, list[Unit]]:
        """Take up a run that waited for client outputs with no task here: apply the
        outputs to its open step and go on from there. Returns (model turns so far, this
        run's input units). The caller claimed the run (requires_action → in_progress)."""
        run = self.run
        steps = self.store.list_steps(run.id)
        step = next(
            s for s in reversed(steps) if s.type == "tool_calls" and s.status == "in_progress"
        )
        # (The claim cleared required_action; the outputs were checked against it.)
        parsed = {o["tool_call_id"]: o.get("output") or "" for o in outputs}
        self._apply_outputs([c for c in step.tool_calls if c.id in parsed], parsed)
        self.open_steps.append(step)
        self._close_step(step, "completed")
        messages = {m.id: m for m in self.store.list_messages(run.thread_id) if m.run_id == run.id}
        turns = sum(1 for s in steps if s.type == "tool_calls")
        return turns, units_of_run(self.store, run.id, messages)

    async def _execute(self, step: RunStep, calls: list[ToolCall]) -> None:
        if not calls:
            return
        started = time.time()
        for call in calls:
            call.status = "running"
            call.started_at = started
        self.store.update_step(step)
        self._emit_calls(step, calls)

        async def execute(call: ToolCall) -> None:
            result = await self.runtime.tools.execute(call.function.name, call.function.arguments)
            if self.closed or self.run.status != "in_progress":
                return  # cancelled meanwhile: a late result is dropped, not recorded
            self._apply_result(call, result)
            self.store.update_step(step)
            self._emit_calls(step, [call])

        if self.run.parallel_tool_calls and len(calls) > 1:
            # A TaskGroup, not gather: if one call fails unexpectedly the others are
            # cancelled rather than left running behind a failed run.
            async with asyncio.TaskGroup() as group:
                for call in calls:
                    group.create_task(execute(call), name=f"tool {call.function.name}")
        else:
            for call in calls:
                self._stop_if_cancelled()
                await execute(call)

    def _apply_result(self, call: ToolCall, result: ToolResult) -> None:
        call.function.output = result.to_model()
        call.is_error = result.is_error
        call.error = result.error
        call.source = result.source
        call.cache_hit = result.cache_hit
        call.display = result.display
        call.status = "error" if result.is_error else "completed"
        self._finish_timing(call)

    @staticmethod
    def _finish_timing(call: ToolCall) -> None:
        call.finished_at = time.time()
        if call.started_at is not None:
            call.duration_ms = round((call.finished_at - call.started_at) * 1000, 1)

    def _emit_calls(self, step: RunStep, calls: list[ToolCall]) -> None:
        """A step delta with the calls' progress (status; output and display once done). The
        API's delta has no status; ours carries it, with timing, so a UI can show each call
        live — a chart as soon as its call is done, not when the slowest call of the step is."""
        entries = [call_progress(step.tool_calls.index(call), call) for call in calls]
        self._emit(StepDelta(RunStepDelta(step.id, self.run.id, self.run.thread_id, entries)))

    # -- external actions ----------------------------------------------------------------
    def approve(self, decisions: dict[str, bool]) -> None:
        self._pending("approve").approve(decisions)

    def submit_tool_outputs(self, outputs: list[dict[str, str]]) -> None:
        self._pending("submit_tool_outputs").submit(outputs)

    def _pending(self, operation: str) -> PendingAction:
        from ..errors import RunStateError

        if self.pending is None or self.run.status != "requires_action":
            raise RunStateError(
                f"cannot {operation}: run {self.run.id} is {self.run.status}, not requires_action"
            )
        return self.pending

    # -- steps and statuses --------------------------------------------------------------
    def _new_step(self, type_: StepType, *, message_id: str | None = None) -> RunStep:
        run = self.run
        step = RunStep(
            id=new_id("step"),
            created_at=now(),
            run_id=run.id,
            thread_id=run.thread_id,
            assistant_id=run.assistant_id,
            type=type_,
            message_id=message_id,
        )
        self.store.create_step(step)
        self.open_steps.append(step)
        return step

    def _close_step(
        self, step: RunStep, status: StepStatus, error: LastError | None = None
    ) -> None:
        if step.status != "in_progress":
            return
        step.status = status
        stamp = now()
        if status == "completed":
            step.completed_at = stamp
        elif status == "cancelled":
            step.cancelled_at = stamp
        elif status == "failed":
            step.failed_at = stamp
            step.last_error = error
        elif status == "expired":
            step.expired_at = stamp
        for call in step.tool_calls:
            if call.status in OPEN_CALL_STATUSES:
                call.status = "cancelled"
        self.store.update_step(step)
        if step in self.open_steps:
            self.open_steps.remove(step)
        self._emit(STEP_EVENT_BY_STATUS[status](snapshot(step)))

    def _set_status(self, status: RunStatus, **changes: Any) -> None:
        run = self.run
        check_transition("run", RUN_TRANSITIONS, run.status, status)
        run.status = status
        for name, value in changes.items():
            setattr(run, name, value)
        self.store.update_run(run)
        self._emit(RUN_EVENT_BY_STATUS[status](snapshot(run)))

    # -- endings -------------------------------------------------------------------------
    def _close_open(
        self,
        message_reason: str,
        step_status: StepStatus | Literal["incomplete"],
        error: LastError | None = None,
    ) -> None:
        """Close the partial message (kept ``incomplete``) and every open step. A message
        the store cannot take stays ``in_progress`` there (start-up recovery closes it) and
        the failure is recorded for the run's error, which says how much text is saved."""
        turn = self.turn
        try:
            message = turn.message if turn is not None else None
            if turn is not None and message is not None and message.status == "in_progress":
                self._end_message(
                    turn,
                    message,
                    MessageIncomplete,
                    status="incomplete",
                    incomplete_at=now(),
                    incomplete_details={"reason": message_reason},
                )
        except Exception as exc:
            if not is_storage_failure(exc):
                raise
            self._storage_failed(exc)
        finally:  # the steps are closed even when the message could not be written
            for step in list(self.open_steps):
                status: StepStatus
                if step_status == "incomplete":
                    # A cut-off answer was still created; calls that never ran were not.
                    status = "completed" if step.type == "message_creation" else "cancelled"
                else:
                    status = step_status
                self._close_step(step, status, error)

    def _close_incomplete(
        self, details: dict[str, Any], message_reason: str = "max_tokens"
    ) -> None:
        if self.closed or self.run.status in TERMINAL_RUN_STATUSES:
            return
        self.closed = True
        self._close_open(message_reason, "incomplete")
        self._set_status("incomplete", incomplete_details=details, completed_at=now())

    def _close_failed(self, error: LastError) -> None:
        if self.closed or self.run.status in TERMINAL_RUN_STATUSES:
            return
        self.closed = True
        try:
            self._close_open("run_failed", "failed", error)
        finally:
            if self.storage_failure is not None and error.code not in STORAGE_CODES:
                # The run failed for its own reason, and its answer could not be saved.
                error = LastError(error.code, f"{error.message}; {self._storage_error().message}")
            self._set_status("failed", failed_at=now(), last_error=error, retry=None)

    def _close_expired(self) -> None:
        """Left in requires_action past ``expires_at``: the run and its open steps expire."""
        if self.closed or self.run.status in TERMINAL_RUN_STATUSES:
            return
        self.closed = True
        for step in list(self.open_steps):
            self._close_step(step, "expired")
        self._set_status("expired", required_action=None)

    def _close_cancelled(self) -> None:
        if self.closed or self.run.status in TERMINAL_RUN_STATUSES:
            return
        self.closed = True
        try:
            self._close_open("run_cancelled", "cancelled")
        finally:
            self._set_status("cancelled", cancelled_at=now(), retry=None, required_action=None)
            if self.storage_failure is not None:  # a cancelled run has no last_error
                self._emit(ErrorEvent(self._storage_error()))
