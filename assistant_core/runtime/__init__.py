"""The run engine: the Assistants run loop, executed locally.

INTERFACE STUB — the run-engine issue fills this in (it may split the work across modules in
this package but keeps this public API, which the CLI and TUI are written against).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Literal

from ..backends.base import Backend
from ..events import Event
from ..objects import Message, Run, RunStep, Thread, TruncationStrategy
from ..store import Store
from ..tools.registry import ToolRegistry

ApprovalPolicy = Literal["auto", "ask", "client"]


class Runtime:
    def __init__(
        self,
        store: Store,
        backend: Backend,
        tools: ToolRegistry,
        *,
        model: str,
        approval: ApprovalPolicy = "auto",
        max_turns: int = 10,
        context_windows: dict[str, int] | None = None,
        flush_interval: float = 1.0,
        max_retries: int = 3,
    ) -> None:
        self.store = store
        self.backend = backend
        self.tools = tools
        self.model = model
        self.approval = approval  # may be changed at any time; applies to new runs

    def create_thread(self, title: str = "") -> Thread: ...

    async def add_message(self, thread_id: str, text: str) -> Message:
        """Append a user message. Refused (ActiveRunError) while the thread has an active run."""
        ...

    def stream_run(
        self,
        thread_id: str,
        *,
        assistant_id: str | None = None,
        approval: ApprovalPolicy | None = None,
        instructions: str | None = None,
        truncation_strategy: TruncationStrategy | None = None,
        max_prompt_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        parallel_tool_calls: bool = True,
    ) -> AsyncIterator[Event]:
        """Create a run on the thread and stream its events, in the Assistants API order,
        ending with ``done``. Raises ActiveRunError / NotFoundError on first iteration.

        In ``requires_action`` the iterator yields ``thread.run.requires_action`` and then
        waits (still open) until ``approve()`` / ``submit_tool_outputs()`` / ``cancel_run()``.
        """
        ...

    def ask(self, thread_id: str, text: str, **run_options: Any) -> AsyncIterator[Event]:
        """add_message + stream_run in one call."""
        ...

    async def cancel_run(self, run_id: str) -> Run:
        """Cancel: the run goes cancelling → cancelled; the partial message is kept
        ``incomplete``; late tool results are ignored."""
        ...

    async def approve(self, run_id: str, decisions: dict[str, bool]) -> None:
        """Approve (True) or deny (False) pending tool calls by call id (policy ``ask``).
        A denial reaches the model as the tool's output."""
        ...

    async def submit_tool_outputs(self, run_id: str, outputs: list[dict[str, str]]) -> None:
        """Outputs ``[{"tool_call_id": …, "output": …}]`` for policy ``client``."""
        ...

    def get_run(self, run_id: str) -> Run: ...
    def list_runs(self, thread_id: str) -> list[Run]: ...
    def list_steps(self, run_id: str) -> list[RunStep]: ...
    def is_streaming(self, thread_id: str) -> bool:
        """True while a run of this thread is being executed by this process."""
        ...
