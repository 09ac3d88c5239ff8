"""Runs outliving their clients and their server: a client that disconnects does not cancel;
runs waiting for tool outputs expire, also across a restart, and resume on a restarted
server; SIGTERM drains streams to a cancelled run; SIGKILL is recovered on restart; the
server's run limit answers 429."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import openai
import pytest

from tests.server.conftest import DEPRECATIONS, ServerProcess

pytestmark = DEPRECATIONS
TUTORIAL_TOOL = {
    "type": "function",
    "function": {
        "name": "get_ticker",
        "description": "Given the name of a company returns its ticker symbol",
        "parameters": {
            "type": "object",
            "properties": {"company_name": {"type": "string"}},
            "required": ["company_name"],
        },
    },
}
HEADERS = {"Authorization": "Bearer any"}


def builtin_id(client: openai.OpenAI) -> str:
    return next(a.id for a in client.beta.assistants.list() if a.name == "Investor Assistant")


def sse(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of an SSE response, as they arrive."""
    name = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, line[5:].strip()


def wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def stream_run(server: ServerProcess, thread_id: str, assistant_id: str) -> Any:
    return httpx.stream(
        "POST",
        f"{server.base_url}/threads/{thread_id}/runs",
        json={"assistant_id": assistant_id, "stream": True},
        headers=HEADERS,
        timeout=60,
    )


def test_a_client_that_disconnects_does_not_cancel_the_run(make_server: Any) -> None:
    server = make_server(pace=0.01).start()
    client = server.client()
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    with stream_run(server, thread.id, builtin_id(client)) as response:
        for name, _ in sse(response):
            if name == "thread.message.delta":
                break  # the client goes away mid-answer
    run = client.beta.threads.runs.list(thread.id).data[0]
    assert run.status == "in_progress"
    done = wait_for(
        lambda: (
            (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status
            != "in_progress"
            and r
        )
    )
    assert done.status == "completed"
    answer = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    assert answer.status == "completed" and "Verdict" in answer.content[0].text.value


def waiting_run(client: openai.OpenAI) -> tuple[Any, Any]:
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[TUTORIAL_TOOL])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Salesforce?"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "requires_action"
    return thread, run


def test_a_run_left_in_requires_action_expires(make_server: Any) -> None:
    server = make_server("--expires-after", "2").start()
    client = server.client()
    thread, run = waiting_run(client)
    assert run.expires_at - run.created_at == 2
    expired = wait_for(
        lambda: (
            (r := client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status
            == "expired"
            and r
        ),
        10,
    )
    assert expired.required_action is None
    [step] = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data
    assert step.status == "expired" and step.expired_at is not None
    with pytest.raises(openai.BadRequestError, match='"expired"'):
        client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": step.step_details.tool_calls[0].id, "output": "CRM"}],
        )


def test_a_waiting_run_survives_a_restart_and_resumes(make_server: Any, tmp_path: Any) -> None:
    first = make_server().start()
    thread, run = waiting_run(first.client())
    first.signal(signal.SIGTERM)
    first.wait()
    assert "Traceback" not in first.output

    second = make_server().start()
    client = second.client()
    assert (
        client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    )
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    finished = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "Salesforce, Inc. (CRM)"}],
        poll_interval_ms=50,
    )
    # The analyst goes on with the ticker the client found; it has no data tools, so it says so.
    assert finished.status == "completed"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert (
        steps[0].status == "completed"
        and steps[0].step_details.tool_calls[0].function.output == "Salesforce, Inc. (CRM)"
    )


def test_expiry_holds_across_a_restart(make_server: Any) -> None:
    first = make_server("--expires-after", "2").start()
    thread, run = waiting_run(first.client())
    first.signal(signal.SIGTERM)
    first.wait()
    time.sleep(2.5)
    second = make_server().start()
    assert (
        second.client().beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "expired"
    )


def test_sigterm_drains_streams_to_a_cancelled_run(make_server: Any) -> None:
    server = make_server(pace=0.05).start()
    client = server.client()
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    seen: list[str] = []
    with stream_run(server, thread.id, builtin_id(client)) as response:
        for name, data in sse(response):
            seen.append(name)
            if name == "thread.message.delta" and seen.count(name) == 3:
                server.signal(signal.SIGTERM)
            if name == "done":
                assert data == "[DONE]"
    assert seen[-2:] == ["thread.run.cancelled", "done"]
    assert "thread.message.incomplete" in seen
    server.wait()
    assert "Traceback" not in server.output
    with sqlite3.connect(server.db) as db:
        status = db.execute("SELECT status FROM runs").fetchone()[0]
        message = db.execute(
            "SELECT status, length(text) FROM messages WHERE role = 'assistant'"
        ).fetchone()
    assert status == "cancelled"
    assert message[0] == "incomplete" and message[1] > 0


def test_sigkill_is_recovered_on_restart(make_server: Any) -> None:
    server = make_server(pace=0.05).start()
    client = server.client()
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=builtin_id(client))
    wait_for(
        lambda: client.beta.threads.messages.list(thread.id, limit=1).data[0].role == "assistant"
    )
    time.sleep(1.2)  # a text flush
    server.signal(signal.SIGKILL)
    server.wait()

    again = make_server().start()
    after = again.client().beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert after.status == "failed"
    assert (
        after.last_error.code == "server_error"
        and "stopped before this run finished" in after.last_error.message
    )
    answer = again.client().beta.threads.messages.list(thread.id, limit=1).data[0]
    assert answer.status == "incomplete" and answer.content[0].text.value


def test_the_run_limit_answers_429(make_server: Any) -> None:
    server = make_server("--max-active-runs", "1", pace=0.05).start()
    client = server.client()
    assistant = builtin_id(client)
    busy = client.beta.threads.create(messages=[{"role": "user", "content": "Should I buy Apple?"}])
    client.beta.threads.runs.create(thread_id=busy.id, assistant_id=assistant)
    other = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Tesla?"}]
    )
    with pytest.raises(openai.RateLimitError) as limited:
        client.beta.threads.runs.create(thread_id=other.id, assistant_id=assistant)
    assert limited.value.body["code"] == "rate_limit_exceeded"
    assert client.beta.threads.runs.list(other.id).data == []
