"""Responses API backend (OpenAI's current API; the default for OpenAI).

The request carries the assistant's instructions as ``instructions`` and the thread as ``input``
items (messages, ``function_call`` and ``function_call_output`` linked by ``call_id``), with
``store=False``: the thread lives in our store, not OpenAI's.

Event mapping: a ``function_call`` output item opens tool call N (N counts function calls from 0,
whatever their ``output_index``), ``function_call_arguments.delta`` streams its arguments,
``output_text.delta`` (and refusals) stream text; ``response.completed`` gives usage and
``Finish("tool_calls"|"stop")``, ``response.incomplete`` ``Finish("length"|"content_filter")``,
``response.failed`` and ``error`` events a ``BackendError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from assistant_core.backends.base import (
    BackendError,
    Chunk,
    Finish,
    InputItem,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageChunk,
    forced_function,
    json_format,
)
from assistant_core.backends.openai_common import (
    OpenAIBackend,
    count_of,
    function_tools,
    generation_params,
    mapping,
    text_of,
    where,
)
from assistant_core.text import one_line

_RETRYABLE = {"server_error": "server_error", "rate_limit_exceeded": "rate_limit_exceeded"}


def to_input(items: list[InputItem]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        role = item["role"]
        if role == "tool":
            out.append(
                {
                    "type": "function_call_output",
                    "call_id": item["tool_call_id"],
                    "output": item["content"],
                }
            )
        elif role == "assistant" and item.get("tool_calls"):
            if item.get("content"):
                out.append({"role": "assistant", "content": item["content"]})
            out += [
                {
                    "type": "function_call",
                    "call_id": tc["id"],
                    "name": tc["name"],
                    "arguments": tc["arguments"],
                }
                for tc in item["tool_calls"]
            ]
        else:
            out.append({"role": role, "content": item["content"]})
    return out


def to_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The Responses API wants flat function tools, and makes them strict by default, which would
    # reject ordinary JSON schemas: keep strict only where the tool asks for it.
    return [
        {"type": "function", **fn, "strict": bool(fn.get("strict", False))}
        for fn in function_tools(tools)
    ]


def _text_format(form: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Responses API's ``text.format`` for an Assistants ``response_format`` asking for
    JSON (the schema's fields move to the top level), else None."""
    form = json_format(form)
    if form is None:
        return None
    if form["type"] == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", **(form.get("json_schema") or {})}


class ResponsesBackend(OpenAIBackend):
    name = "openai-responses"

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "input": to_input(request.input),
            "stream": True,
            "store": False,
        }
        if request.instructions:
            params["instructions"] = request.instructions
        params.update(
            generation_params(request, to_tools(request.tools), max_tokens_key="max_output_tokens")
        )
        text_format = _text_format(request.response_format)
        if text_format is not None:
            params["text"] = {"format": text_format}
        choice = params.get("tool_choice")
        if isinstance(choice, dict):  # Responses names the function at the top level
            params["tool_choice"] = {"type": "function", "name": forced_function(choice)}
        return params

    async def _open(self, request: ModelRequest) -> Any:
        return await self._post_stream("/responses", self._params(request))

    async def _translate(self, events: Any) -> AsyncIterator[Chunk]:
        """Responses API events (JSON objects) as our chunks."""
        tool_index: dict[Any, int] = {}  # output_index (or item id) -> 0-based tool call index
        streamed_args: set[int] = set()

        def index_of(event: Mapping[str, Any]) -> int:
            key = event.get("output_index")
            if key is None:
                key = event.get("item_id")
            if key not in tool_index:
                tool_index[key] = len(tool_index)
            return tool_index[key]

        async for event in events:
            if not isinstance(event, Mapping):
                continue
            kind = event.get("type")
            if kind == "response.output_item.added":
                item = mapping(event.get("item"))
                if item.get("type") == "function_call":
                    i = index_of(event)
                    yield ToolCallDelta(
                        index=i,
                        id=text_of(item.get("call_id")) or None,
                        name=text_of(item.get("name")) or None,
                    )
                    arguments = text_of(item.get("arguments"))
                    if arguments:
                        streamed_args.add(i)
                        yield ToolCallDelta(index=i, arguments=arguments)
            elif kind == "response.function_call_arguments.delta":
                i = index_of(event)
                delta = text_of(event.get("delta"))
                if delta:
                    streamed_args.add(i)
                    yield ToolCallDelta(index=i, arguments=delta)
            elif kind == "response.function_call_arguments.done":
                # Servers that skip the deltas still send the whole arguments here.
                i = index_of(event)
                arguments = text_of(event.get("arguments"))
                if i not in streamed_args and arguments:
                    streamed_args.add(i)
                    yield ToolCallDelta(index=i, arguments=arguments)
            elif kind in ("response.output_text.delta", "response.refusal.delta"):
                delta = text_of(event.get("delta"))
                if delta:
                    yield TextDelta(delta)
            elif kind in ("response.completed", "response.incomplete"):
                response = mapping(event.get("response"))
                usage = response.get("usage")
                if isinstance(usage, Mapping):
                    yield UsageChunk(
                        prompt_tokens=count_of(usage.get("input_tokens")),
                        completion_tokens=count_of(usage.get("output_tokens")),
                    )
                if kind == "response.completed":
                    yield Finish("tool_calls" if tool_index else "stop")
                else:
                    reason = mapping(response.get("incomplete_details")).get("reason")
                    yield Finish("content_filter" if reason == "content_filter" else "length")
                return
            elif kind == "response.failed":
                error = mapping(mapping(event.get("response")).get("error"))
                raise self._model_error(error.get("code"), error.get("message"))
            elif kind == "error":
                raise self._model_error(event.get("code"), event.get("message"))

    def _model_error(self, code: Any, message: Any) -> BackendError:
        code = str(code or "server_error")
        text = f"{where(self.base_url)} failed the response: {one_line(message or code)}"
        if code in _RETRYABLE:
            return BackendError(_RETRYABLE[code], text, retryable=True)
        if code == "invalid_prompt":
            return BackendError("invalid_prompt", text)
        # Other codes (e.g. image or file problems) are about our input: retrying will not help.
        return BackendError("bad_request", f"{text} ({code})")
