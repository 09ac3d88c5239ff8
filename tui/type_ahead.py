"""What a user types before the prompt exists (the first frame, the main screen mounting).

Kept by the app, in its own message queue: every key the terminal sends passes through that
one queue in order, so what is typed before the hand-over and what is typed after it cannot
change places (screens and widgets each have a queue of their own, processed concurrently).
Kept free of heavy imports: the first frame imports it.
"""

from __future__ import annotations

from textual import events

#: Keys that start a new line, in the prompt and in what is typed before it exists.
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "alt+enter"})


class TypeAhead:
    """The text typed so far, whether Enter sent it, and what was typed after that Enter
    (left in the prompt once the question is sent)."""

    def __init__(self) -> None:
        self.text = ""
        self.sent = False
        self.after = ""

    def take(self, event: events.Key | events.Paste) -> bool:
        """Keep the key (or pasted text) if it edits the text; True when it was kept."""
        if isinstance(event, events.Paste):
            self._add(event.text)
        elif event.key == "enter":
            if self.sent:
                self._add("\n")  # one question is sent at start-up: the next waits, whole
            else:
                self.sent = bool(self.text.strip())
        elif event.key in NEWLINE_KEYS:
            self._add("\n")
        elif event.key == "backspace":
            if self.sent:
                self.after = self.after[:-1]
            else:
                self.text = self.text[:-1]
        elif event.is_printable and event.character:
            self._add(event.character)
        else:
            return False
        return True

    def _add(self, text: str) -> None:
        if self.sent:
            self.after += text
        else:
            self.text += text
