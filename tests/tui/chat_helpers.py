"""Test and benchmark helpers for the chat widgets: a one-widget host App, a Store filled
with objects directly (no runtime), and runtime-style events built by hand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App, ComposeResult

from assistant_core.events import (
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageDeltaData,
    MessageIncomplete,
    RunFailed,
    RunRequiresAction,
    RunStepDelta,
    StepCompleted,
    StepCreated,
    StepDelta,
    call_progress,
)
from assistant_core.objects import (
    FunctionCall,
    LastError,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    new_id,
    now,
    required_action_for,
)
from assistant_core.store import Store
from tui.widgets import ChatView, ToolCallCard


class ChatHost(App[None]):
    """A ChatView alone on a screen, recording the Decisions its cards post."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.decisions: list[ToolCallCard.Decision] = []

    def compose(self) -> ComposeResult:
        yield ChatView(self.store, id="chat")

    @property
    def chat(self) -> ChatView:
        return self.query_one(ChatView)

    def on_tool_call_card_decision(self, message: ToolCallCard.Decision) -> None:
        self.decisions.append(message)


def make_store(directory: Path) -> Store:
    return Store(directory / "chat.db")


def new_thread(directory: Path) -> ThreadBuilder:
    """An empty thread in a new store under ``directory``."""
    return ThreadBuilder(make_store(directory))


@asynccontextmanager
async def chat_showing(
    thread: ThreadBuilder, size: tuple[int, int] = (100, 40)
) -> AsyncIterator[tuple[ChatHost, Any, EventFactory]]:
    """A running ChatHost showing ``thread``: the app, its pilot, and an EventFactory for
    the thread's live events."""
    app = ChatHost(thread.store)
    async with app.run_test(size=size) as pilot:
        await app.chat.show_thread(thread.id)
        await pilot.pause()
        yield app, pilot, EventFactory(thread.id)


def screen_text(app: App[Any]) -> str:
    """The characters on screen, line by line."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def screen_output(app: App[Any]) -> str:
    """What the driver would write for a full repaint: text plus Textual's own escapes."""
    update = app.screen._compositor.render_update(full=True)
    console = Console(
        force_terminal=True,
        color_system="truecolor",
        width=app.size.width,
        legacy_windows=False,
        record=False,
    )
    with console.capture() as capture:
        console.print(update, end="")
    return capture.get()


PRICES: dict[str, Any] = {
    "kind": "prices",
    "series": [
        {
            "symbol": "AAPL",
            "dates": [f"2024-01-{d:02d}" for d in range(1, 31)],
            "close": [180 + (d % 7) - d * 0.3 for d in range(30)],
            "high": [182 + (d % 7) - d * 0.3 for d in range(30)],
            "low": [178 + (d % 7) - d * 0.3 for d in range(30)],
            "volume": [5e7 + d * 1e6 for d in range(30)],
        }
    ],
    "stats": {},
}
TABLE: dict[str, Any] = {
    "kind": "table",
    "title": "AAPL income statement",
    "columns": ["2024", "2023", "2022"],
    "rows": [
        ["Total Revenue", 391035000000, 383285000000, 394328000000],
        ["Net Income", 93736000000, -96995000000, None],
    ],
    "unit": "USD",
}
LIST: dict[str, Any] = {
    "kind": "list",
    "title": "News",
    "items": [{"title": "Apple ships", "subtitle": "Reuters", "url": "https://example.com/a"}],
}
KV: dict[str, Any] = {
    "kind": "kv",
    "title": "Quote",
    "items": [["Price", 189.5], ["Market cap", 2.9e12]],
}


def make_call(
    name: str = "get_daily_stock_performance",
    arguments: dict[str, Any] | None = None,
    *,
    status: str = "completed",
    display: dict[str, Any] | None = None,
    output: Any = None,
    source: str | None = "yahoo",
    error: str | None = None,
    duration_ms: float | None = 120.0,
) -> ToolCall:
    return ToolCall(
        id=new_id("call"),
        function=FunctionCall(
            name=name,
            arguments=json.dumps(arguments if arguments is not None else {"ticker": "AAPL"}),
            output=None
            if output is None
            else (output if isinstance(output, str) else json.dumps(output)),
        ),
        status=status,  # type: ignore[arg-type]
        display=display,
        source=source,
        error=error,
        is_error=error is not None,
        duration_ms=duration_ms,
    )


class ThreadBuilder:
    """Writes a thread's history straight into the store, as the runtime would leave it."""

    def __init__(self, store: Store, title: str = "test") -> None:
        self.store = store
        self.assistant = store.default_assistant()
        self.thread: Thread = store.create_thread(title)

    @property
    def id(self) -> str:
        return self.thread.id

    def run(
        self,
        *,
        status: str = "completed",
        last_error: LastError | None = None,
        approval: str = "auto",
    ) -> Run:
        run = Run(
            id=new_id("run"),
            created_at=now(),
            thread_id=self.id,
            assistant_id=self.assistant.id,
            model="test-model",
            status="queued",
            approval=approval,
        )
        self.store.create_run(run)
        path = {
            "completed": ["in_progress", "completed"],
            "failed": ["in_progress", "failed"],
            "cancelled": ["in_progress", "cancelling", "cancelled"],
            "in_progress": ["in_progress"],
            "requires_action": ["in_progress", "requires_action"],
        }[status]
        for step in path:
            run.status = step  # type: ignore[assignment]
            if step == "failed":
                run.last_error = last_error
            self.store.update_run(run)
        return run

    def tool_step(self, run: Run, calls: list[ToolCall], *, status: str = "completed") -> RunStep:
        step = RunStep(
            id=new_id("step"),
            created_at=now(),
            run_id=run.id,
            thread_id=self.id,
            assistant_id=self.assistant.id,
            type="tool_calls",
            tool_calls=calls,
        )
        self.store.create_step(step)
        if status != "in_progress":
            step.status = status  # type: ignore[assignment]
            self.store.update_step(step)
        return step

    def answer(self, run: Run, text: str, *, status: str = "completed") -> Message:
        message = self.store.add_message(
            self.id, "assistant", text, status=status, run_id=run.id, assistant_id=self.assistant.id
        )
        step = RunStep(
            id=new_id("step"),
            created_at=now(),
            run_id=run.id,
            thread_id=self.id,
            assistant_id=self.assistant.id,
            type="message_creation",
            message_id=message.id,
            status="completed",
        )
        self.store.create_step(step)
        return message

    def user(self, text: str) -> Message:
        return self.store.add_message(self.id, "user", text)

    def turn(self, question: str, answer: str, calls: list[ToolCall] | None = None) -> Run:
        self.user(question)
        run = self.run()
        if calls:
            self.tool_step(run, calls)
        self.answer(run, answer)
        return run


class EventFactory:
    """Runtime events for one thread, built by hand in the order the runtime emits them."""

    def __init__(self, thread_id: str, assistant_id: str = "asst_test") -> None:
        self.thread_id = thread_id
        self.assistant_id = assistant_id
        self.run = Run(
            id=new_id("run"),
            created_at=now(),
            thread_id=thread_id,
            assistant_id=assistant_id,
            model="test-model",
            status="in_progress",
        )

    def message(self, text: str = "", status: str = "in_progress") -> Message:
        return Message(
            id=new_id("message"),
            created_at=now(),
            thread_id=self.thread_id,
            role="assistant",
            status=status,
            run_id=self.run.id,  # type: ignore[arg-type]
            assistant_id=self.assistant_id,
            content=[]
            if not text
            else [{"type": "text", "text": {"value": text, "annotations": []}}],
        )

    def created(self, message: Message) -> MessageCreated:
        return MessageCreated(message)

    def delta(self, message: Message, value: str) -> MessageDelta:
        return MessageDelta(MessageDeltaData(message.id, self.run.id, self.thread_id, value))

    def completed(self, message: Message, text: str) -> MessageCompleted:
        done = Message.from_dict({**message.to_dict(), "status": "completed"})
        done.set_text(text)
        return MessageCompleted(done)

    def incomplete(
        self, message: Message, text: str, reason: str = "run_cancelled"
    ) -> MessageIncomplete:
        done = Message.from_dict(
            {**message.to_dict(), "status": "incomplete", "incomplete_details": {"reason": reason}}
        )
        done.set_text(text)
        return MessageIncomplete(done)

    def step(self, calls: list[ToolCall], status: str = "in_progress") -> RunStep:
        return RunStep(
            id=new_id("step"),
            created_at=now(),
            run_id=self.run.id,
            thread_id=self.thread_id,
            assistant_id=self.assistant_id,
            type="tool_calls",
            status=status,
            tool_calls=calls,
        )  # type: ignore[arg-type]

    def step_created(self, step: RunStep) -> StepCreated:
        return StepCreated(step)

    def step_completed(self, step: RunStep) -> StepCompleted:
        return StepCompleted(step)

    def step_delta(self, step: RunStep, entries: list[dict[str, Any]]) -> StepDelta:
        return StepDelta(RunStepDelta(step.id, self.run.id, self.thread_id, entries))

    def call_progress(self, step: RunStep, call: ToolCall) -> StepDelta:
        return self.step_delta(step, [call_progress(step.tool_calls.index(call), call)])

    def requires_action(self, calls: list[ToolCall], approval: str = "ask") -> RunRequiresAction:
        run = Run.from_dict(
            {**self.run.to_dict(), "status": "requires_action", "approval": approval}
        )
        run.required_action = required_action_for(calls)
        return RunRequiresAction(run)

    def failed(self, code: str, message: str) -> RunFailed:
        run = Run.from_dict({**self.run.to_dict(), "status": "failed"})
        run.last_error = LastError(code, message)
        return RunFailed(run)


async def wait_for(
    pilot: Any, predicate: Callable[[], Any], timeout: float = 15.0, step: float = 0.02
) -> None:
    """Let the app run until ``predicate()`` is true (the machine may be busy: no fixed
    sleeps); fails the test after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await pilot.pause(step)
