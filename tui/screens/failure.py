"""The screen for a database the app cannot go on with (damaged, full, unwritable): what
happened and the way out, in place of a traceback. Quitting exits with code 2, and the
command line prints the same message on the restored terminal."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

EXIT_CODE = 2  # as the command line's for a damaged database


class FailureScreen(Screen[None]):
    """What went wrong with the database, in place of the app (see the module docstring).

    | Key(s) | Description |
    | :- | :- |
    | q, escape, enter | Quit (exit code 2). |
    """

    DEFAULT_CSS = """
    FailureScreen { align: center middle; }
    FailureScreen > Vertical {
        width: 90%; max-width: 100; height: auto; border: heavy $error; padding: 1 2;
    }
    FailureScreen #failure-title { text-style: bold; color: $error; }
    FailureScreen #failure-message { margin: 1 0; }
    FailureScreen #failure-keys { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape,enter", "quit_app", "Quit", priority=True),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__(id="failure")
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.title_text), id="failure-title")
            yield Static(Content(self.message), id="failure-message")  # plain text, no markup
            yield Static(Content("Press q to quit."), id="failure-keys")

    def action_quit_app(self) -> None:
        self.app.exit(return_code=EXIT_CODE)
