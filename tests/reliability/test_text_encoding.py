"""Text that UTF-8 cannot encode: surrogate halves from a model stream, bytes that are not
UTF-8 on the command line or stdin (issue 11, item 6).

An emoji that a server JSON-escapes as two ``\\uXXXX`` halves and sends in separate chunks
used to crash the run (``UnicodeEncodeError … surrogates not allowed`` from SQLite), leave
its message ``in_progress`` forever and the run ``cancelled``; a question with a byte that
is not UTF-8 crashed ``ask`` and left an empty thread.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant_core.objects import LastError, now
from assistant_core.store import Store
from assistant_core.surrogates import SurrogateJoiner, from_os, scrub
from assistant_core.text import one_line
from tests.support.openai_replay import (
    ReplayServer,
    ToolCallSpec,
    chat_stream,
    responses_stream,
)
from tests.test_store import new_run

from .processes import CLI, REPO, cli_env
from .test_model_faults import RESPONSES, harness, server  # noqa: F401 (fixtures)

GRIN_HALVES = ("\ud83d", "\ude00")  # 😀 as a JSON stream escapes it: two code units
GRIN = "\U0001f600"


def test_scrub_joins_pairs_and_replaces_lone_halves() -> None:
    assert scrub("a" + "".join(GRIN_HALVES) + "b") == f"a{GRIN}b"
    assert scrub("a\ud83db") == "a\ufffdb"
    assert scrub("\ude00") == "\ufffd"
    text = "plain, 한국어, 😀"
    assert scrub(text) is text


def test_joiner_holds_a_first_half_until_the_next_fragment() -> None:
    joiner = SurrogateJoiner()
    assert joiner.feed("Hi " + GRIN_HALVES[0]) == "Hi "
    assert joiner.feed(GRIN_HALVES[1] + "!") == GRIN + "!"
    assert joiner.feed(GRIN_HALVES[0]) == ""
    assert joiner.flush() == "\ufffd"  # the stream ended after a first half
    assert joiner.feed("\ude00x") == "\ufffdx"  # a second half alone


def test_command_line_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    assert from_os("caf\udce9 Apple?") == "caf\ufffd Apple?"
    assert from_os("café") == "café"


@pytest.mark.parametrize("wire", ["chat", "responses"])
async def test_emoji_halves_in_separate_chunks_are_joined(
    server: ReplayServer, harness: Any, wire: str
) -> None:
    h = harness(server.base_url, wire=wire)
    tokens = ["Apple ", GRIN_HALVES[0], GRIN_HALVES[1], " looks fine; lone ", GRIN_HALVES[0]]
    tokens.append(" end.")
    if wire == "chat":
        server.enqueue(chat_stream(tokens))
    else:
        server.enqueue(responses_stream(tokens), path=RESPONSES)
    events = [e async for e in h.runtime.ask(h.thread_id, "Should I buy Apple?")]
    assert [e.event for e in events][-2:] == ["thread.run.completed", "done"]
    answer = h.messages()[-1]
    assert answer.status == "completed"
    assert answer.text == f"Apple {GRIN} looks fine; lone \ufffd end."
    streamed = "".join(e.data.value for e in events if e.event == "thread.message.delta")
    assert streamed == answer.text  # what was shown is what was stored
    h.assert_earlier_kept()


@pytest.mark.parametrize("wire", ["chat", "responses"])
async def test_emoji_halves_split_inside_tool_call_arguments(
    server: ReplayServer, harness: Any, wire: str
) -> None:
    h = harness(server.base_url, wire=wire)
    arguments = '{"company_name": "Apple ' + "".join(GRIN_HALVES) + '"}'
    split_at = arguments.index(GRIN_HALVES[1])  # fragments of this length cut the pair
    call = ToolCallSpec("get_ticker", arguments, "call_grin")
    if wire == "chat":
        server.enqueue(chat_stream("", [call], arg_fragment=split_at))
        server.enqueue(chat_stream("Done."))
    else:
        server.enqueue(responses_stream("", [call], arg_fragment=split_at), path=RESPONSES)
        server.enqueue(responses_stream("Done."), path=RESPONSES)
    events = [e async for e in h.runtime.ask(h.thread_id, "Look up Apple")]
    assert [e.event for e in events][-2:] == ["thread.run.completed", "done"]
    [step] = [s for s in h.store.list_steps(h.run(events).id) if s.type == "tool_calls"]
    assert step.tool_calls[0].function.arguments == '{"company_name": "Apple ' + GRIN + '"}'


def test_the_store_never_fails_on_a_string_utf8_cannot_encode(tmp_path: Path) -> None:
    # The last line of defence: whatever a caller hands the store is written, lone halves
    # as U+FFFD, and reads and searches with such text work too.
    with Store(tmp_path / "t.db") as store:
        thread = store.create_thread("title \ud83d")
        message = store.add_message(thread.id, "user", "question \udce9 here")
        message.set_text("edited \ude00")
        store.update_message(message)
        run = new_run(store, thread.id)
        run.status = "in_progress"
        run.last_error = LastError("server_error", "bad \ud83d")
        store.update_run(run)
        # A title is a label: the text policy leaves a lone half out of it.
        assert store.get_thread(thread.id).title == one_line("title \ud83d", None) == "title"
        assert store.get_message(message.id).text == "edited \ufffd"
        assert store.get_run(run.id).last_error == LastError("server_error", "bad \ufffd")
        # A filter with a lone half matches text stored with one (both become U+FFFD).
        assert [t.id for t in store.list_threads("edited \ude00")] == [thread.id]
        assert store.list_threads("zz\udce9") == []


def test_recovery_closes_a_message_left_in_progress_under_an_ended_run(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        thread = store.create_thread("t")
        store.add_message(thread.id, "user", "question")
        run = new_run(store, thread.id)
        stuck = store.add_message(
            thread.id, "assistant", "partial", status="in_progress", run_id=run.id
        )
        orphan = store.add_message(thread.id, "assistant", "no run", status="in_progress")
        for status in ("in_progress", "cancelled"):
            run.status = status  # type: ignore[assignment]
            store.update_run(run)
        run.cancelled_at = now()
        assert store.recover_interrupted() == []  # no run was active
        closed = store.get_message(stuck.id)
        assert (closed.status, closed.incomplete_details) == (
            "incomplete",
            {"reason": "run_cancelled"},
        )
        assert store.get_message(orphan.id).status == "incomplete"
        assert store.get_message(orphan.id).text == "no run"


def _ask_bytes(tmp_path: Path, argv: list[bytes], stdin: bytes = b"") -> Any:
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    return subprocess.run(
        [str(CLI).encode(), *argv],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize("via", ["argv", "stdin"])
def test_a_question_with_a_byte_that_is_not_utf8(tmp_path: Path, via: str) -> None:
    question = b"caf\xe9 Apple?"
    if via == "argv":
        result = _ask_bytes(tmp_path, [b"ask", question])
    else:
        result = _ask_bytes(tmp_path, [b"ask", b"-"], stdin=question)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr and "Error" not in stderr
    with Store(tmp_path / "threads.db") as store:
        [thread] = store.list_threads()
        messages = store.list_messages(thread.id)
        assert messages[0].text == "caf\ufffd Apple?"
        assert messages[-1].role == "assistant" and messages[-1].status == "completed"
        assert thread.title == "caf\ufffd Apple?"
