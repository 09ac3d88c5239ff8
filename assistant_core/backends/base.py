"""The one small streaming interface every model backend implements.

The runtime hands a backend a provider-neutral ``ModelRequest`` and reads back a stream of
chunks: text deltas, tool-call deltas (index/id/name/argument fragments, exactly as Chat
Completions interleaves them), usage, and a finish reason. A backend raises ``BackendError``
for anything that went wrong; the runtime owns retries, so backends build their ``openai``
client with ``max_retries=0``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# -- the conversation handed to a backend ------------------------------------------------
# Items are plain dicts, one of:
#   {"role": "system", "content": str}            running summary or other context
#   {"role": "user", "content": str}
#   {"role": "assistant", "content": str}         a text answer
#   {"role": "assistant", "content": str | None,
#    "tool_calls": [{"id": str, "name": str, "arguments": str}]}
#   {"role": "tool", "tool_call_id": str, "name": str, "content": str}
InputItem = dict[str, Any]


@dataclass
class ModelRequest:
    model: str
    instructions: str
    input: list[InputItem]
    tools: list[dict[str, Any]] = field(default_factory=list)  # Assistants "function" tools
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    #: None or ``{"type": "text"}``: prose; ``{"type": "json_object"}``; ``{"type":
    #: "json_schema", "json_schema": {"name", "schema", "strict", "description"}}`` (the
    #: Assistants and Chat Completions form).
    response_format: dict[str, Any] | None = None
    #: None: the API's default ("auto"); "none" asks for an answer without tool calls;
    #: "required" for at least one call; ``{"type": "function", "function": {"name": …}}``
    #: (the Assistants and Chat Completions form) for that function.
    tool_choice: str | dict[str, Any] | None = None


def json_format(response_format: Any) -> dict[str, Any] | None:
    """An Assistants ``response_format`` when it asks for JSON answers (``json_object``,
    ``json_schema``), else None ("auto", ``{"type": "text"}``: prose)."""
    if isinstance(response_format, dict) and response_format.get("type") in (
        "json_object",
        "json_schema",
    ):
        return response_format
    return None


def forced_function(choice: dict[str, Any]) -> str:
    """The function a ``tool_choice`` object names (``{"type": "function", "function":
    {"name": …}}``, or the Responses API's flat ``{"type": "function", "name": …}``)."""
    inner = choice.get("function")
    name = inner.get("name") if isinstance(inner, dict) else choice.get("name")
    return str(name or "")


# -- what comes back ---------------------------------------------------------------------
@dataclass
class TextDelta:
    text: str


@dataclass
class ToolCallDelta:
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class UsageChunk:
    prompt_tokens: int
    completion_tokens: int


FinishReason = Literal["stop", "tool_calls", "length", "content_filter"]


@dataclass
class Finish:
    reason: FinishReason


Chunk = TextDelta | ToolCallDelta | UsageChunk | Finish


class BackendError(Exception):
    """A model API failure, classified for the run's ``last_error`` and retry policy.

    ``code`` is one of the API's ``last_error`` codes (``rate_limit_exceeded``,
    ``server_error``, ``invalid_prompt``) or ours: ``auth_error``, ``model_not_found``,
    ``connection_error``, ``timeout``, ``stream_broken``, ``bad_request``.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@runtime_checkable
class Backend(Protocol):
    #: "openai-responses" | "chat-completions" | "offline"
    name: str
    #: True when the backend calls a language model (so it can write summaries).
    is_llm: bool

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Stream one model turn. Raises BackendError; must end with a Finish chunk.

        A stream that ends without a finish reason has broken: raise
        ``BackendError("stream_broken", …)`` rather than return quietly.
        """
        ...

    async def aclose(self) -> None: ...
