"""The replay server itself, checked at the HTTP level with the standard library: recorded
bodies come back byte for byte, requests are matched in order, faults and pacing do what they
say. (The backend tests check it through the real openai client.)"""

from __future__ import annotations

import gzip
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.openai_replay import (
    RecordedRequest,
    ReplayProcess,
    ReplayServer,
    Response,
    ToolCallSpec,
    chat_stream,
    chat_stream_events,
    error_response,
    json_response,
    load_cassette,
    load_sse_body,
    responses_stream_events,
    same_tool_exchange,
    split_sse,
    synthetic_tokens,
    tool_exchange,
)

SSE_BIN = "chat_completions/openai-python_parallel_tool_calls_weather_and_stock_price.sse.bin"


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


def call(
    server: ReplayServer,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    body: object = None,
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(
        method, path, body=data, headers={"Content-Type": "application/json"} if data else {}
    )
    return conn.getresponse()


def data_events(body: bytes) -> list[dict]:
    return [
        json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: {")
    ]


# -- recorded fixtures ----------------------------------------------------------------------
def test_split_sse_is_lossless(fixtures_dir: Path) -> None:
    raw = (fixtures_dir / SSE_BIN).read_bytes()
    events = split_sse(raw)
    assert b"".join(events) == raw
    assert len(events) == 26 and events[-1] == b"data: [DONE]\n\n"
    assert all(e.endswith(b"\n\n") for e in events)


def test_sse_bin_is_served_byte_for_byte(server: ReplayServer, fixtures_dir: Path) -> None:
    server.enqueue(load_sse_body(fixtures_dir / SSE_BIN))
    resp = call(server, body={"stream": True})
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream; charset=utf-8"
    assert (
        resp.getheader("Transfer-Encoding") == "chunked"
        and resp.getheader("Content-Length") is None
    )
    assert resp.read() == (fixtures_dir / SSE_BIN).read_bytes()
    server.verify()


def test_vcrpy_cassette(server: ReplayServer, fixtures_dir: Path) -> None:
    interactions = load_cassette(
        fixtures_dir
        / "chat_completions/mirascope_call_with_tools_openai_gpt_4o_completions_stream.yaml"
    )
    assert [(i.method, i.path) for i in interactions] == [("POST", "/v1/chat/completions")] * 6
    assert interactions[0].request_body["model"] == "gpt-4o"
    # The recorded framing headers are dropped: the server frames the body itself.
    first = interactions[0].response
    names = {k.lower() for k, _ in first.headers}
    assert "content-length" not in names and "transfer-encoding" not in names
    assert "x-request-id" in names or "openai-processing-ms" in names

    server.enqueue_interactions(interactions[:1])
    resp = call(server, body={})
    body = resp.read()
    assert body == b"".join(first.chunks or [])
    assert body.startswith(
        b'data: {"id":"chatcmpl-CoDWpGC47t2wtJ7PYJq9LCn0IZunc"'
    ) and body.endswith(b"data: [DONE]\n\n")
    assert data_events(body)[0]["obfuscation"] == "j9Z9Y9WcWYn"  # unknown fields reach the client


def test_pydantic_ai_dialect(fixtures_dir: Path) -> None:
    turn1, turn2 = load_cassette(
        fixtures_dir / "responses/pydantic-ai_test_openai_responses_stream.yaml"
    )
    assert turn1.request_body["input"] == [
        {"content": "What is the capital of France?", "role": "user"}
    ]
    assert tool_exchange(turn2.request_body) == {
        "calls": [
            (
                "fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2",
                "get_capital",
                '{"country":"France"}',
            )
        ],
        "outputs": [("fc_67e554a1de488191af0831d35cbe082e0794405d35281ae2", "Paris")],
    }
    kinds = [e["type"] for e in data_events(b"".join(turn2.response.chunks or []))]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_gzip_binary_body_keeps_its_encoding(server: ReplayServer, fixtures_dir: Path) -> None:
    interactions = load_cassette(
        fixtures_dir / "assistants/openllmetry_test_streaming_new_assistant.yaml"
    )
    server.enqueue_interactions(interactions[:1])
    resp = call(server, path="/v1/assistants", body={})
    assert resp.getheader("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(resp.read()))["object"] == "assistant"


# -- matching and checks --------------------------------------------------------------------
def test_requests_match_by_method_and_path_in_order(server: ReplayServer) -> None:
    server.enqueue(json_response({"n": 1}))
    server.enqueue(json_response({"models": True}), method="GET", path="/v1/models")
    server.enqueue(json_response({"n": 2}))
    assert json.loads(call(server, "GET", "/v1/models?limit=5").read()) == {"models": True}
    assert json.loads(call(server).read()) == {"n": 1}
    assert json.loads(call(server).read()) == {"n": 2}
    server.verify()
    assert [(r.method, r.path, r.query) for r in server.requests] == [
        ("GET", "/v1/models", "limit=5"),
        ("POST", "/v1/chat/completions", ""),
        ("POST", "/v1/chat/completions", ""),
    ]


def test_unexpected_request_and_unused_response_are_reported(server: ReplayServer) -> None:
    server.enqueue(json_response({}), path="/v1/responses")
    resp = call(server, path="/v1/embeddings", body={})
    assert resp.status == 418
    assert (
        "no response queued for POST /v1/embeddings" in json.loads(resp.read())["error"]["message"]
    )
    with pytest.raises(AssertionError, match="never requested: POST /v1/responses"):
        server.verify()


def test_failed_check_answers_418_and_fails_verify(
    server: ReplayServer, fixtures_dir: Path
) -> None:
    turn2 = load_cassette(
        fixtures_dir / "chat_completions/pydantic-ai_test_run_stream_sync_streams_real_model.yaml"
    )[1]
    check = same_tool_exchange(turn2.request_body)
    server.enqueue(chat_stream("ok"), check=check)
    server.enqueue(chat_stream("ok"), check=check)
    good = {
        "messages": [
            {"role": "user", "content": "?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_ZR5UUuTt3pf61kjwAJIYdVMj",
                        "type": "function",
                        "function": {"name": "get_capital", "arguments": '{"country":"UK"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_ZR5UUuTt3pf61kjwAJIYdVMj", "content": "London"},
        ]
    }
    assert call(server, body=good).status == 200
    bad = json.loads(json.dumps(good))
    bad["messages"][2]["content"] = "Paris"
    resp = call(server, body=bad)
    assert resp.status == 418 and "request check failed" in resp.read().decode()
    with pytest.raises(AssertionError, match="tool exchange"):
        server.verify()


def test_times_none_serves_forever(server: ReplayServer) -> None:
    server.enqueue(json_response({"ok": True}), times=None)
    assert all(call(server).status == 200 for _ in range(3))
    server.verify()


def test_keep_alive_connection_serves_several_requests(server: ReplayServer) -> None:
    server.enqueue(chat_stream("one"))
    server.enqueue(json_response({"two": 2}))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(2):
        conn.request("POST", "/v1/chat/completions", body=b"{}")
        conn.getresponse().read()
    assert len(server.requests) == 2


# -- faults and pacing ----------------------------------------------------------------------
def test_error_response_shape_and_retry_after(server: ReplayServer) -> None:
    server.enqueue(
        error_response(
            429, "slow down", code="rate_limit_exceeded", retry_after=3, retry_after_ms=2500
        )
    )
    resp = call(server)
    assert (resp.status, resp.getheader("Retry-After"), resp.getheader("retry-after-ms")) == (
        429,
        "3",
        "2500",
    )
    assert json.loads(resp.read()) == {
        "error": {
            "message": "slow down",
            "type": "invalid_request_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }


def test_delay_before_first_byte(server: ReplayServer) -> None:
    server.enqueue(Response(body=b"{}", delay=0.3))
    start = time.perf_counter()
    call(server).read()
    assert time.perf_counter() - start >= 0.3


def test_clean_cut_ends_the_body_normally(server: ReplayServer) -> None:
    events = chat_stream_events("a b c d")
    server.enqueue(chat_stream("a b c d", cut_after_chunks=3))
    assert call(server).read() == b"".join(events[:3])


def test_cut_after_bytes(server: ReplayServer) -> None:
    server.enqueue(Response(chunks=[b"0123456789", b"abcdef"], cut_after_bytes=13))
    assert call(server).read() == b"0123456789abc"


def test_abort_drops_the_connection_mid_body(server: ReplayServer) -> None:
    server.enqueue(chat_stream("a b c d", cut_after_chunks=2, abort=True))
    resp = call(server)
    with pytest.raises(http.client.IncompleteRead):
        resp.read()


def test_paced_stream_runs_at_the_requested_rate(server: ReplayServer) -> None:
    # 21 tokens at 100 tokens/s: 20 gaps of 10 ms between the token chunks.
    server.enqueue(chat_stream(synthetic_tokens(21), interval=0.01))
    start = time.perf_counter()
    events = data_events(call(server).read())
    elapsed = time.perf_counter() - start
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "".join(synthetic_tokens(21))
    assert 0.2 <= elapsed < 1.0


def test_pause_before_a_chunk(server: ReplayServer) -> None:
    server.enqueue(Response(chunks=[b"a", b"b"], pauses={1: 0.3}))
    start = time.perf_counter()
    assert call(server).read() == b"ab"
    assert time.perf_counter() - start >= 0.3


def test_close_interrupts_a_long_delay() -> None:
    server = ReplayServer().start()
    server.enqueue(Response(chunks=[b"a", b"b"], pauses={1: 30}))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("POST", "/v1/chat/completions", body=b"{}")
    resp = conn.getresponse()
    start = time.perf_counter()
    server.close()
    resp.read()
    assert time.perf_counter() - start < 2


# -- builders -----------------------------------------------------------------------------
def test_chat_stream_builder_shape() -> None:
    events = chat_stream_events(
        "Hi",
        [ToolCallSpec("f", '{"x": 1}', "call_1"), ToolCallSpec("g", "{}", "call_2")],
        usage=(3, 4),
        interleave=True,
    )
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    order = [
        c["choices"][0]["delta"]["tool_calls"][0]["index"]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert order[:4] == [0, 1, 0, 1]


def test_responses_stream_builder_shape() -> None:
    events = responses_stream_events(
        "Hi there", [ToolCallSpec("f", '{"x": 1}')], outcome="completed"
    )
    decoded = [json.loads(e.split(b"data: ", 1)[1]) for e in events]
    assert [d["sequence_number"] for d in decoded] == list(range(len(decoded)))
    assert all(
        e.startswith(b"event: " + d["type"].encode() + b"\n") for e, d in zip(events, decoded)
    )
    final = decoded[-1]["response"]
    assert final["status"] == "completed" and [o["type"] for o in final["output"]] == [
        "message",
        "function_call",
    ]
    assert decoded[-1]["type"] == "response.completed" and final["usage"]["output_tokens"] == 34


def test_recorded_request_json() -> None:
    assert RecordedRequest("POST", "/", "", {}, b'{"a": 1}').json() == {"a": 1}
    assert RecordedRequest("GET", "/", "", {}, b"").json() is None


def test_replay_process_serves_from_a_child_process() -> None:
    proc = ReplayProcess()
    proc.enqueue(chat_stream(synthetic_tokens(3)), times=2)
    with proc:
        conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=5)
        for _ in range(2):
            conn.request("POST", "/v1/chat/completions", body=b"{}")
            assert b"data: [DONE]" in conn.getresponse().read()
        conn.request("POST", "/v1/responses", body=b"{}")
        assert conn.getresponse().status == 418
    assert proc.request_count == 3 and proc.failures == [
        "no response queued for POST /v1/responses"
    ]
