"""Model API faults, end to end: Runtime + the real backends + the real ``openai`` client
against a local fault-injecting server (tests.support.openai_replay).

Every case ends in a defined state within a bounded time — recovered after retries, or
``failed`` / ``incomplete`` with a clear one-line last_error — and the earlier conversation
on the thread is untouched. A few cases go through the CLI to show what the user sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.responses import ResponsesBackend
from assistant_core.market import create_market
from assistant_core.objects import Message
from assistant_core.runtime import RetryPolicy, Runtime
from assistant_core.store import Store
from assistant_core.tools.investor import build_investor_tools
from tests.support.openai_replay import (
    GARBAGE_LINE,
    INVALID_JSON_EVENT,
    ReplayServer,
    ToolCallSpec,
    chat_stream,
    chat_stream_events,
    error_response,
    inject,
    responses_stream,
    sse_response,
    unused_port,
)

from .processes import cli_env, run_cli

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
ANSWER = "Apple looks solid: revenue grew and the balance sheet is strong. Not financial advice."
TICKER_CALL = ToolCallSpec("get_ticker", '{"company_name": "Apple"}', "call_ticker")


@pytest.fixture
def server() -> Any:
    with ReplayServer() as s:
        yield s


@dataclass
class Harness:
    runtime: Runtime
    store: Store
    thread_id: str
    earlier: list[Message]  # the conversation before the faulty run

    async def ask(self, text: str = "Should I buy Apple?") -> tuple[list[Any], float]:
        started = time.monotonic()
        events = [e async for e in self.runtime.ask(self.thread_id, text)]
        return events, time.monotonic() - started

    def run(self, events: list[Any]) -> Any:
        return self.store.get_run(events[0].data.id)

    def messages(self) -> list[Message]:
        return self.store.list_messages(self.thread_id)

    def assert_earlier_kept(self) -> None:
        now = self.messages()[: len(self.earlier)]
        assert [(m.id, m.role, m.status, m.text) for m in now] == [
            (m.id, m.role, m.status, m.text) for m in self.earlier
        ]
        (integrity,) = self.store._db.execute("PRAGMA integrity_check").fetchone()
        assert integrity == "ok"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    import openai  # noqa: F401  # its cold import (~0.5 s) must not count as a fault's delay

    made: list[Runtime] = []

    def make(
        base_url: str,
        *,
        wire: str = "chat",
        timeout: float = 5.0,
        max_retries: int = 3,
        max_turns: int = 10,
    ) -> Harness:
        store = Store(tmp_path / f"threads-{len(made)}.db")
        backend_cls = ChatCompletionsBackend if wire == "chat" else ResponsesBackend
        backend = backend_cls(base_url, "sk-test-key", timeout=timeout)
        policy = RetryPolicy(
            max_retries=max_retries,
            base_delay=0.02,
            max_delay=0.05,
            jitter=0.0,
            max_retry_after=2.0,
        )
        runtime = Runtime(
            store,
            backend,
            build_investor_tools(create_market("demo")),
            model="replay-model",
            max_turns=max_turns,
            retry_policy=policy,
            flush_interval=0.05,
        )
        made.append(runtime)
        thread = store.create_thread()
        earlier = [
            store.add_message(thread.id, "user", "What does Apple sell?"),
            store.add_message(thread.id, "assistant", "Phones, computers and services."),
        ]
        return Harness(runtime, store, thread.id, earlier)

    yield make
    for runtime in made:
        await runtime.aclose()
        runtime.store.close()


def names(events: list[Any]) -> list[str]:
    return [e.event for e in events]


def retries(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data.retry for e in events if e.event == "thread.run.in_progress" and e.data.retry]


def assert_completed_with(h: Harness, events: list[Any], text: str = ANSWER) -> None:
    assert names(events)[-2:] == ["thread.run.completed", "done"]
    last = h.messages()[-1]
    assert (last.role, last.status, last.text) == ("assistant", "completed", text)
    assert h.run(events).status == "completed" and h.run(events).retry is None
    h.assert_earlier_kept()


def assert_failed(h: Harness, events: list[Any], code: str, *fragments: str) -> Any:
    assert names(events)[-2:] == ["thread.run.failed", "done"]
    run = h.run(events)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == code
    message = run.last_error.message
    assert "\n" not in message and len(message) <= 400
    for fragment in fragments:
        assert fragment in message, message
    for step in h.store.list_steps(run.id):
        assert step.status != "in_progress"
    h.assert_earlier_kept()
    return run


# -- rate limits and server errors ----------------------------------------------------------------
async def test_429_with_retry_after_is_honoured_then_recovers(
    server: ReplayServer, harness: Any
) -> None:
    h = harness(server.base_url)
    server.enqueue(error_response(429, "Rate limit reached for requests", retry_after=0.4))
    server.enqueue(chat_stream(ANSWER))
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["wait_s"] for r in retries(events)] == [0.4]
    assert retries(events)[0]["reason"] == "rate_limit_exceeded"
    assert 0.4 <= elapsed < 5
    assert len(server.requests) == 2
    server.verify()


async def test_429_without_retry_after_backs_off_then_recovers(
    server: ReplayServer, harness: Any
) -> None:
    h = harness(server.base_url)
    server.enqueue(error_response(429, "Rate limit reached for requests"), times=2)
    server.enqueue(chat_stream(ANSWER))
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["attempt"] for r in retries(events)] == [1, 2]
    assert [r["wait_s"] for r in retries(events)] == [0.02, 0.04]  # exponential backoff
    assert elapsed < 5
    server.verify()


async def test_429_out_of_quota_fails_at_once(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url)
    server.enqueue(
        error_response(429, "You exceeded your current quota", code="insufficient_quota")
    )
    events, elapsed = await h.ask()
    assert_failed(h, events, "rate_limit_exceeded", "out of quota")
    assert retries(events) == [] and len(server.requests) == 1 and elapsed < 5


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_recovers_after_a_retry(
    server: ReplayServer, harness: Any, status: int
) -> None:
    h = harness(server.base_url)
    server.enqueue(error_response(status, "upstream trouble", type="server_error"))
    server.enqueue(chat_stream(ANSWER))
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["reason"] for r in retries(events)] == ["server_error"]
    assert elapsed < 5
    server.verify()


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_every_time_fails_after_retries(
    server: ReplayServer, harness: Any, status: int
) -> None:
    h = harness(server.base_url)
    server.enqueue(error_response(status, "upstream trouble", type="server_error"), times=4)
    events, elapsed = await h.ask()
    assert_failed(h, events, "server_error", f"server error {status}", "after 3 retries")
    assert len(server.requests) == 4 and elapsed < 5
    # The user's question is kept although no answer came.
    assert h.messages()[-1].role == "user"
    server.verify()


async def test_connection_refused_fails_after_retries(harness: Any) -> None:
    h = harness(f"http://127.0.0.1:{unused_port()}/v1", max_retries=2)
    events, elapsed = await h.ask()
    assert_failed(h, events, "connection_error", "cannot reach", "is the server running?")
    assert [r["reason"] for r in retries(events)] == ["connection_error"] * 2
    assert elapsed < 5


async def test_timeout_before_first_byte_then_recovers(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url, timeout=0.3)
    server.enqueue(chat_stream(ANSWER, delay=10.0))
    server.enqueue(chat_stream(ANSWER))
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["reason"] for r in retries(events)] == ["timeout"]
    assert elapsed < 5


async def test_timeout_every_time_fails_in_bounded_time(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url, timeout=0.3, max_retries=1)
    server.enqueue(chat_stream(ANSWER, delay=10.0), times=2)
    events, elapsed = await h.ask()
    assert_failed(h, events, "server_error", "no response", "within 0.3 s", "after 1 retry")
    assert elapsed < 5  # not the 2 × 10 s the server would take


# -- broken streams --------------------------------------------------------------------------
@pytest.mark.parametrize("abort", [False, True], ids=["ends-early", "connection-dropped"])
async def test_stream_stops_mid_message(server: ReplayServer, harness: Any, abort: bool) -> None:
    h = harness(server.base_url)
    events_out = chat_stream_events(ANSWER)
    # role chunk + the first 6 words, then nothing more.
    server.enqueue(sse_response(events_out, cut_after_chunks=7, abort=abort))
    events, elapsed = await h.ask()
    run = assert_failed(h, events, "server_error", "the message is incomplete")
    assert len(server.requests) == 1  # text had reached the user: no silent retry
    partial = h.messages()[-1]
    assert (partial.role, partial.status, partial.run_id) == ("assistant", "incomplete", run.id)
    assert partial.text and ANSWER.startswith(partial.text) and partial.text != ANSWER
    assert partial.incomplete_details == {"reason": "run_failed"}
    streamed = "".join(e.data.value for e in events if e.event == "thread.message.delta")
    assert partial.text == streamed  # everything the user saw is stored
    assert elapsed < 5


async def test_stream_stops_mid_tool_call_arguments(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url)
    chunks = chat_stream_events(
        "", [ToolCallSpec("get_ticker", '{"company_name": "Apple Inc."}', "call_1")]
    )
    server.enqueue(sse_response(chunks, cut_after_chunks=3))  # role, call header, first fragment
    events, elapsed = await h.ask()
    run = assert_failed(h, events, "server_error", "incomplete")
    [step] = h.store.list_steps(run.id)
    assert step.type == "tool_calls" and step.status == "failed"
    [call] = step.tool_calls
    assert call.function.output is None  # a half-received call is never executed
    assert call.status == "cancelled"
    assert len(server.requests) == 1 and elapsed < 5


async def test_stream_stall_mid_message_times_out(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url, timeout=0.4)
    server.enqueue(chat_stream(ANSWER, pauses={6: 10.0}))
    events, elapsed = await h.ask()
    assert_failed(h, events, "server_error", "stalled")
    assert h.messages()[-1].status == "incomplete"
    assert elapsed < 5  # not the 10 s stall


async def test_garbage_sse_lines_are_ignored(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url)
    chunks = chat_stream_events(ANSWER)
    server.enqueue(sse_response(inject(inject(chunks, 4, GARBAGE_LINE), 1, GARBAGE_LINE)))
    events, _ = await h.ask()
    assert_completed_with(h, events)


async def test_invalid_json_chunk_mid_message_fails_keeping_the_text(
    server: ReplayServer, harness: Any
) -> None:
    h = harness(server.base_url)
    server.enqueue(sse_response(inject(chat_stream_events(ANSWER), 5, INVALID_JSON_EVENT)))
    events, elapsed = await h.ask()
    assert_failed(h, events, "server_error", "malformed event")
    partial = h.messages()[-1]
    assert partial.status == "incomplete" and partial.text and ANSWER.startswith(partial.text)
    assert len(server.requests) == 1 and elapsed < 5


async def test_invalid_json_before_any_text_is_retried(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url)
    server.enqueue(sse_response(inject(chat_stream_events(ANSWER), 0, INVALID_JSON_EVENT)))
    server.enqueue(chat_stream(ANSWER))
    events, _ = await h.ask()
    assert_completed_with(h, events)
    assert [r["reason"] for r in retries(events)] == ["stream_broken"]


# -- bad tool calls ------------------------------------------------------------------------------
async def test_unknown_function_and_non_json_arguments_reach_the_model_as_errors(
    server: ReplayServer, harness: Any
) -> None:
    h = harness(server.base_url)
    calls = [
        ToolCallSpec("get_horoscope", '{"sign": "leo"}', "call_unknown"),
        ToolCallSpec("get_ticker", "{company_name: Apple", "call_badjson"),
        TICKER_CALL,
    ]
    server.enqueue(chat_stream("", calls))
    server.enqueue(chat_stream(ANSWER))
    events, _ = await h.ask()
    assert_completed_with(h, events)
    outputs = {
        m["tool_call_id"]: json.loads(m["content"])
        for m in server.requests[1].json()["messages"]
        if m["role"] == "tool"
    }
    assert "unknown tool 'get_horoscope'" in outputs["call_unknown"]["error"]
    assert "not valid JSON" in outputs["call_badjson"]["error"]
    assert outputs["call_ticker"]["data"]["symbol"] == "AAPL"  # the good call still ran
    step = next(s for s in h.store.list_steps(h.run(events).id) if s.type == "tool_calls")
    statuses = {c.id: (c.status, c.is_error) for c in step.tool_calls}
    assert statuses == {
        "call_unknown": ("error", True),
        "call_badjson": ("error", True),
        "call_ticker": ("completed", False),
    }


async def test_model_that_calls_tools_forever_is_asked_for_an_answer(
    server: ReplayServer, harness: Any
) -> None:
    """The same call every turn: the repeat is answered from the first result, the next
    turn asks for an answer without tools, and when the model still calls, the run ends with
    what it wrote and a note — not a loop to max_turns."""
    h = harness(server.base_url, max_turns=10)
    server.enqueue(chat_stream("", [TICKER_CALL]), times=None)
    events, elapsed = await h.ask()
    assert names(events)[-2:] == ["thread.run.completed", "done"]
    run = h.run(events)
    assert [n["code"] for n in run.notes] == ["final_answer_requested", "no_final_answer"]
    assert len(server.requests) == 3
    assert server.requests[2].json()["tool_choice"] == "none"
    steps = h.store.list_steps(run.id)
    assert [s.type for s in steps] == ["tool_calls", "tool_calls", "message_creation"]
    repeat = steps[1].tool_calls[0]
    assert repeat.repeat_of == steps[0].tool_calls[0].id
    assert '"get_ticker"' in h.messages()[-1].text  # the call it printed, shown as written
    h.assert_earlier_kept()
    assert elapsed < 5


async def test_in_stream_error_object_after_text(server: ReplayServer, harness: Any) -> None:
    from tests.support.openai_replay import error_event

    h = harness(server.base_url)
    server.enqueue(
        sse_response(inject(chat_stream_events(ANSWER)[:6], 6, error_event("model crashed")))
    )
    events, _ = await h.ask()
    assert_failed(h, events, "server_error", "model crashed")
    assert h.messages()[-1].status == "incomplete"


# -- the Responses API wire ------------------------------------------------------------------
async def test_responses_429_then_recovers(server: ReplayServer, harness: Any) -> None:
    h = harness(server.base_url, wire="responses")
    server.enqueue(error_response(429, "Rate limit reached", retry_after=0.1), path=RESPONSES)
    server.enqueue(responses_stream(ANSWER), path=RESPONSES)
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["wait_s"] for r in retries(events)] == [0.1]
    assert elapsed < 5


async def test_responses_stream_cut_mid_message(server: ReplayServer, harness: Any) -> None:
    from tests.support.openai_replay import responses_stream_events

    h = harness(server.base_url, wire="responses")
    server.enqueue(
        sse_response(responses_stream_events(ANSWER), cut_after_chunks=8), path=RESPONSES
    )
    events, _ = await h.ask()
    assert_failed(h, events, "server_error", "incomplete")
    partial = h.messages()[-1]
    assert partial.status == "incomplete" and partial.text and ANSWER.startswith(partial.text)
    assert len(server.requests) == 1


async def test_responses_failed_response_retries_then_fails(
    server: ReplayServer, harness: Any
) -> None:
    h = harness(server.base_url, wire="responses", max_retries=1)
    server.enqueue(responses_stream("", outcome="failed"), path=RESPONSES, times=2)
    events, _ = await h.ask()
    assert_failed(h, events, "server_error", "failed the response", "after 1 retry")
    server.verify()


# -- through the CLI -----------------------------------------------------------------------------
def _ask_cli(tmp_path: Path, server: ReplayServer, *extra: str, **env_extra: str) -> Any:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", **env_extra)
    args = [
        "--provider",
        "compatible",
        "--base-url",
        server.base_url,
        "--model",
        "replay-model",
        "--data",
        "demo",
        *extra,
        "ask",
        "Should I buy Apple?",
    ]
    started = time.monotonic()
    result = run_cli(args, env, timeout=30)
    result.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def test_cli_shows_a_cut_stream_as_one_line_and_exit_1(
    tmp_path: Path, server: ReplayServer
) -> None:
    server.enqueue(sse_response(chat_stream_events(ANSWER), cut_after_chunks=7))
    result = _ask_cli(tmp_path, server)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(ANSWER[:20])  # the partial answer was shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("run failed")]
    assert errors == [
        "run failed: server_error: the reply from "
        + server.base_url
        + " ended without a finish reason — the message is incomplete"
    ]
    assert "Traceback" not in result.stderr
    store = Store(tmp_path / "threads.db")
    try:
        [thread] = store.list_threads()
        assert [m.status for m in store.list_messages(thread.id)] == ["completed", "incomplete"]
    finally:
        store.close()


def test_cli_shows_a_rejected_key_as_one_line(tmp_path: Path, server: ReplayServer) -> None:
    server.enqueue(error_response(401, "Invalid API key", code="invalid_api_key"))
    result = _ask_cli(tmp_path, server, OPENAI_API_KEY="sk-wrong-key")
    assert result.returncode == 1
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("run failed")]
    assert line.startswith("run failed: auth_error: ") and "rejected the API key" in line
    assert "Traceback" not in result.stderr
    assert result.elapsed < 10  # type: ignore[attr-defined]


def test_cli_with_no_server_listening_fails_fast(tmp_path: Path) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    url = f"http://127.0.0.1:{unused_port()}/v1"
    started = time.monotonic()
    result = run_cli(
        ["--provider", "compatible", "--base-url", url, "--model", "m", "ask", "hi"], env
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("investor-assistant: error: cannot reach the model server at " + url)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "threads.db").exists() or _thread_count(tmp_path / "threads.db") == 0


def _thread_count(db: Path) -> int:
    store = Store(db)
    try:
        return len(store.list_threads())
    finally:
        store.close()


# -- in the full-screen app ------------------------------------------------------------------------
async def test_tui_shows_the_error_keeps_the_partial_answer_and_stays_usable(
    tmp_path: Path, server: ReplayServer
) -> None:
    pytest.importorskip("tui.widgets", reason="the TUI is not built yet")
    from tests.tui.app_helpers import ask, screen_text, scripted_session, wait_for, wait_run_over
    from tui.app import InvestorApp

    backend = ChatCompletionsBackend(server.base_url, "sk-test-key", timeout=5.0)
    session = scripted_session(tmp_path / "threads.db", backend)
    session.runtime.retry_policy = RetryPolicy(max_retries=1, base_delay=0.01, jitter=0.0)
    # 1st question: 503, then a reply cut mid-message (the retry); 2nd question: 503 twice.
    server.enqueue(error_response(503, "overloaded", type="server_error"))
    # Paced, so the answer is on screen while it streams (not only drawn after it ended).
    server.enqueue(sse_response(chat_stream_events(ANSWER), cut_after_chunks=7, interval=0.05))
    server.enqueue(error_response(503, "still overloaded", type="server_error"), times=2)
    server.enqueue(chat_stream("Recovered: " + ANSWER))
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask(pilot, "Should I buy Apple?")
        await wait_run_over(pilot, thread_id, timeout=10)
        await wait_for(pilot, lambda: "⚠ incomplete" in screen_text(app), timeout=5)
        screen = screen_text(app)
        assert "Apple looks solid" in screen  # the partial answer stays on screen…
        assert "⚠ incomplete — the run failed" in screen  # …marked as such
        errors = [line.text for line in app.main.chat.query("ErrorLine")]
        assert len(errors) == 1 and "the message is incomplete" in errors[0]  # the run's error
        await ask(pilot, "Try again?")
        await wait_run_over(pilot, thread_id, timeout=10)
        errors = [line.text for line in app.main.chat.query("ErrorLine")]
        assert (
            len(errors) == 2 and "server error 503: still overloaded (after 1 retry)" in errors[1]
        )
        await ask(pilot, "Once more?")  # the app is still usable after two failures
        await wait_run_over(pilot, thread_id, timeout=10)
        await wait_for(pilot, lambda: "Recovered: Apple looks solid" in screen_text(app), timeout=5)
    store = Store(tmp_path / "threads.db")
    try:
        assert [r.status for r in store.list_runs(thread_id)] == ["failed", "failed", "completed"]
        statuses = [(m.role, m.status) for m in store.list_messages(thread_id)]
        assert statuses == [
            ("user", "completed"),
            ("assistant", "incomplete"),
            ("user", "completed"),
            ("user", "completed"),
            ("assistant", "completed"),
        ]
    finally:
        store.close()
    server.verify()
