"""Token estimates of model requests, corrected by reported usage.

Text is estimated by ``assistant_core.tokens.estimate_text`` (no tokenizer download), plus a
fixed overhead per message and tool call. The estimate is then corrected per model with the
prompt token counts the API reports (``TokenEstimator.observe``), so a consistently wrong
guess converges.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..tokens import estimate_text

__all__ = ["TokenEstimator", "estimate_item", "estimate_text", "estimate_tools"]

MESSAGE_OVERHEAD = 4  # role markers and separators per chat message
TOOL_CALL_OVERHEAD = 8
REQUEST_OVERHEAD = 3


def estimate_item(item: dict[str, Any]) -> int:
    """Tokens of one ``ModelRequest.input`` item."""
    tokens = MESSAGE_OVERHEAD + estimate_text(item.get("content"))
    for call in item.get("tool_calls") or ():
        tokens += TOOL_CALL_OVERHEAD + estimate_text(call.get("name")) + estimate_text(
            call.get("arguments")
        )
    if item.get("role") == "tool":
        tokens += estimate_text(item.get("name")) + 2
    return tokens


def estimate_tools(tools: list[dict[str, Any]]) -> int:
    if not tools:
        return 0
    return estimate_text(json.dumps(tools, separators=(",", ":"), ensure_ascii=False))


class TokenEstimator:
    """Estimates, corrected per model by what the API reported for earlier requests."""

    MIN_RATIO = 0.5
    MAX_RATIO = 4.0

    def __init__(self) -> None:
        self._ratio: dict[str, float] = {}

    def ratio(self, model: str) -> float:
        return self._ratio.get(model, 1.0)

    def correct(self, model: str, raw_estimate: int) -> int:
        return math.ceil(raw_estimate * self.ratio(model))

    def observe(self, model: str, raw_estimate: int, reported_prompt_tokens: int) -> None:
        """Fold in one request's reported prompt size (an exponential moving average, so
        one odd request does not swing the estimate)."""
        if raw_estimate <= 0 or reported_prompt_tokens <= 0:
            return
        seen = reported_prompt_tokens / raw_estimate
        old = self._ratio.get(model)
        new = seen if old is None else 0.5 * old + 0.5 * seen
        self._ratio[model] = min(self.MAX_RATIO, max(self.MIN_RATIO, new))
