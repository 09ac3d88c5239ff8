"""Export a thread as JSON (complete, reads back) or Markdown (for people), in pieces.

Both formats are written as a stream of text chunks from a :class:`ThreadSource`: a thread
in the store (:class:`StoredThread`, read a page at a time, so a thread of any length
exports in bounded memory) or one held in memory (:class:`ThreadExport`, e.g. read back
from a JSON export).

The JSON export holds every message, run, step and tool call in the Assistants wire form
(``to_dict``), so ``read_json_export`` rebuilds objects equal to the stored ones; its text
is exact, with the characters of the text policy written as ``\\u`` escapes.

The Markdown export follows the text policy's Markdown rule (``assistant_core.text``): text
from users, tools and the web is escaped so that it renders as itself; the assistant's
answers are Markdown by intent and are rebuilt from their tokens so that they are inert in
any CommonMark/GFM renderer (``assistant_core.inert_markdown``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .errors import AssistantError
from .inert_markdown import inert_markdown
from .objects import Message, Run, RunStep, Thread, ToolCall, now
from .text import (
    call_signature,
    call_summary,
    code_span,
    dumps_safe,
    escape_markdown,
    format_timestamp,
    one_line,
)

if TYPE_CHECKING:
    from .store_interface import ThreadStore

EXPORT_FORMAT = "investor-assistant.thread"
EXPORT_VERSION = 1


class ExportFormatError(AssistantError):
    """A file that is not a thread export this version can read."""


class ThreadSource(Protocol):
    """One thread's objects, in order, as an export reads them."""

    thread: Thread
    exported_at: int

    def counts(self) -> tuple[int, int, int]:
        """Messages, runs, tool calls."""
        ...

    def iter_messages(self) -> Iterable[Message]: ...
    def iter_runs(self) -> Iterable[Run]: ...
    def iter_steps(self) -> Iterable[RunStep]:
        """Of all runs, each run's in order."""
        ...

    def unanswered_runs(self) -> Iterable[Run]:
        """Runs no message belongs to, oldest first."""
        ...

    def get_run(self, run_id: str) -> Run | None: ...
    def tool_calls(self, run_id: str) -> list[ToolCall]: ...


@dataclass
class ThreadExport:
    """A thread held in memory (read back from a JSON export, or built by a test)."""

    thread: Thread
    messages: list[Message]
    runs: list[Run]
    steps: list[RunStep]  # of all runs, each run's in order
    exported_at: int = field(default_factory=now)

    def steps_of(self, run_id: str) -> list[RunStep]:
        return [s for s in self.steps if s.run_id == run_id]

    def tool_calls(self, run_id: str | None = None) -> list[ToolCall]:
        return [
            call
            for step in self.steps
            if run_id is None or step.run_id == run_id
            for call in step.tool_calls
        ]

    def counts(self) -> tuple[int, int, int]:
        return len(self.messages), len(self.runs), len(self.tool_calls())

    def iter_messages(self) -> list[Message]:
        return self.messages

    def iter_runs(self) -> list[Run]:
        return self.runs

    def iter_steps(self) -> list[RunStep]:
        return self.steps

    def unanswered_runs(self) -> list[Run]:
        answered = {m.run_id for m in self.messages if m.run_id}
        return [run for run in self.runs if run.id not in answered]

    def get_run(self, run_id: str) -> Run | None:
        return next((run for run in self.runs if run.id == run_id), None)


class StoredThread:
    """A thread in the store, read as it is exported: a page of messages or runs at a time."""

    def __init__(self, store: ThreadStore, thread_id: str) -> None:
        self.store = store
        self.thread = store.get_thread(thread_id)  # NotFoundError for an unknown id
        self.exported_at = now()

    def counts(self) -> tuple[int, int, int]:
        counts = self.store.thread_counts(self.thread.id)
        return counts.messages, counts.runs, counts.tool_calls

    def iter_messages(self) -> Iterator[Message]:
        return self.store.iter_messages(self.thread.id)

    def iter_runs(self) -> Iterator[Run]:
        return self.store.iter_runs(self.thread.id)

    def iter_steps(self) -> Iterator[RunStep]:
        for run in self.store.iter_runs(self.thread.id):
            yield from self.store.list_steps(run.id)

    def unanswered_runs(self) -> Iterator[Run]:
        return self.store.iter_runs(self.thread.id, unanswered=True)

    def get_run(self, run_id: str) -> Run | None:
        try:
            return self.store.get_run(run_id)
        except AssistantError:
            return None

    def tool_calls(self, run_id: str) -> list[ToolCall]:
        return [record.call for record in self.store.list_tool_calls(run_id=run_id)]


def collect_thread(store: ThreadStore, thread_id: str) -> ThreadExport:
    """Everything stored about one thread, in memory (NotFoundError for an unknown id).
    Exports stream from :class:`StoredThread` instead."""
    thread = store.get_thread(thread_id)
    runs = store.list_runs(thread_id)
    return ThreadExport(
        thread=thread,
        messages=store.list_messages(thread_id),
        runs=runs,
        steps=[step for run in runs for step in store.list_steps(run.id)],
    )


# -- JSON ----------------------------------------------------------------------------------
def json_chunks(source: ThreadSource) -> Iterator[str]:
    """The JSON export, in pieces: one document, its header keys on their own lines and
    each message, run and step as one line (compact: a pretty-printed 50,000-message
    thread took four times as long to write and made a file twice as large)."""
    head = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": source.exported_at,
        "thread": source.thread.to_dict(),
    }
    yield "{\n" + ",\n".join(f"  {dumps_safe(k)}: {dumps_safe(v)}" for k, v in head.items())
    lists: tuple[tuple[str, Iterable[Message | Run | RunStep]], ...] = (
        ("messages", source.iter_messages()),
        ("runs", source.iter_runs()),
        ("steps", source.iter_steps()),
    )
    for name, items in lists:
        yield f',\n  "{name}": ['
        empty = True
        for item in items:
            yield ("\n    " if empty else ",\n    ") + dumps_safe(item.to_dict())
            empty = False
        yield "]" if empty else "\n  ]"
    yield "\n}\n"


def to_json_text(source: ThreadSource) -> str:
    return "".join(json_chunks(source))


def read_json_export(text: str | bytes) -> ThreadExport:
    """Read a JSON export back into objects. Raises ExportFormatError for anything else."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportFormatError(f"not a JSON thread export: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise ExportFormatError(f'not a thread export (expected "format": "{EXPORT_FORMAT}")')
    version = doc.get("version")
    if not isinstance(version, int) or version > EXPORT_VERSION:
        raise ExportFormatError(
            f"thread export version {version!r} is newer than this app reads "
            f"({EXPORT_VERSION}); upgrade investor-assistant"
        )
    try:
        return ThreadExport(
            thread=Thread.from_dict(doc["thread"]),
            messages=[Message.from_dict(m) for m in doc["messages"]],
            runs=[Run.from_dict(r) for r in doc["runs"]],
            steps=[RunStep.from_dict(s) for s in doc["steps"]],
            exported_at=int(doc.get("exported_at") or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ExportFormatError(f"damaged thread export: {type(exc).__name__}: {exc}") from None


# -- Markdown ------------------------------------------------------------------------------
def markdown_chunks(source: ThreadSource) -> Iterator[str]:
    """The Markdown export, in pieces (one per message or run), ending with one newline."""
    blank_lines = 0
    started = False
    for line in _markdown_lines(source):
        if not line:
            blank_lines += 1  # held back: the export ends without blank lines
            continue
        yield ("\n" * blank_lines if started else "") + line + "\n"
        blank_lines, started = 0, True


def to_markdown(source: ThreadSource) -> str:
    return "".join(markdown_chunks(source))


def _markdown_lines(source: ThreadSource) -> Iterator[str]:
    """The export's lines; an answer comes as one multi-line piece."""
    thread = source.thread
    messages, runs, calls = source.counts()
    yield from [
        f"# {escape_markdown(one_line(thread.title or 'Untitled thread', None))}",
        "",
        f"- Thread: {code_span(thread.id)}",
        f"- Created: {format_timestamp(thread.created_at)}",
        f"- Last activity: {format_timestamp(thread.updated_at or thread.created_at)}",
        f"- Exported: {format_timestamp(source.exported_at)}",
        f"- Messages: {messages} · Runs: {runs} · Tool calls: {calls}",
        "",
    ]
    if thread.summary:
        summary = escape_markdown(one_line(thread.summary, None))
        yield from ["> **Summary of earlier turns:** " + summary, ""]

    # A run that never wrote a message (failed or cancelled before answering) goes after
    # the last message created before it.
    unanswered = iter(source.unanswered_runs())
    waiting = next(unanswered, None)
    for message in source.iter_messages():
        while waiting is not None and waiting.created_at < message.created_at:
            yield from _unanswered_run_lines(source, waiting)
            waiting = next(unanswered, None)
        yield from _message_lines(source, message)
    while waiting is not None:
        yield from _unanswered_run_lines(source, waiting)
        waiting = next(unanswered, None)


def _message_lines(source: ThreadSource, message: Message) -> Iterator[str]:
    who = "You" if message.role == "user" else "Assistant"
    status = "" if message.status == "completed" else f" ({message.status})"
    yield from ["---", "", f"## {who} · {format_timestamp(message.created_at)}{status}", ""]
    if message.role == "user":
        yield from [escape_markdown(message.text), ""]
        return
    run = source.get_run(message.run_id) if message.run_id else None
    if run is not None:
        yield from _run_lines(source, run)
    yield from [inert_markdown(message.text), ""]


def _unanswered_run_lines(source: ThreadSource, run: Run) -> Iterator[str]:
    yield from ["---", "", "### Run without an answer", ""]
    yield from _run_lines(source, run)


def _run_lines(source: ThreadSource, run: Run) -> Iterator[str]:
    yield f"*Run {code_span(run.id)} · {run.status} · {escape_markdown(one_line(run.model))}*"
    yield ""
    calls = source.tool_calls(run.id)
    for call in calls:
        signature = call_signature(call.function.name, call.function.arguments, None)
        line = f"- {code_span(signature)} → {escape_markdown(call_summary(call))}"
        if call.error:
            line += f" — error: {escape_markdown(one_line(call.error, 300))}"
        yield line
    if calls:
        yield ""
    if run.last_error:
        yield (
            f"> **{escape_markdown(one_line(run.last_error.code))}:** "
            f"{escape_markdown(one_line(run.last_error.message, None))}"
        )
        yield ""
    if run.incomplete_details:
        reason = str(run.incomplete_details.get("reason", ""))
        yield from [f"> **incomplete:** {escape_markdown(one_line(reason, None))}", ""]
    for note in run.notes:  # what the app did about the model's behaviour
        message = escape_markdown(one_line(str(note.get("message", "")), None))
        yield from [f"> **note:** {message}", ""]
