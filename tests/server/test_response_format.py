"""response_format: JSON answers (``json_object``, ``json_schema``) reach the model in each
API's own form; the offline analyst, which writes prose, refuses them with a 400 that says
why; malformed forms are 400s naming the parameter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.openai_replay import ReplayServer, chat_stream, json_response

from .conftest import DEPRECATIONS, ServerProcess

pytestmark = DEPRECATIONS

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"ticker": {"type": "string"}, "buy": {"type": "boolean"}},
            "required": ["ticker", "buy"],
            "additionalProperties": False,
        },
    },
}
ANSWER = '{"ticker": "AAPL", "buy": false}'


def test_a_json_schema_answer_reaches_the_model_and_comes_back(tmp_path: Path) -> None:
    with ReplayServer() as model:
        listing = {"object": "list", "data": [{"id": "replay-model", "object": "model"}]}
        model.enqueue(json_response(listing), method="GET", path="/v1/models", times=None)
        model.enqueue(chat_stream(ANSWER, model="replay-model"))
        model.enqueue(chat_stream('{"ok": true}', model="replay-model"))
        server = ServerProcess(
            tmp_path,
            tmp_path / "threads.db",
            "--provider",
            "compatible",
            "--base-url",
            model.base_url,
            "--model",
            "replay-model",
        ).start()
        try:
            client = server.client()
            assistant = client.beta.assistants.create(
                model="replay-model", name="JSON", response_format=SCHEMA
            )
            assert assistant.response_format.type == "json_schema"
            run = client.beta.threads.create_and_run_poll(
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": "Should I buy Apple?"}]},
            )
            assert run.status == "completed", run.last_error
            messages = client.beta.threads.messages.list(run.thread_id, order="asc")
            assert json.loads(messages.data[-1].content[0].text.value) == json.loads(ANSWER)
            # A run's own form wins over the assistant's.
            client.beta.threads.messages.create(run.thread_id, role="user", content="And?")
            again = client.beta.threads.runs.create_and_poll(
                thread_id=run.thread_id,
                assistant_id=assistant.id,
                response_format={"type": "json_object"},
            )
            assert again.status == "completed", again.last_error
        finally:
            server.stop()
        sent = [r.json() for r in model.requests if r.path.endswith("/chat/completions")]
    assert sent[0]["response_format"] == SCHEMA
    assert sent[1]["response_format"] == {"type": "json_object"}


def test_the_offline_analyst_refuses_json_answers(client: Any) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", name="prose only")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Apple?"}])
    with pytest.raises(openai.BadRequestError, match="needs a language model") as caught:
        client.beta.threads.runs.create(
            thread.id, assistant_id=assistant.id, response_format={"type": "json_object"}
        )
    assert caught.value.body["param"] == "response_format"
    # An assistant that asks for JSON is accepted; its runs say why they cannot start.
    json_assistant = client.beta.assistants.create(model="gpt-4o", response_format=SCHEMA)
    with pytest.raises(openai.BadRequestError, match="offline analyst"):
        client.beta.threads.runs.create(thread.id, assistant_id=json_assistant.id)
    # Prose forms are fine.
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, response_format={"type": "text"}
    )
    assert run.status == "completed"


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"schema": {}}},
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a b"}},
            "response_format.json_schema.name",
        ),
        ("json", "response_format"),
        (7, "response_format"),
    ],
)
def test_malformed_forms_are_400s_naming_the_parameter(client: Any, form: Any, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.assistants.create(model="gpt-4o", extra_body={"response_format": form})
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param
