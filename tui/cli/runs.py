"""``runs list|show``: the run and tool-call log from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from assistant_core.numfmt import grouped
from assistant_core.objects import Run, RunStep, ToolCall
from assistant_core.store_interface import ThreadStore
from assistant_core.text import (
    call_signature,
    dumps_safe,
    for_terminal,
    format_duration,
    format_timestamp,
    one_line,
)

from .common import open_store
from .output import Output

OUTPUT_PREVIEW_CHARS = 600


def runs_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    store = open_store(flags)
    try:
        if args.action == "list":
            return list_runs(store, args, Output())
        return show_run(store, args, Output())
    finally:
        store.close()


def run_seconds(run: Run) -> float | None:
    start = run.started_at or run.created_at
    end = run.completed_at or run.failed_at or run.cancelled_at
    return float(end - start) if end and start else None


def list_runs(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    store.get_thread(args.thread)  # an unknown id is an error, not an empty list
    if args.json:
        for run in store.iter_runs(args.thread):
            out.write(dumps_safe(run.to_dict()) + "\n")
        return 0
    if not store.thread_counts(args.thread).runs:
        out.note(f"thread {args.thread} has no runs yet")
        return 0
    for run in store.iter_runs(args.thread):
        steps = store.list_steps(run.id)
        calls = sum(len(step.tool_calls) for step in steps)
        seconds = run_seconds(run)
        took = format_duration(seconds * 1000) if seconds is not None else "—"
        tokens = grouped(run.usage.total_tokens if run.usage else 0, 0)
        out.line(
            f"{run.id}  {run.status:<11} {format_timestamp(run.created_at)}  {took:>7}  "
            f"{len(steps)} steps  {calls} tool calls  {tokens} tokens  {one_line(run.model)}"
        )
    return 0


def show_run(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    run = store.get_run(args.run_id)
    steps = store.list_steps(run.id)
    status_colour = {"completed": "green", "failed": "red", "cancelled": "yellow"}.get(
        run.status, "bold"
    )
    out.line(f"{run.id} · {out.style(run.status, status_colour)}")
    seconds = run_seconds(run)
    fields = [
        ("thread", run.thread_id),
        ("model", f"{one_line(run.model)} ({run.provider or 'unknown provider'})"),
        ("approval", run.approval),
        ("created", format_timestamp(run.created_at, seconds=True)),
        ("duration", format_duration(seconds * 1000) if seconds is not None else "—"),
    ]
    if run.usage:
        fields.append(
            (
                "tokens",
                f"{grouped(run.usage.prompt_tokens, 0)} prompt"
                f" + {grouped(run.usage.completion_tokens, 0)} completion"
                f" = {grouped(run.usage.total_tokens, 0)}",
            )
        )
    if run.last_error:
        fields.append(
            (
                "last_error",
                f"{one_line(run.last_error.code)}: {one_line(run.last_error.message, None)}",
            )
        )
    if run.incomplete_details:
        fields.append(("incomplete", one_line(dumps_safe(run.incomplete_details))))
    if run.memory:
        fields.append(("memory", one_line(dumps_safe(run.memory))))
    fields += [("note", one_line(str(note.get("message", "")), None)) for note in run.notes]
    for name, value in fields:
        out.line(f"  {name:<11} {value}")
    for number, step in enumerate(steps, 1):
        show_step(out, number, step, full=args.full)
    return 0


def step_ms(step: RunStep) -> float | None:
    """A step's duration: from its tool calls' clocks (ms), else its timestamps (s)."""
    starts = [c.started_at for c in step.tool_calls if c.started_at]
    ends = [c.finished_at for c in step.tool_calls if c.finished_at]
    if starts and ends:
        return (max(ends) - min(starts)) * 1000
    end = step.completed_at or step.failed_at or step.cancelled_at
    return (end - step.created_at) * 1000 if end and end > step.created_at else None


def show_step(out: Output, number: int, step: RunStep, *, full: bool) -> None:
    ms = step_ms(step)
    took = f" · {format_duration(ms)}" if ms is not None else ""
    out.line()
    out.line(out.style(f"step {number} · {step.type} · {step.status}{took} · {step.id}", "bold"))
    if step.type == "message_creation":
        out.line(f"  message {step.message_id}")
    if step.last_error:
        error = step.last_error
        out.line(f"  error: {one_line(error.code)}: {one_line(error.message, None)}")
    for call in step.tool_calls:
        show_call(out, call, full=full)


def show_call(out: Output, call: ToolCall, *, full: bool) -> None:
    out.line()
    out.line(
        f"  {out.style(call_signature(call.function.name, call.function.arguments, None), 'cyan')}"
    )
    details = [call.status, format_duration(call.duration_ms)]
    if call.source:
        details.append(f"source {one_line(call.source)}")
    if call.cache_hit:
        details.append("cache hit")
    if call.started_at:
        details.append(f"started {format_timestamp(call.started_at, seconds=True)}")
    out.line(f"    {one_line(call.id)} · {' · '.join(details)}")
    out.line("    arguments:" + json_block(call.function.arguments))
    if call.error:
        out.line(out.style(f"    error: {one_line(call.error, None)}", "red"))
    output = call.function.output
    if output is not None:
        out.line("    output:" + json_block(output, limit=None if full else OUTPUT_PREVIEW_CHARS))


def json_block(raw: str, *, limit: int | None = None, inline_width: int = 100) -> str:
    """JSON on one line when short, else indented on the lines below; raw text (made
    safe) when it is not JSON. ``limit`` truncates, saying how much was left out."""
    try:
        value = json.loads(raw) if raw and raw.strip() else None
    except json.JSONDecodeError:
        value, text = None, for_terminal(raw)
    else:
        text = dumps_safe(value) if value is not None else (for_terminal(raw) or "(none)")
    multiline = value is not None and len(text) > inline_width
    if multiline:
        text = dumps_safe(value, indent=2)
    if limit is not None and len(text) > limit:
        hidden = len(text) - limit
        text = text[:limit] + f"… ({hidden} more characters; --full shows all)"
    if not multiline:
        return " " + text
    return "\n" + "\n".join("      " + line for line in text.split("\n"))
