"""Run limits: max turns, max completion tokens, max prompt tokens."""

from __future__ import annotations

from pathlib import Path

from assistant_core.backends.base import Finish, TextDelta, UsageChunk
from tests.support.scripted_backend import collect, event_names, make_runtime, text_turn, tool_turn


async def test_max_turns_ends_incomplete(tmp_path: Path) -> None:
    # With one turn allowed there is no turn left to ask for a final answer (with more, the
    # last turn asks for one: tests/test_runtime_guards.py).
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_price", '{"symbol": "A"}')) for _ in range(5)],
        max_turns=1,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "loop forever"))
    assert event_names(events)[-2:] == ["thread.run.incomplete", "done"]
    run = events[-2].data
    assert run.status == "incomplete"
    assert run.incomplete_details["reason"] == "max_turns"
    assert "1 model turns" in run.incomplete_details["message"]
    assert "not of the Assistants API" in run.incomplete_details["message"]
    assert len(backend.requests) == 1
    assert [s.status for s in store.list_steps(run.id)] == ["completed"]
    assert store.get_run(run.id).status == "incomplete"


async def test_finish_length_ends_incomplete_with_partial_message(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        [[TextDelta("Apple's revenue grew"), UsageChunk(30, 16), Finish("length")]],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "apple?", max_completion_tokens=16))
    assert event_names(events)[-4:] == [
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
        "done",
    ]
    run = events[-2].data
    assert run.incomplete_details == {"reason": "max_completion_tokens"}
    assert backend.requests[0].max_output_tokens == 16
    message = store.list_messages(thread.id)[-1]
    assert message.status == "incomplete" and message.text == "Apple's revenue grew"
    assert message.incomplete_details == {"reason": "max_tokens"}
    assert run.usage.completion_tokens == 16


async def test_max_completion_tokens_across_turns(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_price", '{"symbol": "A"}'), usage=(20, 12)), text_turn("never asked")],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "go", max_completion_tokens=10))
    run = events[-2].data
    assert run.status == "incomplete" and run.incomplete_details == {
        "reason": "max_completion_tokens"
    }
    assert len(backend.requests) == 1  # the budget was spent: no second turn


async def test_remaining_completion_budget_is_passed_on(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "A"}'), usage=(20, 12)),
            text_turn("fine", usage=(30, 3)),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "go", max_completion_tokens=100))
    assert events[-2].data.status == "completed"
    assert [r.max_output_tokens for r in backend.requests] == [100, 88]


async def test_max_prompt_tokens_too_small_for_the_question(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", [text_turn("unused")])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "word " * 400, max_prompt_tokens=50))
    run = events[-2].data
    assert run.status == "incomplete" and run.incomplete_details["reason"] == "max_prompt_tokens"
    assert "budget is 50" in run.incomplete_details["message"]
    assert backend.requests == []
    assert run.memory["prompt_budget"] == 50
