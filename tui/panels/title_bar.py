"""The one-line title bar: assistant, who answers (provider · model), approval mode, DEMO."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from .fmt import literal


class TitleBar(Static):
    def show(
        self, *, assistant: str, provider: str, approval: str, demo: bool, thread: str = ""
    ) -> None:
        parts: list[str | Content | tuple[str, str]] = [(f" {literal(assistant)} ", "bold")]
        if demo:
            parts += [(" DEMO ", "bold reverse $warning"), " "]
        parts.append((literal(provider), "$text-muted"))
        if approval != "auto":
            parts += ["  ", (f" approval: {approval} ", "reverse $accent")]
        if thread:
            parts += [("  │  ", "$text-muted"), literal(" ".join(thread.split()))]
        self.update(Content.assemble(*parts))
