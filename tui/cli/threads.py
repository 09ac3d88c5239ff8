"""``threads list|show|export|rename|delete``."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from assistant_core.errors import ActiveRunError, AssistantError
from assistant_core.export import StoredThread, json_chunks, markdown_chunks
from assistant_core.store_interface import ThreadStore
from assistant_core.text import (
    call_signature,
    call_summary,
    dumps_safe,
    for_terminal,
    format_timestamp,
    one_line,
)

from .common import open_store, write_private
from .output import Output

# Exports reach stdout in pieces of about this many characters: few writes, bounded memory.
WRITE_CHARS = 1 << 16


def threads_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    store = open_store(flags)
    try:
        action = {
            "list": list_threads,
            "show": show_thread,
            "export": export_thread,
            "rename": rename_thread,
            "delete": delete_thread,
        }[args.action]
        return action(store, args, Output())
    finally:
        store.close()


def list_threads(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    threads = store.list_threads(filter=args.filter or None, limit=args.limit)
    if args.json:
        for thread in threads:
            row = thread.to_dict() | {"message_count": store.count_messages(thread.id)}
            out.write(dumps_safe(row) + "\n")
        return 0
    if not threads:
        what = f"matching {args.filter!r}" if args.filter else "yet"
        out.note(f'no threads {one_line(what)}; start one with: investor-assistant ask "..."')
        return 0
    for thread in threads:
        count = store.count_messages(thread.id)
        title = one_line(thread.title or "(untitled)", 80)
        when = format_timestamp(thread.updated_at or thread.created_at)
        out.line(f"{thread.id}  {when}  {count:>4} msgs  {title}")
    return 0


def show_thread(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    """The thread's messages with their tool calls, read from the store a page at a time
    (a thread of any length is shown in bounded memory)."""
    source = StoredThread(store, args.id)
    thread = source.thread
    messages, runs, _ = source.counts()
    out.line(out.style(one_line(thread.title or "(untitled)"), "bold"))
    out.line(
        f"{thread.id} · created {format_timestamp(thread.created_at)} · "
        f"{messages} messages · {runs} runs"
    )
    for message in source.iter_messages():
        who = "you" if message.role == "user" else "assistant"
        status = "" if message.status == "completed" else f" · {message.status}"
        out.line()
        out.line(out.style(f"── {who} · {format_timestamp(message.created_at)}{status}", "cyan"))
        run = source.get_run(message.run_id) if message.run_id else None
        if run is not None:
            for call in source.tool_calls(run.id):
                signature = call_signature(call.function.name, call.function.arguments)
                out.line(out.style(f"→ {signature}  {call_summary(call)}", "dim"))
        out.line(for_terminal(message.text))
        if run is not None and run.status != "completed":
            reason = f": {one_line(run.last_error.message, 200)}" if run.last_error else ""
            out.line(out.style(f"(run {run.status}{reason})", "yellow"))
    return 0


def export_thread(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    """Markdown or JSON, streamed from the store to stdout or a private file."""
    fmt = args.format
    if fmt is None:
        fmt = "json" if args.output and args.output.lower().endswith(".json") else "md"
    source = StoredThread(store, args.id)
    chunks = json_chunks(source) if fmt == "json" else markdown_chunks(source)
    if args.output in (None, "-"):
        for piece in batched(chunks, WRITE_CHARS):
            out.write(piece)
    else:
        path = Path(args.output).expanduser()
        write_private(path, chunks)
        out.note(f"exported {source.thread.id} ({fmt}) to {path}")
    return 0


def batched(chunks: Iterable[str], size: int) -> Iterator[str]:
    """``chunks`` joined into pieces of at least ``size`` characters (the last may be
    shorter)."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def rename_thread(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    title = " ".join(args.title.split())
    if not title:
        raise AssistantError("the title is empty; pass the new title as text")
    thread = store.rename_thread(args.id, title)
    out.line(f"renamed {thread.id}: {one_line(thread.title)}")
    return 0


def delete_thread(store: ThreadStore, args: argparse.Namespace, out: Output) -> int:
    """Refused while another process streams a run of the thread. A run left active by a
    process that died is closed first (as every start-up does, when no other is live)."""
    thread = store.get_thread(args.id)
    try:
        store.delete_thread(thread.id)
    except ActiveRunError:
        if not close_stranded_runs(store):
            raise
        store.delete_thread(thread.id)
    out.line(f"deleted {thread.id} ({one_line(thread.title or 'untitled', 80)})")
    return 0


def close_stranded_runs(store: ThreadStore) -> list[str]:
    """Close runs a dead process left active (see ``session.recover_stranded``)."""
    from assistant_core.session import recover_stranded

    recovered = recover_stranded(store)
    if recovered.lease is not None:
        recovered.lease.release()
    return recovered.runs
