"""Every Assistants endpoint through the official ``openai`` Python SDK against a live server.

Answers are checked as the SDK parses them and, strictly, against the ``openai.types.beta``
models (the SDK itself parses leniently)."""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from tests.server.conftest import DEPRECATIONS, ServerProcess

pytestmark = DEPRECATIONS

PRICE_TOOL = {
    "type": "function",
    "function": {
        "name": "get_price",
        "description": "The price of a stock",
        "parameters": {
            "type": "object",
            "properties": {"ticker": {"type": "string"}},
            "required": ["ticker"],
        },
    },
}


def strict(model: Any, obj: Any) -> Any:
    """Validate an SDK object's JSON against its model (raises on a wrong shape)."""
    return model.model_validate(json.loads(obj.model_dump_json()), strict=False)


def builtin(client: openai.OpenAI) -> Any:
    return next(a for a in client.beta.assistants.list(limit=100) if a.name == "Investor Assistant")


def test_the_builtin_assistant_is_listed_with_its_nine_tools(client: openai.OpenAI) -> None:
    assistant = builtin(client)
    strict(Assistant, assistant)
    names = {t.function.name for t in assistant.tools}
    assert len(names) == 9
    assert {
        "get_ticker",
        "get_income_statement",
        "get_balance_sheet",
        "get_daily_stock_performance",
    } <= names


def test_assistants_crud_and_pagination(client: openai.OpenAI) -> None:
    created = [
        client.beta.assistants.create(
            model="gpt-4o", name=f"pager {i}", tools=[PRICE_TOOL], metadata={"i": str(i)}
        )
        for i in range(5)
    ]
    first = created[0]
    strict(Assistant, first)
    assert client.beta.assistants.retrieve(first.id).name == "pager 0"
    modified = client.beta.assistants.update(
        first.id, name="renamed", temperature=0.5, instructions="Be brief."
    )
    assert (modified.name, modified.temperature, modified.instructions) == (
        "renamed",
        0.5,
        "Be brief.",
    )
    assert modified.tools[0].function.name == "get_price"  # untouched fields stay

    page = client.beta.assistants.list(limit=2, order="asc")
    assert len(page.data) == 2 and page.has_more
    # iterating a page fetches the next pages (the SDK's auto-paging)
    ids_asc = [a.id for a in client.beta.assistants.list(limit=2, order="asc")]
    pages = list(client.beta.assistants.list(limit=2, order="asc").iter_pages())
    assert len(pages) == -(-len(ids_asc) // 2)
    assert len(ids_asc) == len(set(ids_asc)) >= 6  # every one, once
    assert [c.id for c in created] == [i for i in ids_asc if i in {c.id for c in created}]
    desc = client.beta.assistants.list(limit=100, order="desc").data
    assert [a.id for a in desc] == ids_asc[::-1]
    # before / after cursors are exact
    middle = ids_asc[3]
    after = client.beta.assistants.list(order="asc", after=middle, limit=2).data
    assert [a.id for a in after] == ids_asc[4:6]
    before = client.beta.assistants.list(order="asc", before=middle, limit=2).data
    assert [a.id for a in before] == ids_asc[1:3]
    listing = client.beta.assistants.with_raw_response.list(limit=1).http_response.json()
    assert set(listing) == {"object", "data", "first_id", "last_id", "has_more"}

    deleted = client.beta.assistants.delete(first.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (first.id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(first.id)


def test_the_builtin_assistant_cannot_be_changed(client: openai.OpenAI) -> None:
    assistant = builtin(client)
    with pytest.raises(openai.BadRequestError, match="built-in"):
        client.beta.assistants.update(assistant.id, name="mine now")
    with pytest.raises(openai.BadRequestError, match="built-in"):
        client.beta.assistants.delete(assistant.id)


def test_threads_and_messages(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(
        messages=[
            {"role": "user", "content": "Hello there", "metadata": {"n": "1"}},
            {"role": "user", "content": [{"type": "text", "text": "Second"}]},
        ],
        metadata={"course": "tutorial"},
    )
    strict(Thread, thread)
    assert client.beta.threads.retrieve(thread.id).metadata == {"course": "tutorial"}
    assert client.beta.threads.update(thread.id, metadata={"course": "x"}).metadata == {
        "course": "x"
    }

    listed = client.beta.threads.messages.list(thread.id, order="asc")
    assert [m.content[0].text.value for m in listed.data] == ["Hello there", "Second"]
    assert listed.data[0].metadata == {"n": "1"}
    strict(Message, listed.data[0])

    added = client.beta.threads.messages.create(thread.id, role="user", content="Third")
    assert (
        client.beta.threads.messages.retrieve(added.id, thread_id=thread.id).content[0].text.value
        == "Third"
    )
    changed = client.beta.threads.messages.update(
        added.id, thread_id=thread.id, metadata={"k": "v"}
    )
    assert changed.metadata == {"k": "v"}
    gone = client.beta.threads.messages.delete(added.id, thread_id=thread.id)
    assert (gone.deleted, gone.object) == (True, "thread.message.deleted")
    assert len(client.beta.threads.messages.list(thread.id).data) == 2

    for i in range(7):
        client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}")
    texts = [m.content[0].text.value for m in client.beta.threads.messages.list(thread.id, limit=3)]
    assert texts == [f"m{i}" for i in reversed(range(7))] + ["Second", "Hello there"]

    deleted = client.beta.threads.delete(thread.id)
    assert (deleted.deleted, deleted.object) == (True, "thread.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)


def test_a_run_on_the_builtin_assistant_completes_with_server_side_tools(
    client: openai.OpenAI,
) -> None:
    assistant = builtin(client)
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        model="gpt-4.1",
        metadata={"from": "test"},
        poll_interval_ms=50,
    )
    strict(Run, run)
    assert run.status == "completed", run.last_error
    assert run.model == "gpt-4.1"  # recorded as requested; the offline analyst served it
    assert run.metadata == {"from": "test"}
    assert run.expires_at is not None and run.usage is not None

    steps = client.beta.threads.runs.steps.list(
        run.id,
        thread_id=thread.id,
        order="asc",
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    kinds = [s.type for s in steps.data]
    assert kinds[-1] == "message_creation" and "tool_calls" in kinds
    for step in steps.data:
        strict(RunStep, step)
        if step.type == "tool_calls":
            for call in step.step_details.tool_calls:
                assert call.function.output and json.loads(call.function.output)
    one = client.beta.threads.runs.steps.retrieve(
        steps.data[0].id, thread_id=thread.id, run_id=run.id
    )
    assert one.id == steps.data[0].id

    answer = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert len(answer) == 1 and "Apple" in answer[0].content[0].text.value
    assert [r.id for r in client.beta.threads.runs.list(thread.id).data] == [run.id]
    assert client.beta.threads.runs.update(
        run.id, thread_id=thread.id, metadata={"a": "b"}
    ).metadata == {"a": "b"}
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).metadata == {"a": "b"}


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.text = ""
        self.calls: list[Any] = []

    def on_event(self, event: Any) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.text += delta.value or ""

    def on_tool_call_done(self, tool_call: Any) -> None:
        self.calls.append(tool_call)


def test_streaming_a_run_with_the_event_handler(client: openai.OpenAI) -> None:
    assistant = builtin(client)
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "How is Tesla's balance sheet?"}]
    )
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        final_run = stream.get_final_run()
        final_messages = stream.get_final_messages()
    assert final_run.status == "completed"
    assert handler.events[:3] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert handler.events[-1] == "thread.run.completed"
    assert "thread.run.step.delta" in handler.events and "thread.message.delta" in handler.events
    stored = client.beta.threads.messages.list(thread.id, limit=1).data[0].content[0].text.value
    assert handler.text == stored == final_messages[0].content[0].text.value
    # (the SDK reports a call done at each change of index and at each step's end)
    assert {c.function.name for c in handler.calls} == {"get_ticker", "get_balance_sheet"}


def test_create_thread_and_run_streams_thread_created_first(server: ServerProcess) -> None:
    client = server.client()
    assistant = builtin(client)
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "Show me MSFT's last 100 days"}]},
    ) as stream:
        names = [event.event for event in stream]
    assert names[0] == "thread.created" and names[-1] == "thread.run.completed"
    # raw SSE framing: event names and a final [DONE]
    with httpx.stream(
        "POST",
        f"{server.base_url}/threads/runs",
        json={
            "assistant_id": assistant.id,
            "stream": True,
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
        },
        headers={"Authorization": "Bearer x"},
        timeout=30,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert body.rstrip().endswith("event: done\ndata: [DONE]") or body.rstrip().endswith(
        "event: done\r\ndata: [DONE]"
    )
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hello"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed"


def test_cancel_a_run(make_server: Any) -> None:
    server = make_server(pace=0.05).start()
    client = server.client()
    assistant = builtin(client)
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError, match="already has an active run"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError, match="while a run"):
        client.beta.threads.messages.create(thread.id, role="user", content="more")
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="Cannot cancel"):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)


def test_models(client: openai.OpenAI) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == ["offline-analyst"]
    assert client.models.retrieve("offline-analyst").id == "offline-analyst"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-9")


def test_errors_are_the_api_envelope(server: ServerProcess, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.beta.threads.retrieve("thread_nope")
    assert missing.value.body == {
        "message": "No thread found with id 'thread_nope'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }
    with pytest.raises(openai.BadRequestError) as bad:
        client.beta.assistants.create(model="gpt-4o", temperature=7)
    assert bad.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError, match="code_interpreter"):
        client.beta.assistants.create(model="gpt-4o", tools=[{"type": "code_interpreter"}])
    with pytest.raises(openai.BadRequestError, match=r"tools\[0\]\.function\.name"):
        client.beta.assistants.create(
            model="gpt-4o", tools=[{"type": "function", "function": {"name": "bad name!"}}]
        )
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.beta.assistants.list(limit=101)
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: 'assistant_id'"):
        thread = client.beta.threads.create()
        client.post(f"/threads/{thread.id}/runs", body={}, cast_to=httpx.Response)

    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
    raw = httpx.post(f"{server.base_url}/assistants", content=b"{not json", headers=headers)
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    big = httpx.post(
        f"{server.base_url}/assistants", content=b" " * (5 * 1024 * 1024), headers=headers
    )
    assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
    files = httpx.get(f"{server.base_url}/files", headers=headers)
    assert files.status_code == 404 and "not served" in files.json()["error"]["message"]
    vector = httpx.post(f"{server.base_url}/vector_stores", json={}, headers=headers)
    assert (
        vector.status_code == 404 and "vector stores" in vector.json()["error"]["message"].lower()
    )
    unknown = httpx.post(
        f"{server.base_url}/assistants", json={"model": "m", "no_such_field": 1}, headers=headers
    )
    assert unknown.status_code == 200  # unknown fields are ignored, as the hosted API did
    beta = httpx.get(
        f"{server.base_url}/assistants", headers={**headers, "OpenAI-Beta": "assistants=v2"}
    )
    assert beta.status_code == 200
    assert "Traceback" not in server.output
