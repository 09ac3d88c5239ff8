"""The Assistants object model, kept locally.

Plain dataclasses with the Assistants API's field names, ids, statuses and Unix-second
timestamps. ``to_dict()`` gives the wire form (validated in tests against
``openai.types.beta``); ``from_dict()`` reads it back. No I/O here, and no import of
``openai``: the runtime must not pay for pydantic on start-up.

Fields the hosted API never had but users need (a thread's title and running summary, a
tool call's timing and data source, a run's provider and memory report) are extra keys on
the same objects; ``openai``'s models accept extra keys, so the wire form stays valid.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any, ClassVar, Literal, TypeVar, get_args

from .redact import redact

RunStatus = Literal[
    "queued",
    "in_progress",
    "requires_action",
    "cancelling",
    "cancelled",
    "failed",
    "completed",
    "incomplete",
    "expired",
]
StepStatus = Literal["in_progress", "cancelled", "failed", "completed", "expired"]
MessageStatus = Literal["in_progress", "incomplete", "completed"]
MessageRole = Literal["user", "assistant"]
StepType = Literal["message_creation", "tool_calls"]
#: Ours: who lets a run's tool calls go ahead (the app, the user, or the API client).
ApprovalPolicy = Literal["auto", "ask", "client"]
#: Ours, not the API's: a call's own life cycle inside its step (see ToolCall).
ToolCallStatus = Literal[
    "queued", "awaiting_approval", "running", "completed", "error", "denied", "cancelled"
]

# Typed tuples: a ``value in`` test against them narrows a plain str to the Literal.
MESSAGE_ROLES: tuple[MessageRole, ...] = get_args(MessageRole)
MESSAGE_STATUSES: tuple[MessageStatus, ...] = get_args(MessageStatus)

ACTIVE_RUN_STATUSES: frozenset[str] = frozenset(
    {"queued", "in_progress", "requires_action", "cancelling"}
)
TERMINAL_RUN_STATUSES: frozenset[str] = frozenset(
    {"cancelled", "failed", "completed", "incomplete", "expired"}
)

# Which run status may follow which. Anything else is a bug in the caller and is refused.
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"in_progress", "cancelling", "cancelled", "failed", "expired"}),
    "in_progress": frozenset(
        {
            "requires_action",
            "cancelling",
            "cancelled",
            "completed",
            "incomplete",
            "failed",
            "expired",
        }
    ),
    "requires_action": frozenset({"in_progress", "cancelling", "cancelled", "failed", "expired"}),
    "cancelling": frozenset({"cancelled", "failed", "completed", "incomplete", "expired"}),
    **{status: frozenset() for status in TERMINAL_RUN_STATUSES},
}
STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    "in_progress": frozenset({"cancelled", "failed", "completed", "expired"}),
    "cancelled": frozenset(),
    "failed": frozenset(),
    "completed": frozenset(),
    "expired": frozenset(),
}
MESSAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    "in_progress": frozenset({"incomplete", "completed"}),
    "incomplete": frozenset(),
    "completed": frozenset(),
}

ID_PREFIXES = {
    "assistant": "asst",
    "thread": "thread",
    "message": "msg",
    "run": "run",
    "step": "step",
    "call": "call",
    "key": "key",
}


def new_id(kind: str) -> str:
    """A fresh id in the API's style, e.g. ``run_3mLq…`` (24 url-safe characters)."""
    prefix = ID_PREFIXES[kind]
    return f"{prefix}_{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"


def now() -> int:
    return int(time.time())


class InvalidTransition(ValueError):
    """A status change the Assistants model does not allow (e.g. completed → in_progress)."""


def check_transition(kind: str, table: dict[str, frozenset[str]], old: str, new: str) -> None:
    if old == new:
        return
    if new not in table.get(old, frozenset()):
        raise InvalidTransition(f"{kind} cannot go from {old!r} to {new!r}")


T = TypeVar("T", bound="ApiObject")


class ApiObject:
    """Base of the dataclasses below (each an Assistants API object): their shared
    (de)serialisation."""

    # Declared, never set here: it tells the type checker every subclass is a dataclass,
    # which ``asdict`` requires; ``@dataclass`` sets it on each.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        return _from_fields(cls, data)


def _from_fields(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from the keys of ``data`` that are its fields (others are ignored)."""
    names = _field_names(cls)
    return cls(**{k: v for k, v in data.items() if k in names})


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    # Cached: the store builds thousands of objects per listing.
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


@dataclass
class LastError(ApiObject):
    #: The API's codes (server_error, rate_limit_exceeded, invalid_prompt) or a finer one of
    #: ours (app_stopped, auth_error, model_not_found, internal_error, …).
    code: str
    message: str

    def __post_init__(self) -> None:
        # Every run's and step's error passes here on its way to the database, the screen
        # and exports: an API key quoted by a server or an exception never gets further.
        self.message = redact(self.message)

    def to_dict(self) -> dict[str, Any]:
        # The wire form keeps the API's closed set of codes, so clients built for the hosted
        # API accept it; our finer code travels beside it as ``reason``.
        api_code = self.code if self.code in API_ERROR_CODES else "server_error"
        data: dict[str, Any] = {"code": api_code, "message": self.message}
        if api_code != self.code:
            data["reason"] = self.code
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LastError:
        return cls(code=data.get("reason") or data["code"], message=data["message"])


API_ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt"})
API_INCOMPLETE_REASONS = frozenset({"max_completion_tokens", "max_prompt_tokens"})


@dataclass
class Usage(ApiObject):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, prompt: int, completion: int) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.total_tokens = self.prompt_tokens + self.completion_tokens


@dataclass
class TruncationStrategy(ApiObject):
    type: Literal["auto", "last_messages"] = "auto"
    last_messages: int | None = None


@dataclass
class Assistant(ApiObject):
    id: str
    created_at: int
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    object: str = "assistant"
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = "auto"
    tool_resources: dict[str, Any] | None = None


@dataclass
class Thread(ApiObject):
    id: str
    created_at: int
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: dict[str, Any] | None = None
    object: str = "thread"
    # Local extras.
    title: str = ""
    updated_at: int = 0  # last activity
    summary: str = ""  # running summary of turns dropped from the model's context
    origin: str = ""  # where it was started: "" (the app, or older data) | "cli" | "api"


def text_content(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": {"value": value, "annotations": []}}]


@dataclass
class Message(ApiObject):
    """A message of a thread: the user's question, or the assistant's answer (written by
    the run that streams it, ``in_progress`` until it ends). ``content`` is the API's list
    of parts; ``text`` joins its text parts. Created by the store (``add_message``)."""

    id: str
    created_at: int
    thread_id: str
    role: MessageRole
    content: list[dict[str, Any]] = field(default_factory=list)
    status: MessageStatus = "completed"
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    incomplete_details: dict[str, Any] | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    object: str = "thread.message"

    @property
    def text(self) -> str:
        return "".join(part["text"]["value"] for part in self.content if part.get("type") == "text")

    def set_text(self, value: str) -> None:
        self.content = text_content(value)


@dataclass
class FunctionCall(ApiObject):
    name: str
    arguments: str = ""
    output: str | None = None


@dataclass
class ToolCall(ApiObject):
    """A function tool call inside a ``tool_calls`` step.

    ``id``, ``type`` and ``function`` are the API's; the rest is ours: the call's own
    life cycle (pending approval, running, done, error, denied), timing, error text,
    data source and the display form of the result for the UI.
    """

    id: str
    function: FunctionCall
    type: str = "function"
    status: ToolCallStatus = "queued"
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None
    is_error: bool = False
    error: str | None = None
    source: str | None = None  # yahoo | cache | demo | web | …
    cache_hit: bool = False
    display: dict[str, Any] | None = None
    #: The model printed this call as text (JSON, <tool_call> tags, a code fence) and the
    #: app recognised it (runtime.guards).
    recovered: bool = False
    #: The id of the earlier identical call of the run whose result answered this one; the
    #: tool did not run again.
    repeat_of: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolCall:
        data = dict(data)
        data["function"] = FunctionCall.from_dict(data["function"])
        return _from_fields(cls, data)


@dataclass
class RunStep(ApiObject):
    id: str
    created_at: int
    run_id: str
    thread_id: str
    assistant_id: str
    type: StepType
    status: StepStatus = "in_progress"
    message_id: str | None = None  # for message_creation steps
    tool_calls: list[ToolCall] = field(default_factory=list)  # for tool_calls steps
    last_error: LastError | None = None
    usage: Usage | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    expired_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.type == "message_creation":
            details: dict[str, Any] = {
                "type": "message_creation",
                "message_creation": {"message_id": self.message_id},
            }
        else:
            details = {
                "type": "tool_calls",
                "tool_calls": [call.to_dict() for call in self.tool_calls],
            }
        return {
            "id": self.id,
            "object": "thread.run.step",
            "created_at": self.created_at,
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "type": self.type,
            "status": self.status,
            "step_details": details,
            "last_error": self.last_error.to_dict() if self.last_error else None,
            "usage": self.usage.to_dict() if self.usage else None,
            "metadata": self.metadata,
            "expired_at": self.expired_at,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "completed_at": self.completed_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStep:
        details = data.get("step_details") or {}
        return cls(
            id=data["id"],
            created_at=data["created_at"],
            run_id=data["run_id"],
            thread_id=data["thread_id"],
            assistant_id=data["assistant_id"],
            type=data["type"],
            status=data["status"],
            message_id=(details.get("message_creation") or {}).get("message_id"),
            tool_calls=[ToolCall.from_dict(c) for c in details.get("tool_calls") or []],
            last_error=LastError.from_dict(data["last_error"]) if data.get("last_error") else None,
            usage=Usage.from_dict(data["usage"]) if data.get("usage") else None,
            metadata=data.get("metadata") or {},
            expired_at=data.get("expired_at"),
            cancelled_at=data.get("cancelled_at"),
            failed_at=data.get("failed_at"),
            completed_at=data.get("completed_at"),
        )


@dataclass
class Run(ApiObject):
    """One answer to a thread: the API's run, from ``queued`` to a terminal status (the
    allowed changes are ``RUN_TRANSITIONS``). Created by ``Runtime.start_run`` and
    executed by a ``RunExecution``; its steps (``RunStep``) say what it did — messages
    written, tool calls made. The fields after ``object`` are ours: they explain the run to
    the user (provider, approval, memory, retries, notes) and are extra keys on the wire."""

    id: str
    created_at: int
    thread_id: str
    assistant_id: str
    model: str
    status: RunStatus = "queued"
    instructions: str = ""
    tools: list[dict[str, Any]] = field(default_factory=list)
    required_action: dict[str, Any] | None = None
    last_error: LastError | None = None
    usage: Usage | None = None
    truncation_strategy: TruncationStrategy = field(default_factory=TruncationStrategy)
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    parallel_tool_calls: bool = True
    incomplete_details: dict[str, Any] | None = None  # {"reason": "max_completion_tokens" | …}
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = "auto"
    tool_choice: Any = "auto"
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    expires_at: int | None = None
    object: str = "thread.run"
    # Local extras.
    provider: str = ""  # openai-responses | chat-completions | offline
    approval: ApprovalPolicy = "auto"
    memory: dict[str, Any] | None = None  # what truncation dropped or summarised
    retry: dict[str, Any] | None = None  # retry in progress: attempt, max, reason, wait_s
    #: Every retry of the run, in order (each as ``retry`` was, with ``at``: when it was
    #: scheduled): its timeline, kept when the run ends.
    retries: list[dict[str, Any]] = field(default_factory=list)
    #: The run whose answer this one gives again (Retry / Regenerate): that run's messages
    #: and tool calls are left out of this one's input; both stay in the thread.
    replaces: str = ""
    #: The model the backend is asked for, when it differs from ``model`` (the one the
    #: client requested and the run records, e.g. on a server whose provider lacks it).
    served_model: str = ""
    #: With approval "client": the tools that still run here (built-in ones); calls of
    #: every other tool go to the client through requires_action.
    server_tools: list[str] | None = None
    #: What the app did about the model's behaviour, for the user: [{"code", "message"}]
    #: (a step's call cap, repeated calls, a final answer asked for; see runtime.guards).
    notes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.last_error is not None:
            data["last_error"] = self.last_error.to_dict()
        details = self.incomplete_details
        if details and details.get("reason") not in API_INCOMPLETE_REASONS:
            # The API's reason is a closed set; ours (max_turns, max_run_seconds) travels
            # beside it as ``cause``, as LastError does with its code.
            data["incomplete_details"] = {**details, "reason": None, "cause": details.get("reason")}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        data = dict(data)
        details = data.get("incomplete_details")
        if isinstance(details, dict) and "cause" in details:
            details = dict(details)
            details["reason"] = details.pop("cause")
            data["incomplete_details"] = details
        if data.get("last_error"):
            data["last_error"] = LastError.from_dict(data["last_error"])
        if data.get("usage"):
            data["usage"] = Usage.from_dict(data["usage"])
        data["truncation_strategy"] = TruncationStrategy.from_dict(
            data.get("truncation_strategy") or {"type": "auto"}
        )
        return _from_fields(cls, data)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


def required_action_for(calls: list[ToolCall]) -> dict[str, Any]:
    """The API's ``required_action`` object for calls awaiting outputs or approval."""
    return {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in calls
            ]
        },
    }
