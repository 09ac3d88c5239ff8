"""The offline analyst as a ``Backend``: plan a turn, then stream it as a model would.

Tool calls go out as Chat-Completions-style deltas (id and name first, arguments in
fragments) so the runtime's tool-call path and the UI's steps are exercised exactly as
with a real model; answers stream a few words at a time at ``pace`` seconds apart.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
from collections.abc import AsyncIterator

from ...tokens import estimate_text
from ..base import Chunk, Finish, ModelRequest, TextDelta, ToolCallDelta, UsageChunk
from .plan import Call, plan_turn
from .report import render

WORDS_PER_CHUNK = 3
SALT_ITEMS = 16
_PIECES = re.compile(r"\s*\S+\s*|\s+")


def text_chunks(text: str, words: int = WORDS_PER_CHUNK) -> list[str]:
    """The answer in pieces of a few words; joined back they give ``text`` exactly."""
    pieces = _PIECES.findall(text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]


class OfflineAnalyst:
    """Deterministic, rule-based investment analyst: no language model, no network."""

    name = "offline"
    is_llm = False

    def __init__(self, pace: float = 0.0) -> None:
        if pace < 0:
            raise ValueError(f"pace must be >= 0 seconds, got {pace}")
        self.pace = pace
        # Distinguishes tool-call ids between runs with identical input on one instance
        # (two threads asking the same question); a fresh instance repeats its ids.
        self._turns = itertools.count()

    async def aclose(self) -> None:
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        plan = plan_turn(request)
        prompt_tokens = _prompt_tokens(request)
        if plan.calls:
            # The latest items tell runs apart well enough; hashing the whole input would
            # make every turn cost more as the thread grows.
            recent = request.input[-SALT_ITEMS:]
            salt = f"{next(self._turns)}:{json.dumps(recent, sort_keys=True, default=str)}"
            async for chunk in self._tool_calls(plan.calls, salt):
                yield chunk
            arguments = "".join(json.dumps(c.arguments) + c.name for c in plan.calls)
            yield UsageChunk(prompt_tokens, estimate_text(arguments) + 8 * len(plan.calls))
            yield Finish("tool_calls")
            return
        text = render(plan)
        budget = request.max_output_tokens
        emitted = 0
        for piece in text_chunks(text):
            cost = estimate_text(piece)
            if budget is not None and emitted + cost > budget:
                yield UsageChunk(prompt_tokens, emitted)
                yield Finish("length")
                return
            emitted += cost
            yield TextDelta(piece)
            await asyncio.sleep(self.pace)  # sleep(0) still yields, so a cancel lands promptly
        yield UsageChunk(prompt_tokens, emitted)
        yield Finish("stop")

    async def _tool_calls(self, calls: list[Call], salt: str) -> AsyncIterator[Chunk]:
        for index, call in enumerate(calls):
            digest = hashlib.sha256(f"{salt}:{index}:{call.name}".encode()).hexdigest()[:24]
            yield ToolCallDelta(index=index, id=f"call_{digest}", name=call.name, arguments="")
            arguments = json.dumps(call.arguments, ensure_ascii=False)
            half = len(arguments) // 2
            for fragment in (arguments[:half], arguments[half:]):
                if fragment:
                    yield ToolCallDelta(index=index, arguments=fragment)
            await asyncio.sleep(0)


def _prompt_tokens(request: ModelRequest) -> int:
    parts = [request.instructions or ""]
    for item in request.input:
        content = item.get("content")
        parts.append(content if isinstance(content, str) else json.dumps(content, default=str))
        for call in item.get("tool_calls") or []:
            parts.append(json.dumps(call, default=str))
    parts.append(json.dumps(request.tools, default=str))
    return sum(estimate_text(p) for p in parts)
