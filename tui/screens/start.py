"""The first frame: the title bar (who answers, DEMO) and "Starting…", painted before the
main screen's widgets are imported and (when the app is given a session factory) before the
session is built. Keys typed meanwhile are kept for the prompt (by the app: ``TypeAhead``).

Kept free of heavy imports on purpose: this module is what the user waits for.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static


class StartScreen(Screen[None]):
    DEFAULT_CSS = """
    StartScreen { align: center middle; }
    StartScreen #start-message { width: auto; color: $text-muted; }
    """

    def __init__(self, title: Content) -> None:
        super().__init__(id="start")
        self.title_content = title

    def compose(self) -> ComposeResult:
        yield Static(self.title_content, id="title-bar")
        yield Static("Starting…", id="start-message")

    def show_error(self, message: str) -> None:
        self.query_one("#start-message", Static).update(Content(message))
