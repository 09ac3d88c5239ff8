"""The run loop: event order (against a recorded Assistants stream), approval policies,
concurrent tools, one active run per thread, snapshots and persistence."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

from assistant_core.errors import ActiveRunError, NotFoundError, RunStateError
from assistant_core.events import Done, MessageDelta, StepDelta
from assistant_core.store import Store
from tests.support.scripted_backend import (
    collapse,
    collect,
    event_names,
    make_runtime,
    text_turn,
    tool_outputs,
    tool_turn,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Gets the user's current weather",
        "parameters": {"type": "object", "properties": {}},
    },
}


def recorded_event_names(fixtures_dir: Path) -> tuple[list[str], list[str]]:
    """Event names of the two SSE streams in the recorded Assistants session: the run up to
    requires_action, and the stream after submit_tool_outputs."""
    record = json.loads(
        (fixtures_dir / "assistants" / "openai-dotnet_StreamingToolCall.json").read_text()
    )
    streams = []
    for entry in record["Entries"]:
        if "text/event-stream" not in entry["ResponseHeaders"].get("Content-Type", ""):
            continue
        body = "".join(entry["ResponseBody"])
        streams.append(
            [
                line.split(":", 1)[1].strip()
                for line in body.splitlines()
                if line.startswith("event:")
            ]
        )
    assert len(streams) == 2
    return streams[0], streams[1]


async def test_event_order_matches_recorded_assistants_stream(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    first, second = recorded_event_names(fixtures_dir)
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_current_weather", "{}", "call_w")),
            text_turn("Wear light clothes, it is warm and sunny."),
        ],
        approval="client",
    )
    store.update_assistant(dataclasses.replace(store.default_assistant(), tools=[WEATHER_TOOL]))
    thread = rt.create_thread()
    ours: list[str] = []
    async for event in rt.ask(thread.id, "What should I wear outside right now?"):
        ours.append(event.event)
        if event.event == "thread.run.requires_action":
            assert event.data.required_action["submit_tool_outputs"]["tool_calls"] == [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": "{}"},
                }
            ]
            await rt.submit_tool_outputs(
                event.data.id, [{"tool_call_id": "call_w", "output": "warm and sunny"}]
            )

    split = ours.index("thread.run.requires_action") + 1
    # The recording used createThreadAndRun (so it starts with thread.created) and ended its
    # first stream with `done`, reopening one on submit; ours runs on an existing thread
    # and keeps one stream open across requires_action.
    assert first[0] == "thread.created" and first[-1] == "done"
    assert collapse(ours[:split]) == collapse(first[1:-1])
    # After submit the hosted API re-queued the run (requires_action → queued → in_progress);
    # the local run goes straight back to in_progress (objects.RUN_TRANSITIONS, DESIGN.md).
    recorded_after = [name for name in second if name != "thread.run.queued"]
    assert "thread.run.queued" in second
    assert collapse(ours[split:]) == collapse(recorded_after)
    assert tool_outputs(backend.requests[1]) == {"call_w": "warm and sunny"}
    assert backend.requests[0].tools == [WEATHER_TOOL]


async def test_auto_policy_order_outputs_and_usage(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("get_price", '{"symbol": "AAPL"}'),
                ("get_price", '{"symbol": "MSFT"}'),
                interleave=True,
            ),
            text_turn("AAPL and MSFT both trade at 123.5.", usage=(50, 12)),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "Compare Apple and Microsoft"))
    assert collapse(event_names(events)) == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.completed",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    # The arguments streamed as deltas add up to each call's arguments (interleaved by index).
    fragments: dict[int, str] = {}
    for event in events:
        if isinstance(event, StepDelta):
            for entry in event.data.tool_calls:
                fragments[entry["index"]] = fragments.get(entry["index"], "") + entry[
                    "function"
                ].get("arguments", "")
    assert fragments == {0: '{"symbol": "AAPL"}', 1: '{"symbol": "MSFT"}'}
    # The model's second turn reads both outputs after the assistant item that asked for them.
    second = backend.requests[1]
    assert [i["role"] for i in second.input] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in second.input[1]["tool_calls"]] == [
        "call_0_get_price",
        "call_1_get_price",
    ]
    outputs = tool_outputs(second)
    assert json.loads(outputs["call_0_get_price"])["data"] == {"symbol": "AAPL", "price": 123.5}
    assert json.loads(outputs["call_1_get_price"])["source"] == "demo"

    run = rt.list_runs(thread.id)[-1]
    assert run.status == "completed" and run.completed_at and run.started_at
    assert run.usage is not None and (run.usage.prompt_tokens, run.usage.completion_tokens) == (
        70,
        20,
    )
    tool_step, message_step = rt.list_steps(run.id)
    assert tool_step.usage.total_tokens == 28 and message_step.usage.total_tokens == 62
    call = tool_step.tool_calls[0]
    assert call.status == "completed" and call.source == "demo" and not call.is_error
    assert call.display == {"kind": "kv", "title": "AAPL", "items": [["price", 123.5]]}
    assert call.duration_ms is not None and call.finished_at >= call.started_at
    message = store.get_message(message_step.message_id)
    assert message.text == "AAPL and MSFT both trade at 123.5." and message.status == "completed"
    assert run.provider == "scripted" and run.approval == "auto"
    assert run.memory["dropped_messages"] == 0


async def test_text_before_tool_calls_is_its_own_message(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "AAPL"}'), text="Let me look that up."),
            text_turn("Done."),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "price of apple?"))
    names = collapse(event_names(events))
    assert names[3:12] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.step.created",
        "thread.run.step.in_progress",
    ]
    texts = [m.text for m in store.list_messages(thread.id) if m.role == "assistant"]
    assert texts == ["Let me look that up.", "Done."]
    # The model's next turn sees its own words, then its call and the output.
    assert [i["role"] for i in backend.requests[1].input] == [
        "user",
        "assistant",
        "assistant",
        "tool",
    ]


async def test_ask_policy_approve_and_deny(tmp_path: Path) -> None:
    rt, backend, _store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("get_price", '{"symbol": "AAPL"}', "call_a"),
                ("get_price", '{"symbol": "TSLA"}', "call_b"),
            ),
            text_turn("Only Apple was allowed."),
        ],
        approval="ask",
    )
    thread = rt.create_thread()
    names: list[str] = []
    async for event in rt.ask(thread.id, "prices?"):
        names.append(event.event)
        if event.event == "thread.run.requires_action":
            run = event.data
            assert run.status == "requires_action" and run.approval == "ask"
            [step] = rt.list_steps(run.id)
            assert [c.status for c in step.tool_calls] == ["awaiting_approval"] * 2
            assert rt.tools.calls == []  # nothing runs before approval
            with pytest.raises(RunStateError):
                await rt.approve(run.id, {"call_zzz": True})
            with pytest.raises(RunStateError):
                await rt.submit_tool_outputs(run.id, [{"tool_call_id": "call_a", "output": "x"}])
            await rt.approve(run.id, {"call_a": True})  # partial: still waiting
            await asyncio.sleep(0.01)
            assert rt.get_run(run.id).status == "requires_action"
            await rt.approve(run.id, {"call_b": False})
    i = names.index("thread.run.requires_action")
    assert names[i + 1] == "thread.run.in_progress"  # back to work before the tools run
    assert rt.tools.calls == [("get_price", "AAPL")]
    outputs = tool_outputs(backend.requests[1])
    assert json.loads(outputs["call_b"]) == {"error": "the user denied this tool call"}
    assert json.loads(outputs["call_a"])["data"]["symbol"] == "AAPL"
    [step, _] = rt.list_steps(rt.list_runs(thread.id)[-1].id)
    denied = step.tool_calls[1]
    assert (
        denied.status == "denied"
        and denied.is_error
        and denied.error == "the user denied this tool call"
    )
    assert rt.list_runs(thread.id)[-1].status == "completed"
    assert rt.list_runs(thread.id)[-1].required_action is None


async def test_ask_policy_approve_all_with_star(tmp_path: Path) -> None:
    rt, _backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "A"}'), ("get_price", '{"symbol": "B"}')),
            text_turn("ok"),
        ],
        approval="ask",
    )
    thread = rt.create_thread()
    async for event in rt.ask(thread.id, "prices?"):
        if event.event == "thread.run.requires_action":
            await rt.approve(event.data.id, {"*": True})
    assert sorted(rt.tools.calls) == [("get_price", "A"), ("get_price", "B")]


async def test_client_policy_waits_for_all_outputs(tmp_path: Path) -> None:
    rt, backend, _store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "A"}', "c1"), ("nap", '{"seconds": 0}', "c2")),
            text_turn("thanks"),
        ],
        approval="client",
    )
    thread = rt.create_thread()
    async for event in rt.ask(thread.id, "go"):
        if event.event == "thread.run.requires_action":
            run_id = event.data.id
            with pytest.raises(RunStateError):
                await rt.approve(run_id, {"c1": True})
            await rt.submit_tool_outputs(run_id, [{"tool_call_id": "c1", "output": "one"}])
            await asyncio.sleep(0.01)
            assert rt.get_run(run_id).status == "requires_action"
            await rt.submit_tool_outputs(run_id, [{"tool_call_id": "c2", "output": "two"}])
    assert rt.tools.calls == []  # the client ran them, not us
    assert tool_outputs(backend.requests[1]) == {"c1": "one", "c2": "two"}
    step = rt.list_steps(run_id)[0]
    assert [c.function.output for c in step.tool_calls] == ["one", "two"]
    assert all(c.status == "completed" and c.duration_ms is not None for c in step.tool_calls)


@pytest.mark.parametrize("policy", ["ask", "client"])
async def test_a_second_answer_after_every_call_is_answered_is_refused(
    tmp_path: Path, policy: str
) -> None:
    """Regression: an answer arriving twice (a double click, two clients) before the run
    resumed silently replaced the first one (an approval became a denial)."""
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_price", '{"symbol": "A"}', "c1")), text_turn("done")],
        approval=policy,
    )
    thread = rt.create_thread()
    async for event in rt.ask(thread.id, "go"):
        if event.event == "thread.run.requires_action":
            run_id = event.data.id
            if policy == "ask":
                await rt.approve(run_id, {"c1": True})
                with pytest.raises(RunStateError, match="already answered"):
                    await rt.approve(run_id, {"c1": False})
            else:
                await rt.submit_tool_outputs(run_id, [{"tool_call_id": "c1", "output": "first"}])
                with pytest.raises(RunStateError, match="already answered"):
                    await rt.submit_tool_outputs(
                        run_id, [{"tool_call_id": "c1", "output": "second"}]
                    )
    assert rt.get_run(run_id).status == "completed"
    if policy == "ask":
        assert rt.tools.calls == [("get_price", "A")]
    else:
        assert tool_outputs(backend.requests[1]) == {"c1": "first"}


async def test_a_refused_run_adds_no_user_message(tmp_path: Path) -> None:
    """Regression: ask() stored the question before checking the assistant and options, so a
    refused run left an unanswered user message in the thread."""
    rt, _, store = make_runtime(tmp_path / "db.sqlite", [text_turn("ok")])
    thread = rt.create_thread()
    with pytest.raises(NotFoundError):
        await collect(rt.ask(thread.id, "hello", assistant_id="asst_nope"))
    with pytest.raises(Exception, match="unknown approval policy"):
        await collect(rt.ask(thread.id, "hello", approval="sometimes"))  # type: ignore[typeddict-item]
    with pytest.raises(TypeError, match="unknown run option"):
        await collect(rt.ask(thread.id, "hello", temprature=0.2))  # type: ignore[call-arg]
    assert store.list_messages(thread.id) == [] and store.list_runs(thread.id) == []
    await collect(rt.ask(thread.id, "hello"))
    assert [m.role for m in store.list_messages(thread.id)] == ["user", "assistant"]


async def test_four_tools_run_concurrently(tmp_path: Path) -> None:
    rt, _, _store = make_runtime(
        tmp_path / "db.sqlite",
        [
            # Distinct arguments: identical calls in one run execute once (runtime.guards).
            tool_turn(
                ("nap", '{"seconds": 1}'),
                ("nap", '{"seconds": 0.95}'),
                ("snooze", '{"seconds": 1}'),  # blocking: runs in a worker thread
                ("snooze", '{"seconds": 0.95}'),
            ),
            text_turn("all rested"),
        ],
    )
    thread = rt.create_thread()
    started = time.perf_counter()
    await collect(rt.ask(thread.id, "sleep"))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.6, f"4 × 1 s tools took {elapsed:.2f} s: not concurrent"
    assert len(rt.tools.calls) == 4
    step = rt.list_steps(rt.list_runs(thread.id)[-1].id)[0]
    assert all(900 <= c.duration_ms < 1600 for c in step.tool_calls)


async def test_parallel_tool_calls_false_runs_sequentially(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("nap", '{"seconds": 0.15}'), ("nap", '{"seconds": 0.16}')), text_turn("ok")],
    )
    thread = rt.create_thread()
    started = time.perf_counter()
    await collect(rt.ask(thread.id, "sleep", parallel_tool_calls=False))
    assert time.perf_counter() - started >= 0.31
    assert backend.requests[0].parallel_tool_calls is False
    assert rt.list_runs(thread.id)[-1].parallel_tool_calls is False


async def test_second_active_run_is_refused(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite", [tool_turn(("get_price", '{"symbol": "A"}'))], approval="client"
    )
    thread = rt.create_thread()
    stream = rt.ask(thread.id, "go")
    async for event in stream:
        if event.event == "thread.run.requires_action":
            break
    assert rt.is_streaming(thread.id)
    with pytest.raises(ActiveRunError, match="already has an active run"):
        await collect(rt.stream_run(thread.id))
    with pytest.raises(ActiveRunError):
        await rt.add_message(thread.id, "another question")
    with pytest.raises(ActiveRunError):
        await collect(rt.ask(thread.id, "another question"))
    cancelled = await rt.cancel_run(event.data.id)
    assert cancelled.status == "cancelled"
    await stream.aclose()
    assert not rt.is_streaming(thread.id)
    await rt.add_message(thread.id, "now it works")


async def test_unknown_thread_and_run(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(tmp_path / "db.sqlite")
    with pytest.raises(NotFoundError):
        await collect(rt.stream_run("thread_nope"))
    with pytest.raises(NotFoundError):
        await rt.approve("run_nope", {})
    with pytest.raises(NotFoundError):
        await rt.cancel_run("run_nope")


async def test_events_are_snapshots(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(tmp_path / "db.sqlite", [text_turn("Hello there, investor.")])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hi"))
    by_name = {e.event: e for e in events}
    assert by_name["thread.run.created"].data.status == "queued"
    assert by_name["thread.message.created"].data.text == ""
    assert by_name["thread.message.completed"].data.text == "Hello there, investor."
    assert (
        "".join(e.data.value for e in events if isinstance(e, MessageDelta))
        == "Hello there, investor."
    )
    assert isinstance(events[-1], Done)
    for event in events:  # every event serialises to the API's wire form
        event.to_sse()


async def test_persistence_reopened_store_sees_the_same_run(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    rt, _, _store = make_runtime(
        path,
        [tool_turn(("get_price", '{"symbol": "AAPL"}'), ("boom", "{}")), text_turn("Apple: 123.5")],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "apple?"))
    final_run = next(e.data for e in events if e.event == "thread.run.completed")
    steps = [e.data for e in events if e.event == "thread.run.step.completed"]
    final_message = next(e.data for e in events if e.event == "thread.message.completed")

    fresh = Store(path)
    try:
        assert fresh.get_run(final_run.id).to_dict() == final_run.to_dict()
        assert [s.to_dict() for s in fresh.list_steps(final_run.id)] == [s.to_dict() for s in steps]
        records = fresh.list_tool_calls(run_id=final_run.id)
        assert [r.call.function.name for r in records] == ["get_price", "boom"]
        assert records[1].call.is_error and "data provider is down" in records[1].call.error
        messages = fresh.list_messages(thread.id)
        assert [(m.role, m.text, m.status) for m in messages] == [
            ("user", "apple?", "completed"),
            ("assistant", "Apple: 123.5", "completed"),
        ]
        assert messages[1].to_dict() == final_message.to_dict()
    finally:
        fresh.close()


async def test_streaming_text_is_flushed_while_streaming(tmp_path: Path) -> None:
    from tests.support.scripted_backend import Pause

    path = tmp_path / "db.sqlite"
    turn: list[Any] = text_turn("First part. ", finish=None, usage=None)
    turn += [Pause(0.15), *text_turn("Second part.", usage=None)]
    rt, _, _ = make_runtime(path, [turn], flush_interval=0.05)
    thread = rt.create_thread()
    other = Store(path)  # another process's view of the same file
    try:
        seen_mid_stream = None
        async for event in rt.ask(thread.id, "hi"):
            if event.event == "thread.message.delta" and event.data.value == "Second part.":
                break  # the pause is over; check what was on disk during it
            if event.event == "thread.message.delta" and seen_mid_stream is None:
                await asyncio.sleep(0.1)
                seen_mid_stream = [
                    m.text for m in other.list_messages(thread.id) if m.role == "assistant"
                ]
        assert seen_mid_stream == ["First part. "]
    finally:
        other.close()
