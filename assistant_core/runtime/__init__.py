"""The run engine: the Assistants run loop, executed locally.

``Runtime`` is the public API the CLI and TUI use: add messages, stream runs (an async
iterator of the Assistants streaming events), cancel them, answer ``requires_action`` with
approvals or tool outputs, read runs and steps back. The work is split across this package:

* ``runner``          one run's loop, as a task feeding an event queue
* ``history``         a thread's messages and earlier tool calls as model input units
* ``memory``          truncation (``auto`` / ``last_messages``) and the running summary
* ``context_windows`` per-model context window sizes
* ``retry``           backoff policy for failed model calls
* ``approvals``       a run waiting for approvals or client tool outputs
* ``fanout``          one run's events to any number of listeners
* ``follow``          a run another process executes, followed from the store
* ``remote``          cancels and tool outputs for runs another process executes
* ``guards``          weak-model guards: call cap, repeated and printed calls, run budget
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, TypedDict, Unpack

from ..backends.base import Backend
from ..errors import ActiveRunError, ConfigError, RunStateError
from ..events import Done, Event, MessageDelta, RunCreated, RunQueued, snapshot
from ..limits import (
    MAX_RETRIES,
    MAX_RUN_SECONDS,
    MAX_TOOL_CALLS_PER_STEP,
    MAX_TURN_TOKENS,
    MAX_TURNS,
)
from ..objects import (
    TERMINAL_RUN_STATUSES,
    ApprovalPolicy,
    FunctionCall,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    TruncationStrategy,
    new_id,
    now,
)
from ..store_interface import ThreadStore
from ..tokens import TokenEstimator
from ..tools.registry import ToolRegistry
from .approvals import ALL_CALLS
from .context_windows import CONTEXT_WINDOWS, DEFAULT_WINDOW, configured_window, context_window
from .follow import follow_run
from .remote import RemoteRuns
from .retry import RetryPolicy
from .runner import RunExecution, pending_call_ids

__all__ = [
    "ALL_CALLS",
    "CONTEXT_WINDOWS",
    "DEFAULT_WINDOW",
    "ApprovalPolicy",
    "RetryPolicy",
    "RunOptions",
    "Runtime",
    "context_window",
]

SERVED_WINDOW_TTL_S = 60.0  # a server may be restarted with another context size
APPROVAL_POLICIES = ("auto", "ask", "client")


class RunOptions(TypedDict, total=False):
    """Per-run parameters of ``stream_run`` / ``ask`` (the Assistants API's create-run ones,
    plus ``approval``); an option left out takes the runtime's or the assistant's value."""

    assistant_id: str | None
    approval: ApprovalPolicy | None
    instructions: str | None
    truncation_strategy: TruncationStrategy | None
    max_prompt_tokens: int | None
    max_completion_tokens: int | None
    parallel_tool_calls: bool
    # The rest of the API's create-run parameters (the server passes them through).
    model: str | None  # recorded on the run; also what the backend is asked for, unless…
    served_model: str | None  # …this names the model the backend runs instead
    additional_instructions: str | None
    tools: list[dict[str, Any]] | None  # overrides the assistant's tools
    temperature: float | None
    top_p: float | None
    tool_choice: Any
    response_format: Any
    metadata: dict[str, str] | None
    expires_in: int | None  # seconds a run may wait in requires_action for client outputs
    server_tools: list[str] | None  # with approval "client": the tools that run here
    replaces: str | None  # a run of the thread to answer again (Retry / Regenerate)


class Runtime:
    """Runs of one store on one backend with one tool registry.

        runtime = Runtime(store, backend, tools, model="gpt-4o", approval="auto")
        thread = runtime.create_thread()
        async for event in runtime.ask(thread.id, "Should I buy Apple?"):
            ...  # thread.run.created … thread.message.delta … thread.run.completed, done

    Each run executes in its own task; the iterator only reads its events, so
    ``cancel_run`` / ``approve`` / ``submit_tool_outputs`` may be called from any task.
    """

    def __init__(
        self,
        store: ThreadStore,
        backend: Backend,
        tools: ToolRegistry,
        *,
        model: str,
        approval: ApprovalPolicy = "auto",
        max_turns: int = MAX_TURNS,
        context_windows: dict[str, int] | None = None,
        flush_interval: float = 1.0,
        max_retries: int = MAX_RETRIES,
        retry_policy: RetryPolicy | None = None,
        max_turn_tokens: int | None = MAX_TURN_TOKENS,
        max_tool_calls_per_step: int = MAX_TOOL_CALLS_PER_STEP,
        max_run_seconds: float | None = MAX_RUN_SECONDS,
    ) -> None:
        """``retry_policy`` overrides ``max_retries`` and the backoff delays (tests use tiny
        ones). Crash recovery is not done here: call ``recover_interrupted()`` at start-up,
        when no other process is using the database.

        Limits that keep a weak model's run finite (see ``runtime.guards``): every model
        request asks for at most ``max_turn_tokens`` tokens (None: no limit of ours); a
        model turn keeps at most ``max_tool_calls_per_step`` calls; a run works at most
        ``max_run_seconds`` (waiting for the user not counted; None: no budget)."""
        self.store = store
        self.backend = backend
        self.tools = tools
        self.model = model
        self.approval = approval  # may be changed at any time; applies to new runs
        self.max_turns = max_turns
        self.context_windows = dict(context_windows or {})
        self.flush_interval = flush_interval
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.estimator = TokenEstimator()
        self.max_turn_tokens = max_turn_tokens
        self.max_tool_calls_per_step = max(1, max_tool_calls_per_step)
        self.max_run_seconds = max_run_seconds
        # What the model server says its context is, by model: (window or None, when asked).
        self._served_windows: dict[str, tuple[int | None, float]] = {}
        self._by_run: dict[str, RunExecution] = {}
        self._by_thread: dict[str, RunExecution] = {}
        self._remote = RemoteRuns(self)

    # -- threads and messages ------------------------------------------------------------
    def create_thread(self, title: str = "", origin: str = "") -> Thread:
        """``origin``: where it was started ("cli", "api"; "" for the app), for display."""
        return self.store.create_thread(title, origin=origin)

    async def add_message(self, thread_id: str, text: str) -> Message:
        """Append a user message. Refused (ActiveRunError) while the thread has an active run."""
        return self._add_user_message(thread_id, text)

    def _add_user_message(self, thread_id: str, text: str) -> Message:
        active = self.store.active_run(thread_id)
        if active is not None:
            raise ActiveRunError(thread_id, active.id)
        return self.store.add_message(thread_id, "user", text)

    # -- runs ----------------------------------------------------------------------------
    def stream_run(self, thread_id: str, **options: Unpack[RunOptions]) -> AsyncIterator[Event]:
        """Create a run on the thread and stream its events, in the Assistants API order,
        ending with ``done``. Raises ActiveRunError / NotFoundError on first iteration.
        ``options`` are the API's create-run parameters (see ``RunOptions``).

        In ``requires_action`` the iterator yields ``thread.run.requires_action`` and then
        waits (still open) until ``approve()`` / ``submit_tool_outputs()`` / ``cancel_run()``.
        Closing the iterator early (``aclose()``, or the consuming task being cancelled)
        cancels the run.
        """
        return self._stream(thread_id, None, options)

    def ask(self, thread_id: str, text: str, **options: Unpack[RunOptions]) -> AsyncIterator[Event]:
        """add_message + stream_run in one call (the message is not added when the run
        cannot be created: unknown thread or assistant, bad options, an active run)."""
        return self._stream(thread_id, text, options)

    async def _stream(
        self, thread_id: str, user_text: str | None, options: RunOptions
    ) -> AsyncIterator[Event]:
        run = self._new_run(thread_id, options)
        if user_text is not None:
            self._add_user_message(thread_id, user_text)
        execution = self._start(run)
        queue = execution.events.listen()
        try:
            while True:
                event = await queue.get()
                yield event
                if isinstance(event, Done):
                    return
        finally:
            execution.events.unlisten(queue)
            if not execution.finished:
                execution.abandon()

    def start_run(self, thread_id: str, **options: Unpack[RunOptions]) -> Run:
        """Create a run and start it detached: it executes to its end whoever listens (or
        stops listening); follow it with ``subscribe``, stop it with ``cancel_run``. Raises
        ActiveRunError / NotFoundError / ConfigError before anything is written. Returns
        the run as created (queued)."""
        run = self._new_run(thread_id, options)
        self._start(run)
        return snapshot(run)

    def subscribe(
        self, run_id: str, *, replay: bool = True, coalesce: bool = False
    ) -> AsyncGenerator[Event, None]:
        """The run's events, ending with ``done``. With ``replay`` they start from its
        beginning (compacted: each message's text so far in one delta), else from the call
        (the subscription starts here, not at the first iteration: nothing published in
        between is missed). Leaving early never affects the run. A run this process does
        not execute (another process's, or one that ended) is followed from the store
        (``follow_run``). ``coalesce``: text deltas of one message that are already
        waiting when the reader comes back are joined into one (a reader slower than the
        model gets fewer, larger deltas; one that keeps up gets them as they come)."""
        execution = self._by_run.get(run_id)
        if execution is None:
            return follow_run(self.store, run_id, replay=replay)
        return self._read(execution, execution.events.listen(replay=replay), coalesce)

    @staticmethod
    async def _read(
        execution: RunExecution, queue: asyncio.Queue[Event], coalesce: bool
    ) -> AsyncGenerator[Event, None]:
        waiting: Event | None = None
        try:
            while True:
                event = waiting if waiting is not None else await queue.get()
                waiting = None
                if coalesce and isinstance(event, MessageDelta):
                    event, waiting = _join_waiting_text(event, queue)
                yield event
                if isinstance(event, Done):
                    return
        finally:
            execution.events.unlisten(queue)

    def follow_run(
        self, run_id: str, *, interval: float = 0.2, replay: bool = True
    ) -> AsyncGenerator[Event, None]:
        """Follow a run from the store (whichever process executes it) as the same typed
        events, polling every ``interval`` seconds; see ``follow.follow_run``."""
        return follow_run(self.store, run_id, interval=interval, replay=replay)

    def executing(self, run_id: str) -> bool:
        """True while this process executes the run."""
        return run_id in self._by_run

    def executing_ids(self) -> list[str]:
        """The runs this process executes now."""
        return list(self._by_run)

    def set_run_metadata(self, run_id: str, metadata: dict[str, str]) -> None:
        """Replace a run's metadata, also while it executes here (its task would otherwise
        write its own copy back at its next change)."""
        execution = self._by_run.get(run_id)
        if execution is not None:
            execution.run.metadata = dict(metadata)
        self.store.set_metadata("run", run_id, metadata)

    def _new_run(self, thread_id: str, options: RunOptions) -> Run:
        """The run to create, checked (thread, assistant, options) before anything is written."""
        unknown = sorted(set(options) - set(RunOptions.__annotations__))
        if unknown:
            raise TypeError(
                f"unknown run option(s) {', '.join(unknown)}; "
                f"use {', '.join(RunOptions.__annotations__)}"
            )
        self.store.get_thread(thread_id)  # NotFoundError
        assistant_id = options.get("assistant_id")
        assistant = (
            self.store.get_assistant(assistant_id)
            if assistant_id
            else self.store.default_assistant()
        )
        policy = options.get("approval") or self.approval
        if policy not in APPROVAL_POLICIES:
            raise ConfigError(f"unknown approval policy {policy!r}; use auto, ask or client")
        instructions = options.get("instructions")
        if instructions is None:
            instructions = assistant.instructions or ""
        if options.get("additional_instructions"):
            instructions = f"{instructions}\n\n{options['additional_instructions']}".strip()
        tools = options.get("tools")
        model = options.get("model") or self.model
        served = options.get("served_model")
        replaces = options.get("replaces") or ""
        if replaces and self.store.get_run(replaces).thread_id != thread_id:  # NotFoundError
            raise ConfigError(f"run {replaces} is not a run of thread {thread_id}")
        created = now()
        expires_in = options.get("expires_in")
        return Run(
            id=new_id("run"),
            created_at=created,
            thread_id=thread_id,
            assistant_id=assistant.id,
            model=model,
            served_model=served if served and served != model else "",
            instructions=instructions,
            # The assistant's own tool list when it has one; else every tool we can run.
            tools=list(tools if tools is not None else assistant.tools or self.tools.specs()),
            truncation_strategy=options.get("truncation_strategy") or TruncationStrategy(),
            max_prompt_tokens=options.get("max_prompt_tokens"),
            max_completion_tokens=options.get("max_completion_tokens"),
            parallel_tool_calls=options.get("parallel_tool_calls", True),
            temperature=options.get("temperature"),
            top_p=options.get("top_p"),
            tool_choice=options.get("tool_choice") or "auto",
            response_format=options.get("response_format") or "auto",
            metadata=dict(options.get("metadata") or {}),
            expires_at=created + expires_in if expires_in is not None else None,
            provider=getattr(self.backend, "name", ""),
            approval=policy,
            server_tools=options.get("server_tools"),
            replaces=replaces,
        )

    def _start(self, run: Run) -> RunExecution:
        self.store.create_run(run)  # ActiveRunError
        execution = self._track(RunExecution(self, run))
        execution._emit(RunCreated(snapshot(run)))
        execution._emit(RunQueued(snapshot(run)))
        execution.start()
        return execution

    def _track(self, execution: RunExecution) -> RunExecution:
        self._remote.loop = asyncio.get_running_loop()
        self._by_run[execution.run.id] = execution
        self._by_thread[execution.run.thread_id] = execution
        return execution

    def _forget(self, execution: RunExecution) -> None:
        self._by_run.pop(execution.run.id, None)
        if self._by_thread.get(execution.run.thread_id) is execution:
            del self._by_thread[execution.run.thread_id]

    async def cancel_run(self, run_id: str) -> Run:
        """Cancel: the run goes cancelling → cancelled; the partial message is kept
        ``incomplete``; late tool results are ignored. A run that already ended is returned
        unchanged (a cancel racing the end of a run is not an error). A run another live
        process executes is cancelled by that process (``remote``)."""
        execution = self._by_run.get(run_id)
        if execution is not None:
            return await execution.cancel()
        run = self.store.get_run(run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            return run
        answer = await self._remote.forward(run_id, "cancel")
        run = self.store.get_run(run_id)
        if (answer is not None and answer.outcome != "gone") or not run.is_active:
            return run  # cancelled by its owner (or it ended meanwhile)
        return self._cancel_detached(run)

    def _cancel_detached(self, run: Run) -> Run:
        """A run active in the store that no task here executes (left by a crash, or waiting
        in requires_action in another process): close it in the store."""
        stamp = now()
        for step in self.store.list_steps(run.id):
            if step.status == "in_progress":
                step.status = "cancelled"
                step.cancelled_at = stamp
                for call in step.tool_calls:
                    if call.status in ("queued", "awaiting_approval", "running"):
                        call.status = "cancelled"
                self.store.update_step(step)
        for message in self.store.list_messages(run.thread_id):
            if message.run_id == run.id and message.status == "in_progress":
                message.status = "incomplete"
                message.incomplete_at = stamp
                message.incomplete_details = {"reason": "run_cancelled"}
                self.store.update_message(message)
        run.status = "cancelled"
        run.cancelled_at = stamp
        run.required_action = None
        run.retry = None
        self.store.update_run(run)
        return run

    async def approve(self, run_id: str, decisions: dict[str, bool]) -> None:
        """Approve (True) or deny (False) pending tool calls by call id (policy ``ask``).
        A denial reaches the model as the tool's output. The key ``"*"`` (ALL_CALLS) decides
        every call not named. The run resumes once every pending call is decided."""
        self._live(run_id, "approve").approve(decisions)

    async def submit_tool_outputs(self, run_id: str, outputs: list[dict[str, str]]) -> None:
        """Outputs ``[{"tool_call_id": …, "output": …}]`` for policy ``client``. The run
        resumes once every pending call has an output (several submissions may add up).

        A run another live process executes gets them there (``remote``). A run that waits
        for client outputs in the store with no task anywhere (the process that started it
        stopped) is taken up by this process, if the outputs answer every pending call at
        once."""
        if run_id not in self._by_run:
            answer = await self._remote.forward(run_id, "outputs", outputs)
            if answer is None or answer.outcome == "gone":
                self._resume(run_id, outputs)
            elif answer.outcome == "refused":
                raise RunStateError(answer.error or f"run {run_id} refused the tool outputs")
            return
        self._live(run_id, "submit tool outputs to").submit_tool_outputs(outputs)

    def _resume(self, run_id: str, outputs: list[dict[str, str]]) -> None:
        run = self.store.get_run(run_id)  # NotFoundError
        if run.status != "requires_action" or run.approval != "client":
            raise RunStateError(
                f"cannot submit tool outputs to run {run_id}: it is {run.status}"
                + (" and not executing in this process" if run.is_active else "")
            )
        if run.expires_at is not None and run.expires_at <= now():
            self.store.expire_runs()
            raise RunStateError(f"cannot submit tool outputs to run {run_id}: it expired")
        # The same checks as a live run's, before anything is written.
        from .approvals import PendingAction

        calls = [ToolCall(id=i, function=FunctionCall(name="")) for i in pending_call_ids(run)]
        check = PendingAction("outputs", calls)
        check.submit(outputs)
        if check.pending_ids:
            raise RunStateError(
                "this run waits for the outputs of every pending call at once; missing: "
                + ", ".join(check.pending_ids)
            )
        resumed = Run.from_dict(run.to_dict())
        resumed.status, resumed.required_action = "in_progress", None
        if not self.store.claim_run(resumed, "requires_action"):
            raise RunStateError(f"run {run_id} was resumed by another request meanwhile")
        execution = self._track(RunExecution(self, resumed, resume=outputs))
        execution.start()

    def _live(self, run_id: str, operation: str) -> RunExecution:
        execution = self._by_run.get(run_id)
        if execution is None:
            run = self.store.get_run(run_id)  # NotFoundError
            raise RunStateError(
                f"cannot {operation} run {run_id}: it is {run.status} and not executing in this "
                "process"
            )
        return execution

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def list_runs(self, thread_id: str) -> list[Run]:
        return self.store.list_runs(thread_id)

    def list_steps(self, run_id: str) -> list[RunStep]:
        return self.store.list_steps(run_id)

    def is_streaming(self, thread_id: str) -> bool:
        """True while a run of this thread is being executed by this process."""
        return thread_id in self._by_thread

    def executing_runs(self) -> list[str]:
        """The ids of the runs this process is executing now."""
        return list(self._by_run)

    def use_backend(self, backend: Backend, model: str) -> None:
        """Answer new runs with ``backend`` and ``model`` (a provider switch: see
        ``Session.switch_provider``, which checks that no run is executing)."""
        self.backend = backend
        self.model = model

    # -- the rest ------------------------------------------------------------------------
    def context_window(self, model: str | None = None) -> int:
        """The context window assumed for ``model`` (default: this runtime's model): what the
        server said it serves (``discover_context_window``; a smaller configured window
        wins), else the configured window, else the built-in table."""
        return self.context_window_and_source(model)[0]

    def context_window_and_source(self, model: str | None = None) -> tuple[int, str]:
        """The window and where it came from: ``server``, ``config`` or ``table``."""
        name = model or self.model
        served = self._served_windows.get(name, (None, 0.0))[0]
        configured = configured_window(name, self.context_windows)
        if served is not None:
            if configured is not None and configured < served:
                return configured, "config"
            return served, "server"
        if configured is not None:
            return configured, "config"
        return context_window(name), "table"

    async def discover_context_window(self, model: str | None = None) -> int | None:
        """Ask the model server what context it serves ``model`` with (llama.cpp's
        ``/props``, ``max_model_len`` in vLLM's ``/v1/models``…), at most once a minute.
        None when the backend cannot tell; never raises."""
        name = model or self.model
        known = self._served_windows.get(name)
        if known is not None and time.monotonic() - known[1] < SERVED_WINDOW_TTL_S:
            return known[0]
        probe = getattr(self.backend, "server_context_window", None)
        window: int | None = None
        if probe is not None:
            try:
                window = await probe(name)
            except Exception:  # a nicety: the configured or built-in window still applies
                window = None
        self._served_windows[name] = (window, time.monotonic())
        return window

    def recover_interrupted(self) -> list[str]:
        """Close runs a crashed process left active (see ``Store.recover_interrupted``).
        An app's start-up job, not done automatically: another process may be running one."""
        return self.store.recover_interrupted()

    def release_waiting(self) -> list[str]:
        """Stop executing the runs that wait for client tool outputs, leaving them as they
        are in the store (another process, or this one restarted, takes them up when the
        outputs come, until they expire). For a server shutting down. Returns their ids."""
        released = []
        for execution in list(self._by_run.values()):
            if execution.run.status == "requires_action" and execution.run.approval == "client":
                execution.detach()
                released.append(execution.run.id)
        return released

    async def aclose(self) -> None:
        """Cancel the runs this process executes, then close the backend."""
        for execution in list(self._by_run.values()):
            await execution.cancel()
        await self.backend.aclose()


def _join_waiting_text(
    first: MessageDelta, queue: asyncio.Queue[Event]
) -> tuple[MessageDelta, Event | None]:
    """``first`` with the text deltas of the same message already queued behind it, and
    the next other event taken off the queue (to be read next), if any."""
    parts = [first.data.value]
    key = (first.data.id, first.data.index)
    while not queue.empty():
        event = queue.get_nowait()
        if isinstance(event, MessageDelta) and (event.data.id, event.data.index) == key:
            parts.append(event.data.value)
            continue
        return _joined(first, parts), event
    return _joined(first, parts), None


def _joined(first: MessageDelta, parts: list[str]) -> MessageDelta:
    if len(parts) == 1:
        return first
    return MessageDelta(dataclasses.replace(first.data, value="".join(parts)))
