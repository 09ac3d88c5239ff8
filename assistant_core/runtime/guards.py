"""Guards for weak models: what keeps a run on a small local model finite, honest and answered.

Small models served by llama.cpp, Ollama or LM Studio call tools that do not exist, print a
call as JSON text instead of making it, call the same tool with the same arguments again and
again, and can stream an endless list of parallel calls. The run loop (``runner``) uses the
pieces here:

* ``TextCallGate``  holds back text that may be a tool call printed as text, so a recovered
  call does not first show as a JSON blob; ``parse_text_calls`` recognises such calls (bare
  JSON, ``<tool_call>`` tags, code fences) for tools the run has;
* ``CallLedger``    finds a call identical (same tool, same canonical arguments) to one the run
  already made, so it is answered from that result instead of running again;
* ``RunClock``      the run's wall-clock budget (time spent waiting for the user excluded);
* ``Note``          what the run tells the user about any of this (``run.notes``).

Limits (the Runtime's parameters, defaults in ``assistant_core.limits``, settings in
``settings_spec``): ``MAX_TOOL_CALLS_PER_STEP`` calls per step, a completion-token limit on
every request (``MAX_TURN_TOKENS``), and the run budget ``MAX_RUN_SECONDS``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ..objects import ToolCall

# Never ask a model for fewer tokens than this, even when the context looks full: the
# estimate is rough, and a too-small limit only turns an answer into a cut-off one.
MIN_TURN_TOKENS = 256

FINAL_ANSWER_NUDGE = (
    "Do not call any more tools. Answer the user's question now, in the user's language, "
    "using the tool results above; cite the figures you use."
)
REPEAT_OUTPUT = (
    "This call repeats {original} (same tool, same arguments) made earlier in this run, so it "
    "was not run again: its result is the output of {original} above. Do not repeat calls; "
    "use the results you have and answer the user."
)


@dataclass(frozen=True)
class Note:
    """Something the app did about the model's behaviour, shown to the user (``run.notes``)."""

    code: str  # tool_call_cap | repeated_calls | final_answer_requested | no_final_answer
    message: str

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **extra}


def cap_note(limit: int) -> Note:
    return Note(
        "tool_call_cap",
        f"the model asked for more than {limit} tool calls in one step; its reply was stopped "
        f"there and only the first {limit} calls were kept",
    )


def final_answer_note(why: str) -> Note:
    return Note(
        "final_answer_requested",
        f"{why}; the model was asked for a final answer with tools disabled",
    )


NO_FINAL_ANSWER = Note(
    "no_final_answer",
    "asked for a final answer, the model still replied with a tool call; its reply is shown "
    "as written and no more tools were run",
)


# -- identical calls -----------------------------------------------------------------------
def canonical_arguments(raw: str) -> str:
    """The arguments as a canonical JSON text (keys sorted, no spaces), so ``{"a":1, "b":2}``
    and ``{ "b": 2, "a": 1 }`` are the same call. Text that is not JSON is compared as is."""
    if not raw.strip():
        return "{}"
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return raw.strip()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def call_key(call: ToolCall) -> tuple[str, str]:
    return call.function.name, canonical_arguments(call.function.arguments)


class CallLedger:
    """The calls of one run that produced a result, by (tool, canonical arguments)."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], ToolCall] = {}

    def earlier(self, call: ToolCall) -> ToolCall | None:
        return self._done.get(call_key(call))

    def record(self, calls: Iterable[ToolCall]) -> None:
        """Remember the calls that succeeded (a failed call may be worth trying again)."""
        for call in calls:
            if call.status == "completed" and not call.is_error and call.repeat_of is None:
                self._done.setdefault(call_key(call), call)


def split_repeats(
    calls: list[ToolCall], ledger: CallLedger
) -> tuple[list[ToolCall], dict[str, ToolCall]]:
    """The calls that must run, and ``{repeat id: original}`` for the rest: a repeat of an
    earlier successful call of the run, or of an earlier call in the same list."""
    fresh: list[ToolCall] = []
    repeats: dict[str, ToolCall] = {}
    first_in_step: dict[tuple[str, str], ToolCall] = {}
    for call in calls:
        original = ledger.earlier(call)
        if original is None:
            key = call_key(call)
            original = first_in_step.get(key)
            if original is None:
                first_in_step[key] = call
                fresh.append(call)
                continue
        repeats[call.id] = original
    return fresh, repeats


def answer_repeat(call: ToolCall, original: ToolCall) -> None:
    """Fill ``call`` from ``original`` (which has finished): the model reads a pointer to the
    earlier output (repeating the data would only fill a small context window); the user
    sees the earlier result, marked as a repeat."""
    call.repeat_of = original.id
    call.function.output = json.dumps(
        {"repeat_of": original.id, "note": REPEAT_OUTPUT.format(original=original.id)}
    )
    call.status = (
        original.status if original.status in ("completed", "error", "denied") else "cancelled"
    )
    call.is_error = original.is_error
    call.error = original.error
    call.source = original.source
    call.cache_hit = original.cache_hit
    call.display = original.display
    call.duration_ms = 0.0


# -- calls printed as text -----------------------------------------------------------------
_FENCE = re.compile(r"```[ \t]*(?:json|tool_call|tool_code)?[ \t]*\n?(.*?)```", re.S | re.I)
_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.S)
# What text that may still become a printed call starts with (checked on the stripped text).
_CALL_OPENINGS = ("{", "[", "<tool_call>", "```")


def _json_values(text: str) -> list[Any] | None:
    """Every JSON value in ``text`` (separated by whitespace or commas), or None when anything
    else is there."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= end:
            return values
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return None
        values.append(value)


def _as_call(value: Any, known: set[str]) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    function = value.get("function")
    inner: dict[str, Any] = function if isinstance(function, dict) else value
    name = inner.get("name")
    if not isinstance(name, str) or name not in known:
        return None
    arguments = inner.get("arguments", inner.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return name, json.dumps(arguments, ensure_ascii=False)


def parse_text_calls(text: str, known: Iterable[str]) -> list[tuple[str, str]]:
    """Tool calls a model printed as text instead of making them: ``text`` is, as a whole,
    one or more ``{"name": <a known tool>, "arguments": {...}}`` objects (``parameters`` is
    accepted too, and a ``{"function": {...}}`` wrapper), bare, in a JSON list, inside
    ``<tool_call>`` tags or in code fences. Anything else (prose, unknown tools, other JSON)
    gives ``[]``: the text is an answer."""
    names = set(known)
    body = text.strip()
    if not body or not names:
        return []
    # Unwrap fences and tags: what is left between and around them must be calls too.
    body = _FENCE.sub(lambda m: "\n" + m.group(1) + "\n", body)
    body = _TAG.sub(lambda m: "\n" + m.group(1) + "\n", body)
    values = _json_values(body)
    if not values:
        return []
    calls: list[tuple[str, str]] = []
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            call = _as_call(item, names)
            if call is None:
                return []
            calls.append(call)
    return calls


class TextCallGate:
    """Holds back the start of a turn's text while it may still be a tool call printed as
    text (it opens with ``{``, ``[``, ``<tool_call>`` or a code fence). Prose is released at
    once; held text is released at the end of the turn unless it was a call."""

    def __init__(self, active: bool = True) -> None:
        self.active = active
        self.held = ""
        self.released = False

    def feed(self, text: str) -> str:
        """The text to show now (possibly none yet)."""
        if not self.active or self.released:
            return text
        self.held += text
        if self._may_be_call(self.held.lstrip()):
            return ""
        return self.release()

    def release(self) -> str:
        self.released = True
        text, self.held = self.held, ""
        return text

    @staticmethod
    def _may_be_call(text: str) -> bool:
        if not text:
            return True  # only whitespace so far
        for opening in _CALL_OPENINGS:
            if text.startswith(opening):
                if opening == "```":
                    # A fence whose language is known by now and is not JSON is an answer.
                    first_line, newline, _ = text.partition("\n")
                    language = first_line[3:].strip().lower()
                    return not newline or language in ("", "json", "tool_call", "tool_code")
                return True
            if opening.startswith(text):
                return True  # e.g. "<tool" or "``" so far
        return False


# -- the run's clock -----------------------------------------------------------------------
class RunClock:
    """The run's wall-clock budget, counting the time the run works (model turns, tools),
    not the time it waits for the user to approve calls."""

    def __init__(self, budget: float | None) -> None:
        self.budget = budget
        self.spent = 0.0
        self._timeout: asyncio.Timeout | None = None

    @property
    def remaining(self) -> float | None:
        return None if self.budget is None else self.budget - self.spent

    @property
    def expired(self) -> bool:
        remaining = self.remaining
        return remaining is not None and remaining <= 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Count the time inside; raise ``BudgetExpired`` when the budget runs out in it."""
        remaining = self.remaining
        started = time.monotonic()
        timeout = asyncio.timeout(None if remaining is None else max(remaining, 0.0))
        try:
            async with timeout:
                yield
        except TimeoutError:
            if timeout.expired():
                raise BudgetExpired(self.budget or 0.0) from None
            raise
        finally:
            self.spent += time.monotonic() - started


class BudgetExpired(Exception):
    def __init__(self, budget: float) -> None:
        super().__init__(
            f"the run reached its time budget of {budget:g} s (max_run_seconds) and was "
            "stopped; what it had found so far is kept"
        )
        self.budget = budget
