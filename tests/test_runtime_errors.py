"""Model API failures: retries with backoff shown on the run, exhausted retries, a stream
cut mid-message, and bugs, all ending in a consistent run and store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant_core.backends.base import BackendError, TextDelta
from assistant_core.runtime import RetryPolicy
from assistant_core.store import Store
from tests.support.scripted_backend import (
    collect,
    event_names,
    make_runtime,
    rate_limited,
    server_error,
    text_turn,
    tool_turn,
)


def retry_states(events: list[Any]) -> list[Any]:
    return [e.data.retry for e in events if e.event == "thread.run.in_progress"]


async def test_rate_limited_twice_then_success(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [rate_limited(0.01), rate_limited(0.01), text_turn("Third time lucky.")],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    assert events[-2].event == "thread.run.completed"
    assert len(backend.requests) == 3
    states = retry_states(events)
    assert states[0] is None  # the first in_progress, before any failure
    assert states[1] == {
        "attempt": 1,
        "max": 3,
        "reason": "rate_limit_exceeded",
        "message": "OpenAI rate limit: Rate limit reached for requests",
        "wait_s": 0.01,  # retry_after honoured
    }
    assert states[2]["attempt"] == 2
    assert states[3] is None  # cleared once the model answered
    assert store.get_run(events[0].data.id).retry is None
    assert store.list_messages(thread.id)[-1].text == "Third time lucky."
    # The run keeps its timeline of retries (issue 12.8): each, with when it was scheduled.
    kept = store.get_run(events[0].data.id).retries
    assert [(r["attempt"], r["reason"]) for r in kept] == [
        (1, "rate_limit_exceeded"),
        (2, "rate_limit_exceeded"),
    ]
    assert all(r["at"] > 0 for r in kept)


async def test_server_errors_until_retries_exhausted(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(tmp_path / "db.sqlite", [server_error()] * 5)
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    assert event_names(events)[-2:] == ["thread.run.failed", "done"]
    run = events[-2].data
    assert len(backend.requests) == 4  # the first try and three retries
    assert [s["attempt"] for s in retry_states(events) if s] == [1, 2, 3]
    assert run.last_error.code == "server_error"
    assert (
        run.last_error.message
        == "OpenAI server error 500: The server had an error (after 3 retries)"
    )
    assert "\n" not in run.last_error.message
    assert run.retry is None and run.failed_at
    assert store.get_run(run.id).status == "failed"
    assert store.list_steps(run.id) == []


async def test_backoff_without_retry_after_grows(tmp_path: Path) -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.03, jitter=0.0)
    rt, _backend, _ = make_runtime(
        tmp_path / "db.sqlite", [server_error()] * 4, retry_policy=policy
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    assert [s["wait_s"] for s in retry_states(events) if s] == [0.01, 0.02, 0.03]


async def test_non_retryable_error_fails_at_once(tmp_path: Path) -> None:
    error = BackendError(
        "auth_error", "OpenAI rejected the API key — check OPENAI_API_KEY", status=401
    )
    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", [error])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    run = events[-2].data
    assert run.status == "failed" and len(backend.requests) == 1
    assert (run.last_error.code, run.last_error.message) == (
        "auth_error",
        "OpenAI rejected the API key — check OPENAI_API_KEY",
    )


async def test_stream_cut_mid_message_keeps_partial_text(tmp_path: Path) -> None:
    cut = BackendError("stream_broken", "the reply ended without a finish reason", retryable=True)
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [[TextDelta("Tesla's debt "), TextDelta("is"), cut], text_turn("dup")],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "tesla?"))
    assert event_names(events)[-5:] == [
        "thread.message.delta",
        "thread.message.incomplete",
        "thread.run.step.failed",
        "thread.run.failed",
        "done",
    ]
    # Text had reached the user: a retry would repeat it, so there is none.
    assert len(backend.requests) == 1
    run = events[-2].data
    assert run.last_error.code == "server_error"
    message = store.list_messages(thread.id)[-1]
    assert message.status == "incomplete" and message.text == "Tesla's debt is"
    assert message.incomplete_details == {"reason": "run_failed"}
    [step] = store.list_steps(run.id)
    assert step.status == "failed" and step.last_error.code == "server_error"


async def test_stream_ending_without_finish_is_broken(tmp_path: Path) -> None:
    rt, _, store = make_runtime(tmp_path / "db.sqlite", [text_turn("Half an answ", finish=None)])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    run = events[-2].data
    assert run.status == "failed" and run.last_error.code == "server_error"
    assert "without a finish reason" in run.last_error.message
    assert store.list_messages(thread.id)[-1].status == "incomplete"


async def test_tool_call_stream_cut_fails_the_step(tmp_path: Path) -> None:
    turn = [
        *tool_turn(("get_price", '{"symbol": "AAPL"}'))[:-2],
        BackendError("stream_broken", "cut", retryable=True),
    ]
    rt, backend, store = make_runtime(tmp_path / "db.sqlite", [turn])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    run = events[-2].data
    assert run.status == "failed" and len(backend.requests) == 1
    [step] = store.list_steps(run.id)
    assert step.status == "failed" and step.tool_calls[0].status == "cancelled"
    assert rt.tools.calls == []


async def test_unexpected_exception_becomes_internal_error(tmp_path: Path) -> None:
    rt, _, _store = make_runtime(
        tmp_path / "db.sqlite", [[TextDelta("Partial "), ZeroDivisionError("division by zero")]]
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))  # no exception out of the iterator
    run = events[-2].data
    assert run.status == "failed"
    assert (run.last_error.code, run.last_error.message) == (
        "internal_error",
        "ZeroDivisionError: division by zero",
    )
    fresh = Store(tmp_path / "db.sqlite")
    try:
        assert fresh.get_run(run.id).status == "failed"
        assert fresh.list_messages(thread.id)[-1].status == "incomplete"
        assert fresh.active_run(thread.id) is None
    finally:
        fresh.close()
    # The thread is usable again.
    rt.backend.add(text_turn("fine now"))
    events = await collect(rt.ask(thread.id, "again"))
    assert events[-2].data.status == "completed"


async def test_retry_shown_then_cancelled_during_backoff(tmp_path: Path) -> None:
    policy = RetryPolicy(max_retries=3, base_delay=30, max_delay=60, jitter=0.0)
    rt, _backend, store = make_runtime(
        tmp_path / "db.sqlite", [server_error()], retry_policy=policy
    )
    thread = rt.create_thread()
    names = []
    async for event in rt.ask(thread.id, "hi"):
        names.append(event.event)
        if event.event == "thread.run.in_progress" and event.data.retry:
            assert event.data.retry["wait_s"] == 30
            await rt.cancel_run(event.data.id)
    assert names[-2:] == ["thread.run.cancelled", "done"]
    run = store.list_runs(thread.id)[-1]
    assert run.status == "cancelled" and run.retry is None


async def test_a_run_whose_end_cannot_be_saved_says_so_in_the_stream(tmp_path: Path) -> None:
    """Regression: when the store refused the run's closing writes (here its thread was
    deleted mid-answer, behind the store's back: the store itself refuses to delete a
    thread with an active run) the stream ended with ``done`` and no word of what happened."""
    from tests.support.scripted_backend import Pause

    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [[*text_turn("The answer ", usage=None, finish=None), Pause(0.1), *text_turn("goes on.")]],
    )
    thread = rt.create_thread()
    events: list[Any] = []
    async for event in rt.ask(thread.id, "hi"):
        events.append(event)
        if event.event == "thread.message.delta" and len(store.list_threads()) == 1:
            with store._write() as db:  # e.g. an older version in another window
                db.execute("DELETE FROM threads WHERE id = ?", (thread.id,))
    assert event_names(events)[-2:] == ["error", "done"]
    error = events[-2].data
    assert error.code == "storage_error" and "could not save this run" in error.message
    assert "its thread was deleted meanwhile" in error.message and "\n" not in error.message
    assert not rt.is_streaming(thread.id)
