"""Every tool failure becomes a tool output the model reads in its next turn, with the raw
arguments and the error kept on the tool call for the log."""

from __future__ import annotations

import json
from pathlib import Path

from assistant_core.tools.registry import ToolRegistry
from tests.support.scripted_backend import (
    collect,
    function_spec,
    make_runtime,
    make_test_tools,
    text_turn,
    tool_outputs,
    tool_turn,
)


async def test_every_tool_failure_reaches_the_model(tmp_path: Path) -> None:
    failing = [
        ("get_price", '{"symbol": "AAPL"', "c_json"),  # invalid JSON (cut off)
        ("get_price", '{"symbol": 42}', "c_schema"),  # schema violation
        ("get_price", '{"ticker": "AAPL"}', "c_extra"),  # missing required + unknown key
        ("get_the_moon", '{"x": 1}', "c_unknown"),  # unknown tool
        ("boom", "{}", "c_raise"),  # the tool raises
        ("slow", "{}", "c_timeout"),  # the tool times out (0.2 s)
        ("get_price", '{"symbol": "MSFT"}', "c_ok"),  # one healthy call alongside
    ]
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite", [tool_turn(*failing), text_turn("Some tools failed.")]
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "try everything"))
    assert events[-2].event == "thread.run.completed"

    outputs = {k: json.loads(v) for k, v in tool_outputs(backend.requests[1]).items()}
    assert set(outputs) == {c[2] for c in failing}
    assert "not valid JSON" in outputs["c_json"]["error"]
    assert "42 is not of type 'string'" in outputs["c_schema"]["error"]
    assert "symbol" in outputs["c_extra"]["error"]
    assert "unknown tool 'get_the_moon'" in outputs["c_unknown"]["error"]
    assert "get_price" in outputs["c_unknown"]["error"]  # tells the model what exists
    assert "RuntimeError: the data provider is down" in outputs["c_raise"]["error"]
    assert "timed out after 0.2 s" in outputs["c_timeout"]["error"]
    assert outputs["c_ok"]["data"] == {"symbol": "MSFT", "price": 123.5}

    step = rt.list_steps(rt.list_runs(thread.id)[-1].id)[0]
    by_id = {c.id: c for c in step.tool_calls}
    for call_id, name, raw in ((c[2], c[0], c[1]) for c in failing):
        call = by_id[call_id]
        assert call.function.name == name
        assert call.function.arguments == raw  # raw arguments kept as the model sent them
        if call_id == "c_ok":
            assert call.status == "completed" and not call.is_error and call.error is None
        else:
            assert call.status == "error" and call.is_error
            assert call.error and call.error == outputs[call_id]["error"]
    # Nothing crashed: the answer came after the failures.
    assert store.list_messages(thread.id)[-1].text == "Some tools failed."


async def test_tool_step_deltas_report_progress(tmp_path: Path) -> None:
    rt, _, _ = make_runtime(
        tmp_path / "db.sqlite", [tool_turn(("get_price", '{"symbol": "A"}', "c1")), text_turn("ok")]
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "go"))
    statuses = [
        entry.get("status")
        for e in events
        if e.event == "thread.run.step.delta"
        for entry in e.data.tool_calls
        if "status" in entry
    ]
    assert statuses == ["running", "completed"]
    done = next(
        entry
        for e in events
        if e.event == "thread.run.step.delta"
        for entry in e.data.tool_calls
        if entry.get("status") == "completed"
    )
    assert json.loads(done["function"]["output"])["data"]["symbol"] == "A"
    assert done["duration_ms"] is not None and done["source"] == "demo"


async def test_arguments_that_break_the_json_parser_reach_the_model(tmp_path: Path) -> None:
    """Regression: json.loads raises ValueError (not JSONDecodeError) for a number of more
    than 4,300 digits and RecursionError for deep nesting; both escaped and failed the run."""
    huge_number = '{"symbol": ' + "1" * 5000 + "}"
    deep = '{"symbol": ' + "[" * 100_000 + "]" * 100_000 + "}"
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", huge_number, "c_huge"), ("get_price", deep, "c_deep")),
            text_turn("ok"),
        ],
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "go"))
    assert events[-2].event == "thread.run.completed"
    outputs = {k: json.loads(v) for k, v in tool_outputs(backend.requests[1]).items()}
    assert "arguments could not be read (ValueError" in outputs["c_huge"]["error"]
    assert "arguments could not be read (RecursionError" in outputs["c_deep"]["error"]


async def test_a_tools_own_timeout_error_is_not_reported_as_our_timeout() -> None:
    """Regression: a TimeoutError raised by the tool (a socket read) read "timed out after 30 s"."""
    registry = ToolRegistry()

    def socket_read() -> None:
        raise TimeoutError("the socket read timed out")

    registry.register(function_spec("socket_read"), socket_read)
    result = await registry.execute("socket_read", "{}")
    assert result.error == "socket_read failed: TimeoutError: the socket read timed out"


async def test_unsendable_tool_data_does_not_fail_the_run(tmp_path: Path) -> None:
    """Regression: data json cannot encode (a dict keyed by tuples) raised in the runner and
    failed the run; it is the tool's error, for the model to read."""
    tools = make_test_tools()
    tools.register(function_spec("tuple_keys"), lambda: {("a", "b"): 1})
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("tuple_keys", "{}", "c1")), text_turn("ok")],
        tools=tools,
    )
    thread = rt.create_thread()
    events = await collect(rt.ask(thread.id, "go"))
    assert events[-2].event == "thread.run.completed"
    assert (
        "cannot be sent to the model"
        in json.loads(tool_outputs(backend.requests[1])["c1"])["error"]
    )
