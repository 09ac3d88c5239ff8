"""The one-line title bar: assistant, who answers (provider · model), approval mode, DEMO."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from assistant_core.text import one_line


class TitleBar(Static):
    def show(
        self, *, assistant: str, provider: str, approval: str, demo: bool, thread: str = ""
    ) -> None:
        parts: list[str | Content | tuple[str, str]] = [(f" {one_line(assistant)} ", "bold")]
        if demo:
            parts += [(" DEMO ", "bold reverse $warning"), " "]
        parts.append((one_line(provider), "$text-muted"))
        if approval != "auto":
            parts += ["  ", (f" approval: {approval} ", "reverse $accent")]
        if thread:
            parts += [("  │  ", "$text-muted"), one_line(thread, None)]
        self.update(Content.assemble(*parts))
