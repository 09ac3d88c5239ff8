"""Persistence of assistants, threads, messages, runs, steps and tool calls (SQLite).

INTERFACE STUB — the store issue fills in the bodies; signatures are the contract the
runtime, CLI and TUI are written against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .objects import Assistant, Message, Run, RunStep, Thread, ToolCall

DEFAULT_ASSISTANT_NAME = "Investor Assistant"
DEFAULT_INSTRUCTIONS = (
    "You are Investor Assistant. You help users research publicly traded companies and "
    "decide whether to buy a stock. Use the tools to look up tickers, financial statements, "
    "price performance, quotes, news and analyst views; base every figure you give on tool "
    "output and say where it came from. Be balanced: cover strengths and risks, and say "
    "that this is not financial advice."
)
INTERRUPTED_MESSAGE = "the app stopped before this run finished"


@dataclass
class ToolCallRecord:
    """A tool call with where it happened, for the tool-call log / inspector."""

    call: ToolCall
    step_id: str
    run_id: str
    thread_id: str
    created_at: int


class Store:
    """One SQLite database. Safe to share between threads of one process (internal lock)
    and between processes (WAL + busy timeout)."""

    path: Path

    def __init__(self, path: str | Path | None = None) -> None:
        """Open (creating with mode 0600 and migrating) the database at ``path``, or the
        default under the user data dir. Raises StoreError for a non-SQLite file or one
        from a newer schema version, without touching it."""
        raise NotImplementedError

    def close(self) -> None: ...

    # -- assistants ----------------------------------------------------------------------
    def create_assistant(
        self,
        model: str,
        *,
        name: str | None = None,
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Assistant: ...
    def get_assistant(self, assistant_id: str) -> Assistant: ...  # NotFoundError
    def update_assistant(self, assistant: Assistant) -> Assistant: ...
    def delete_assistant(self, assistant_id: str) -> None: ...
    def list_assistants(self) -> list[Assistant]: ...
    def default_assistant(self) -> Assistant:
        """The seeded "Investor Assistant" (created on first use)."""
        ...

    # -- threads -------------------------------------------------------------------------
    def create_thread(self, title: str = "", metadata: dict[str, str] | None = None) -> Thread: ...
    def get_thread(self, thread_id: str) -> Thread: ...
    def rename_thread(self, thread_id: str, title: str) -> Thread: ...
    def set_thread_summary(self, thread_id: str, summary: str) -> None: ...
    def delete_thread(self, thread_id: str) -> None:
        """Removes its messages, runs, steps and tool calls too."""
        ...
    def list_threads(self, filter: str | None = None, limit: int | None = None) -> list[Thread]:
        """Most recent activity first; ``filter`` matches titles and message text."""
        ...

    # -- messages ------------------------------------------------------------------------
    def add_message(
        self,
        thread_id: str,
        role: str,
        text: str,
        *,
        status: str = "completed",
        run_id: str | None = None,
        assistant_id: str | None = None,
    ) -> Message:
        """Append; also bumps the thread's last activity (and auto-titles an untitled
        thread from its first user message)."""
        ...
    def update_message(self, message: Message) -> None:
        """Persist text/status changes (status transitions are checked)."""
        ...
    def get_message(self, message_id: str) -> Message: ...
    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | None = None,
        before: str | None = None,
    ) -> list[Message]:
        """Oldest first. With ``limit``: the latest ``limit`` messages (before the message
        id ``before`` when given) — what a chat view loads first, and on scroll-up."""
        ...
    def count_messages(self, thread_id: str) -> int: ...

    # -- runs and steps ------------------------------------------------------------------
    def create_run(self, run: Run) -> Run:
        """Refuses (ActiveRunError) when the thread already has an active run."""
        ...
    def update_run(self, run: Run) -> None:
        """Persist; refuses an invalid status transition (InvalidTransition), changing nothing."""
        ...
    def get_run(self, run_id: str) -> Run: ...
    def list_runs(self, thread_id: str) -> list[Run]: ...  # oldest first
    def active_run(self, thread_id: str) -> Run | None: ...
    def create_step(self, step: RunStep) -> RunStep: ...
    def update_step(self, step: RunStep) -> None: ...  # includes its tool calls
    def get_step(self, step_id: str) -> RunStep: ...
    def list_steps(self, run_id: str) -> list[RunStep]: ...  # in order
    def list_tool_calls(
        self, *, thread_id: str | None = None, run_id: str | None = None
    ) -> list[ToolCallRecord]: ...

    # -- recovery ------------------------------------------------------------------------
    def recover_interrupted(self, message: str = INTERRUPTED_MESSAGE) -> list[str]:
        """Close runs left queued/in_progress/requires_action/cancelling by a crash as
        ``failed`` (last_error code ``app_stopped``), their open steps ``failed`` and their
        in-progress messages ``incomplete``. Returns the run ids closed."""
        ...
