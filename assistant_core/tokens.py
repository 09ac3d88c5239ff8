"""Token estimates without a tokenizer download, shared by every layer that counts tokens.

tiktoken fetches its encodings from the internet on first use, and local models use other
tokenizers anyway, so we estimate: about four ASCII characters per token, one token per
CJK / kana / Hangul character, two other non-ASCII characters per token. The runtime
corrects this per model with the usage the API reports (``runtime.tokens.TokenEstimator``).
"""

from __future__ import annotations

import math
import re

_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def estimate_text(text: str | None) -> int:
    """Estimated tokens of ``text`` (0 for empty or None)."""
    if not text:
        return 0
    if text.isascii():
        return math.ceil(len(text) / 4)
    cjk = len(text) - len(_CJK.sub("", text))
    non_ascii = len(text) - len(_NON_ASCII.sub("", text))
    ascii_chars = len(text) - non_ascii
    other = non_ascii - cjk
    return math.ceil(ascii_chars / 4) + cjk + math.ceil(other / 2)
