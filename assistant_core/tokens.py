"""Token estimates without a tokenizer download, shared by every layer that counts tokens.

tiktoken fetches its encodings from the internet on first use, and local models use other
tokenizers anyway, so we estimate: about four ASCII letters or spaces per token, a token per
digit and per two ASCII punctuation marks (Qwen and Llama-2-style tokenizers split numbers
into single digits: tool outputs full of figures and JSON count ~2.7× more tokens than
characters / 4; measured with llama.cpp's /tokenize on Qwen2.5), one token per CJK / kana /
Hangul character, two other non-ASCII characters per token. Erring high is the safe side:
a prompt estimated too small overflows a small server's context. Model requests
add a fixed overhead per message and tool call, and ``TokenEstimator`` corrects the
estimate per model with the prompt token counts the API reports, so a consistently wrong
guess converges.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_NO_DIGITS = str.maketrans("", "", "0123456789")


def estimate_text(text: str | None) -> int:
    """Estimated tokens of ``text`` (0 for empty or None)."""
    if not text:
        return 0
    digits = len(text) - len(text.translate(_NO_DIGITS))
    punctuation = len(text) - len(_PUNCTUATION.sub("", text))
    if text.isascii():
        words = len(text) - digits - punctuation
        return math.ceil(words / 4) + digits + math.ceil(punctuation / 2)
    cjk = len(text) - len(_CJK.sub("", text))
    non_ascii = len(text) - len(_NON_ASCII.sub("", text))
    words = len(text) - non_ascii - digits - punctuation
    other = non_ascii - cjk
    return math.ceil(words / 4) + digits + math.ceil(punctuation / 2) + cjk + math.ceil(other / 2)


MESSAGE_OVERHEAD = 4  # role markers and separators per chat message
TOOL_CALL_OVERHEAD = 8
REQUEST_OVERHEAD = 3


def estimate_item(item: dict[str, Any]) -> int:
    """Tokens of one ``ModelRequest.input`` item."""
    tokens = MESSAGE_OVERHEAD + estimate_text(item.get("content"))
    for call in item.get("tool_calls") or ():
        tokens += (
            TOOL_CALL_OVERHEAD
            + estimate_text(call.get("name"))
            + estimate_text(call.get("arguments"))
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

    # Never below 1: the estimate errs high on purpose, and a ratio learned from one kind of
    # text (tool schemas, which it overestimates) would make another (figures) overflow.
    MIN_RATIO = 1.0
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
