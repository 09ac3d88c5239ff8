"""What ``ask`` shows when a weak model misbehaves (against the replay server): a call printed
as text, recovered and run; the same call again, answered from the first; the final answer
asked for — each visible in the text output and in the ``--json`` events."""

from __future__ import annotations

import json

from tests.support.openai_replay import ReplayServer, ToolCallSpec, chat_stream

from .conftest import Cli

APPLE = '{"company_name": "Apple"}'
PRINTED = '```json\n{"name": "get_ticker", "arguments": {"company_name": "Apple"}}\n```'


def enqueue_weak_model(server: ReplayServer) -> None:
    server.enqueue(chat_stream(PRINTED))  # the call printed as text
    server.enqueue(chat_stream("", [ToolCallSpec("get_ticker", APPLE, "call_again")]))
    server.enqueue(chat_stream("Apple trades as AAPL."))


def ask(cli: Cli, server: ReplayServer, *extra: str) -> object:
    return cli(
        "ask",
        "--provider",
        "compatible",
        "--base-url",
        server.base_url,
        "--model",
        "qwen2.5-coder-0.5b-instruct",
        "--data",
        "demo",
        "--approval",
        "auto",
        *extra,
        "What is Apple's ticker?",
    )


def test_text_output_shows_recovered_and_repeated_calls_and_the_note(
    cli: Cli, replay_server: ReplayServer
) -> None:
    enqueue_weak_model(replay_server)
    result = ask(cli, replay_server)
    assert result.code == 0, result
    lines = result.out.splitlines()
    calls = [line for line in lines if line.startswith("→ ")]
    assert len(calls) == 2, result
    assert calls[0].startswith('→ get_ticker(company_name="Apple")  completed')
    assert calls[0].endswith("recovered from text")
    assert calls[1].endswith("repeat, not run again")
    notes = [line for line in lines if line.startswith("! ")]
    assert notes == [
        "! the model repeated tool calls it had already made; the model was asked for a final "
        "answer with tools disabled"
    ]
    assert lines[-1] == "Apple trades as AAPL."
    assert "```" not in result.out  # the printed call never showed as an answer
    replay_server.verify()
    final = replay_server.requests[2].json()
    assert final["tool_choice"] == "none" and final["max_tokens"] > 0


def test_json_events_carry_the_labels_and_notes(cli: Cli, replay_server: ReplayServer) -> None:
    enqueue_weak_model(replay_server)
    result = ask(cli, replay_server, "--json")
    assert result.code == 0, result
    events = [json.loads(line) for line in result.out.splitlines()]
    entries = [
        entry
        for e in events
        if e["event"] == "thread.run.step.delta"
        for entry in e["data"]["delta"]["step_details"]["tool_calls"]
    ]
    assert any(entry.get("recovered") for entry in entries)
    assert any(entry.get("repeat_of") for entry in entries)
    completed = [e["data"] for e in events if e["event"] == "thread.run.completed"]
    assert [n["code"] for n in completed[0]["notes"]] == ["final_answer_requested"]
    steps = [e["data"] for e in events if e["event"] == "thread.run.step.completed"]
    calls = [c for s in steps if s["type"] == "tool_calls" for c in s["step_details"]["tool_calls"]]
    assert calls[0]["recovered"] is True and calls[1]["repeat_of"] == calls[0]["id"]
