"""Starter questions above an empty thread: a new user sees what to ask, and in demo mode
what answers and how to get a real model.

Shown on every thread that has no message yet; ↓ from the empty prompt moves into the
list, Enter asks the question, ↑ from its top goes back to the prompt, Escape hides the
list for this thread (also from the empty prompt). A click asks the question too.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

STARTERS: tuple[str, ...] = (
    "Should I buy Apple?",
    "How is Tesla's balance sheet?",
    "Compare AAPL and MSFT",
    "Show me MSFT's last 100 days",
    "애플 주식 사도 될까?",
)

DEMO_NOTE = (
    "No model configured: the offline analyst (rule-based, no LLM) answers on synthetic "
    "data. For a real model set OPENAI_API_KEY, or start with --base-url "
    "http://localhost:11434/v1 (Ollama, vLLM, LM Studio…), or Ctrl+P → Switch model / provider."
)


class StarterOptions(OptionList):
    """The starter questions inside ``StarterPanel``.

    | Key(s) | Description |
    | :- | :- |
    | enter | Ask the highlighted question. |
    | up | Move up; from the top, back to the prompt. |
    | escape | Hide the starters on this thread. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Hide", show=False),
        Binding("up", "up_or_leave", "Up", show=False),
    ]

    def action_dismiss(self) -> None:
        self.post_message(StarterPanel.Dismissed())

    def action_up_or_leave(self) -> None:
        if self.highlighted in (None, 0):
            self.post_message(StarterPanel.Left())
        else:
            self.action_cursor_up()


class StarterPanel(Vertical):
    class Chosen(Message):
        """A starter question was picked: ask it."""

        def __init__(self, question: str) -> None:
            super().__init__()
            self.question = question

    class Dismissed(Message):
        """Escape: hide the starters on this thread."""

    class Left(Message):
        """↑ from the top of the list: back to the prompt."""

    def __init__(self, *, demo: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.demo = demo

    def compose(self) -> ComposeResult:
        if self.demo:
            yield Static(
                Content.assemble((" DEMO ", "bold reverse $warning"), " ", DEMO_NOTE),
                id="starters-demo",
            )
        yield Static(
            Content.assemble(
                ("Ask about any company, or try one of these", "bold"),
                ("  ↓ Enter · Esc hides", "$text-muted"),
            ),
            id="starters-title",
        )
        yield StarterOptions(
            *(Option(Content(question), id=str(i)) for i, question in enumerate(STARTERS)),
            id="starter-options",
            compact=True,
        )

    def on_mount(self) -> None:
        self.options.highlighted = None  # nothing is chosen until ↓

    @property
    def options(self) -> StarterOptions:
        return self.query_one(StarterOptions)

    def enter(self) -> None:
        """Move the focus into the list, on its first question — at once, not after the
        keys already queued (``focus()`` waits for them): ↓ Enter typed together asks."""
        self.options.highlighted = 0
        self.screen.set_focus(self.options)

    @on(OptionList.OptionSelected, "#starter-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(STARTERS[int(event.option.id or 0)]))
