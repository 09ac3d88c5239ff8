"""A local OpenAI-style HTTP server for tests and benchmarks: replays recorded API responses and
serves scripted ones, with fault injection. Nothing here touches the network: it listens on
127.0.0.1 on a random port, in a background thread, so the real ``openai`` client (sync or async)
can talk to it unchanged.

Quick start::

    from tests.support.openai_replay import ReplayServer, load_cassette, chat_stream

    with ReplayServer() as server:     # in tests: a fixture that yields it, see below
        server.enqueue_interactions(load_cassette(fixtures_dir / "chat_completions/x.yaml")[:2])
        server.enqueue(chat_stream("Hello there", usage=None), path="/v1/chat/completions")
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        server.verify()        # fails on unexpected requests, failed checks, unused responses

Serving rules
-------------
* ``enqueue(response, method=, path=, check=, times=)`` appends to a queue. A request takes the
  first queued entry whose method and path match (query ignored), so entries for different
  endpoints may be interleaved and each endpoint is served in the order it was enqueued.
  ``times=None`` serves that entry forever (benchmarks).
  ``enqueue_interactions(load_cassette(...)[i:j], checks={k: check})`` queues recorded ones.
* ``check`` is called with the ``RecordedRequest``; if it raises, the request gets a 418 whose
  error message says why (the client fails loudly) and ``verify()`` reports it.
* A request nothing matches gets a 418 "no response queued for POST /v1/…" and is reported too,
  except the app's context-window probes (``GET /props``, ``GET /v1/models``): unless queued,
  they get a 404, as from a server without them, and are kept apart in ``server.probes``.
* ``server.requests`` lists every request received (method, path, headers, body, ``.json()``).

``Response`` fields (all optional; combine freely)
--------------------------------------------------
``status``, ``headers`` (list of pairs), and either ``body`` (sent with Content-Length) or
``chunks`` (sent with chunked transfer encoding, one HTTP chunk per item, flushed one by one: an
SSE stream keeps its original bytes, one event per chunk). Faults and pacing:

* ``delay``: seconds before the status line (time to first byte; exceed the client timeout to
  get a timeout).
* ``interval``: seconds between chunks (paced streaming: N tokens at R tokens/s is
  ``chat_stream(tokens, interval=1/R)``); ``pauses={i: s}`` waits ``s`` seconds before chunk ``i``
  (a stall mid-stream).
* ``cut_after_chunks`` / ``cut_after_bytes``: stop the body early. By default the body is then
  ended cleanly (valid chunked framing: the client sees a normal end of stream with no finish
  reason); with ``abort=True`` the connection is dropped mid-body instead (the client sees a
  protocol error).

Builders
--------
* ``json_response(obj)``, ``error_response(status, message, code=, type=, retry_after=,
  retry_after_ms=)`` (OpenAI's ``{"error": {...}}`` body), ``sse_response(chunks)``,
  ``sse_event(data, event=)``.
* ``chat_stream(text_or_tokens, tool_calls=[ToolCallSpec(name, arguments, id)], usage=(p, c) |
  None, finish_reason="auto" | None, done=True, interleave=False, arg_fragment=8,
  **response_fields)`` and
  ``chat_stream_events(...)`` for the raw list of SSE chunks (Chat Completions chunk format).
* ``responses_stream(text_or_tokens, tool_calls=..., usage=..., outcome="completed" |
  "incomplete" | "failed" | None, incomplete_reason=, error=(code, message), **response_fields)``
  and ``responses_stream_events(...)`` (Responses API event format). ``None`` for the finish
  reason / final status leaves it out (a stream that ends without finishing).
* ``synthetic_tokens(n)``: n word-like tokens for paced or large streams.
* Fault chunks to splice into any chunk list with ``inject(chunks, index, *faults)``:
  ``INVALID_JSON_EVENT``, ``INVALID_UTF8_EVENT``, ``GARBAGE_LINE`` (ignored by SSE parsers, as
  the spec says), ``error_event(message)`` (an in-stream ``{"error": …}`` like vLLM/OpenRouter).

Recorded fixtures
-----------------
* ``load_cassette(path) -> list[Interaction]`` reads vcrpy cassettes (``body: {string: …}``,
  including ``!!binary`` gzip bodies, whose Content-Encoding is kept) and pydantic-ai's dialect
  (request ``parsed_body:``). Recorded Content-Length / Transfer-Encoding / Connection headers are
  dropped (the server frames bodies itself); ``text/event-stream`` bodies are streamed one event
  per chunk with their original bytes. ``Interaction.request_body`` is the recorded request JSON.
* ``load_sse_body(path)``: a raw recorded SSE body (e.g. openai-python's ``.sse.bin``) as a
  streamed ``Response``. ``split_sse(bytes)`` splits a body into events losslessly.
* ``same_tool_exchange(recorded_body)``: a ``check`` asserting that a request carries the same
  tool calls and tool outputs (ids, names, arguments, outputs) as the recorded request (works for
  Chat Completions messages and Responses input items).

``ReplayProcess`` runs the same server in a child process (``enqueue`` before ``start()``, no
checks; ``request_count`` and ``failures`` after ``close()``): use it for benchmarks, so the
server does not share the GIL with the code being measured.

A pytest fixture is four lines::

    @pytest.fixture
    def server() -> Iterator[ReplayServer]:
        with ReplayServer() as s:
            yield s

``unused_port()`` returns a port nothing listens on (for "connection refused" tests).
``await collect(backend.stream(request))`` reassembles a backend's chunks (text, tool calls by
index, usage, finish) and checks that ``Finish`` comes last; ``await expect_error(backend)``
expects a one-line ``BackendError`` instead. ``user_request(text)`` / ``after_tools(...)``
build a first turn's ``ModelRequest`` and the next one with the tool calls and outputs.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

Headers = list[tuple[str, str]]


# -- what the server receives and sends ------------------------------------------------------
@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Response:
    status: int = 200
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    chunks: list[bytes] | None = None
    delay: float = 0.0
    interval: float = 0.0
    pauses: dict[int, float] = field(default_factory=dict)
    cut_after_chunks: int | None = None
    cut_after_bytes: int | None = None
    abort: bool = False


Check = Callable[[RecordedRequest], None]


@dataclass
class _Entry:
    method: str
    path: str
    response: Response
    check: Check | None
    remaining: int | None  # None: forever


@dataclass
class Interaction:
    method: str
    path: str
    request_body: Any
    response: Response


# Hop-by-hop or framing headers from recordings: the server frames every body itself.
_DROPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


# -- the server ----------------------------------------------------------------------------
class _LocalServer:
    """What both servers share: a context manager, and addresses derived from ``port``."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as the openai client's ``base_url``."""
        return f"{self.url}/v1"


# GET requests the app sends to learn a server's context window (Runtime.discover_context_window).
# Unless a test queues a response for them, they get a 404 and are kept in ``probes``, not in
# ``requests``: tests count and index the model requests.
CONTEXT_PROBES = frozenset({("GET", "/props"), ("GET", "/v1/models")})


class ReplayServer(_LocalServer):
    """A threaded HTTP/1.1 server on 127.0.0.1:<random port> that serves queued responses."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.probes: list[RecordedRequest] = []  # context-window probes answered 404
        self.failures: list[str] = []
        self._queue: list[_Entry] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Self:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        httpd.replay = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="openai-replay", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("replay server not started")
        return self._httpd.server_address[1]

    # scripting
    def enqueue(
        self,
        response: Response,
        *,
        method: str = "POST",
        path: str = "/v1/chat/completions",
        check: Check | None = None,
        times: int | None = 1,
    ) -> None:
        with self._lock:
            self._queue.append(_Entry(method.upper(), path, response, check, times))

    def enqueue_interactions(
        self, interactions: Iterable[Interaction], *, checks: Mapping[int, Check] | None = None
    ) -> None:
        """Queue recorded interactions in order; ``checks[i]`` checks the i-th one's request."""
        for i, it in enumerate(interactions):
            self.enqueue(it.response, method=it.method, path=it.path, check=(checks or {}).get(i))

    @property
    def pending(self) -> list[str]:
        with self._lock:
            return [f"{e.method} {e.path}" for e in self._queue if e.remaining is not None]

    def verify(self) -> None:
        """Raise AssertionError if a request failed its check or matched nothing, or if a queued
        response was never served."""
        problems = list(self.failures) + [f"never requested: {p}" for p in self.pending]
        if problems:
            raise AssertionError("replay server: " + "; ".join(problems))

    # called from handler threads
    def _take(self, request: RecordedRequest) -> Response:
        with self._lock:
            queued = any(e.method == request.method and e.path == request.path for e in self._queue)
            if not queued and (request.method, request.path) in CONTEXT_PROBES:
                # The app asks a compatible server what context it serves; with nothing
                # queued for that, answer as a server without the endpoint does.
                self.probes.append(request)
                return error_response(404, "File Not Found", type="not_found_error")
            self.requests.append(request)
            for entry in self._queue:
                if entry.method == request.method and entry.path == request.path:
                    break
            else:
                msg = f"no response queued for {request.method} {request.path}"
                self.failures.append(msg)
                return error_response(418, f"replay server: {msg}", type="replay_error")
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._queue.remove(entry)
        if entry.check is not None:
            try:
                entry.check(request)
            except Exception as exc:  # a failed expectation: report it to the client and the test
                msg = f"request check failed for {request.method} {request.path}: {exc}"
                with self._lock:
                    self.failures.append(msg)
                return error_response(418, f"replay server: {msg}", type="replay_error")
        return entry.response

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


class ReplayProcess(_LocalServer):
    """The same server in a child process, for benchmarks: an in-process server shares the GIL
    with the code being measured and blurs the figures. Responses are queued before ``start()``
    (no ``check`` callables: they would have to cross the process boundary)."""

    def __init__(self) -> None:
        self._entries: list[tuple[Response, dict[str, Any]]] = []
        self._conn: Any = None
        self._process: Any = None
        self._port = 0
        self.failures: list[str] = []
        self.request_count = 0

    def enqueue(
        self,
        response: Response,
        *,
        method: str = "POST",
        path: str = "/v1/chat/completions",
        times: int | None = 1,
    ) -> None:
        if self._process is not None:
            raise RuntimeError("ReplayProcess: enqueue before start()")
        self._entries.append((response, {"method": method, "path": path, "times": times}))

    def start(self) -> Self:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads/loops
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_serve_in_child, args=(self._entries, child), daemon=True
        )
        self._process.start()
        self._port = self._conn.recv()
        return self

    @property
    def port(self) -> int:
        return self._port

    def close(self) -> None:
        if self._process is None:
            return
        self._conn.send("stop")
        self.request_count, self.failures = self._conn.recv()
        self._process.join(5)
        self._process = None


def _serve_in_child(entries: list[tuple[Response, dict[str, Any]]], conn: Any) -> None:
    with ReplayServer() as server:
        for response, options in entries:
            server.enqueue(response, **options)
        conn.send(server.port)
        conn.recv()
        conn.send((len(server.requests), list(server.failures)))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Many small SSE writes: without this, Nagle + delayed ACKs add ~40 ms stalls.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass  # a client dropping a kept-alive connection is normal, not a test failure

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        replay: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = replay._take(request)
        replay._sleep(response.delay)
        try:
            self._write(response, replay)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (e.g. it timed out): fine

    def _write(self, response: Response, replay: ReplayServer) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in _DROPPED_HEADERS:
                self.send_header(name, value)
        streamed = (
            response.chunks is not None
            or response.cut_after_bytes is not None
            or response.cut_after_chunks is not None
        )
        if not streamed:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        cut = False
        sent_bytes = 0
        chunks = response.chunks if response.chunks is not None else [response.body]
        for i, chunk in enumerate(chunks):
            if response.cut_after_chunks is not None and i >= response.cut_after_chunks:
                cut = True
                break
            if response.cut_after_bytes is not None:
                room = response.cut_after_bytes - sent_bytes
                if room < len(chunk):
                    chunk, cut = chunk[: max(room, 0)], True
            if i:
                replay._sleep(response.interval)
            replay._sleep(response.pauses.get(i, 0.0))
            if replay._closing.is_set():
                cut = True
                break
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent_bytes += len(chunk)
            if cut:
                break
        if cut and response.abort:
            # Drop the connection without the terminating chunk: an incomplete body.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")


# -- building responses ----------------------------------------------------------------------
def json_response(obj: Any, *, status: int = 200, headers: Headers | None = None) -> Response:
    return Response(
        status=status,
        headers=[("Content-Type", "application/json"), *list(headers or [])],
        body=json.dumps(obj).encode(),
    )


def error_response(
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
) -> Response:
    headers: Headers = []
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", str(retry_after_ms)))
    error = {
        "message": message,
        "type": type or "invalid_request_error",
        "param": param,
        "code": code,
    }
    return json_response({"error": error}, status=status, headers=headers)


def sse_event(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def sse_response(chunks: Iterable[bytes | str], **response_fields: Any) -> Response:
    headers = [
        ("Content-Type", "text/event-stream; charset=utf-8"),
        *list(response_fields.pop("headers", [])),
    ]
    data = [c.encode() if isinstance(c, str) else c for c in chunks]
    return Response(headers=headers, chunks=data, **response_fields)


INVALID_JSON_EVENT = (
    b'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"ind\n\n'
)
INVALID_UTF8_EVENT = b"data: \xff\xfe\xfd not utf-8\n\n"
GARBAGE_LINE = b"this line is not a server-sent event field\n\n"


def error_event(message: str, code: int | str = 500) -> bytes:
    """An in-stream error object, as vLLM / OpenRouter send when generation fails mid-way."""
    return sse_event({"error": {"message": message, "code": code, "type": "server_error"}})


def inject(chunks: Sequence[bytes], index: int, *extra: bytes) -> list[bytes]:
    return list(chunks[:index]) + list(extra) + list(chunks[index:])


_WORDS = [
    "Revenue",
    "grew",
    "steadily",
    "while",
    "operating",
    "margins",
    "widened",
    "as",
    "the",
    "company",
    "kept",
    "costs",
    "in",
    "check",
    "and",
    "returned",
    "cash",
    "to",
    "shareholders",
    "through",
    "buybacks",
    "and",
    "dividends",
    "over",
    "the",
    "period",
]


def synthetic_tokens(n: int) -> list[str]:
    """n word-like tokens (roughly one model token each)."""
    return [(" " if i else "") + _WORDS[i % len(_WORDS)] for i in range(n)]


def _tokens(text: str | Sequence[str]) -> list[str]:
    if isinstance(text, str):
        # Split into word-ish pieces, keeping every character, like a model's deltas.
        return re.findall(r"\s*\S+|\s+", text)
    return list(text)


def _fragments(s: str, size: int) -> list[str]:
    return [s[i : i + size] for i in range(0, len(s), size)] or [""]


@dataclass
class ToolCallSpec:
    name: str
    arguments: str
    id: str | None = None


def _call_id(spec: ToolCallSpec, i: int) -> str:
    return spec.id or f"call_replay{i}"


def _interleaved(per_call: list[list[Any]], interleave: bool) -> Iterator[tuple[int, Any]]:
    if not interleave:
        for i, items in enumerate(per_call):
            for item in items:
                yield i, item
        return
    for step in range(max((len(x) for x in per_call), default=0)):
        for i, items in enumerate(per_call):
            if step < len(items):
                yield i, items[step]


def chat_stream_events(
    text: str | Sequence[str] = "",
    tool_calls: Sequence[ToolCallSpec] = (),
    *,
    model: str = "gpt-replay",
    completion_id: str = "chatcmpl-replay",
    usage: tuple[int, int] | None = (12, 34),
    finish_reason: str | None = "auto",
    done: bool = True,
    interleave: bool = False,
    arg_fragment: int = 8,
) -> list[bytes]:
    """A Chat Completions SSE stream: role chunk, text deltas, tool-call deltas (one per
    fragment; ``interleave`` alternates between calls), finish chunk, usage-only chunk, [DONE]."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return sse_event(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": model,
                "choices": choices,
                **extra,
            }
        )

    def delta(d: dict[str, Any], finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}])

    out = [delta({"role": "assistant", "content": None if tool_calls and not text else ""})]
    out += [delta({"content": t}) for t in _tokens(text) if t]
    per_call: list[list[dict[str, Any]]] = []
    for i, spec in enumerate(tool_calls):
        first = {
            "index": i,
            "id": _call_id(spec, i),
            "type": "function",
            "function": {"name": spec.name, "arguments": ""},
        }
        per_call.append(
            [first]
            + [
                {"index": i, "function": {"arguments": f}}
                for f in _fragments(spec.arguments, arg_fragment)
            ]
        )
    out += [delta({"tool_calls": [tc]}) for _, tc in _interleaved(per_call, interleave)]
    if finish_reason is not None:
        reason = (
            ("tool_calls" if tool_calls else "stop") if finish_reason == "auto" else finish_reason
        )
        out.append(delta({}, reason))
    if usage is not None:
        p, c = usage
        out.append(
            chunk([], usage={"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})
        )
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def chat_stream(
    text: str | Sequence[str] = "", tool_calls: Sequence[ToolCallSpec] = (), **kw: Any
) -> Response:
    """``chat_stream_events`` as a streamed Response; extra keywords set Response fields."""
    event_kw, response_kw = _split_fields(kw)
    return sse_response(chat_stream_events(text, tool_calls, **event_kw), **response_kw)


def responses_stream_events(
    text: str | Sequence[str] = "",
    tool_calls: Sequence[ToolCallSpec] = (),
    *,
    model: str = "gpt-replay",
    response_id: str = "resp_replay",
    usage: tuple[int, int] | None = (12, 34),
    outcome: str | None = "completed",
    incomplete_reason: str = "max_output_tokens",
    error: tuple[str, str] = ("server_error", "The model failed to generate a response."),
    interleave: bool = False,
    arg_fragment: int = 8,
) -> list[bytes]:
    """A Responses API SSE stream: created, in_progress, a message item with output_text deltas
    (if text), one function_call item per tool call, then response.completed / .incomplete /
    .failed (``outcome``; None leaves the final event out)."""

    def response_obj(state: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        final = state not in ("in_progress", "queued")
        return {
            "id": response_id,
            "object": "response",
            "created_at": 1_700_000_000,
            "status": state,
            "error": {"code": error[0], "message": error[1]} if state == "failed" else None,
            "incomplete_details": {"reason": incomplete_reason} if state == "incomplete" else None,
            "instructions": None,
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": (
                {
                    "input_tokens": usage[0],
                    "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": usage[1],
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": usage[0] + usage[1],
                }
                if usage is not None and final
                else None
            ),
        }

    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_obj("in_progress", [])},
        {"type": "response.in_progress", "response": response_obj("in_progress", [])},
    ]
    output: list[dict[str, Any]] = []
    tokens = [t for t in _tokens(text) if t]
    if tokens:
        where = {"item_id": "msg_replay", "output_index": 0, "content_index": 0}
        full = "".join(tokens)
        part = {"type": "output_text", "annotations": [], "text": ""}
        item: dict[str, Any] = {
            "id": "msg_replay",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        done_part = {**part, "text": full}
        done_item = {**item, "status": "completed", "content": [done_part]}
        events += [
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.content_part.added", **where, "part": part},
            *(
                {"type": "response.output_text.delta", **where, "delta": t, "logprobs": []}
                for t in tokens
            ),
            {"type": "response.output_text.done", **where, "text": full, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": done_part},
            {"type": "response.output_item.done", "output_index": 0, "item": done_item},
        ]
        output.append(done_item)
    per_call: list[list[dict[str, Any]]] = []
    for i, spec in enumerate(tool_calls):
        where = {"item_id": f"fc_replay{i}", "output_index": len(output) + i}
        item = {
            "id": where["item_id"],
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": _call_id(spec, i),
            "name": spec.name,
        }
        done_item = {**item, "status": "completed", "arguments": spec.arguments}
        per_call.append(
            [
                {
                    "type": "response.output_item.added",
                    "output_index": where["output_index"],
                    "item": item,
                }
            ]
            + [
                {"type": "response.function_call_arguments.delta", **where, "delta": f}
                for f in _fragments(spec.arguments, arg_fragment)
            ]
            + [
                {
                    "type": "response.function_call_arguments.done",
                    **where,
                    "arguments": spec.arguments,
                },
                {
                    "type": "response.output_item.done",
                    "output_index": where["output_index"],
                    "item": done_item,
                },
            ]
        )
    events += [e for _, e in _interleaved(per_call, interleave)]
    output += [calls[-1]["item"] for calls in per_call]
    if outcome is not None:
        events.append({"type": f"response.{outcome}", "response": response_obj(outcome, output)})
    return [sse_event({**e, "sequence_number": n}, event=e["type"]) for n, e in enumerate(events)]


def _split_fields(kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keyword arguments for the events builder and for ``Response``."""
    response_names = {f.name for f in fields(Response)}
    return (
        {k: v for k, v in kw.items() if k not in response_names},
        {k: v for k, v in kw.items() if k in response_names},
    )


def responses_stream(
    text: str | Sequence[str] = "", tool_calls: Sequence[ToolCallSpec] = (), **kw: Any
) -> Response:
    """``responses_stream_events`` as a streamed Response; extra keywords set Response fields."""
    event_kw, response_kw = _split_fields(kw)
    return sse_response(responses_stream_events(text, tool_calls, **event_kw), **response_kw)


# -- recorded fixtures -----------------------------------------------------------------------
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def split_sse(body: bytes) -> list[bytes]:
    """Split an SSE body after each blank line; joining the parts gives back ``body``."""
    parts, start = [], 0
    for m in _EVENT_END.finditer(body):
        parts.append(body[start : m.end()])
        start = m.end()
    if start < len(body):
        parts.append(body[start:])
    return parts


def _path_of(uri: str) -> str:
    # "https://api.openai.com/v1/chat/completions?x=1" -> "/v1/chat/completions"
    after_scheme = uri.split("://", 1)[-1]
    path = "/" + after_scheme.split("/", 1)[1] if "/" in after_scheme else "/"
    return path.split("?", 1)[0]


def _recorded_response(resp: Mapping[str, Any]) -> Response:
    headers: Headers = []
    for name, values in (resp.get("headers") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), str(value)))
    body = resp.get("body")
    raw = body.get("string", b"") if isinstance(body, Mapping) else body
    if isinstance(raw, str):
        data = raw.encode("utf-8")
        # A text body was stored decoded: a leftover Content-Encoding header would lie.
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    else:
        data = raw or b""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    status = resp.get("status", {})
    code = int(status.get("code", 200)) if isinstance(status, Mapping) else int(status)
    kept = [(k, v) for k, v in headers if k.lower() not in _DROPPED_HEADERS]
    if ctype.startswith("text/event-stream"):
        return Response(status=code, headers=kept, chunks=split_sse(data))
    return Response(status=code, headers=kept, body=data)


def _recorded_request_body(req: Mapping[str, Any]) -> Any:
    if "parsed_body" in req:  # pydantic-ai's dialect
        return req["parsed_body"]
    body = req.get("body")
    if isinstance(body, Mapping):
        body = body.get("string")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str) and body.strip():
        try:
            return json.loads(body)
        except ValueError:
            return body
    return None


def load_cassette(path: str | Path) -> list[Interaction]:
    import yaml  # test-only dependency; parsed as YAML, never by hand

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    out = []
    for it in data["interactions"]:
        req = it["request"]
        out.append(
            Interaction(
                method=str(req.get("method", "POST")).upper(),
                path=_path_of(str(req["uri"])),
                request_body=_recorded_request_body(req),
                response=_recorded_response(it["response"]),
            )
        )
    return out


def load_sse_body(path: str | Path) -> Response:
    """A raw recorded SSE body (no headers, no request) as a streamed 200 response."""
    return sse_response(split_sse(Path(path).read_bytes()))


def tool_exchange(body: Any) -> dict[str, list[tuple[str, ...]]]:
    """The tool calls (id, name, arguments) and tool outputs (id, output) a request carries, from
    Chat Completions ``messages`` or Responses ``input`` items."""
    calls: list[tuple[str, ...]] = []
    outputs: list[tuple[str, ...]] = []
    for m in (body or {}).get("messages") or []:
        for tc in m.get("tool_calls") or []:
            calls.append((tc["id"], tc["function"]["name"], tc["function"]["arguments"]))
        if m.get("role") == "tool":
            outputs.append((m["tool_call_id"], str(m.get("content"))))
    items = (body or {}).get("input")
    for item in items if isinstance(items, list) else []:
        if item.get("type") == "function_call":
            calls.append((item["call_id"], item["name"], item["arguments"]))
        elif item.get("type") == "function_call_output":
            outputs.append((item["call_id"], str(item.get("output"))))
    return {"calls": calls, "outputs": outputs}


def same_tool_exchange(recorded_body: Any) -> Check:
    expected = tool_exchange(recorded_body)

    def check(request: RecordedRequest) -> None:
        actual = tool_exchange(request.json())
        if actual != expected:
            raise AssertionError(f"tool exchange {actual} != recorded {expected}")

    return check


def unused_port() -> int:
    """A local port that nothing listens on right now (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- reading a backend's chunks back -------------------------------------------------------
@dataclass
class Collected:
    """A backend stream, reassembled: what the runtime would build from the chunks."""

    text: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # by index: id, name, arguments
    usage: tuple[int, int] | None = None
    finish: str | None = None
    chunks: list[Any] = field(default_factory=list)


async def collect(stream: Any) -> Collected:
    """Consume ``backend.stream(request)``; Finish must come last, exactly once."""
    from assistant_core.backends.base import Finish, TextDelta, ToolCallDelta, UsageChunk

    out = Collected()
    calls: dict[int, dict[str, str]] = {}
    async for chunk in stream:
        if out.finish is not None:
            raise AssertionError(f"chunk after Finish: {chunk!r}")
        out.chunks.append(chunk)
        if isinstance(chunk, TextDelta):
            out.text += chunk.text
        elif isinstance(chunk, ToolCallDelta):
            call = calls.setdefault(chunk.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = chunk.id or call["id"]
            call["name"] = chunk.name or call["name"]
            call["arguments"] += chunk.arguments
        elif isinstance(chunk, UsageChunk):
            out.usage = (chunk.prompt_tokens, chunk.completion_tokens)
        elif isinstance(chunk, Finish):
            out.finish = chunk.reason
    out.tool_calls = [calls[i] for i in sorted(calls)]
    return out


async def expect_error(backend: Any, request: Any = None) -> tuple[Any, list[Any]]:
    """Consume ``backend.stream(request)`` (default: ``user_request("hi")``) expecting a
    one-line ``BackendError``; returns it and the chunks that came before."""
    import pytest

    from assistant_core.backends.base import BackendError

    seen: list[Any] = []
    with pytest.raises(BackendError) as info:
        async for chunk in backend.stream(request or user_request("hi")):
            seen.append(chunk)
    message = info.value.message
    assert "\n" not in message and message == str(info.value)
    return info.value, seen


# -- requests for backend tests ------------------------------------------------------------
SECRET_TOOL = {  # the tool of the recorded mirascope sessions
    "type": "function",
    "function": {
        "name": "secret_retrieval_tool",
        "description": "A tool that requires a password to retrieve a secret.",
        "parameters": {
            "type": "object",
            "properties": {"password": {"type": "string"}},
            "required": ["password"],
        },
    },
}
CAPITAL_TOOL = {  # the tool of the recorded pydantic-ai sessions
    "type": "function",
    "function": {
        "name": "get_capital",
        "description": "",
        "parameters": {
            "type": "object",
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
        },
    },
}


def user_request(
    text: str, *, tools: list[dict[str, Any]] | None = None, instructions: str = ""
) -> Any:
    """A first turn: one user message."""
    from assistant_core.backends.base import ModelRequest

    return ModelRequest(
        model="gpt-4o",
        instructions=instructions,
        input=[{"role": "user", "content": text}],
        tools=tools or [],
    )


def after_tools(first: Any, calls: list[dict[str, str]], outputs: list[str]) -> Any:
    """The next turn's request: the model's tool calls and their outputs appended."""
    from assistant_core.backends.base import ModelRequest

    items = [*list(first.input), {"role": "assistant", "content": None, "tool_calls": calls}]
    items += [
        {"role": "tool", "tool_call_id": c["id"], "name": c["name"], "content": out}
        for c, out in zip(calls, outputs)
    ]
    return ModelRequest(
        model=first.model, instructions=first.instructions, input=items, tools=first.tools
    )
