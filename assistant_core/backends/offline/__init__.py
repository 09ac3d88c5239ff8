"""The offline analyst: a deterministic, rule-based backend (no language model, no network).

It plans tool calls from the question (English or Korean), calls them through the same
path as a real model, and streams a Markdown report computed from their outputs.
"""

from .analyst import OfflineAnalyst

__all__ = ["OfflineAnalyst"]
