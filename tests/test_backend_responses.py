"""ResponsesBackend through the real ``openai`` client against the replay server: recorded
Responses streams reproduce their function calls and text exactly; synthetic ones cover
incomplete/failed responses, error events and broken streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from assistant_core.backends.base import ModelRequest, TextDelta, ToolCallDelta
from assistant_core.backends.responses import ResponsesBackend
from tests.support.openai_replay import (
    CAPITAL_TOOL,
    SECRET_TOOL,
    RecordedRequest,
    ReplayServer,
    ToolCallSpec,
    after_tools,
    collect,
    error_response,
    expect_error,
    inject,
    load_cassette,
    responses_stream,
    responses_stream_events,
    same_tool_exchange,
    sse_event,
    sse_response,
    user_request,
)

PATH = "/v1/responses"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


@pytest.fixture
async def backend(server: ReplayServer) -> AsyncIterator[ResponsesBackend]:
    backend = ResponsesBackend(server.base_url, None, timeout=2.0)
    yield backend
    await backend.aclose()


# -- real recorded streams -------------------------------------------------------------------
MIRASCOPE_RUNS = [
    (
        0,
        ("call_sKC7OABqf2A2PTLCm0CLeRWV", "call_OdR3s3xop0vtgkDyWRMLafuH"),
        "Here are the secrets associated with each password:\n\n- **mellon**: Welcome to Moria!\n- **radiance**: Life before Death",
        (136, 32),
    ),
    (
        2,
        ("call_X6173PYkiubC8YJRPzr8osHX", "call_OiUVT2dz7nh3PHrEPGnvLPyi"),
        "Here are the secrets associated with the passwords:\n\n- **mellon:** Welcome to Moria!\n- **radiance:** Life before Death",
        (136, 30),
    ),
    (
        4,
        ("call_JFcMnB3B0uvpADG11Egu9VT3", "call_bFXbNfOOKMw0esfOPep1dwdW"),
        'Here are the secrets associated with the passwords:\n\n- **mellon**: "Welcome to Moria!"\n- **radiance**: "Life before Death"',
        (136, 35),
    ),
]


@pytest.mark.parametrize(
    ("first", "ids", "answer", "usage"), MIRASCOPE_RUNS, ids=["run1", "run2", "run3"]
)
async def test_mirascope_gpt4o_parallel_function_calls_then_answer(
    server: ReplayServer,
    backend,
    fixtures_dir: Path,
    first: int,
    ids: tuple[str, str],
    answer: str,
    usage: tuple[int, int],
) -> None:
    recorded = load_cassette(
        fixtures_dir / "responses/mirascope_call_with_tools_openai_gpt_4o_responses_stream.yaml"
    )
    turn1, turn2 = recorded[first], recorded[first + 1]
    # Our second request must carry the function_call and function_call_output items (by
    # call_id) exactly as the real client sent them.
    server.enqueue_interactions([turn1, turn2], checks={1: same_tool_exchange(turn2.request_body)})

    request = user_request(
        "Please retrieve the secrets associated with each of these passwords: mellon,radiance",
        tools=[SECRET_TOOL],
        instructions="Use parallel tool calling.",
    )
    got = await collect(backend.stream(request))
    assert got.tool_calls == [
        {"id": ids[0], "name": "secret_retrieval_tool", "arguments": '{"password":"mellon"}'},
        {"id": ids[1], "name": "secret_retrieval_tool", "arguments": '{"password":"radiance"}'},
    ]
    assert (got.text, got.usage, got.finish) == ("", (36, 54), "tool_calls")

    final = await collect(
        backend.stream(
            after_tools(request, got.tool_calls, ["Welcome to Moria!", "Life before Death"])
        )
    )
    assert final.text == answer
    assert (final.tool_calls, final.usage, final.finish) == ([], usage, "stop")
    server.verify()

    body = server.requests[0].json()
    assert body["instructions"] == "Use parallel tool calling."
    assert body["input"] == [
        {
            "role": "user",
            "content": "Please retrieve the secrets associated with each of these passwords: mellon,radiance",
        }
    ]
    assert body["tools"] == [{"type": "function", "strict": False, **SECRET_TOOL["function"]}]
    assert (body["stream"], body["store"], body["parallel_tool_calls"]) == (True, False, True)


async def test_pydantic_ai_get_capital_then_answer(
    server: ReplayServer, backend, fixtures_dir: Path
) -> None:
    turn1, turn2 = load_cassette(
        fixtures_dir / "responses/pydantic-ai_test_openai_responses_stream.yaml"
    )

    # pydantic-ai sent the fc_ item id as call_id back then; we send the real call_id.
    def carries_paris(request: RecordedRequest) -> None:
        items = request.json()["input"]
        assert items[1:] == [
            {
                "type": "function_call",
                "call_id": "call_kL0PCQV7M2WMoVX8V8OtYSAL",
                "name": "get_capital",
                "arguments": '{"country":"France"}',
            },
            {
                "type": "function_call_output",
                "call_id": "call_kL0PCQV7M2WMoVX8V8OtYSAL",
                "output": "Paris",
            },
        ]

    server.enqueue_interactions([turn1, turn2], checks={1: carries_paris})
    request = user_request("What is the capital of France?", tools=[CAPITAL_TOOL])
    got = await collect(backend.stream(request))
    assert got.tool_calls == [
        {
            "id": "call_kL0PCQV7M2WMoVX8V8OtYSAL",
            "name": "get_capital",
            "arguments": '{"country":"France"}',
        }
    ]
    assert (got.usage, got.finish) == ((255, 16), "tool_calls")

    final = await collect(backend.stream(after_tools(request, got.tool_calls, ["Paris"])))
    assert final.text == "The capital of France is Paris."
    assert (final.usage, final.finish) == ((278, 9), "stop")
    server.verify()
    assert "instructions" not in server.requests[0].json()  # empty instructions are left out


# -- synthetic streams -----------------------------------------------------------------------
async def test_text_then_interleaved_calls_get_tool_indices_from_zero(
    server: ReplayServer, backend
) -> None:
    calls = [
        ToolCallSpec("get_price", '{"ticker":"AAPL"}', "call_a"),
        ToolCallSpec("get_price", '{"ticker":"MSFT"}', "call_b"),
    ]
    server.enqueue(
        responses_stream("Let me check.", calls, interleave=True, arg_fragment=4), path=PATH
    )
    got = await collect(backend.stream(user_request("compare")))
    # The message item takes output_index 0; the calls (output_index 1 and 2) are tools 0 and 1.
    deltas = [c for c in got.chunks if isinstance(c, ToolCallDelta)]
    assert [d.index for d in deltas[:4]] == [0, 1, 0, 1]
    assert got.text == "Let me check."
    assert got.tool_calls == [
        {"id": "call_a", "name": "get_price", "arguments": '{"ticker":"AAPL"}'},
        {"id": "call_b", "name": "get_price", "arguments": '{"ticker":"MSFT"}'},
    ]
    assert got.finish == "tool_calls"


async def test_arguments_only_in_done_event(server: ReplayServer, backend) -> None:
    events = [
        e
        for e in responses_stream_events(tool_calls=[ToolCallSpec("lookup", '{"q":"Tesla"}', "c1")])
        if b"arguments.delta" not in e
    ]
    server.enqueue(sse_response(events), path=PATH)
    got = await collect(backend.stream(user_request("tesla")))
    assert got.tool_calls == [{"id": "c1", "name": "lookup", "arguments": '{"q":"Tesla"}'}]


async def test_incomplete_max_output_tokens_is_length(server: ReplayServer, backend) -> None:
    server.enqueue(
        responses_stream("The balance sheet shows", outcome="incomplete", usage=(40, 5)), path=PATH
    )
    got = await collect(backend.stream(user_request("balance sheet")))
    assert (got.text, got.usage, got.finish) == ("The balance sheet shows", (40, 5), "length")


async def test_incomplete_content_filter(server: ReplayServer, backend) -> None:
    server.enqueue(
        responses_stream("x", outcome="incomplete", incomplete_reason="content_filter"), path=PATH
    )
    assert (await collect(backend.stream(user_request("?")))).finish == "content_filter"


async def test_refusal_streams_as_text(server: ReplayServer, backend) -> None:
    events = responses_stream_events("", outcome="completed")
    refusal = sse_event(
        {
            "type": "response.refusal.delta",
            "item_id": "m",
            "output_index": 0,
            "content_index": 0,
            "delta": "I can't help with that.",
        },
        "response.refusal.delta",
    )
    server.enqueue(sse_response(inject(events, 2, refusal)), path=PATH)
    got = await collect(backend.stream(user_request("?")))
    assert (got.text, got.finish) == ("I can't help with that.", "stop")


async def test_failed_response_before_any_output_is_retryable(
    server: ReplayServer, backend
) -> None:
    server.enqueue(
        responses_stream(outcome="failed", error=("server_error", "The model is overloaded.")),
        path=PATH,
    )
    err, seen = await expect_error(backend)
    assert (err.code, err.retryable, seen) == ("server_error", True, [])
    assert "The model is overloaded." in err.message


async def test_failed_response_after_text_is_not_retried(server: ReplayServer, backend) -> None:
    server.enqueue(
        responses_stream(
            "Apple's revenue", outcome="failed", error=("rate_limit_exceeded", "slow down")
        ),
        path=PATH,
    )
    err, seen = await expect_error(backend)
    assert (err.code, err.retryable) == ("rate_limit_exceeded", False)
    assert [c for c in seen if isinstance(c, TextDelta)]


async def test_error_event(server: ReplayServer, backend) -> None:
    events = responses_stream_events("hello", outcome=None)
    error = sse_event(
        {
            "type": "error",
            "code": "invalid_prompt",
            "message": "Prompt flagged.",
            "param": None,
            "sequence_number": 99,
        },
        "error",
    )
    server.enqueue(sse_response([*events[:2], error]), path=PATH)
    err, _ = await expect_error(backend)
    assert (err.code, err.retryable) == (
        "invalid_prompt",
        False,
    ) and "Prompt flagged." in err.message


async def test_stream_without_completed_event_is_broken(server: ReplayServer, backend) -> None:
    server.enqueue(responses_stream("Tesla's debt", outcome=None), path=PATH)
    err, seen = await expect_error(backend)
    assert (err.code, err.retryable) == ("stream_broken", False)
    assert "".join(c.text for c in seen if isinstance(c, TextDelta)) == "Tesla's debt"


async def test_stream_cut_mid_function_call_is_broken(server: ReplayServer, backend) -> None:
    server.enqueue(
        responses_stream(
            tool_calls=[ToolCallSpec("lookup", '{"q": "a long query"}')],
            cut_after_chunks=5,
            abort=True,
        ),
        path=PATH,
    )
    err, seen = await expect_error(backend)
    assert err.code == "stream_broken" and any(isinstance(c, ToolCallDelta) for c in seen)


async def test_model_not_found_as_openai_reports_it(server: ReplayServer, backend) -> None:
    # The Responses API answers an unknown model with 400 + code model_not_found.
    server.enqueue(
        error_response(
            400,
            "The requested model 'gpt-9' does not exist.",
            param="model",
            code="model_not_found",
        ),
        path=PATH,
    )
    err, _ = await expect_error(backend)
    assert err.code == "model_not_found"
    assert err.message == f"model 'gpt-4o' not found on {server.base_url} — pick one with --model"


async def test_rate_limited_with_retry_after(server: ReplayServer, backend) -> None:
    server.enqueue(
        error_response(
            429, "Rate limit reached for gpt-4o", code="rate_limit_exceeded", retry_after="1.25"
        ),
        path=PATH,
    )
    err, _ = await expect_error(backend)
    assert (err.code, err.retryable, err.retry_after, err.status) == (
        "rate_limit_exceeded",
        True,
        1.25,
        429,
    )


async def test_request_conversion(server: ReplayServer, backend) -> None:
    server.enqueue(responses_stream("ok"), path=PATH)
    request = ModelRequest(
        model="gpt-4o-mini",
        instructions="You are an analyst.",
        input=[
            {"role": "system", "content": "Summary of earlier turns."},
            {"role": "user", "content": "Apple?"},
            {
                "role": "assistant",
                "content": "Looking it up.",
                "tool_calls": [{"id": "c1", "name": "lookup", "arguments": '{"q":"Apple"}'}],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "name": "lookup",
                "content": '{"ticker":"AAPL"}',
            },
            {"role": "assistant", "content": "AAPL."},
        ],
        tools=[
            {
                "type": "function",
                "function": {"name": "lookup", "parameters": {"type": "object"}, "strict": True},
            },
            {"type": "code_interpreter"},
        ],
        parallel_tool_calls=False,
        max_output_tokens=64,
        temperature=0.2,
    )
    await collect(backend.stream(request))
    body = server.requests[0].json()
    assert body["input"] == [
        {"role": "system", "content": "Summary of earlier turns."},
        {"role": "user", "content": "Apple?"},
        {"role": "assistant", "content": "Looking it up."},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q":"Apple"}'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"ticker":"AAPL"}'},
        {"role": "assistant", "content": "AAPL."},
    ]
    assert body["tools"] == [
        {"type": "function", "name": "lookup", "parameters": {"type": "object"}, "strict": True}
    ]
    assert (body["parallel_tool_calls"], body["max_output_tokens"], body["temperature"]) == (
        False,
        64,
        0.2,
    )


async def test_tool_choice_and_top_p_in_the_responses_form(server: ReplayServer, backend) -> None:
    server.enqueue(responses_stream("ok"), path=PATH)
    request = user_request("Apple?", tools=[CAPITAL_TOOL])
    request.tool_choice = {"type": "function", "function": {"name": "get_capital"}}
    request.top_p = 0.5
    await collect(backend.stream(request))
    body = server.requests[0].json()
    # Responses names the function at the top level of the choice.
    assert body["tool_choice"] == {"type": "function", "name": "get_capital"}
    assert body["top_p"] == 0.5


async def test_json_answers_in_the_responses_form(server: ReplayServer, backend) -> None:
    schema = {"type": "object", "properties": {"buy": {"type": "boolean"}}}
    forms = [
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {"type": "json_schema", "json_schema": {"name": "v", "schema": schema, "strict": True}},
            {"type": "json_schema", "name": "v", "schema": schema, "strict": True},
        ),
    ]
    for asked, sent in forms:
        server.enqueue(responses_stream("{}"), path=PATH)
        request = user_request("Apple?")
        request.response_format = asked
        await collect(backend.stream(request))
        assert server.requests[-1].json()["text"] == {"format": sent}
    server.enqueue(responses_stream("prose"), path=PATH)
    request = user_request("Apple?")
    request.response_format = {"type": "text"}
    await collect(backend.stream(request))
    assert "text" not in server.requests[-1].json()


async def test_complete(server: ReplayServer, backend) -> None:
    server.enqueue(responses_stream("The user researched Apple and Tesla."), path=PATH)
    assert (
        await backend.complete(user_request("summarise", tools=[CAPITAL_TOOL]))
        == "The user researched Apple and Tesla."
    )
    assert "tools" not in server.requests[0].json()
