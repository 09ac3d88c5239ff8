"""ChatCompletionsBackend through the real ``openai`` client against the replay server: the
recorded streams reproduce their tool calls and text exactly; synthetic streams cover the ways
servers differ and fail."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant_core.backends.base import BackendError, ModelRequest, ToolCallDelta, UsageChunk
from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.models import alist_models, list_models
from tests.support.openai_replay import (
    CAPITAL_TOOL,
    GARBAGE_LINE,
    INVALID_JSON_EVENT,
    INVALID_UTF8_EVENT,
    SECRET_TOOL,
    ReplayServer,
    ToolCallSpec,
    after_tools,
    chat_stream,
    chat_stream_events,
    collect,
    error_event,
    error_response,
    expect_error,
    inject,
    json_response,
    load_cassette,
    load_sse_body,
    same_tool_exchange,
    sse_response,
    unused_port,
    user_request,
)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


@pytest.fixture
async def backend(server: ReplayServer) -> AsyncIterator[ChatCompletionsBackend]:
    backend = ChatCompletionsBackend(server.base_url, None, timeout=2.0)
    yield backend
    await backend.aclose()


# -- real recorded streams -------------------------------------------------------------------
async def test_openai_python_parallel_weather_and_stock(
    server: ReplayServer, backend, fixtures_dir: Path
) -> None:
    server.enqueue(
        load_sse_body(
            fixtures_dir
            / "chat_completions/openai-python_parallel_tool_calls_weather_and_stock_price.sse.bin"
        )
    )
    got = await collect(
        backend.stream(
            user_request("What's the weather like in Edinburgh? What's the price of AAPL?")
        )
    )
    assert got.tool_calls == [
        {
            "id": "call_JMW1whyEaYG438VE1OIflxA2",
            "name": "GetWeatherArgs",
            "arguments": '{"city": "Edinburgh", "country": "GB", "units": "c"}',
        },
        {
            "id": "call_DNYTawLBoN8fj3KN6qU9N1Ou",
            "name": "get_stock_price",
            "arguments": '{"ticker": "AAPL", "exchange": "NASDAQ"}',
        },
    ]
    assert got.text == ""
    assert got.usage == (149, 60)
    assert got.finish == "tool_calls"
    # Usage arrives in the final usage-only chunk (empty choices), after the finish reason.
    assert isinstance(got.chunks[-2], UsageChunk)
    server.verify()


MIRASCOPE_RUNS = [
    (
        0,
        ("call_M26z19sncd7b4LBgzKRRbaUE", "call_KPXe5NX7IcKkaBUhc6dto2QV"),
        'The secrets associated with the passwords are:\n\n- "mellon": Welcome to Moria!\n- "radiance": Life before Death',
        (149, 28),
    ),
    (
        2,
        ("call_NnkmjbtYL9gdZnGOMxYEl0A3", "call_uvC42eCVUOg2Y35G9FQKjAOB"),
        'The secrets associated with the passwords are as follows:\n\n- "mellon": Welcome to Moria!\n- "radiance": Life before Death',
        (149, 30),
    ),
    (
        4,
        ("call_H8jJ3J1KO9iBRstIu9VtSmif", "call_alG3VrzLF9cAEppE4xxqeefv"),
        'The secrets associated with the passwords are as follows:\n- For "mellon": "Welcome to Moria!"\n- For "radiance": "Life before Death"',
        (149, 35),
    ),
]


@pytest.mark.parametrize(
    ("first", "ids", "answer", "usage"), MIRASCOPE_RUNS, ids=["run1", "run2", "run3"]
)
async def test_mirascope_gpt4o_parallel_calls_then_answer(
    server: ReplayServer,
    backend,
    fixtures_dir: Path,
    first: int,
    ids: tuple[str, str],
    answer: str,
    usage: tuple[int, int],
) -> None:
    recorded = load_cassette(
        fixtures_dir
        / "chat_completions/mirascope_call_with_tools_openai_gpt_4o_completions_stream.yaml"
    )
    turn1, turn2 = recorded[first], recorded[first + 1]
    # The second request must carry the same tool calls and outputs the real client sent.
    server.enqueue_interactions([turn1, turn2], checks={1: same_tool_exchange(turn2.request_body)})

    request = user_request(
        "Please retrieve the secrets associated with each of these passwords: mellon,radiance",
        tools=[SECRET_TOOL],
        instructions="Use parallel tool calling.",
    )
    got = await collect(backend.stream(request))
    assert got.tool_calls == [
        {"id": ids[0], "name": "secret_retrieval_tool", "arguments": '{"password": "mellon"}'},
        {"id": ids[1], "name": "secret_retrieval_tool", "arguments": '{"password": "radiance"}'},
    ]
    assert (got.usage, got.finish, got.text) == ((75, 53), "tool_calls", "")

    answer_got = await collect(
        backend.stream(
            after_tools(request, got.tool_calls, ["Welcome to Moria!", "Life before Death"])
        )
    )
    assert answer_got.text == answer
    assert answer_got.tool_calls == []
    assert (answer_got.usage, answer_got.finish) == (usage, "stop")
    server.verify()

    body = server.requests[0].json()
    assert body["messages"][0] == {"role": "system", "content": "Use parallel tool calling."}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [SECRET_TOOL] and body["parallel_tool_calls"] is True


async def test_pydantic_ai_get_capital_then_answer(
    server: ReplayServer, backend, fixtures_dir: Path
) -> None:
    turn1, turn2 = load_cassette(
        fixtures_dir / "chat_completions/pydantic-ai_test_run_stream_sync_streams_real_model.yaml"
    )
    server.enqueue_interactions([turn1, turn2], checks={1: same_tool_exchange(turn2.request_body)})
    request = user_request(
        "What is the capital of the UK? Use the tool, then answer.", tools=[CAPITAL_TOOL]
    )

    got = await collect(backend.stream(request))
    # The first delta carries role, content: null and the tool call together.
    assert got.chunks[0] == ToolCallDelta(
        index=0, id="call_ZR5UUuTt3pf61kjwAJIYdVMj", name="get_capital", arguments=""
    )
    assert got.tool_calls == [
        {
            "id": "call_ZR5UUuTt3pf61kjwAJIYdVMj",
            "name": "get_capital",
            "arguments": '{"country":"UK"}',
        }
    ]
    assert (got.usage, got.finish) == ((53, 15), "tool_calls")

    answer = await collect(backend.stream(after_tools(request, got.tool_calls, ["London"])))
    assert answer.text == "The capital of the UK is London."
    assert (answer.usage, answer.finish) == ((78, 9), "stop")
    server.verify()


# -- synthetic streams: what real servers vary on ------------------------------------------
async def test_server_without_usage(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream("Hello from a small local model.", usage=None))
    got = await collect(backend.stream(user_request("hi")))
    assert (got.text, got.usage, got.finish) == ("Hello from a small local model.", None, "stop")


async def test_interleaved_parallel_calls_reassemble_by_index(
    server: ReplayServer, backend
) -> None:
    calls = [
        ToolCallSpec("get_price", '{"ticker": "AAPL", "days": 100}', "call_a"),
        ToolCallSpec("get_price", '{"ticker": "MSFT", "days": 100}', "call_b"),
    ]
    server.enqueue(chat_stream(tool_calls=calls, interleave=True, arg_fragment=3))
    got = await collect(backend.stream(user_request("compare")))
    indices = [c.index for c in got.chunks if isinstance(c, ToolCallDelta)]
    assert indices[:4] == [0, 1, 0, 1]  # really interleaved on the wire
    assert got.tool_calls == [
        {"id": "call_a", "name": "get_price", "arguments": '{"ticker": "AAPL", "days": 100}'},
        {"id": "call_b", "name": "get_price", "arguments": '{"ticker": "MSFT", "days": 100}'},
    ]
    assert got.finish == "tool_calls"


async def test_stop_with_tool_calls_means_tool_calls(server: ReplayServer, backend) -> None:
    # Some compatible servers report "stop" on a tool-calling turn.
    server.enqueue(
        chat_stream(tool_calls=[ToolCallSpec("lookup", '{"q": "apple"}')], finish_reason="stop")
    )
    got = await collect(backend.stream(user_request("apple?")))
    assert got.finish == "tool_calls" and got.tool_calls[0]["name"] == "lookup"


async def test_length_finish(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream("cut short", finish_reason="length"))
    assert (await collect(backend.stream(user_request("long")))).finish == "length"


async def test_garbage_line_is_ignored(server: ReplayServer, backend) -> None:
    server.enqueue(sse_response(inject(chat_stream_events("still fine"), 2, GARBAGE_LINE)))
    got = await collect(backend.stream(user_request("hi")))
    assert (got.text, got.finish) == ("still fine", "stop")


# -- broken streams and API errors -----------------------------------------------------------
async def test_stream_ending_without_finish_reason_is_broken(server: ReplayServer, backend) -> None:
    # Cut cleanly after 3 events: a well-formed HTTP body with no finish reason and no [DONE].
    server.enqueue(chat_stream("one two three four five", cut_after_chunks=3))
    err, seen = await expect_error(backend)
    assert err.code == "stream_broken" and not err.retryable
    assert "".join(c.text for c in seen) == "one two"


async def test_connection_dropped_mid_stream_is_broken(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream("one two three four five", cut_after_chunks=3, abort=True))
    err, seen = await expect_error(backend)
    assert err.code == "stream_broken" and "cut off" in err.message
    assert seen and not err.retryable


async def test_empty_stream_is_broken_but_retryable(server: ReplayServer, backend) -> None:
    server.enqueue(sse_response([b"data: [DONE]\n\n"]))
    err, seen = await expect_error(backend)
    assert (err.code, err.retryable, seen) == ("stream_broken", True, [])


@pytest.mark.parametrize(
    "fault", [INVALID_JSON_EVENT, INVALID_UTF8_EVENT], ids=["invalid-json", "invalid-utf8"]
)
async def test_malformed_event_is_a_backend_error(
    server: ReplayServer, backend, fault: bytes
) -> None:
    server.enqueue(sse_response(inject(chat_stream_events("partial answer"), 2, fault)))
    err, seen = await expect_error(backend)
    assert err.code == "stream_broken" and "malformed event" in err.message
    assert [c.text for c in seen] == ["partial"]


async def test_error_object_inside_the_stream(server: ReplayServer, backend) -> None:
    server.enqueue(
        sse_response(inject(chat_stream_events("partial answer"), 2, error_event("model crashed")))
    )
    err, _ = await expect_error(backend)
    assert err.code == "stream_broken" and "model crashed" in err.message


@pytest.mark.parametrize(
    ("response", "code", "retryable", "retry_after"),
    [
        (
            error_response(429, "Rate limit reached", code="rate_limit_exceeded", retry_after=7),
            "rate_limit_exceeded",
            True,
            7.0,
        ),
        (
            error_response(429, "Rate limit reached", retry_after_ms=1500),
            "rate_limit_exceeded",
            True,
            1.5,
        ),
        (
            error_response(429, "You exceeded your current quota", code="insufficient_quota"),
            "rate_limit_exceeded",
            False,
            None,
        ),
        (
            error_response(500, "The server had an error", type="server_error"),
            "server_error",
            True,
            None,
        ),
        (error_response(503, "overloaded", retry_after=2), "server_error", True, 2.0),
        (error_response(401, "Incorrect API key provided"), "auth_error", False, None),
        (
            error_response(404, "The model `gpt-4o` does not exist", code="model_not_found"),
            "model_not_found",
            False,
            None,
        ),
        (
            error_response(404, 'model "gpt-4o" not found, try pulling it first', type="api_error"),
            "model_not_found",
            False,
            None,
        ),
        (error_response(404, "404 page not found"), "bad_request", False, None),
        (error_response(400, "Invalid value for 'temperature'"), "bad_request", False, None),
        (
            error_response(
                400, "maximum context length is 128000 tokens", code="context_length_exceeded"
            ),
            "context_length_exceeded",
            False,
            None,
        ),
    ],
    ids=[
        "429",
        "429-ms",
        "429-quota",
        "500",
        "503",
        "401",
        "404-model",
        "404-ollama-model",
        "404-path",
        "400",
        "400-context",
    ],
)
async def test_http_errors_are_classified(
    server: ReplayServer, backend, response, code, retryable, retry_after
) -> None:
    server.enqueue(response)
    err, seen = await expect_error(backend)
    assert (err.code, err.retryable, err.retry_after, err.status) == (
        code,
        retryable,
        retry_after,
        response.status,
    )
    assert seen == []
    if code == "model_not_found":
        assert (
            err.message == f"model 'gpt-4o' not found on {server.base_url} — pick one with --model"
        )
    assert len(server.requests) == 1  # no retries inside the client


@pytest.mark.parametrize("where", ["opening", "mid-stream"])
async def test_a_server_echoing_the_api_key_does_not_leak_it(
    server: ReplayServer, where: str
) -> None:
    """Regression: a 401 (or an in-stream error) quoting the rejected key put the whole key
    in the message shown to the user and stored as the run's last_error."""
    key = "sk-local-0123456789abcdef"
    if where == "opening":
        server.enqueue(
            error_response(401, f"Incorrect API key provided: {key}", code="invalid_api_key")
        )
    else:
        server.enqueue(
            sse_response(
                inject(chat_stream_events("partial answer"), 2, error_event(f"bad key {key}"))
            )
        )
    backend = ChatCompletionsBackend(server.base_url, key, timeout=2.0)
    err, _ = await expect_error(backend)
    await backend.aclose()
    assert key not in err.message and "sk-…cdef" in err.message
    assert err.__cause__ is None  # the original exception quotes the key too


def test_a_key_cut_off_by_a_one_line_message_is_masked_too() -> None:
    from assistant_core.backends.openai_common import mask_key

    key = "sk-local-0123456789abcdef"
    message = ("x" * 290 + " " + key)[:299] + "…"  # one_line's cut, mid-key
    masked = mask_key(BackendError("auth_error", message, status=401), key)
    assert key[:8] not in masked.message and masked.message.endswith("sk-…cdef…")
    assert (masked.code, masked.status) == ("auth_error", 401)


async def test_connection_refused(server: ReplayServer) -> None:
    backend = ChatCompletionsBackend(f"http://127.0.0.1:{unused_port()}/v1", None, timeout=2.0)
    err, _ = await expect_error(backend)
    assert (
        err.code == "connection_error" and err.retryable and "is the server running?" in err.message
    )


async def test_no_first_byte_within_timeout(server: ReplayServer) -> None:
    server.enqueue(chat_stream("late", delay=1.0))
    backend = ChatCompletionsBackend(server.base_url, None, timeout=0.2)
    err, _ = await expect_error(backend)
    assert (err.code, err.retryable) == ("timeout", True)


async def test_stall_mid_stream_is_broken(server: ReplayServer) -> None:
    server.enqueue(chat_stream("one two three", pauses={2: 1.0}))
    backend = ChatCompletionsBackend(server.base_url, None, timeout=0.2)
    err, seen = await expect_error(backend)
    assert (
        err.code == "stream_broken"
        and "stalled" in err.message
        and [c.text for c in seen] == ["one"]
    )


# -- the request we send ------------------------------------------------------------------
async def test_request_conversion(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream("ok"))
    request = ModelRequest(
        model="llama3.2",
        instructions="You are an analyst.",
        input=[
            {"role": "system", "content": "Summary of earlier turns."},
            {"role": "user", "content": "Apple?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "lookup", "arguments": '{"q":"Apple"}'}],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "name": "lookup",
                "content": '{"ticker":"AAPL"}',
            },
            {"role": "assistant", "content": "AAPL."},
            {"role": "user", "content": "and MSFT?"},
        ],
        tools=[],
        max_output_tokens=50,
        temperature=0.0,
    )
    await collect(backend.stream(request))
    body = server.requests[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "You are an analyst."},
        {"role": "system", "content": "Summary of earlier turns."},
        {"role": "user", "content": "Apple?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q":"Apple"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"ticker":"AAPL"}'},
        {"role": "assistant", "content": "AAPL."},
        {"role": "user", "content": "and MSFT?"},
    ]
    # No tools: no tools and no parallel_tool_calls (OpenAI rejects it alone); a local server
    # gets max_tokens, the name every compatible server knows.
    assert "tools" not in body and "parallel_tool_calls" not in body
    assert (body["max_tokens"], body["temperature"], body["model"]) == (50, 0.0, "llama3.2")
    # No key configured for a local server: a placeholder, never the environment's OpenAI key.
    assert server.requests[0].headers["authorization"] == "Bearer no-key-needed"


async def test_tool_choice_and_top_p_go_as_written(server: ReplayServer, backend) -> None:
    choice = {"type": "function", "function": {"name": "secret_retrieval_tool"}}
    for tool_choice in ("required", choice):
        server.enqueue(chat_stream("ok"))
        request = user_request("Apple?", tools=[SECRET_TOOL])
        request.tool_choice, request.top_p = tool_choice, 0.5
        await collect(backend.stream(request))
        body = server.requests[-1].json()
        assert (body["tool_choice"], body["top_p"]) == (tool_choice, 0.5)


async def test_complete_returns_text_without_tools(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream("Earlier, the user asked about Apple."))
    text = await backend.complete(user_request("summarise", tools=[SECRET_TOOL]))
    assert text == "Earlier, the user asked about Apple."
    assert "tools" not in server.requests[0].json()


async def test_consumer_can_stop_early_and_reuse_the_backend(server: ReplayServer, backend) -> None:
    server.enqueue(chat_stream(["a"] * 50, interval=0.01))
    server.enqueue(chat_stream("second"))
    stream = backend.stream(user_request("hi"))
    async for _ in stream:
        break
    await stream.aclose()
    assert (await collect(backend.stream(user_request("again")))).text == "second"
    await backend.aclose()


def test_missing_openai_key_is_reported_up_front() -> None:
    with pytest.raises(BackendError) as info:
        ChatCompletionsBackend(None, None)
    assert info.value.code == "auth_error" and "OPENAI_API_KEY" in info.value.message


async def test_caller_owned_http_client_is_left_open(server: ReplayServer) -> None:
    import httpx2

    async with httpx2.AsyncClient() as http:
        server.enqueue(chat_stream("hi"))
        backend = ChatCompletionsBackend(server.base_url, "sk-local", timeout=2.0, http_client=http)
        assert (await collect(backend.stream(user_request("hi")))).text == "hi"
        await backend.aclose()
        assert not http.is_closed
    assert server.requests[0].headers["authorization"] == "Bearer sk-local"


# -- model listing --------------------------------------------------------------------------
MODELS = {
    "object": "list",
    "data": [
        {"id": i, "object": "model", "created": 0, "owned_by": "library"}
        for i in ("qwen2.5:7b", "llama3.2:3b")
    ],
}


async def test_list_models(server: ReplayServer) -> None:
    server.enqueue(json_response(MODELS), method="GET", path="/v1/models", times=2)
    assert await alist_models(server.base_url, None) == ["llama3.2:3b", "qwen2.5:7b"]
    import asyncio

    assert await asyncio.to_thread(list_models, server.base_url, None) == [
        "llama3.2:3b",
        "qwen2.5:7b",
    ]


def test_list_models_unreachable() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    with pytest.raises(BackendError) as info:
        list_models(url, None, timeout=2.0)
    assert info.value.code == "connection_error"
    assert info.value.message.startswith(f"cannot list models: cannot reach {url}")


# -- messages for OpenAI itself (no server needed: the exceptions are built directly) ----------
def test_openai_errors_name_the_fix() -> None:
    import httpx2
    import openai

    from assistant_core.backends.openai_common import to_backend_error

    req = httpx2.Request("POST", "https://api.openai.com/v1/responses")
    auth = openai.AuthenticationError(
        "Error code: 401",
        response=httpx2.Response(401, request=req),
        body={"message": "Incorrect API key provided", "code": "invalid_api_key"},
    )
    err = to_backend_error(auth, base_url=None, model="gpt-4o")
    assert (err.code, err.message, err.retryable) == (
        "auth_error",
        "OpenAI rejected the API key — check OPENAI_API_KEY",
        False,
    )
    missing = openai.NotFoundError(
        "Error code: 404",
        response=httpx2.Response(404, request=req),
        body={"message": "The model `gpt-9` does not exist", "code": "model_not_found"},
    )
    assert to_backend_error(missing, base_url=None, model="gpt-9").message == (
        "model 'gpt-9' not found on https://api.openai.com/v1 — pick one with --model"
    )
    refused = to_backend_error(openai.APIConnectionError(request=req), base_url=None)
    assert refused.code == "connection_error" and refused.message.endswith(
        "check your network connection"
    )


def test_retry_after_forms() -> None:
    import time
    from email.utils import formatdate

    from assistant_core.backends.openai_common import retry_after_seconds

    assert retry_after_seconds({"retry-after": "20"}) == 20.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "20"}) == 0.25
    in_30s = retry_after_seconds({"retry-after": formatdate(time.time() + 30, usegmt=True)})
    assert in_30s is not None and 25 <= in_30s <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
