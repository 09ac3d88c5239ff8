"""Export a thread as JSON (complete, reads back) or Markdown (for people).

The JSON export holds every message, run, step and tool call in the Assistants wire form
(``to_dict``), so ``read_json_export`` rebuilds objects equal to the stored ones.

The Markdown export treats text as data: titles, user messages, tool arguments and errors
are escaped so that markup in them renders literally; the assistant's answers are Markdown
by intent and are kept as such, with raw HTML neutralised and unbalanced code fences closed
so one answer cannot swallow the rest of the file. Control characters and terminal escapes
are replaced by visible symbols everywhere.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import AssistantError
from .objects import Message, Run, RunStep, Thread, ToolCall, now
from .text import one_line as text_one_line

EXPORT_FORMAT = "investor-assistant.thread"
EXPORT_VERSION = 1


class ExportFormatError(AssistantError):
    """A file that is not a thread export this version can read."""


class _ThreadSource(Protocol):
    def get_thread(self, thread_id: str) -> Thread: ...
    def list_messages(self, thread_id: str) -> list[Message]: ...
    def list_runs(self, thread_id: str) -> list[Run]: ...
    def list_steps(self, run_id: str) -> list[RunStep]: ...


@dataclass
class ThreadExport:
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


def collect_thread(store: _ThreadSource, thread_id: str) -> ThreadExport:
    """Everything stored about one thread (NotFoundError for an unknown id)."""
    thread = store.get_thread(thread_id)
    messages = store.list_messages(thread_id)
    runs = store.list_runs(thread_id)
    steps = [step for run in runs for step in store.list_steps(run.id)]
    return ThreadExport(thread=thread, messages=messages, runs=runs, steps=steps)


# -- JSON ----------------------------------------------------------------------------------
def to_json_document(export: ThreadExport) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": export.exported_at,
        "thread": export.thread.to_dict(),
        "messages": [m.to_dict() for m in export.messages],
        "runs": [r.to_dict() for r in export.runs],
        "steps": [s.to_dict() for s in export.steps],
    }


# Characters JSON may carry raw but a terminal could act on (C1 controls such as the
# one-character CSI, bidi overrides) or a JavaScript reader chokes on (U+2028/9). They can
# only occur inside JSON strings, where a \u escape means the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def dumps_safe(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that keeps non-ASCII text readable but no control character raw."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def to_json_text(export: ThreadExport) -> str:
    return dumps_safe(to_json_document(export), indent=2) + "\n"


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


# -- text safety ---------------------------------------------------------------------------
def _control_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if chr(code) not in "\n\t":
            table[code] = chr(0x2400 + code)  # ␛ for ESC, ␇ for BEL, …: visible, inert
    table[0x7F] = "\u2421"  # ␡
    for code in range(0x80, 0xA0):  # C1 controls (0x9b is a one-byte CSI)
        table[code] = f"\\x{code:02x}"
    # Bidirectional overrides and isolates can make text read differently than it is.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = f"<U+{code:04X}>"
    return table


_CONTROL = _control_table()


def visible_controls(text: str) -> str:
    """Replace control characters (ANSI escapes, BEL, CR, C1, bidi overrides) by visible,
    inert symbols; newlines and tabs stay. CRLF becomes LF first."""
    return text.replace("\r\n", "\n").translate(_CONTROL)


def one_line(text: str, limit: int | None = None) -> str:
    """``visible_controls`` folded onto one line (for titles, arguments, list rows)."""
    visible = visible_controls(text)
    return text_one_line(visible, max(limit, 1) if limit is not None else len(visible) + 1)


_MD_ESCAPE = re.compile(r"([\\`*_\[\]<>#|~&!])")
_MD_LINE_START = re.compile(r"^([+\-=]|\d+[.)])")


def escape_markdown(text: str) -> str:
    """Text that renders as itself in CommonMark/GFM: no emphasis, links, HTML, headings,
    lists, tables or code from it. Line breaks are kept as hard breaks."""
    lines = visible_controls(text).split("\n")
    out: list[str] = []
    for line in lines:
        # Leading blanks would make an indented code block (and render as nothing anyway).
        line = _MD_ESCAPE.sub(r"\\\1", line.lstrip(" \t"))
        line = _MD_LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], line)
        out.append(line.rstrip(" \t"))
    # A backslash at the end of a line is a hard line break (the text's own newline).
    result = []
    for i, line in enumerate(out):
        nxt = out[i + 1] if i + 1 < len(out) else None
        result.append(line + "\\" if line and nxt else line)
    return "\n".join(result)


def code_span(text: str) -> str:
    """An inline code span holding ``text`` literally, whatever backticks it contains."""
    flat = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


# A backtick fence's info string may not contain a backtick (CommonMark): "```x`" opens no
# code block, so the HTML after it must still be neutralised.
_FENCE = re.compile(r"^ {0,3}(`{3,}(?!.*`)|~{3,})")
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# A viewer fetches an answer's images when the export is opened, and a prompt-injected
# model can put data in the URL: show them as text instead.
_IMAGE_START = re.compile(r"!\[")


def safe_markdown(text: str) -> str:
    """An answer's own Markdown, kept, but unable to inject HTML or leave a fence open."""
    lines = visible_controls(text).split("\n")
    fence: str | None = None
    out: list[str] = []
    for line in lines:
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker
            elif (
                marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line.strip()[len(marker) :].strip()  # a closing fence has no info string
            ):
                fence = None
            out.append(line)
            continue
        out.append(line if fence else _IMAGE_START.sub(r"!\\[", _HTML_START.sub(r"\\<", line)))
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


# -- Markdown ------------------------------------------------------------------------------
def format_timestamp(ts: float | None, *, seconds: bool = False) -> str:
    if not ts:
        return "—"
    return time.strftime(
        "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC", time.gmtime(ts)
    )


def format_duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return f"{int(ms // 60_000)} min {ms % 60_000 / 1000:.0f} s"


def call_signature(name: str, arguments: str, limit: int | None = 120) -> str:
    """``get_ticker(company_name="Apple")`` from a call's raw JSON arguments."""
    try:
        args = json.loads(arguments) if arguments and arguments.strip() else {}
    except json.JSONDecodeError:
        args = None
    if isinstance(args, dict):
        inner = ", ".join(
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in args.items()
        )
    else:
        inner = arguments  # not JSON: show what the model sent
    return one_line(f"{name}({inner})", limit)


def call_summary(call: ToolCall) -> str:
    """status · duration · source (· cached · recovered from text · repeat), for one-line
    displays."""
    parts: list[str] = [call.status]
    if call.duration_ms is not None:
        parts.append(format_duration(call.duration_ms))
    if call.source:
        parts.append(call.source)
    if call.cache_hit:
        parts.append("cached")
    if call.recovered:
        parts.append("recovered from text")
    if call.repeat_of:
        parts.append("repeat, not run again")
    return " · ".join(parts)


def to_markdown(export: ThreadExport) -> str:
    thread = export.thread
    title = thread.title or "Untitled thread"
    calls_total = len(export.tool_calls())
    out = [
        f"# {escape_markdown(one_line(title))}",
        "",
        f"- Thread: {code_span(thread.id)}",
        f"- Created: {format_timestamp(thread.created_at)}",
        f"- Last activity: {format_timestamp(thread.updated_at or thread.created_at)}",
        f"- Exported: {format_timestamp(export.exported_at)}",
        f"- Messages: {len(export.messages)} · Runs: {len(export.runs)} · Tool calls: {calls_total}",
        "",
    ]
    if thread.summary:
        out += ["> **Summary of earlier turns:** " + escape_markdown(one_line(thread.summary)), ""]

    runs_by_id = {run.id: run for run in export.runs}
    answered = {m.run_id for m in export.messages if m.run_id}
    # A run that never wrote a message (failed or cancelled before answering) goes after
    # the last message created before it.
    orphans: dict[int, list[Run]] = {}
    for run in export.runs:
        if run.id not in answered:
            at = max(
                (i for i, m in enumerate(export.messages) if m.created_at <= run.created_at),
                default=-1,
            )
            orphans.setdefault(at, []).append(run)

    def emit_run(run: Run) -> None:
        out.append(f"*Run {code_span(run.id)} · {run.status} · {escape_markdown(run.model)}*")
        out.append("")
        for call in export.tool_calls(run.id):
            signature = call_signature(call.function.name, call.function.arguments, None)
            line = f"- {code_span(signature)} → {escape_markdown(call_summary(call))}"
            if call.error:
                line += f" — error: {escape_markdown(one_line(call.error, 300))}"
            out.append(line)
        if export.tool_calls(run.id):
            out.append("")
        if run.last_error:
            out.extend(
                [
                    f"> **{escape_markdown(run.last_error.code)}:** "
                    f"{escape_markdown(one_line(run.last_error.message))}",
                    "",
                ]
            )
        if run.incomplete_details:
            reason = str(run.incomplete_details.get("reason", ""))
            out.extend([f"> **incomplete:** {escape_markdown(one_line(reason))}", ""])

    def emit_orphans(at: int) -> None:
        for run in orphans.get(at, []):
            out.extend(["---", "", "### Run without an answer", ""])
            emit_run(run)

    emit_orphans(-1)
    for index, message in enumerate(export.messages):
        who = "You" if message.role == "user" else "Assistant"
        status = "" if message.status == "completed" else f" ({message.status})"
        out += ["---", "", f"## {who} · {format_timestamp(message.created_at)}{status}", ""]
        answer_run = runs_by_id.get(message.run_id or "")
        if message.role == "assistant" and answer_run is not None:
            emit_run(answer_run)
        if message.role == "user":
            out += [escape_markdown(message.text), ""]
        else:
            out += [safe_markdown(message.text), ""]
        emit_orphans(index)
    return "\n".join(out).rstrip("\n") + "\n"
