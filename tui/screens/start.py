"""The first frame: the title bar (who answers, DEMO) and "Starting…", painted before the
main screen's widgets are imported and (when the app is given a session factory) before the
session is built. Keys typed meanwhile are kept for the prompt.

Kept free of heavy imports on purpose: this module is what the user waits for.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

#: Keys that edit what is typed before the prompt exists (besides printable characters);
#: others (e.g. ctrl+q) act as usual.
NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j", "alt+enter"})


class TypeAhead:
    """What a user types before the prompt is there to take it (the first frame, the main
    screen mounting): the text, and whether Enter was pressed after it."""

    def __init__(self) -> None:
        self.text = ""
        self.send = False

    def take(self, event: events.Key) -> bool:
        """Keep the key if it edits the text; True when it was kept."""
        if self.send:
            return False  # what follows Enter waits for the prompt's own keys
        if event.key == "enter":
            self.send = bool(self.text.strip())
        elif event.key in NEWLINE_KEYS:
            self.text += "\n"
        elif event.key == "backspace":
            self.text = self.text[:-1]
        elif event.is_printable and event.character:
            self.text += event.character
        else:
            return False
        return True


class StartScreen(Screen[None]):
    DEFAULT_CSS = """
    StartScreen { align: center middle; }
    StartScreen #start-message { width: auto; color: $text-muted; }
    """

    def __init__(self, title: Content) -> None:
        super().__init__(id="start")
        self.title_content = title
        #: Handed on to the main screen, which keeps adding to it until its prompt is up.
        self.type_ahead = TypeAhead()

    def compose(self) -> ComposeResult:
        yield Static(self.title_content, id="title-bar")
        yield Static("Starting…", id="start-message")

    def show_error(self, message: str) -> None:
        self.query_one("#start-message", Static).update(Content(message))

    def on_key(self, event: events.Key) -> None:
        if self.type_ahead.take(event):
            event.stop()
