"""The runtime's API for the server and for other processes: detached runs, fan-out to any
number of listeners (late ones get the run so far), following a run from the store, the
split between built-in and client tools, expiry, tool_choice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from assistant_core.events import Done, Event, MessageDelta, StepDelta
from assistant_core.runtime.follow import follow_run
from assistant_core.store import Store
from tests.support.scripted_backend import (
    Pause,
    collect,
    event_names,
    function_spec,
    make_runtime,
    text_turn,
    tool_turn,
)


def text_of(events: list[Event]) -> str:
    return "".join(e.data.value for e in events if isinstance(e, MessageDelta))


async def test_a_detached_run_feeds_every_listener_and_outlives_them(tmp_path: Path) -> None:
    answer = "Apple looks fine. " * 20
    turn = [*text_turn(answer, chunk=5)]
    turn.insert(10, Pause(0.05))
    runtime, _, store = make_runtime(tmp_path / "t.db", [turn])
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "Should I buy Apple?")
    run = runtime.start_run(thread.id)
    assert run.status == "queued" and runtime.executing(run.id)

    early = runtime.subscribe(run.id)
    quitter = runtime.subscribe(run.id)
    first = await anext(quitter)
    assert first.event == "thread.run.created"
    await quitter.aclose()  # a listener leaving does not cancel the run
    while not any(isinstance(e, MessageDelta) for e in [await anext(early)]):
        pass
    late = runtime.subscribe(run.id)  # joins mid-answer
    rest_early = await collect(early)
    got_late = await collect(late)
    assert isinstance(rest_early[-1], Done) and isinstance(got_late[-1], Done)
    assert event_names(got_late)[:2] == ["thread.run.created", "thread.run.queued"]
    assert text_of(got_late) == answer  # the text so far came compacted, then live
    assert sum(isinstance(e, MessageDelta) for e in got_late) < len(answer) // 5
    assert store.get_run(run.id).status == "completed"
    assert not runtime.executing(run.id)
    # a subscriber after the end follows the store: the run as it ended, then done
    after = await collect(runtime.subscribe(run.id))
    assert text_of(after) == answer and event_names(after)[-2:] == ["thread.run.completed", "done"]


async def test_subscribe_without_replay_starts_now(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(tmp_path / "t.db", [[Pause(0.1), *text_turn("later")]])
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "hi")
    run = runtime.start_run(thread.id)
    await asyncio.sleep(0.02)
    events = await collect(runtime.subscribe(run.id, replay=False))
    names = event_names(events)
    assert "thread.run.created" not in names and names[-2:] == ["thread.run.completed", "done"]


async def test_following_a_run_from_another_store(tmp_path: Path) -> None:
    """The same database opened twice stands for two processes: one executes, the other
    follows by polling; the fold of what it sees is the run as it ended."""
    calls = tool_turn(("get_price", '{"symbol": "AAPL"}'))
    answer = "AAPL trades at 123.5. " * 30
    slow = [*text_turn(answer, chunk=7)]
    for i in range(len(slow) - 2, 0, -15):
        slow.insert(i, Pause(0.02))
    runtime, _, _ = make_runtime(tmp_path / "t.db", [calls, slow], flush_interval=0.05)
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "price of AAPL?")
    run = runtime.start_run(thread.id)
    other = Store(tmp_path / "t.db")
    try:
        seen = await collect(follow_run(other, run.id, interval=0.02))
    finally:
        other.close()
    names = event_names(seen)
    assert names[0] == "thread.run.created" and names[-2:] == ["thread.run.completed", "done"]
    for name in (
        "thread.run.step.created",
        "thread.run.step.delta",
        "thread.message.created",
        "thread.message.completed",
    ):
        assert name in names
    assert text_of(seen) == answer
    assert names.count("thread.message.delta") > 1  # it arrived live, in pieces
    outputs = [
        entry["function"].get("output")
        for e in seen
        if isinstance(e, StepDelta)
        for entry in e.data.tool_calls
    ]
    assert any(o and "123.5" in o for o in outputs)


async def test_built_in_tools_run_here_and_client_tools_go_to_the_client(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "t.db",
        [
            tool_turn(
                ("get_price", '{"symbol": "AAPL"}', "call_here"), ("client_fn", "{}", "call_there")
            ),
            text_turn("done"),
        ],
    )
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "go")
    tools = [*runtime.tools.specs(), function_spec("client_fn")]
    run = runtime.start_run(
        thread.id, approval="client", tools=tools, server_tools=["get_price"], expires_in=60
    )
    events = runtime.subscribe(run.id)
    async for event in events:
        if event.event == "thread.run.requires_action":
            action = event.data.required_action["submit_tool_outputs"]["tool_calls"]
            assert [c["id"] for c in action] == ["call_there"]
            break
    await runtime.submit_tool_outputs(run.id, [{"tool_call_id": "call_there", "output": "42"}])
    await collect(events)
    assert store.get_run(run.id).status == "completed"
    [step, _] = store.list_steps(run.id)
    outputs = {c.id: c.function.output for c in step.tool_calls}
    assert outputs["call_there"] == "42" and "123.5" in (outputs["call_here"] or "")


async def test_a_live_run_expires_in_requires_action(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(tmp_path / "t.db", [tool_turn(("client_fn", "{}"))])
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "go")
    run = runtime.start_run(
        thread.id, approval="client", tools=[function_spec("client_fn")], expires_in=1
    )
    events = await asyncio.wait_for(collect(runtime.subscribe(run.id)), 5)
    assert event_names(events)[-3:] == ["thread.run.step.expired", "thread.run.expired", "done"]
    assert store.get_run(run.id).status == "expired"


async def test_tool_choice_none_offers_no_tools(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path / "t.db", [text_turn("no tools")])
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "hi")
    run = runtime.start_run(
        thread.id, tool_choice="none", model="gpt-4-turbo", served_model="offline"
    )
    await collect(runtime.subscribe(run.id))
    request: Any = backend.requests[0]
    assert request.tools == [] and request.model == "offline"
    assert runtime.get_run(run.id).model == "gpt-4-turbo"


async def test_a_forcing_tool_choice_applies_to_the_first_turn(tmp_path: Path) -> None:
    """ "required" or a named function forces a call on the run's first model turn (as the
    hosted API did); the turn after the tool answered is free to answer. top_p goes along."""
    for choice in ("required", {"type": "function", "function": {"name": "get_price"}}):
        calls = tool_turn(("get_price", '{"symbol": "AAPL"}'))
        runtime, backend, _ = make_runtime(tmp_path / f"{choice!s:.8}.db", [calls, text_turn("ok")])
        thread = runtime.create_thread()
        await runtime.add_message(thread.id, "price of AAPL?")
        run = runtime.start_run(thread.id, tool_choice=choice, top_p=0.3)
        await collect(runtime.subscribe(run.id))
        first, second = backend.requests
        assert first.tool_choice == choice and second.tool_choice is None
        assert first.top_p == second.top_p == 0.3


async def test_a_tool_choice_naming_no_offered_tool_is_not_sent(tmp_path: Path) -> None:
    runtime, backend, _ = make_runtime(tmp_path / "t.db", [text_turn("ok")])
    thread = runtime.create_thread()
    await runtime.add_message(thread.id, "hi")
    choice = {"type": "function", "function": {"name": "no_such_tool"}}
    run = runtime.start_run(thread.id, tool_choice=choice)
    await collect(runtime.subscribe(run.id))
    assert backend.requests[0].tool_choice is None
    assert runtime.get_run(run.id).status == "completed"
