"""The chat's widgets: ChatView (messages and tool-call cards of a thread, streamed live),
ToolCallCard, PriceChart, and the Rich ``Text`` of untrusted text (the core text policy)."""

from __future__ import annotations

from ..render.safe_text import safe_text
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
]
