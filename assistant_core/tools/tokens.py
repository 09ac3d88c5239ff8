"""A rough, offline token count (tiktoken downloads its encodings, so it cannot be used here)."""

from __future__ import annotations


def estimate_tokens(text: str) -> int:
    """~4 ASCII characters per token; every non-ASCII character counted as a token of its own
    (Hangul/CJK run at about one token per character; this errs on the high side)."""
    ascii_chars = sum(1 for ch in text if ch.isascii())
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)
