"""Weak-model guards (assistant_core.runtime.guards) through the run loop, with scripted turns:
the per-turn completion-token limit, the call cap per step, identical calls run once, calls
printed as text recovered, a final answer asked for instead of a loop, the run time budget,
unknown tools, and the context window a server reports."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from assistant_core.backends.base import Finish, TextDelta, UsageChunk
from assistant_core.events import StepDelta
from assistant_core.objects import Run, RunStep
from assistant_core.runtime.guards import (
    FINAL_ANSWER_NUDGE,
    TextCallGate,
    canonical_arguments,
    parse_text_calls,
)
from tests.support.scripted_backend import (
    ScriptedBackend,
    collect,
    event_names,
    make_runtime,
    text_turn,
    tool_outputs,
    tool_turn,
)

PRICE_A = ("get_price", '{"symbol": "A"}')
KNOWN = {"get_price", "nap"}


def run_of(events: list[Any]) -> Run:
    return next(
        e.data
        for e in reversed(events)
        if e.event.startswith("thread.run.") and isinstance(e.data, Run)
    )


def steps_of(rt: Any, events: list[Any]) -> list[RunStep]:
    return rt.list_steps(run_of(events).id)


def llm(turns: list[Any]) -> ScriptedBackend:
    return ScriptedBackend(turns, is_llm=True)


# -- the completion-token limit --------------------------------------------------------------
async def test_every_request_of_a_language_model_carries_a_token_limit(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite", backend=llm([tool_turn(PRICE_A), text_turn("A is 123.5.")])
    )
    thread = rt.create_thread()
    await collect(rt.ask(thread.id, "price of A?"))
    assert [r.max_output_tokens for r in backend.requests] == [4096, 4096]


async def test_the_token_limit_is_configurable_and_fits_a_small_window(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm([text_turn("ok")]),
        max_turn_tokens=1000,
        context_windows={"gpt-4o": 1200},
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hello"))
    memory = run_of(events).memory
    room = memory["context_window"] - memory["estimated_prompt_tokens"]
    assert backend.requests[0].max_output_tokens == room < 1000


async def test_the_run_limit_still_wins_over_the_turn_limit(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", backend=llm([text_turn("ok")]))
    thread = rt.create_thread()
    await collect(rt.ask(thread.id, "hello", max_completion_tokens=50))
    assert backend.requests[0].max_output_tokens == 50


async def test_the_offline_analyst_gets_no_turn_limit(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", [text_turn("ok")])  # is_llm=False
    thread = rt.create_thread()
    await collect(rt.ask(thread.id, "hello"))
    assert backend.requests[0].max_output_tokens is None


# -- the call cap per step -------------------------------------------------------------------
async def test_endless_parallel_calls_are_stopped_at_the_cap(tmp_path: Path) -> None:
    endless = tool_turn(*[("get_price", json.dumps({"symbol": f"S{i}"})) for i in range(40)])
    answer = text_turn("S0 to S4 cost 123.5 each.")
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm([endless, answer]),
        max_tool_calls_per_step=5,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "price everything"))
    run = run_of(events)
    assert run.status == "completed"
    # The stream was stopped at the 6th call: 5 calls of 3 chunks each, then the 6th's start.
    assert backend.chunks_sent == 16 + len(answer)
    calls = steps_of(rt, events)[0].tool_calls
    assert [c.function.arguments for c in calls] == [
        json.dumps({"symbol": f"S{i}"}) for i in range(5)
    ]
    assert all(c.status == "completed" for c in calls) and len(rt.tools.calls) == 5
    assert [n["code"] for n in run.notes] == ["tool_call_cap", "final_answer_requested"]
    assert "more than 5 tool calls in one step" in run.notes[0]["message"]
    # The next turn answers without tools, and the note went out with its run.in_progress.
    assert backend.requests[1].tool_choice == "none"
    assert backend.requests[1].input[-1] == {"role": "system", "content": FINAL_ANSWER_NUDGE}
    in_progress = [e.data for e in events if e.event == "thread.run.in_progress"]
    assert [n["code"] for n in in_progress[-1].notes] == ["tool_call_cap", "final_answer_requested"]


# -- identical calls -------------------------------------------------------------------------
async def test_identical_calls_in_one_step_run_once(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("get_price", '{"symbol": "A"}', "call_1"),
                ("get_price", '{ "symbol" : "A" }', "call_2"),  # same call, other spacing
                ("get_price", '{"symbol": "B"}', "call_3"),
            ),
            text_turn("A and B cost 123.5."),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A and B?"))
    assert rt.tools.calls == [("get_price", "A"), ("get_price", "B")]
    first, repeat, other = steps_of(rt, events)[0].tool_calls
    assert repeat.repeat_of == "call_1" and first.repeat_of is None and other.repeat_of is None
    assert repeat.status == "completed" and repeat.display == first.display
    # The model reads a pointer to the first result, and that it was not run again.
    output = json.loads(tool_outputs(backend.requests[1])["call_2"])
    assert output["repeat_of"] == "call_1" and "not run again" in output["note"]
    # The UI learns it from the step delta.
    deltas = [t for e in events if isinstance(e, StepDelta) for t in e.data.tool_calls]
    assert any(t.get("repeat_of") == "call_1" and t["id"] == "call_2" for t in deltas)


async def test_a_repeat_of_an_earlier_step_is_answered_and_the_model_asked_to_answer(
    tmp_path: Path,
) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm(
            [
                tool_turn(("get_price", '{"symbol": "A"}', "call_1")),
                tool_turn(("get_price", '{"symbol":"A"}', "call_2")),
                text_turn("A costs 123.5."),
            ]
        ),
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    run = run_of(events)
    assert run.status == "completed" and len(rt.tools.calls) == 1
    assert steps_of(rt, events)[1].tool_calls[0].repeat_of == "call_1"
    assert [n["code"] for n in run.notes] == ["final_answer_requested"]
    assert "repeated tool calls" in run.notes[0]["message"]
    assert [r.tool_choice for r in backend.requests] == [None, None, "none"]


async def test_a_failed_call_may_be_tried_again(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("boom", "{}", "call_1")),
            tool_turn(("boom", "{}", "call_2")),
            text_turn("down"),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "boom"))
    second = steps_of(rt, events)[1].tool_calls[0]
    assert second.repeat_of is None and second.status == "error"


async def test_a_repeat_needs_no_approval(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("get_price", '{"symbol": "A"}', "call_1"),
                ("get_price", '{"symbol": "A"}', "call_2"),
            ),
            text_turn("ok"),
        ],
        approval="ask",
    )
    thread = rt.create_thread()
    asked: list[list[str]] = []
    async for event in rt.ask(thread.id, "A?"):
        if event.event == "thread.run.requires_action":
            calls = event.data.required_action["submit_tool_outputs"]["tool_calls"]
            asked.append([c["id"] for c in calls])
            await rt.approve(event.data.id, {"*": True})
    assert asked == [["call_1"]]
    assert len(rt.tools.calls) == 1


def test_canonical_arguments() -> None:
    assert canonical_arguments('{"b": 2, "a": [1, {"y": 1, "x": 2}]}') == canonical_arguments(
        '{"a":[1,{"x":2,"y":1}],"b":2}'
    )
    assert canonical_arguments("") == canonical_arguments("{}") == "{}"
    assert canonical_arguments(" not json ") == "not json"
    assert canonical_arguments('{"a": 1}') != canonical_arguments('{"a": 2}')


# -- calls printed as text -------------------------------------------------------------------
PRINTED_CALLS = [
    '{"name": "get_price", "arguments": {"symbol": "A"}}',
    '<tool_call>\n{"name": "get_price", "arguments": {"symbol": "A"}}\n</tool_call>',
    '```json\n{"name": "get_price", "parameters": {"symbol": "A"}}\n```',
    '[{"type": "function", "function": {"name": "get_price", "arguments": "{\\"symbol\\": \\"A\\"}"}}]',
]


@pytest.mark.parametrize("printed", PRINTED_CALLS)
async def test_a_call_printed_as_text_is_recovered_and_run(tmp_path: Path, printed: str) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite", [text_turn(printed), text_turn("A costs 123.5.")]
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    assert run_of(events).status == "completed"
    (call,) = steps_of(rt, events)[0].tool_calls
    assert call.recovered and call.status == "completed"
    assert json.loads(call.function.arguments) == {"symbol": "A"}
    assert rt.tools.calls == [("get_price", "A")]
    # The JSON never showed as a message: the one message is the answer.
    answers = [m.text for m in store.list_messages(thread.id) if m.role == "assistant"]
    assert answers == ["A costs 123.5."]
    assert (
        "thread.message.created"
        not in event_names(events)[: event_names(events).index("thread.run.step.created")]
    )
    deltas = [t for e in events if isinstance(e, StepDelta) for t in e.data.tool_calls]
    assert deltas[0].get("recovered") is True
    assert tool_outputs(backend.requests[1])[call.id]


async def test_a_recovered_call_is_asked_for_under_ask(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite", [text_turn(PRINTED_CALLS[0]), text_turn("ok")], approval="ask"
    )
    thread = rt.create_thread()
    asked = []
    async for event in rt.ask(thread.id, "A?"):
        if event.event == "thread.run.requires_action":
            asked += event.data.required_action["submit_tool_outputs"]["tool_calls"]
            await rt.approve(event.data.id, {"*": False})
    assert [c["function"]["name"] for c in asked] == ["get_price"]
    assert rt.tools.calls == []


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_horoscope", "arguments": {"sign": "leo"}}',  # not a tool of the run
        '{"revenue": 391035000000}',  # JSON, not a call
        "```python\nprint(1)\n```",
        "Apple's revenue was $391 billion.",
    ],
)
async def test_other_text_stays_the_answer(tmp_path: Path, text: str) -> None:
    rt, _, store = make_runtime(tmp_path / "db.sqlite", [text_turn(text)])
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "?"))
    assert run_of(events).status == "completed" and rt.tools.calls == []
    assert store.list_messages(thread.id)[-1].text == text


def test_parse_text_calls() -> None:
    two = '{"name": "get_price", "arguments": {"symbol": "A"}}\n{"name": "nap", "arguments": {"seconds": 1}}'
    assert parse_text_calls(two, KNOWN) == [
        ("get_price", '{"symbol": "A"}'),
        ("nap", '{"seconds": 1}'),
    ]
    assert parse_text_calls('{"name": "get_price"}', KNOWN) == [("get_price", "{}")]
    assert parse_text_calls('Sure: {"name": "get_price", "arguments": {}}', KNOWN) == []
    assert parse_text_calls('{"name": "get_price", "arguments": [1]}', KNOWN) == []
    assert parse_text_calls('{"name": "get_price", "arguments": "{bad"}', KNOWN) == []
    assert parse_text_calls("", KNOWN) == []
    assert parse_text_calls("[" * 100_000, KNOWN) == []


def test_the_gate_holds_only_what_may_be_a_call() -> None:
    gate = TextCallGate()
    assert gate.feed("Apple") == "Apple" and gate.feed(" grew") == " grew"
    gate = TextCallGate()
    assert gate.feed("  ") == "" and gate.feed('{"name"') == ""
    assert gate.release() == '  {"name"'
    gate = TextCallGate()
    assert gate.feed("``") == "" and gate.feed("`python\n") == "```python\n"
    gate = TextCallGate()
    assert gate.feed("```json\n{") == "" and gate.held == "```json\n{"
    gate = TextCallGate()
    assert gate.feed("<b>bold</b>") == "<b>bold</b>"


# -- the final answer ------------------------------------------------------------------------
async def test_the_last_turn_asks_for_an_answer(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm(
            [
                tool_turn(("get_price", '{"symbol": "A"}')),
                tool_turn(("get_price", '{"symbol": "B"}')),
                text_turn("A and B cost 123.5."),
            ]
        ),
        max_turns=3,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A, B?"))
    run = run_of(events)
    assert run.status == "completed"
    assert [r.tool_choice for r in backend.requests] == [None, None, "none"]
    assert "last model turn" in run.notes[0]["message"]


async def test_calls_in_the_final_turn_are_not_run_but_shown(tmp_path: Path) -> None:
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm(
            [tool_turn(PRICE_A), tool_turn(PRICE_A), tool_turn(("get_price", '{"symbol": "Z"}'))]
        ),
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    run = run_of(events)
    assert run.status == "completed" and rt.tools.calls == [("get_price", "A")]
    assert [n["code"] for n in run.notes] == ["final_answer_requested", "no_final_answer"]
    text = store.list_messages(thread.id)[-1].text
    assert json.loads(text) == {"name": "get_price", "arguments": {"symbol": "Z"}}
    assert event_names(events)[-3:] == ["thread.run.step.completed", "thread.run.completed", "done"]


async def test_a_call_printed_in_the_final_turn_ends_the_run_as_written(tmp_path: Path) -> None:
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm([tool_turn(PRICE_A), tool_turn(PRICE_A), text_turn(PRINTED_CALLS[2])]),
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    run = run_of(events)
    assert run.status == "completed" and len(rt.tools.calls) == 1
    assert store.list_messages(thread.id)[-1].text == PRINTED_CALLS[2]
    assert run.notes[-1]["code"] == "no_final_answer"


# -- the run's time budget -------------------------------------------------------------------
async def test_the_run_budget_ends_a_slow_run_incomplete(tmp_path: Path) -> None:
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("nap", '{"seconds": 3}')), text_turn("never")],
        max_run_seconds=0.3,
    )
    thread = rt.create_thread()
    started = time.monotonic()
    events = await collect(rt.ask(thread.id, "sleep"))
    assert time.monotonic() - started < 2
    run = run_of(events)
    assert run.status == "incomplete"
    assert run.incomplete_details["reason"] == "max_run_seconds"
    assert "time budget of 0.3 s" in run.incomplete_details["message"]
    (step,) = store.list_steps(run.id)
    assert step.status == "cancelled" and step.tool_calls[0].status == "cancelled"


async def test_the_budget_stops_a_stream_and_keeps_its_text(tmp_path: Path) -> None:
    from tests.support.scripted_backend import Pause

    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            [
                TextDelta("Apple grew "),
                Pause(5),
                TextDelta("never"),
                UsageChunk(1, 1),
                Finish("stop"),
            ]
        ],
        max_run_seconds=0.3,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "apple?"))
    assert run_of(events).incomplete_details["reason"] == "max_run_seconds"
    message = store.list_messages(thread.id)[-1]
    assert (message.status, message.text) == ("incomplete", "Apple grew ")


async def test_waiting_for_approval_is_not_counted(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(PRICE_A), text_turn("A costs 123.5.")],
        approval="ask",
        max_run_seconds=0.5,
    )
    thread = rt.create_thread()
    async for event in rt.ask(thread.id, "A?"):
        if event.event == "thread.run.requires_action":
            await asyncio.sleep(0.8)  # the user thinks
            await rt.approve(event.data.id, {"*": True})
    assert rt.list_runs(thread.id)[-1].status == "completed"


# -- unknown tools ---------------------------------------------------------------------------
async def test_an_unknown_tool_gets_one_line_listing_the_tools(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_horoscope", '{"sign": "leo"}', "call_x")), text_turn("sorry")],
    )
    thread = rt.create_thread()
    await collect(rt.ask(thread.id, "leo?"))
    error = json.loads(tool_outputs(backend.requests[1])["call_x"])["error"]
    assert "\n" not in error
    assert error.startswith("unknown tool 'get_horoscope'; available tools: ")
    assert "get_price" in error and "nap" in error


# -- the context window a server reports ------------------------------------------------------
class WindowBackend(ScriptedBackend):
    def __init__(self, turns: list[Any], window: int | None) -> None:
        super().__init__(turns, is_llm=True)
        self.window = window
        self.probes = 0

    async def server_context_window(self, model: str) -> int | None:
        self.probes += 1
        return self.window


async def test_the_served_window_is_used_and_asked_once(tmp_path: Path) -> None:
    backend = WindowBackend([text_turn("one"), text_turn("two")], 2048)
    rt, _, _ = make_runtime(tmp_path / "db.sqlite", backend=backend)
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hello"))
    memory = run_of(events).memory
    assert (memory["context_window"], memory["context_window_source"]) == (2048, "server")
    assert memory["prompt_budget"] <= 2048 - 512
    await collect(rt.ask(thread.id, "again"))
    assert backend.probes == 1


async def test_a_smaller_configured_window_wins(tmp_path: Path) -> None:
    backend = WindowBackend([text_turn("one")], 8192)
    rt, _, _ = make_runtime(tmp_path / "db.sqlite", backend=backend, context_windows={"gpt": 4000})
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hello"))
    memory = run_of(events).memory
    assert (memory["context_window"], memory["context_window_source"]) == (4000, "config")


async def test_no_served_window_falls_back_to_the_table(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(tmp_path / "db.sqlite", backend=WindowBackend([text_turn("x")], None))
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "hello"))
    memory = run_of(events).memory
    assert (memory["context_window"], memory["context_window_source"]) == (128_000, "table")


# -- the wire stays the API's ----------------------------------------------------------------
@pytest.mark.parametrize("reason", ["max_turns", "max_run_seconds"])
def test_runs_with_notes_and_our_reasons_validate_against_openai(reason: str) -> None:
    from openai.types.beta.threads import Run as OpenAIRun

    run = Run(
        id="run_1",
        created_at=1_790_000_000,
        thread_id="thread_1",
        assistant_id="asst_1",
        model="qwen2.5-coder-0.5b-instruct",
        status="incomplete",
        incomplete_details={"reason": reason, "message": "stopped"},
        notes=[{"code": "tool_call_cap", "message": "more than 16 calls"}],
    )
    wire = run.to_dict()
    model = OpenAIRun.model_validate(wire)
    assert model.incomplete_details is not None and model.incomplete_details.reason is None
    assert wire["incomplete_details"]["cause"] == reason and wire["notes"] == run.notes
    assert Run.from_dict(wire) == run  # what the store keeps reads back the same


def test_recovered_and_repeated_calls_validate_against_openai() -> None:
    from openai.types.beta.threads.runs import RunStep as OpenAIRunStep

    from assistant_core.objects import FunctionCall, ToolCall

    step = RunStep(
        id="step_1",
        created_at=1_790_000_000,
        run_id="run_1",
        thread_id="thread_1",
        assistant_id="asst_1",
        type="tool_calls",
        status="completed",
        tool_calls=[
            ToolCall("call_1", FunctionCall("get_price", "{}", "{}"), recovered=True),
            ToolCall("call_2", FunctionCall("get_price", "{}", "{}"), repeat_of="call_1"),
        ],
    )
    model = OpenAIRunStep.model_validate(step.to_dict())
    assert model.step_details.type == "tool_calls"
    assert RunStep.from_dict(step.to_dict()) == step


async def test_calls_cut_by_the_turn_limit_keep_the_complete_ones(tmp_path: Path) -> None:
    from assistant_core.backends.base import ToolCallDelta

    cut = [
        ToolCallDelta(0, "call_1", "get_price", '{"symbol": "A"}'),
        ToolCallDelta(1, "call_2", "get_price", '{"symbol": "B"}'),
        ToolCallDelta(2, "call_3", "get_price", '{"sym'),
        UsageChunk(50, 40),
        Finish("length"),
    ]
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm([cut, text_turn("A and B cost 123.5.")]),
        max_turn_tokens=40,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A, B, C?"))
    run = run_of(events)
    assert run.status == "completed"
    assert rt.tools.calls == [("get_price", "A"), ("get_price", "B")]
    calls = steps_of(rt, events)[0].tool_calls
    assert [c.status for c in calls] == ["completed", "completed", "cancelled"]
    assert "token limit" in (calls[2].error or "")
    assert [n["code"] for n in run.notes] == ["turn_token_limit", "final_answer_requested"]
    assert "call_3" not in tool_outputs(backend.requests[1])  # a cut call never reaches the model


async def test_the_runs_own_token_budget_still_ends_it(tmp_path: Path) -> None:
    from assistant_core.backends.base import ToolCallDelta

    cut = [
        ToolCallDelta(0, "call_1", "get_price", '{"symbol": "A"}'),
        UsageChunk(5, 10),
        Finish("length"),
    ]
    rt, _, _ = make_runtime(tmp_path / "db.sqlite", backend=llm([cut]))
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?", max_completion_tokens=10))
    run = run_of(events)
    assert run.status == "incomplete" and run.incomplete_details == {
        "reason": "max_completion_tokens"
    }
    assert rt.tools.calls == []


async def test_the_runs_own_outputs_give_way_in_a_small_window(tmp_path: Path) -> None:
    from assistant_core.runtime.memory import OMITTED_OUTPUT
    from tests.support.scripted_backend import function_spec, make_test_tools

    tools = make_test_tools()
    tools.register(
        function_spec("big", {"n": {"type": "integer"}}, ["n"]),
        lambda n: {"n": n, "rows": list(range(1000, 1300))},  # ~1,500 tokens of figures
    )
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm(
            [
                tool_turn(("big", '{"n": 1}', "call_1")),
                tool_turn(("big", '{"n": 2}', "call_2")),
                text_turn("ok"),
            ]
        ),
        tools=tools,
        context_windows={"gpt-4o": 4000},
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "big?"))
    run = run_of(events)
    assert run.status == "completed", run.incomplete_details
    assert run.memory["compacted_tool_outputs"] == 1
    last = tool_outputs(backend.requests[-1])
    assert last["call_1"] == OMITTED_OUTPUT and last["call_2"] != OMITTED_OUTPUT


async def test_an_empty_reply_after_tool_results_gets_a_final_answer_turn(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite",
        backend=llm(
            [tool_turn(PRICE_A), [UsageChunk(5, 0), Finish("stop")], text_turn("A: 123.5.")]
        ),
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    run = run_of(events)
    assert run.status == "completed"
    assert [r.tool_choice for r in backend.requests] == [None, None, "none"]
    assert "replied with nothing" in run.notes[0]["message"]
    assert store.list_messages(thread.id)[-1].text == "A: 123.5."


async def test_an_empty_final_answer_ends_the_run(tmp_path: Path) -> None:
    empty = [UsageChunk(5, 0), Finish("stop")]
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite", backend=llm([tool_turn(PRICE_A), empty, empty])
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "A?"))
    assert run_of(events).status == "completed" and len(backend.requests) == 3
