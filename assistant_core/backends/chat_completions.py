"""Chat Completions backend: any OpenAI-compatible server chosen by ``base_url`` (Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter, Groq…) or OpenAI itself.

Streams with ``stream_options.include_usage``. Real servers differ in small ways this handles:
tool-call deltas of parallel calls interleaved by ``index`` (the first one may carry
``role`` and ``content: null``), the usage-only final chunk with empty ``choices``, extra fields
(``obfuscation``, ``reasoning_content``…), no usage at all, and ``finish_reason: "stop"`` on a
tool-calling turn (some servers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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
)
from assistant_core.backends.openai_common import (
    OpenAIBackend,
    function_tools,
    generation_params,
    is_openai,
)

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


class ChatCompletionsBackend(OpenAIBackend):
    name = "chat-completions"

    def _resource(self, client: Any) -> Any:
        return client.chat.completions

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
        }

    async def _open(self, request: ModelRequest) -> Any:
        return await self.client.chat.completions.create(**self._params(request))

    async def _translate(self, events: Any) -> AsyncIterator[Chunk]:
        finish: str | None = None
        usage: UsageChunk | None = None
        saw_tool_calls = False
        last_index = -1
        async for chunk in events:
            u = getattr(chunk, "usage", None)
            if u is not None:
                usage = UsageChunk(
                    prompt_tokens=u.prompt_tokens or 0, completion_tokens=u.completion_tokens or 0
                )
            for choice in getattr(chunk, "choices", None) or []:
                if (getattr(choice, "index", 0) or 0) != 0:
                    continue  # we ask for one choice
                delta = choice.delta
                if delta is not None:
                    if delta.content:
                        yield TextDelta(delta.content)
                    for tc in delta.tool_calls or []:
                        saw_tool_calls = True
                        # A few servers omit the index: a new id starts the next call.
                        index = (
                            tc.index
                            if tc.index is not None
                            else (last_index + 1 if tc.id else max(last_index, 0))
                        )
                        last_index = index
                        fn = tc.function
                        yield ToolCallDelta(
                            index=index,
                            id=tc.id or None,
                            name=(fn.name if fn else None) or None,
                            arguments=(fn.arguments if fn else None) or "",
                        )
                if choice.finish_reason:
                    finish = choice.finish_reason
        if finish is None:
            return  # the stream guard reports the missing finish reason
        if usage is not None:
            yield usage
        reason = _FINISH.get(finish, "stop")
        if reason == "stop" and saw_tool_calls:
            reason = "tool_calls"
        yield Finish(reason)
