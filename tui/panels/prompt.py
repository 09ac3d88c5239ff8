"""The multi-line prompt: Enter sends, Shift+Enter / Ctrl+J insert a new line, Up/Down
recall earlier prompts when the cursor is on the first / last line, and PageUp/PageDown,
Ctrl+Home/Ctrl+End scroll the chat (the screen's ``scroll_chat`` action) instead of moving
in the few lines of the prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Unpack

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from ..type_ahead import NEWLINE_KEYS

if TYPE_CHECKING:
    from ..widgets.options import WidgetOptions


class PromptInput(TextArea):
    """A ``TextArea`` that posts ``Submitted`` on Enter and keeps a prompt history.

    | Key(s) | Description |
    | :- | :- |
    | enter | Send the question. |
    | shift+enter, ctrl+j, alt+enter | Start a new line. |
    | up, down | Recall earlier questions (on the first / last line). |
    | pageup, pagedown | Scroll the chat; the focus stays here. |
    | ctrl+home, ctrl+end | Go to the chat's start / its latest (and follow the answer). |
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "screen.scroll_chat('page_up')", "Scroll chat up", show=False),
        Binding("pagedown", "screen.scroll_chat('page_down')", "Scroll chat down", show=False),
        Binding("ctrl+home", "screen.scroll_chat('top')", "Chat start", show=False),
        Binding("ctrl+end", "screen.scroll_chat('bottom')", "Chat end", show=False),
    ]

    @dataclass
    class Submitted(Message):
        prompt: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt

    def __init__(
        self,
        *,
        prompt_history: list[str] | None = None,
        placeholder: str = "",
        **options: Unpack[WidgetOptions],
    ) -> None:
        super().__init__(
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            highlight_cursor_line=False,
            compact=True,
            placeholder=placeholder,
            **options,
        )
        self.prompt_history: list[str] = list(prompt_history or [])
        # Index into history while recalling; len(history) means "the draft being typed".
        self._recall = len(self.prompt_history)
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if key == "up" and self.cursor_location[0] == 0 and self._recall_step(-1):
            event.stop()
            event.prevent_default()
            return
        if (
            key == "down"
            and self.cursor_location[0] == self.document.line_count - 1
            and self._recall_step(+1)
        ):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        """Send what is in the prompt (Enter)."""
        text = self.text.strip()
        if not text:
            return
        if not self.prompt_history or self.prompt_history[-1] != text:
            self.prompt_history.append(text)
        self._recall = len(self.prompt_history)
        self._draft = ""
        self.clear()
        self.post_message(self.Submitted(self, text))

    def give_back(self, question: str) -> None:
        """Put a question that could not be sent back in the prompt — ahead of whatever was
        typed since Enter cleared it (at start-up, what followed the Enter), which stays."""
        typed = self.text
        self.load_text(f"{question}\n{typed}" if typed.strip() else question)
        self.move_cursor(self.document.end)  # where the typing was: it goes on there

    def _recall_step(self, step: int) -> bool:
        """Move through the history; False when there is nothing to move to."""
        target = self._recall + step
        if target < 0 or target > len(self.prompt_history) or not self.prompt_history:
            return False
        if self._recall == len(self.prompt_history):
            self._draft = self.text  # keep what was being typed, to come back to it
        self._recall = target
        text = self._draft if target == len(self.prompt_history) else self.prompt_history[target]
        self.load_text(text)
        # Recalling upwards leaves the cursor on the first line so Up keeps going back.
        if step < 0:
            self.move_cursor((0, len(self.document[0])))
        else:
            self.move_cursor(self.document.end)
        return True
