"""Thread exports: the JSON export holds everything and reads back equal; the Markdown
export keeps hostile text literal and well-formed."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from assistant_core.errors import NotFoundError
from assistant_core.export import (
    ExportFormatError,
    StoredThread,
    ThreadExport,
    collect_thread,
    read_json_export,
    to_json_text,
    to_markdown,
)
from assistant_core.inert_markdown import inert_markdown as safe_markdown
from assistant_core.objects import (
    FunctionCall,
    LastError,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    Usage,
    new_id,
    now,
    text_content,
)
from assistant_core.store import Store
from assistant_core.text import call_signature, code_span, escape_markdown
from assistant_core.text import for_terminal as visible_controls
from tui.cli.output import Output
from tui.cli.runs import show_run

HOSTILE = "[bold red]x[/] \x1b[2J\x1b]0;pwned\x07 \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ <script>alert(1)</script> \u202egnp.exe"


def make_thread(store: Store) -> str:
    """A thread with a completed tool-calling run and a failed run without an answer."""
    assistant = store.default_assistant()
    thread = store.create_thread(title="Apple # *research* " + HOSTILE)
    store.add_message(thread.id, "user", "Should I buy Apple?\n# not a heading\n" + HOSTILE)
    run = Run(
        id=new_id("run"),
        created_at=now(),
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="offline-analyst",
        provider="offline",
    )
    store.create_run(run)
    run.status = "in_progress"
    run.notes = [{"kind": "call_cap", "message": "16 calls at most in a step *" + HOSTILE}]
    store.update_run(run)
    call = ToolCall(
        id=new_id("call"),
        function=FunctionCall(
            "get_ticker",
            json.dumps({"company_name": "Apple `x` " + HOSTILE}),
            output=json.dumps({"data": {"symbol": "AAPL", "note": HOSTILE}}),
        ),
        status="completed",
        duration_ms=12.5,
        source="demo",
        started_at=1.0,
        finished_at=1.0125,
        display={"kind": "kv", "title": "t", "items": [["a", 1]]},
    )
    failing = ToolCall(
        id=new_id("call"),
        function=FunctionCall("get_balance_sheet", "{not json"),
        status="error",
        is_error=True,
        error="arguments are not valid JSON",
    )
    step = RunStep(
        id=new_id("step"),
        created_at=now(),
        run_id=run.id,
        thread_id=thread.id,
        assistant_id=assistant.id,
        type="tool_calls",
        tool_calls=[call, failing],
    )
    store.create_step(step)
    step.status, step.completed_at = "completed", now()
    store.update_step(step)
    answer = store.add_message(
        thread.id, "assistant", "", status="in_progress", run_id=run.id, assistant_id=assistant.id
    )
    msg_step = RunStep(
        id=new_id("step"),
        created_at=now(),
        run_id=run.id,
        thread_id=thread.id,
        assistant_id=assistant.id,
        type="message_creation",
        message_id=answer.id,
    )
    store.create_step(msg_step)
    answer.set_text("## Verdict\n\n**Hold.** Revenue 391.0B\n\n```python\nprint('<b>')\n" + HOSTILE)
    answer.status = "completed"
    store.update_message(answer)
    msg_step.status = "completed"
    store.update_step(msg_step)
    run.status, run.usage = "completed", Usage(10, 20, 30)
    store.update_run(run)

    store.add_message(thread.id, "user", "and its debt?")
    failed = Run(
        id=new_id("run"),
        created_at=now(),
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-5-mini",
    )
    store.create_run(failed)
    failed.status = "in_progress"
    store.update_run(failed)
    failed.status, failed.last_error = "failed", LastError("server_error", "boom " + HOSTILE)
    store.update_run(failed)
    return thread.id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def test_json_export_round_trips_every_object(store: Store) -> None:
    thread_id = make_thread(store)
    export = collect_thread(store, thread_id)
    text = to_json_text(export)
    assert "\x1b" not in text and "\u202e" not in text  # escaped inside JSON strings
    back = read_json_export(text)
    assert back.thread == store.get_thread(thread_id)
    assert back.messages == store.list_messages(thread_id)
    assert back.runs == store.list_runs(thread_id)
    assert back.steps == [s for r in store.list_runs(thread_id) for s in store.list_steps(r.id)]
    assert len(back.tool_calls()) == 2 and back.tool_calls()[0].display is not None
    assert to_json_text(back) == text  # stable: export → read → export is the identity


def test_read_json_export_rejects_other_files() -> None:
    for text, needle in (
        ("not json", "not a JSON thread export"),
        ('{"format": "something-else"}', "not a thread export"),
        ('{"format": "investor-assistant.thread", "version": 99}', "upgrade"),
        ('{"format": "investor-assistant.thread", "version": 1, "thread": {}}', "damaged"),
    ):
        with pytest.raises(ExportFormatError, match=needle):
            read_json_export(text)


def test_collect_unknown_thread(store: Store) -> None:
    with pytest.raises(NotFoundError, match="thread_nope"):
        collect_thread(store, "thread_nope")


MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def test_markdown_export_is_well_formed_and_literal(store: Store) -> None:
    thread_id = make_thread(store)
    text = to_markdown(collect_thread(store, thread_id))
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    tokens = MD.parse(text)
    headings = [t for t in tokens if t.type == "heading_open"]
    # Title, 3 messages, 1 run without an answer; the user's "# not a heading" stays text,
    # and the answer's own "## Verdict" is kept as Markdown.
    titles = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert titles[0].startswith("Apple \\# \\*research\\*")
    assert len(headings) == 6, titles
    assert "Verdict" in titles
    assert not any(t.type in ("html_block", "html_inline") for t in tokens)
    inline_children = [c for t in tokens if t.type == "inline" for c in t.children or []]
    assert not any(c.type in ("html_inline", "link_open") for c in inline_children)
    # The answer's unclosed code fence is closed before the next section.
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1 and "print('<b>')" in fences[0].content
    assert "Run without an answer" in text and "server\\_error" in text
    assert "get_ticker" in text and "12 ms" in text and "demo" in text
    assert "> **note:** 16 calls at most in a step \\*" in text  # the run's notes, literal


def rendered_paragraphs(markdown: str) -> tuple[str, set[str]]:
    paragraphs, kinds = [], set()
    for token in MD.parse(markdown):
        kinds.add(token.type)
        if token.type == "inline":
            parts = []
            for child in token.children or []:
                kinds.add("inline:" + child.type)
                parts.append("\n" if child.type in ("softbreak", "hardbreak") else child.content)
            paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs), kinds


def expected_paragraphs(text: str) -> str:
    lines = [line.strip(" \t") for line in visible_controls(text).split("\n")]
    paragraphs, current = [], []
    for line in [*lines, ""]:
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    return "\n\n".join(paragraphs)


MARKDOWNY = st.text(
    alphabet=st.sampled_from(
        [
            *list("abcXYZ019 \t\n\\`*_{}[]()#+-.!|<>~&=:;'\"/"),
            "\x1b",
            "\x07",
            "\r",
            "\x9b",
            "é",
            "한",
            "\u202e",
        ]
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(MARKDOWNY)
# Found by this test: a line starting ":" under another made a table (":-" is a delimiter row).
@example("|\r:-")
@example("a|b\n:-|-:")
def test_escape_markdown_renders_as_the_text_itself(text: str) -> None:
    rendered, kinds = rendered_paragraphs(escape_markdown(text))
    assert kinds <= {
        "paragraph_open",
        "paragraph_close",
        "inline",
        "inline:text",
        "inline:softbreak",
        "inline:hardbreak",
    }, kinds
    assert rendered == expected_paragraphs(text)


@settings(max_examples=200, deadline=None)
@given(MARKDOWNY)
def test_code_span_and_safe_markdown_never_leak_structure(text: str) -> None:
    tokens = MD.parse("- " + code_span(text) + "\n")
    children = [c for t in tokens if t.type == "inline" for c in t.children or []]
    assert [c.type for c in children] == ["code_inline"] or not text.strip()
    # Whatever an answer contains, the section after it is still a heading.
    tokens = MD.parse(safe_markdown(text) + "\n\n## next\n")
    assert tokens[-3].type == "heading_open" and tokens[-2].content == "next"
    assert not any(t.type == "html_block" for t in tokens)


def test_call_signature() -> None:
    assert (
        call_signature("get_ticker", '{"company_name": "Apple"}')
        == 'get_ticker(company_name="Apple")'
    )
    assert call_signature("f", "{broken") == "f({broken)"
    assert call_signature("f", "") == "f()"
    assert "\x1b" not in call_signature("f", '{"a": "\\u001b[31m"}')
    assert len(call_signature("f", json.dumps({"a": "x" * 500}), 50)) == 50


# -- streaming from the store ------------------------------------------------------------------
def test_exports_stream_from_the_store_as_they_read_in_memory(store: Store) -> None:
    """StoredThread (paged reads) and the in-memory thread give the same files."""
    thread_id = make_thread(store)
    stored = StoredThread(store, thread_id)
    in_memory = collect_thread(store, thread_id)
    in_memory.exported_at = stored.exported_at
    assert to_json_text(stored) == to_json_text(in_memory)
    assert to_markdown(stored) == to_markdown(in_memory)
    document = json.loads(to_json_text(stored))
    keys = ["format", "version", "exported_at", "thread", "messages", "runs", "steps"]
    assert list(document) == keys


def test_paged_reads_return_every_row_in_order(store: Store) -> None:
    thread_id = make_thread(store)
    for _ in range(5):
        store.add_message(thread_id, "user", "more")
    assert list(store.iter_messages(thread_id, page=2)) == store.list_messages(thread_id)
    assert list(store.iter_runs(thread_id, page=1)) == store.list_runs(thread_id)
    [unanswered] = store.iter_runs(thread_id, unanswered=True, page=1)
    assert unanswered.status == "failed" and unanswered.last_error is not None
    counts = store.thread_counts(thread_id)
    assert (counts.messages, counts.runs, counts.tool_calls) == (8, 2, 2)
    with pytest.raises(NotFoundError):
        next(store.iter_messages("thread_nope"))
    with pytest.raises(NotFoundError):
        StoredThread(store, "thread_nope")


def test_a_run_without_an_answer_goes_after_the_last_message_before_it() -> None:
    thread = Thread(new_id("thread"), 0, title="t")

    def message(at: int, text: str, run_id: str | None = None) -> Message:
        role = "assistant" if run_id else "user"
        return Message(new_id("message"), at, thread.id, role, text_content(text), run_id=run_id)

    def run(at: int) -> Run:
        return Run(new_id("run"), at, thread.id, "asst", "m", status="failed")

    early, answered, between, late = run(0), run(3), run(4), run(9)
    export = ThreadExport(
        thread,
        [message(1, "first"), message(3, "answer", answered.id), message(5, "second")],
        [early, answered, between, late],
        [],
    )
    order = [
        line
        for line in to_markdown(export).splitlines()
        if line.startswith("*Run") or line in ("first", "answer", "second")
    ]
    assert order == [
        f"*Run `{early.id}` · failed · m*",
        "first",
        f"*Run `{answered.id}` · failed · m*",
        "answer",
        f"*Run `{between.id}` · failed · m*",
        "second",
        f"*Run `{late.id}` · failed · m*",
    ]


def test_runs_show_lists_the_runs_notes(store: Store) -> None:
    """What the app did about the model's behaviour is in `runs show` as in the export."""
    thread_id = make_thread(store)
    run = collect_thread(store, thread_id).runs[0]
    out = io.StringIO()
    show_run(store, argparse.Namespace(run_id=run.id, full=False), Output(out, io.StringIO()))
    assert "16 calls at most in a step *" in out.getvalue()
    assert "\x1b" not in out.getvalue()  # the note's hostile tail is shown by the policy
