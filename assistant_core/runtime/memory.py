"""Thread memory: fit a thread into the model's context window, so users never have to.

Each model turn's input is the thread's history plus the current run's own tool calls.
``truncation_strategy`` ``last_messages`` first keeps the last N messages; then (for both
strategies) the oldest turns are dropped until the estimate fits the budget: the model's
window minus room for the answer, or ``max_prompt_tokens`` when that is smaller. A turn
starts at a user message, and tool calls travel with their outputs, so nothing is split.

With a language-model backend, dropped turns are summarised into the thread's running
summary, which is placed at the top of the input as a system item. The summary covers the
thread up to a message id, recorded on the run (``run.memory["summary_through"]``), so a
later run does not summarise the same turns twice.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend, InputItem, ModelRequest, TextDelta
from ..objects import TruncationStrategy
from ..text import one_line
from ..tokens import REQUEST_OVERHEAD, TokenEstimator, estimate_item, estimate_text, estimate_tools
from .history import Unit

log = logging.getLogger(__name__)

SUMMARY_HEADER = (
    "Summary of the earlier part of this conversation (older turns were condensed to fit "
    "the model's context window):\n"
)
SUMMARY_MAX_TOKENS = 600
SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a conversation between a user and an investment-"
    "research assistant. Merge the earlier summary with the new turns into one summary. "
    "Keep the companies and tickers discussed, figures with their sources and dates, the "
    "user's goals and preferences, conclusions reached and open questions. Plain text, at "
    "most 250 words. Reply with the summary only."
)
TOOL_OUTPUT_CHARS_IN_SUMMARY = 1500
DEFAULT_OUTPUT_RESERVE = 4096
OMITTED_OUTPUT = (
    '{"note": "this output was left out to fit the model\'s context window; answer with the '
    'results that are still here"}'
)


class PromptTooLarge(Exception):
    """Even the latest turn alone does not fit the prompt budget."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"the latest turn needs about {needed} prompt tokens but the budget is {budget}"
        )
        self.needed = needed
        self.budget = budget


def summary_item(summary: str) -> InputItem:
    return {"role": "system", "content": SUMMARY_HEADER + summary}


def history_target(window: int, ratio: float, *, can_summarise: bool) -> int:
    """How many (raw, estimated) tokens of a thread's end to read for a model turn: what
    the window holds, plus, where dropped turns are summarised, what a summary transcript
    takes in (``_transcript`` keeps up to ``2 × window`` characters of them)."""
    target = math.ceil(window / ratio)
    return target + window // 2 if can_summarise else target


def turns(units: list[Unit]) -> list[list[Unit]]:
    """Group units into turns, each starting at a user message."""
    groups: list[list[Unit]] = []
    for unit in units:
        if unit.kind == "user" or not groups:
            groups.append([unit])
        else:
            groups[-1].append(unit)
    return groups


def keep_last_messages(units: list[Unit], n: int) -> list[Unit]:
    """The units from the n-th last message on (tool units before it go with the dropped)."""
    n = max(1, n)
    seen = 0
    for index in range(len(units) - 1, -1, -1):
        if units[index].is_message:
            seen += 1
            if seen == n:
                return units[index:]
    return units


@dataclass
class Fit:
    kept: list[Unit]
    dropped: list[Unit]  # a prefix of the candidates
    raw_tokens: int  # uncorrected estimate of the whole request
    fits: bool


def fit_units(
    history: list[Unit],
    run_units: list[Unit],
    *,
    fixed_tokens: int,
    budget: int,
    ratio: float,
    strategy: TruncationStrategy,
) -> Fit:
    """Drop the oldest history turns until the request fits ``budget`` (corrected tokens).

    ``history`` is what may be dropped; ``run_units`` (the current run's own calls) never are,
    and neither is the latest turn of the history (the question being answered)."""
    candidates = history
    if strategy.type == "last_messages" and strategy.last_messages is not None:
        candidates = keep_last_messages(history, strategy.last_messages)
    dropped = history[: len(history) - len(candidates)]
    groups = turns(candidates)
    run_tokens = sum(u.tokens for u in run_units)
    total = fixed_tokens + run_tokens + sum(u.tokens for u in candidates)
    while len(groups) > 1 and total * ratio > budget:
        oldest = groups.pop(0)
        dropped.extend(oldest)
        total -= sum(u.tokens for u in oldest)
    kept = [unit for group in groups for unit in group]
    return Fit(kept + run_units, dropped, total, total * ratio <= budget)


class RunMemory:
    """The memory decisions of one run: what each model turn gets to read."""

    def __init__(
        self,
        *,
        backend: Backend,
        estimator: TokenEstimator,
        model: str,
        window: int,
        strategy: TruncationStrategy,
        max_prompt_tokens: int | None,
        history: list[Unit],
        summary: str,
        covered_through: str | None,
        omitted_messages: int = 0,
        window_source: str = "table",
    ) -> None:
        """``history``: the latest part of the thread (``history.recent_history``);
        ``omitted_messages``: how many older messages were not even read (they count as
        dropped)."""
        self.backend = backend
        self.estimator = estimator
        self.model = model
        self.window = window
        self.window_source = window_source  # server | config | table
        self.strategy = strategy
        self.max_prompt_tokens = max_prompt_tokens
        self.summary = summary
        self.summary_changed = False
        self.summary_through = covered_through
        self.summary_error: str | None = None
        self.input_through = _last_message_id(history)  # where this run sits in the thread
        self.covered, self.history = _split_covered(history, covered_through)
        self.omitted_messages = omitted_messages
        self.report: dict[str, Any] = {}
        self.compacted_outputs = 0  # this run's tool outputs replaced to fit the window

    @property
    def can_summarise(self) -> bool:
        return bool(getattr(self.backend, "is_llm", False))

    def budget(self, output_reserve: int | None) -> int:
        reserve = min(output_reserve or DEFAULT_OUTPUT_RESERVE, self.window // 4)
        budget = self.window - reserve
        if self.max_prompt_tokens is not None:
            budget = min(budget, self.max_prompt_tokens)
        return max(1, budget)

    async def build(
        self,
        instructions: str,
        tools: list[dict[str, Any]],
        run_units: list[Unit],
        *,
        output_reserve: int | None = None,
    ) -> tuple[list[InputItem], int]:
        """The input for the next model turn and its raw token estimate. Raises
        PromptTooLarge when even the latest turn does not fit."""
        budget = self.budget(output_reserve)
        ratio = self.estimator.ratio(self.model)
        base = REQUEST_OVERHEAD + estimate_text(instructions) + estimate_tools(tools)
        summaries = 0

        def fit_with(units: list[Unit]) -> Fit:
            # Reads the history and the summary as they are now: both change as it summarises.
            summary_tokens = estimate_item(summary_item(self.summary)) if self.summary else 0
            return fit_units(
                self.history,
                units,
                fixed_tokens=base + summary_tokens,
                budget=budget,
                ratio=ratio,
                strategy=self.strategy,
            )

        while True:
            fit = fit_with(run_units)
            # A new summary is longer, so the refit may drop another turn: summarise that too,
            # but only a couple of times per turn.
            if not fit.dropped or not self.can_summarise or self.summary_error or summaries >= 2:
                break
            summaries += 1
            if not await self._summarise(fit.dropped):
                break
            # What the summary now covers leaves the history for the rest of this run.
            self.covered = self.covered + fit.dropped
            self.history = self.history[len(fit.dropped) :]
            self.summary_through = _last_message_id(self.covered) or self.summary_through
        if not fit.fits and run_units:
            # Even alone, this run's own tool calls overflow a small window: their outputs,
            # oldest first, give way to a placeholder (the calls stay, with an output each).
            compacted, self.compacted_outputs = compact_outputs(
                run_units, overshoot=math.ceil(fit.raw_tokens - budget / ratio)
            )
            fit = fit_with(compacted)
        self._report(fit, budget)
        if not fit.fits:
            raise PromptTooLarge(self.estimator.correct(self.model, fit.raw_tokens), budget)
        items = [item for unit in fit.kept for item in unit.items]
        if self.summary:
            items.insert(0, summary_item(self.summary))
        return items, fit.raw_tokens

    def _report(self, fit: Fit, budget: int) -> None:
        dropped_messages = self.omitted_messages + sum(
            1 for u in self.covered + fit.dropped if u.is_message
        )
        self.report = {
            "strategy": self.strategy.type,
            "context_window": self.window,
            "context_window_source": self.window_source,
            "prompt_budget": budget,
            "estimated_prompt_tokens": self.estimator.correct(self.model, fit.raw_tokens),
            "dropped_messages": dropped_messages,
            "dropped_tool_calls": sum(
                len(u.items) - 1 for u in self.covered + fit.dropped if u.kind == "tools"
            ),
            "summarised": self.summary_changed,
            "summary_in_context": bool(self.summary),
        }
        if self.input_through:
            self.report["input_through"] = self.input_through
        if self.summary_through:
            self.report["summary_through"] = self.summary_through
        if self.summary_error:
            self.report["summary_error"] = self.summary_error
        if self.compacted_outputs:
            self.report["compacted_tool_outputs"] = self.compacted_outputs

    async def _summarise(self, units: list[Unit]) -> bool:
        transcript = _transcript(units, max_chars=max(4000, self.window * 2))
        earlier = self.summary or "(none)"
        request = ModelRequest(
            model=self.model,
            instructions=SUMMARY_INSTRUCTIONS,
            input=[
                {
                    "role": "user",
                    "content": f"Earlier summary:\n{earlier}\n\nTurns to add:\n{transcript}",
                }
            ],
            tools=[],
            parallel_tool_calls=False,
            max_output_tokens=SUMMARY_MAX_TOKENS,
        )
        try:
            text = (await complete_text(self.backend, request)).strip()
        except Exception as exc:  # a summary is a nicety: drop the turns without it
            log.warning("summarising dropped turns failed: %s", exc)
            self.summary_error = one_line(exc, 200) or type(exc).__name__
            return False
        if not text:
            return False
        self.summary = text
        self.summary_changed = True
        return True


def compact_outputs(units: list[Unit], *, overshoot: int) -> tuple[list[Unit], int]:
    """``units`` with tool outputs, oldest first, replaced by ``OMITTED_OUTPUT`` until about
    ``overshoot`` tokens are saved (or none is left to replace); and how many were."""
    out: list[Unit] = []
    replaced = 0
    for unit in units:
        if unit.kind != "tools" or overshoot <= 0:
            out.append(unit)
            continue
        items = []
        for item in unit.items:
            content = str(item.get("content") or "")
            if item["role"] == "tool" and overshoot > 0 and len(content) > len(OMITTED_OUTPUT):
                saved = estimate_text(content) - estimate_text(OMITTED_OUTPUT)
                item = {**item, "content": OMITTED_OUTPUT}
                overshoot -= saved
                replaced += 1
            items.append(item)
        out.append(Unit(items, unit.kind, unit.message_id))
    return out, replaced


async def complete_text(backend: Backend, request: ModelRequest) -> str:
    """One non-streamed answer: the backend's ``complete()`` when it has one, else its
    stream collected."""
    complete = getattr(backend, "complete", None)
    if complete is not None:
        result = await complete(request)
        return result if isinstance(result, str) else str(result)
    parts: list[str] = []
    async for chunk in backend.stream(request):
        if isinstance(chunk, TextDelta):
            parts.append(chunk.text)
    return "".join(parts)


def _split_covered(units: list[Unit], through: str | None) -> tuple[list[Unit], list[Unit]]:
    if through:
        for index, unit in enumerate(units):
            if unit.message_id == through:
                return units[: index + 1], units[index + 1 :]
    return [], units


def _last_message_id(units: list[Unit]) -> str | None:
    for unit in reversed(units):
        if unit.message_id:
            return unit.message_id
    return None


def _transcript(units: list[Unit], *, max_chars: int) -> str:
    lines: list[str] = []
    for unit in units:
        for item in unit.items:
            role = item["role"]
            if role == "tool":
                output = str(item.get("content") or "")
                if len(output) > TOOL_OUTPUT_CHARS_IN_SUMMARY:
                    output = output[:TOOL_OUTPUT_CHARS_IN_SUMMARY] + " …(cut)"
                lines.append(f"Tool {item.get('name')} returned: {output}")
            elif item.get("tool_calls"):
                for call in item["tool_calls"]:
                    lines.append(f"Assistant called {call['name']}({call['arguments']})")
            elif item.get("content"):
                lines.append(f"{role.capitalize()}: {item['content']}")
    text = "\n".join(lines)
    if len(text) > max_chars:
        # Keep the newest part: the older turns are already in the earlier summary's spirit.
        text = "…\n" + text[-max_chars:]
    return text
