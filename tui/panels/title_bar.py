"""The one-line title bar: assistant, who answers (provider · model), approval mode, DEMO."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from assistant_core.text import one_line


def title_content(
    *, assistant: str, provider: str, demo: bool, approval: str = "auto", thread: str = ""
) -> Content:
    """``provider``: its label without the DEMO mark (``provider_label(badge=True)``): demo
    mode is the badge before it."""
    parts: list[str | Content | tuple[str, str]] = [(f" {one_line(assistant)} ", "bold")]
    if demo:
        parts += [(" DEMO ", "bold reverse $warning"), " "]
    parts.append((one_line(provider), "$text-muted"))
    if approval != "auto":
        parts += ["  ", (f" approval: {approval} ", "reverse $accent")]
    if thread:
        parts += [("  │  ", "$text-muted"), one_line(thread, None)]
    return Content.assemble(*parts)


class TitleBar(Static):
    def show(
        self, *, assistant: str, provider: str, approval: str, demo: bool, thread: str = ""
    ) -> None:
        self.update(
            title_content(
                assistant=assistant, provider=provider, demo=demo, approval=approval, thread=thread
            )
        )
