"""A scripted model Backend for runtime tests: each model turn replays a list you give it.

    backend = ScriptedBackend([
        tool_turn(("get_price", '{"symbol": "AAPL"}')),       # turn 1: one tool call
        text_turn("AAPL is up 3%."),                          # turn 2: the answer
    ])

A turn is a list of chunks (``TextDelta``, ``ToolCallDelta``, ``UsageChunk``, ``Finish``),
``Pause(seconds)`` markers and exceptions (raised at that point of the stream: a mid-stream
failure); or a turn may be an exception itself (raised when the stream opens, like a 429).
Every request is kept in ``requests`` so tests can assert what the model was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant_core.backends.base import (
    BackendError,
    Chunk,
    Finish,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageChunk,
)


@dataclass
class Pause:
    seconds: float


Step = Chunk | Pause | BaseException
Turn = Sequence[Step] | BaseException


class ScriptedBackend:
    name = "scripted"

    def __init__(
        self,
        turns: Iterable[Turn] = (),
        *,
        delay: float = 0.0,
        is_llm: bool = False,
        summary: str = "SUMMARY: earlier turns discussed the user's portfolio.",
    ) -> None:
        self.turns: list[Turn] = list(turns)
        self.delay = delay  # between chunks
        self.is_llm = is_llm
        self.summary = summary
        self.requests: list[ModelRequest] = []
        self.summary_requests: list[ModelRequest] = []
        self.closed = False
        self.chunks_sent = 0

    def add(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        if not self.turns:
            raise AssertionError(
                f"the scripted backend has no turn left for request #{len(self.requests)}"
            )
        turn = self.turns.pop(0)
        if isinstance(turn, BaseException):
            raise turn
        for step in turn:
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                continue
            if isinstance(step, BaseException):
                raise step
            if self.delay:
                await asyncio.sleep(self.delay)
            self.chunks_sent += 1
            yield step

    async def complete(self, request: ModelRequest) -> str:
        self.summary_requests.append(request)
        return self.summary

    async def aclose(self) -> None:
        self.closed = True


# -- turn builders -------------------------------------------------------------------------
def text_turn(
    text: str,
    *,
    chunk: int = 4,
    usage: tuple[int, int] | None = (10, 5),
    finish: str | None = "stop",
) -> list[Step]:
    """``text`` in ``chunk``-character deltas, then usage and a finish reason."""
    steps: list[Step] = [TextDelta(text[i : i + chunk]) for i in range(0, len(text), chunk)]
    if usage is not None:
        steps.append(UsageChunk(*usage))
    if finish is not None:
        steps.append(Finish(finish))  # type: ignore[arg-type]
    return steps


def tool_turn(
    *calls: tuple[str, str] | tuple[str, str, str],
    fragments: int = 2,
    text: str = "",
    usage: tuple[int, int] | None = (20, 8),
    interleave: bool = False,
) -> list[Step]:
    """Tool calls ``(name, arguments[, id])``: a first delta with id and name, then the
    arguments in ``fragments`` pieces (interleaved across calls by index when asked)."""
    per_call: list[list[Step]] = []
    for index, spec in enumerate(calls):
        name, arguments = spec[0], spec[1]
        call_id = spec[2] if len(spec) > 2 else f"call_{index}_{name}"
        size = max(1, -(-len(arguments) // fragments)) if arguments else 1
        pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]
        deltas: list[Step] = [ToolCallDelta(index=index, id=call_id, name=name)]
        deltas += [ToolCallDelta(index=index, arguments=piece) for piece in pieces]
        per_call.append(deltas)
    steps: list[Step] = [TextDelta(text)] if text else []
    if interleave:
        while any(per_call):
            for deltas in per_call:
                if deltas:
                    steps.append(deltas.pop(0))
    else:
        for deltas in per_call:
            steps.extend(deltas)
    if usage is not None:
        steps.append(UsageChunk(*usage))
    steps.append(Finish("tool_calls"))
    return steps


def rate_limited(retry_after: float | None = 0.0) -> BackendError:
    return BackendError(
        "rate_limit_exceeded",
        "OpenAI rate limit: Rate limit reached for requests",
        retryable=True,
        retry_after=retry_after,
        status=429,
    )


def server_error(status: int = 500) -> BackendError:
    return BackendError(
        "server_error",
        f"OpenAI server error {status}: The server had an error",
        retryable=True,
        status=status,
    )


def stream_cut() -> BackendError:
    return BackendError(
        "stream_broken",
        "the reply from OpenAI ended without a finish reason — the message is incomplete",
        retryable=False,
    )


def input_roles(request: ModelRequest) -> list[str]:
    return [item["role"] + ("+tools" if item.get("tool_calls") else "") for item in request.input]


def tool_outputs(request: ModelRequest) -> dict[str, Any]:
    """``{tool_call_id: output}`` of the tool items a request carries."""
    return {
        item["tool_call_id"]: item["content"] for item in request.input if item["role"] == "tool"
    }


# -- a runtime on a temp store, and small test tools --------------------------------------
def function_spec(
    name: str, properties: dict[str, Any] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"test tool {name}",
            "parameters": {
                "type": "object",
                "properties": properties or {},
                "required": required or [],
                "additionalProperties": False,
            },
        },
    }


def make_test_tools(*, timeout: float = 5.0) -> Any:
    """get_price(symbol) (sync), nap(seconds) (async), snooze(seconds) (sync, in a thread),
    boom() (raises), slow() (times out after 0.2 s). ``registry.calls`` logs completed calls."""
    import time

    from assistant_core.tools.registry import ToolRegistry
    from assistant_core.tools.result import ToolResult

    registry = ToolRegistry()
    calls: list[tuple[str, Any]] = []
    registry.calls = calls  # type: ignore[attr-defined]

    def get_price(symbol: str) -> ToolResult:
        calls.append(("get_price", symbol))
        return ToolResult(
            data={"symbol": symbol, "price": 123.5},
            display={"kind": "kv", "title": symbol, "items": [["price", 123.5]]},
            source="demo",
        )

    async def nap(seconds: float) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        calls.append(("nap", seconds))
        return {"slept": seconds}

    def snooze(seconds: float) -> dict[str, Any]:
        time.sleep(seconds)
        calls.append(("snooze", seconds))
        return {"slept": seconds}

    def boom() -> None:
        raise RuntimeError("the data provider is down")

    async def slow() -> None:
        await asyncio.sleep(5)

    registry.register(
        function_spec("get_price", {"symbol": {"type": "string"}}, ["symbol"]),
        get_price,
        timeout=timeout,
    )
    registry.register(
        function_spec("nap", {"seconds": {"type": "number"}}, ["seconds"]), nap, timeout=timeout
    )
    registry.register(
        function_spec("snooze", {"seconds": {"type": "number"}}, ["seconds"]),
        snooze,
        timeout=timeout,
    )
    registry.register(function_spec("boom"), boom, timeout=timeout)
    registry.register(function_spec("slow"), slow, timeout=0.2)
    return registry


async def collect(events: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in events]


def event_names(events: Iterable[Any]) -> list[str]:
    return [event.event for event in events]


def collapse(names: Iterable[str]) -> list[str]:
    """Repeated consecutive names (deltas) collapsed to one."""
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out


def make_runtime(
    db_path: Any,
    turns: Iterable[Turn] = (),
    *,
    backend: Any = None,
    tools: Any = None,
    model: str = "gpt-4o",
    **options: Any,
) -> tuple[Any, ScriptedBackend, Any]:
    """A Runtime on a fresh Store at ``db_path`` with a scripted backend and the test tools.
    Returns (runtime, backend, store)."""
    from assistant_core.runtime import RetryPolicy, Runtime
    from assistant_core.store import Store

    store = Store(db_path)
    backend = backend if backend is not None else ScriptedBackend(turns)
    options.setdefault("retry_policy", RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.01))
    runtime = Runtime(
        store, backend, tools if tools is not None else make_test_tools(), model=model, **options
    )
    return runtime, backend, store
