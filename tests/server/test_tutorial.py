"""The tutorial's program, unmodified, against the server: client-side function tools
answered with ``json.dumps(DataFrame.to_json())`` from real (replayed) Yahoo data; the same
loop through the SDK's streaming and polling helpers; built-in and client tools mixed."""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import AssistantEventHandler

from tests.server.conftest import DEPRECATIONS, ServerProcess
from tests.support.yahoo_replay import YahooReplay

pytestmark = DEPRECATIONS
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUESTION = "I want to know if the Apple stock is a good buy"


@pytest.fixture
def tutorial(server: ServerProcess, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The tutorial's module, its client pointed at the server by the environment only, its
    yfinance reading the recorded Yahoo answers."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "any-key")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("assistants_tutorial", None)
    module = importlib.import_module("assistants_tutorial")
    replay = YahooReplay(fixtures_dir)
    module.YAHOO_SESSION = replay.session()

    def get_ticker(inputs: dict[str, str]) -> str:
        # The tutorial searched the web; here Yahoo's own search on the replay stands in.
        import yfinance

        quotes = yfinance.Search(inputs["company_name"], session=module.YAHOO_SESSION).quotes
        found = [f"{q.get('longname') or q.get('shortname')} ({q['symbol']})" for q in quotes[:3]]
        return " ".join(found) or f"No results found for {inputs['company_name']}."

    module.functions_map["get_ticker"] = get_ticker
    return module


def test_the_tutorial_program_runs_unmodified(
    tutorial: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():  # yfinance installs its own filters when first imported
        import yfinance  # noqa: F401

        warnings.simplefilter("ignore", DeprecationWarning)
        run, messages = tutorial.main(QUESTION)
    assert run.status == "completed"
    printed = capsys.readouterr().out
    for name in (
        "get_ticker",
        "get_income_statement",
        "get_balance_sheet",
        "get_daily_stock_performance",
    ):
        assert f"Calling function: {name}" in printed
    answer = messages[-1].content[0].text.value
    # Figures computed from the client's DataFrames: AAPL's recorded fiscal 2024 revenue.
    assert "391.0B" in answer
    assert "Balance sheet" in answer and "trading days" in answer
    assert "Sources: client" in answer
    # the lookup that found nothing is reported, not hidden
    assert "No results found for Apple" in answer
    assert run.model == "gpt-4-turbo"


def tutorial_outputs(tutorial: Any, run: Any) -> list[dict[str, str]]:
    return [
        {
            "tool_call_id": call.id,
            "output": tutorial.functions_map[call.function.name](
                json.loads(call.function.arguments)
            ),
        }
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]


def new_tutorial_thread(client: openai.OpenAI, tutorial: Any) -> tuple[Any, Any]:
    assistant = client.beta.assistants.create(
        name="Investor Assistant", model="gpt-4-turbo", tools=tutorial.functions
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    return assistant, thread


class Events(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.text = ""

    def on_event(self, event: Any) -> None:
        self.names.append(event.event)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text += delta.value or ""


def test_streaming_with_submit_tool_outputs_stream(client: openai.OpenAI, tutorial: Any) -> None:
    assistant, thread = new_tutorial_thread(client, tutorial)
    handler = Events()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert handler.names[-1] == "thread.run.requires_action"
    rounds = 0
    while run.status == "requires_action":
        rounds += 1
        handler = Events()
        with client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=tutorial_outputs(tutorial, run),
            event_handler=handler,
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
        assert handler.names[0] == "thread.run.step.completed"
    assert (run.status, rounds) == ("completed", 2)  # the lookup, then the three data calls
    assert "391.0B" in handler.text
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    outputs = [
        c.function.output
        for s in steps
        if s.type == "tool_calls"
        for c in s.step_details.tool_calls
    ]
    assert len(outputs) == 4 and all(outputs)


def test_polling_helpers(client: openai.OpenAI, tutorial: Any) -> None:
    assistant, thread = new_tutorial_thread(client, tutorial)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    while run.status == "requires_action":
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=tutorial_outputs(tutorial, run)
        )
    assert run.status == "completed"


def test_outputs_the_analyst_cannot_read_are_reported(client: openai.OpenAI, tutorial: Any) -> None:
    assistant, thread = new_tutorial_thread(client, tutorial)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    garbage = [
        "",
        "null",
        "{}",
        "[1, 2]",
        '"{\\"a\\": 1}"',
        "\x00\ufffd not json",
        json.dumps(json.dumps({"x": {"y": 1}})),
    ]
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs = [
            {"tool_call_id": c.id, "output": garbage[i % len(garbage)]} for i, c in enumerate(calls)
        ]
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=outputs, poll_interval_ms=50
        )
    assert run.status == "completed"
    answer = client.beta.threads.messages.list(thread.id, limit=1).data[0].content[0].text.value
    assert "could not" in answer.lower() or "failed" in answer.lower()


def test_submissions_that_do_not_fit_the_run_are_refused(
    client: openai.OpenAI, tutorial: Any
) -> None:
    assistant, thread = new_tutorial_thread(client, tutorial)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    with pytest.raises(openai.BadRequestError, match="no pending tool call"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_x", "output": "1"}]
        )
    with pytest.raises(openai.BadRequestError, match="tool_outputs"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs="nope"
        )  # type: ignore[arg-type]
    assert (
        client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    )
    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    with pytest.raises(openai.BadRequestError, match='status "cancelled"'):
        client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=thread.id, tool_outputs=[])


def test_built_in_and_client_tools_in_one_run(client: openai.OpenAI, tutorial: Any) -> None:
    """The client keeps get_ticker and the statements; the server runs the price history
    itself (named in metadata.server_tools) — only the client's calls reach requires_action."""
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=tutorial.functions[:3],
        metadata={"server_tools": "get_daily_stock_performance"},
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy AAPL?"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    asked = []
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        asked += [c.function.name for c in calls]
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=tutorial_outputs(tutorial, run),
            poll_interval_ms=50,
        )
    assert run.status == "completed"
    assert sorted(asked) == ["get_balance_sheet", "get_income_statement"]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    server_side = [
        c
        for s in steps
        if s.type == "tool_calls"
        for c in s.step_details.tool_calls
        if c.function.name == "get_daily_stock_performance"
    ]
    assert server_side and json.loads(server_side[0].function.output)["source"] == "demo"
    odd = client.beta.assistants.create(model="m", metadata={"server_tools": "rm_rf"})
    with pytest.raises(openai.BadRequestError, match="does not have: rm_rf"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=odd.id)
