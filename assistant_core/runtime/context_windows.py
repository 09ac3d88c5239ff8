"""How many tokens each model can read: a table of known windows by model-name prefix.

Names are matched by the longest prefix, case-insensitively, so ``gpt-4o-mini-2024-07-18``
finds ``gpt-4o``. A local model served by Ollama or vLLM often carries a tag
(``llama3.1:8b``); the prefix still matches. Unknown models get a small, safe window. A server that says what context it serves (llama.cpp's
``/props``, vLLM's ``max_model_len``) is believed over this table (``Runtime.context_window``):
a local server often runs a model with a much smaller context than the model supports.
"""

from __future__ import annotations

DEFAULT_WINDOW = 8192

CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "llama3": 8_192,
    "llama3.1": 131_072,
    "llama3.2": 131_072,
    "llama3.3": 131_072,
    "qwen2.5": 32_768,
    "qwen3": 40_960,
    "mistral": 32_768,
    "mixtral": 32_768,
    "gemma2": 8_192,
    "gemma3": 131_072,
    "phi3": 4_096,
    "deepseek": 65_536,
    "offline": 1_000_000,
}


def context_window(model: str, overrides: dict[str, int] | None = None) -> int:
    """The window of ``model``: the longest matching prefix of ``overrides``, else of the
    built-in table, else ``DEFAULT_WINDOW``."""
    for table in (overrides or {}, CONTEXT_WINDOWS):
        window = _longest_prefix(model, table)
        if window is not None:
            return window
    return DEFAULT_WINDOW


def configured_window(model: str, overrides: dict[str, int] | None) -> int | None:
    """The window the user configured for ``model`` (longest matching prefix), or None."""
    return _longest_prefix(model, overrides or {})


def _longest_prefix(model: str, table: dict[str, int]) -> int | None:
    name = model.lower()
    # A provider prefix ("openai/gpt-4o", "meta-llama/llama3") says nothing about the window.
    bare = name.rsplit("/", 1)[-1]
    best: tuple[int, int] | None = None
    for prefix, window in table.items():
        p = prefix.lower()
        if (name.startswith(p) or bare.startswith(p)) and (best is None or len(p) > best[0]):
            best = (len(p), window)
    return None if best is None else best[1]
