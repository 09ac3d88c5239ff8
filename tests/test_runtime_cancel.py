"""Cancelling a run: from another task while text streams or tools run, while it waits in
requires_action, and by the consumer walking away (aclose / task cancelled)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from assistant_core.store import Store
from tests.support.scripted_backend import (
    Pause,
    collapse,
    event_names,
    make_runtime,
    text_turn,
    tool_turn,
)


def partial_text_turn() -> list[Any]:
    return [
        *text_turn("The balance sheet ", usage=None, finish=None),
        Pause(30),
        *text_turn("is strong."),
    ]


async def test_cancel_during_text_streaming(tmp_path: Path) -> None:
    rt, _backend, _store = make_runtime(tmp_path / "db.sqlite", [partial_text_turn()])
    thread = rt.create_thread()
    events: list[Any] = []
    canceller: asyncio.Task[Any] | None = None
    started = time.perf_counter()
    async for event in rt.ask(thread.id, "How is Tesla's balance sheet?"):
        events.append(event)
        if event.event == "thread.message.delta" and canceller is None:
            run_id = event.data.run_id
            canceller = asyncio.create_task(rt.cancel_run(run_id))
    assert time.perf_counter() - started < 5  # did not wait out the stalled stream
    assert canceller is not None
    cancelled = await canceller
    assert cancelled.status == "cancelled" and cancelled.cancelled_at

    assert collapse(event_names(events))[-6:] == [
        "thread.message.delta",
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ]
    partial = next(e.data for e in events if e.event == "thread.message.incomplete")
    assert partial.text == "The balance sheet " and partial.incomplete_details == {
        "reason": "run_cancelled"
    }

    fresh = Store(tmp_path / "db.sqlite")
    try:
        run = fresh.get_run(run_id)
        assert run.status == "cancelled"
        [step] = fresh.list_steps(run_id)
        assert step.status == "cancelled" and step.cancelled_at
        message = fresh.get_message(step.message_id)
        assert message.status == "incomplete" and message.text == "The balance sheet "
    finally:
        fresh.close()
    assert not rt.is_streaming(thread.id)


async def test_cancel_during_tool_execution_ignores_late_results(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("snooze", '{"seconds": 0.3}', "c_thread"), ("nap", '{"seconds": 10}', "c_async")
            ),
            text_turn("never reached"),
        ],
    )
    thread = rt.create_thread()
    events: list[Any] = []
    async for event in rt.ask(thread.id, "sleep"):
        events.append(event)
        if event.event == "thread.run.step.delta" and any(
            entry.get("status") == "running" for entry in event.data.tool_calls
        ):
            await rt.cancel_run(event.data.run_id)
    run_id = events[0].data.id
    assert events[-2].event == "thread.run.cancelled"
    assert len(backend.requests) == 1  # no further model turn

    await asyncio.sleep(0.5)  # the blocking tool's thread finishes now: too late
    assert ("snooze", 0.3) in rt.tools.calls
    [step] = store.list_steps(run_id)
    assert step.status == "cancelled"
    assert [c.status for c in step.tool_calls] == ["cancelled", "cancelled"]
    assert [c.function.output for c in step.tool_calls] == [None, None]
    assert store.get_run(run_id).status == "cancelled"


async def test_cancel_while_waiting_for_approval(tmp_path: Path) -> None:
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite", [tool_turn(("get_price", '{"symbol": "A"}'))], approval="ask"
    )
    thread = rt.create_thread()
    names: list[str] = []
    async for event in rt.ask(thread.id, "go"):
        names.append(event.event)
        if event.event == "thread.run.requires_action":
            asyncio.get_running_loop().call_soon(
                lambda run_id=event.data.id: asyncio.ensure_future(rt.cancel_run(run_id))
            )
    assert names[-4:] == [
        "thread.run.cancelling",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ]
    run = rt.list_runs(thread.id)[-1]
    assert run.status == "cancelled" and run.required_action is None
    assert store.list_steps(run.id)[0].tool_calls[0].status == "cancelled"
    assert rt.tools.calls == []
    # Cancelling an ended run is not an error: it is returned as it is.
    assert (await rt.cancel_run(run.id)).status == "cancelled"


async def test_consumer_aclose_cancels_the_run(tmp_path: Path) -> None:
    rt, _, store = make_runtime(tmp_path / "db.sqlite", [partial_text_turn()])
    thread = rt.create_thread()
    stream = rt.ask(thread.id, "hi")
    async for event in stream:
        if event.event == "thread.message.delta":
            break
    await stream.aclose()
    run = store.list_runs(thread.id)[-1]
    assert run.status == "cancelled"
    message = store.list_messages(thread.id)[-1]
    # Everything the model sent before the stall is kept, read by the consumer or not.
    assert message.status == "incomplete" and message.text == "The balance sheet "
    await asyncio.sleep(0.01)
    assert not rt.is_streaming(thread.id)


async def test_consumer_task_cancelled_cancels_the_run(tmp_path: Path) -> None:
    """Ctrl+C in an app: the task iterating the stream is cancelled."""
    rt, _, store = make_runtime(tmp_path / "db.sqlite", [partial_text_turn()])
    thread = rt.create_thread()
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in rt.ask(thread.id, "hi"):
            if event.event == "thread.message.delta":
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    run = store.list_runs(thread.id)[-1]
    assert run.status == "cancelled"
    assert store.list_messages(thread.id)[-1].status == "incomplete"


async def test_cancel_a_run_left_active_in_the_store(tmp_path: Path) -> None:
    """A run no task here executes (another process, or a crash) is closed in the store."""
    path = tmp_path / "db.sqlite"
    rt, _, _store = make_runtime(
        path, [tool_turn(("get_price", '{"symbol": "A"}'))], approval="client"
    )
    thread = rt.create_thread()
    async for event in rt.ask(thread.id, "go"):
        if event.event == "thread.run.requires_action":
            break
    run_id = event.data.id
    other, _, _ = make_runtime(path)  # a second app on the same database
    cancelled = await other.cancel_run(run_id)
    assert cancelled.status == "cancelled"
    assert other.store.get_run(run_id).status == "cancelled"
    assert other.store.list_steps(run_id)[0].status == "cancelled"


async def test_cancel_before_the_run_started(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(tmp_path / "db.sqlite", [text_turn("never")])
    thread = rt.create_thread()
    names: list[str] = []
    async for event in rt.ask(thread.id, "hi"):
        names.append(event.event)
        if event.event == "thread.run.created":
            assert (await rt.cancel_run(event.data.id)).status == "cancelled"
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.cancelling",
        "thread.run.cancelled",
        "done",
    ]
    assert backend.requests == []
    assert store.list_runs(thread.id)[-1].status == "cancelled"


async def _cancel_while_tool_runs(
    tmp_path: Path, tool: Any, *, cancel_from_tool: bool
) -> tuple[Any, list[str]]:
    """Run one call of ``tool`` and cancel the run: from inside the tool (scheduled for just
    after it returns) or from the stream once the call is running. Returns (run, event names)."""
    from tests.support.scripted_backend import function_spec, make_test_tools

    tools = make_test_tools()
    tools.register(function_spec("edge"), tool)
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("edge", "{}")), [Pause(5), *text_turn("late")]],
        tools=tools,
    )
    tool.runtime = rt  # type: ignore[attr-defined]
    thread = rt.create_thread()
    names: list[str] = []
    async for event in rt.ask(thread.id, "go"):
        names.append(event.event)
        if event.event == "thread.run.created":
            tool.run_id = event.data.id  # type: ignore[attr-defined]
        running = event.event == "thread.run.step.delta" and any(
            e.get("status") == "running" for e in event.data.tool_calls
        )
        if running and not cancel_from_tool:
            asyncio.get_running_loop().call_later(
                0.05, lambda: asyncio.ensure_future(rt.cancel_run(tool.run_id))
            )
    return store.get_run(tool.run_id), names


async def test_cancel_landing_as_a_tool_finishes_ends_cancelled(tmp_path: Path) -> None:
    """Regression: the cancel arrived after the tool's result was ready but before the run's
    task resumed; asyncio.wait_for swallowed it and the run ended failed (cancelling →
    in_progress was refused) instead of cancelled."""

    async def edge() -> dict[str, bool]:
        # Runs right after the tool returns, before the run's task resumes.
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(edge.runtime.cancel_run(edge.run_id))  # type: ignore[attr-defined]
        )
        return {"ok": True}

    run, names = await _cancel_while_tool_runs(tmp_path, edge, cancel_from_tool=True)
    assert run.status == "cancelled" and run.last_error is None
    assert "thread.run.failed" not in names and names[-2:] == ["thread.run.cancelled", "done"]


async def test_cancel_swallowed_by_a_tool_still_cancels_the_run(tmp_path: Path) -> None:
    """Regression: a tool that catches CancelledError and returns must not let the run go on."""

    async def edge() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return "caught it"
        return "slept"

    run, names = await _cancel_while_tool_runs(tmp_path, edge, cancel_from_tool=False)
    assert run.status == "cancelled" and run.last_error is None
    assert "thread.run.step.completed" not in names  # no further model turn either
    assert "thread.run.failed" not in names and names[-2:] == ["thread.run.cancelled", "done"]
