"""ChatCompletionsBackend against responses recorded from a real llama-server (llama.cpp as
vendored in llama-cpp-python 0.3.16, Qwen2.5-Coder-0.5B, see PROVENANCE.md): the context window
it reports, and its streamed tool call; plus how a run's memory uses the reported window."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant_core.backends.base import Finish, ToolCallDelta, UsageChunk
from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.runtime import Runtime
from assistant_core.store import Store
from assistant_core.tools.registry import ToolRegistry
from tests.support.openai_replay import (
    ReplayServer,
    json_response,
    load_sse_body,
    user_request,
)

LLAMA = "llama_cpp"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


@pytest.fixture
async def backend(server: ReplayServer) -> AsyncIterator[ChatCompletionsBackend]:
    backend = ChatCompletionsBackend(server.base_url, None, timeout=2.0)
    yield backend
    await backend.aclose()


def recorded(fixtures_dir: Path, name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((fixtures_dir / LLAMA / name).read_text())
    return data


async def test_the_window_comes_from_props(
    server: ReplayServer, backend: ChatCompletionsBackend, fixtures_dir: Path
) -> None:
    server.enqueue(
        json_response(recorded(fixtures_dir, "props_ctx2048.json")), method="GET", path="/props"
    )
    assert await backend.server_context_window("qwen2.5-coder-0.5b-instruct") == 2048
    assert [r.path for r in server.requests] == ["/props"]  # /props is at the root, not /v1


async def test_llama_cpp_models_say_nothing_of_the_served_context(
    server: ReplayServer, backend: ChatCompletionsBackend, fixtures_dir: Path
) -> None:
    """Its /v1/models has meta.n_ctx_train (32768): the training context, not the served one."""
    server.enqueue(
        json_response(recorded(fixtures_dir, "models.json")), method="GET", path="/v1/models"
    )
    assert await backend.server_context_window("qwen2.5-coder-0.5b-instruct") is None
    assert [r.path for r in server.probes] == ["/props"]  # not there: a 404


async def test_a_models_entry_with_max_model_len(
    server: ReplayServer, backend: ChatCompletionsBackend
) -> None:
    # The shape vLLM lists its models in (synthetic: no vLLM recording is kept here).
    listing = {
        "object": "list",
        "data": [
            {"id": "other", "object": "model", "max_model_len": 1000},
            {"id": "Qwen/Qwen2.5-7B-Instruct", "object": "model", "max_model_len": 4096},
        ],
    }
    server.enqueue(json_response(listing), method="GET", path="/v1/models")
    assert await backend.server_context_window("Qwen/Qwen2.5-7B-Instruct") == 4096


@pytest.mark.parametrize(
    "props",
    [{"default_generation_settings": {"n_ctx": 0}}, {"n_ctx": "big"}, [], {"n_ctx": True}],
)
async def test_nonsense_props_give_no_window(
    server: ReplayServer, backend: ChatCompletionsBackend, props: object
) -> None:
    server.enqueue(json_response(props), method="GET", path="/props")
    assert await backend.server_context_window("m") is None


async def test_openai_is_never_asked() -> None:
    backend = ChatCompletionsBackend("https://api.openai.com/v1", "sk-test")
    assert await backend.server_context_window("gpt-4o") is None


async def test_the_recorded_tool_call_stream(
    server: ReplayServer, backend: ChatCompletionsBackend, fixtures_dir: Path
) -> None:
    server.enqueue(load_sse_body(fixtures_dir / LLAMA / "chat_tool_call_stream.sse.bin"))
    chunks = [c async for c in backend.stream(user_request("Should I buy Apple stock?"))]
    calls = [c for c in chunks if isinstance(c, ToolCallDelta)]
    assert calls[0].name == "get_income_statement" and calls[0].id
    assert json.loads("".join(c.arguments for c in calls)) == {"ticker": "AAPL", "period": "annual"}
    assert {c.index for c in calls} == {0}
    assert isinstance(chunks[-2], UsageChunk) and chunks[-2].completion_tokens > 0
    assert chunks[-1] == Finish("tool_calls")


async def test_a_run_keeps_its_prompt_inside_the_served_window(
    server: ReplayServer, fixtures_dir: Path, tmp_path: Path
) -> None:
    """The table says qwen2.5 has 32k; the server serves 2048: memory drops the old turns."""
    from tests.support.openai_replay import chat_stream

    server.enqueue(
        json_response(recorded(fixtures_dir, "props_ctx2048.json")), method="GET", path="/props"
    )
    # Memory summarises the dropped turns (once or twice: a summary may make room for more).
    server.enqueue(chat_stream("The user asked why, six times."), times=2)
    server.enqueue(chat_stream("Fine."))
    store = Store(tmp_path / "db.sqlite")
    backend = ChatCompletionsBackend(server.base_url, None, timeout=2.0)
    runtime = Runtime(store, backend, ToolRegistry(), model="qwen2.5-coder-0.5b-instruct")
    thread = runtime.create_thread()
    for n in range(6):  # ~6,000 tokens of earlier conversation
        store.add_message(thread.id, "user", f"question {n}: " + "why? " * 400)
        store.add_message(thread.id, "assistant", f"answer {n}: " + "because. " * 400)
    events = [e async for e in runtime.ask(thread.id, "And now?")]
    run = events[-2].data
    assert run.status == "completed", run.last_error
    assert run.memory["context_window"] == 2048 and run.memory["context_window_source"] == "server"
    assert run.memory["dropped_messages"] >= 10
    props, *summaries, answer = server.requests
    assert props.path == "/props" and summaries
    assert all("why?" in json.dumps(summary.json()["messages"]) for summary in summaries)
    assert "And now?" in json.dumps(answer.json()["messages"])
    body = answer.json()
    assert body["max_tokens"] + run.memory["estimated_prompt_tokens"] <= 2048
    await runtime.aclose()
    store.close()
