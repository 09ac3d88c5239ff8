"""The chat's widgets: ChatView (messages and tool-call cards of a thread, streamed live),
ToolCallCard, PriceChart, and the safe-text helpers every untrusted string goes through."""

from __future__ import annotations

from ..render.safe_text import safe_text, sanitize, sanitize_inline
from .chart import PriceChart
from .chat import ChatView, ErrorLine
from .message import AssistantMessage, MarkdownChunk, UserMessage
from .tables import format_number
from .tool_card import ToolCallCard

__all__ = [
    "AssistantMessage",
    "ChatView",
    "ErrorLine",
    "MarkdownChunk",
    "PriceChart",
    "ToolCallCard",
    "UserMessage",
    "format_number",
    "safe_text",
    "sanitize",
    "sanitize_inline",
]
