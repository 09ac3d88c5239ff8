"""Chat Completions backend: any OpenAI-compatible server chosen by ``base_url`` (Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter, Groq…) or OpenAI itself.

Streams with ``stream_options.include_usage``. Real servers differ in small ways this handles:
tool-call deltas of parallel calls interleaved by ``index`` (the first one may carry
``role`` and ``content: null``), the usage-only final chunk with empty ``choices``, extra fields
(``obfuscation``, ``reasoning_content``…), no usage at all, and ``finish_reason: "stop"`` on a
tool-calling turn (some servers).

Small servers run models with small contexts (llama.cpp's ``-c 4096``): ``server_context_window``
reads the context a server says it serves, so the runtime's memory keeps requests inside it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from assistant_core.backends.base import (
    Chunk,
    Finish,
    FinishReason,
    InputItem,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
    UsageChunk,
    json_format,
)
from assistant_core.backends.openai_common import (
    OpenAIBackend,
    count_of,
    function_tools,
    generation_params,
    is_openai,
    mapping,
    objects,
    text_of,
)

PROBE_TIMEOUT_S = 3.0
# Fields of a /v1/models entry that give the context the model is served with: vLLM's
# max_model_len; OpenRouter's and others' context_length. (llama.cpp's meta.n_ctx_train is the
# context the model was trained for, not the one it is served with.)
MODEL_CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length")

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # the pre-tools name
    "length": "length",
    "content_filter": "content_filter",
}


def to_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for item in request.input:
        messages.append(_message(item))
    return messages


def _message(item: InputItem) -> dict[str, Any]:
    role = item["role"]
    if role == "tool":
        return {"role": "tool", "tool_call_id": item["tool_call_id"], "content": item["content"]}
    if role == "assistant" and item.get("tool_calls"):
        return {
            "role": "assistant",
            "content": item.get("content") or None,
            "tool_calls": [
                {
                    "id": tc["id"],
                    "type": "function",
                    "function": {"name": tc["name"], "arguments": tc["arguments"]},
                }
                for tc in item["tool_calls"]
            ],
        }
    return {"role": role, "content": item["content"]}


def json_answer(response_format: Any) -> dict[str, Any]:
    """The ``response_format`` parameter when JSON answers are asked for (Chat Completions
    takes the Assistants form as it is)."""
    form = json_format(response_format)
    return {} if form is None else {"response_format": form}


class ChatCompletionsBackend(OpenAIBackend):
    name = "chat-completions"

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        tools = [{"type": "function", "function": fn} for fn in function_tools(request.tools)]
        # OpenAI deprecated max_tokens (reasoning models refuse it); most other servers only
        # know max_tokens.
        max_tokens_key = "max_completion_tokens" if is_openai(self.base_url) else "max_tokens"
        return {
            "model": request.model,
            "messages": to_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
            **generation_params(request, tools, max_tokens_key=max_tokens_key),
            **json_answer(request.response_format),
        }

    async def _open(self, request: ModelRequest) -> Any:
        return await self._post_stream("/chat/completions", self._params(request))

    async def server_context_window(self, model: str) -> int | None:
        """The context window the server serves ``model`` with, when it says so: llama.cpp's
        ``/props`` (``default_generation_settings.n_ctx``, the context of one slot), else the
        model's entry in ``/v1/models``. None for OpenAI, or a server that does not say."""
        if is_openai(self.base_url):
            return None
        try:
            return await self._props_window() or await self._models_window(model)
        except _Silent:  # a server that does not answer a probe will not answer the run
            return None  # in time either: the run's own limits report that, not this nicety

    async def _get_json(self, url: str) -> Any:
        # Never waits longer than the run would for the model's first byte: a probe must not
        # add more to a silent server's failure than the request itself.
        client = await self.ready_client()
        import openai  # imported by the client already

        timeout = min(PROBE_TIMEOUT_S, self.first_byte_timeout)
        try:
            text = await client.get(url, cast_to=str, options={"timeout": timeout})
        except openai.APITimeoutError as exc:
            raise _Silent from exc
        return json.loads(text)

    async def _props_window(self) -> int | None:
        base = self.base_url or ""
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        try:
            props = await self._get_json(f"{root}/props")
        except _Silent:
            raise
        except Exception:  # not llama.cpp, or an older one: ask /v1/models instead
            return None
        if not isinstance(props, Mapping):
            return None
        settings = props.get("default_generation_settings")
        n_ctx = settings.get("n_ctx") if isinstance(settings, Mapping) else None
        return _positive(n_ctx if n_ctx is not None else props.get("n_ctx"))

    async def _models_window(self, model: str) -> int | None:
        try:
            listing = await self._get_json(f"{self.base_url}/models")
        except _Silent:
            raise
        except Exception:
            return None
        entries = listing.get("data") if isinstance(listing, Mapping) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, Mapping) and entry.get("id") == model:
                for name in MODEL_CONTEXT_FIELDS:
                    window = _positive(entry.get(name))
                    if window is not None:
                        return window
        return None

    async def _translate(self, events: Any) -> AsyncIterator[Chunk]:
        """Chat Completions chunks (JSON objects) as our chunks. Servers differ in what they
        leave out or set to null, so every field is read as optional."""
        finish: str | None = None
        usage: UsageChunk | None = None
        saw_tool_calls = False
        last_index = -1
        async for chunk in events:
            if not isinstance(chunk, Mapping):
                continue
            u = chunk.get("usage")
            if isinstance(u, Mapping):
                usage = UsageChunk(
                    prompt_tokens=count_of(u.get("prompt_tokens")),
                    completion_tokens=count_of(u.get("completion_tokens")),
                )
            for choice in objects(chunk.get("choices")):
                if (choice.get("index") or 0) != 0:
                    continue  # we ask for one choice
                delta = choice.get("delta")
                if isinstance(delta, Mapping):
                    content = delta.get("content")
                    if content and isinstance(content, str):
                        yield TextDelta(content)
                    for tc in objects(delta.get("tool_calls")):
                        saw_tool_calls = True
                        call_id = text_of(tc.get("id"))
                        # A few servers omit the index: a new id starts the next call.
                        position = tc.get("index")
                        index = (
                            position
                            if isinstance(position, int) and not isinstance(position, bool)
                            else (last_index + 1 if call_id else max(last_index, 0))
                        )
                        last_index = index
                        fn = mapping(tc.get("function"))
                        yield ToolCallDelta(
                            index=index,
                            id=call_id or None,
                            name=text_of(fn.get("name")) or None,
                            arguments=text_of(fn.get("arguments")),
                        )
                finished = choice.get("finish_reason")
                if finished and isinstance(finished, str):
                    finish = finished
        if finish is None:
            return  # the stream guard reports the missing finish reason
        if usage is not None:
            yield usage
        reason = _FINISH.get(finish, "stop")
        if reason == "stop" and saw_tool_calls:
            reason = "tool_calls"
        yield Finish(reason)


def _positive(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return int(value) if value >= 1 else None


class _Silent(Exception):
    """A context probe got no answer in time: the server is silent, don't probe again."""
