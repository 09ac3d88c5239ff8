"""The key bindings help (F1)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ..browser import BROWSER_KEY_LABELS, BROWSER_NOTE

# One table for the help screen and the README, so they cannot disagree.
KEYS: list[tuple[str, str]] = [
    ("Enter", "send the prompt"),
    ("Shift+Enter / Ctrl+J", "new line in the prompt"),
    ("Up / Down", "recall earlier prompts (on the first / last line)"),
    ("PageUp / PageDown", "scroll the chat, also while typing"),
    ("Ctrl+Home / Ctrl+End", "chat top / latest (and follow the answer again)"),
    ("Escape", "cancel the running answer of this thread"),
    ("Ctrl+N", "new thread"),
    ("F2", "rename thread (r in the thread list)"),
    ("F8", "delete thread, after asking (d / Delete in the list)"),
    ("Ctrl+F", "filter threads by title and text (/ in the thread list)"),
    ("Ctrl+O / Ctrl+G", "approve / deny all tool calls awaiting approval"),
    ("Ctrl+T / F3", "tool-call inspector (c copy · x export · t/s filter)"),
    ("Ctrl+B or F9", "show / hide the thread list"),
    ("Ctrl+R or F10", "show / hide the run panel"),
    ("Ctrl+L", "focus the prompt"),
    ("J / K or Down / Up", "select a block of the focused answer (code, table…)"),
    ("Y / Ctrl+C", "copy the selection, or focused block / message / card"),
    ("Ctrl+P", "command palette: export, model, approval mode, theme…"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
]

CONFIGURE_HINT = (
    "To use a real model, quit and start again with one of:\n"
    "  OPENAI_API_KEY=sk-… investor-assistant            (OpenAI)\n"
    "  investor-assistant --base-url http://localhost:11434/v1 --model llama3.1\n"
    "                                        (Ollama, vLLM, llama.cpp, LM Studio…)\n"
    "or pick a provider with Ctrl+P → “Switch model / provider”."
)


def keys_table(web: bool = False) -> Content:
    """The keys; ``web``: as they work in a browser tab (``tui.browser``)."""
    rows = [(BROWSER_KEY_LABELS.get(key, key) if web else key, what) for key, what in KEYS]
    width = max(len(key) for key, _ in rows) + 2
    return Content("\n").join(
        Content.assemble((key.ljust(width), "bold $accent"), what) for key, what in rows
    )


class HelpScreen(ModalScreen[None]):
    """The keys (``KEYS``, as they work in a browser tab when ``web``).

    | Key(s) | Description |
    | :- | :- |
    | escape, f1, q, alt+k | Close. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q,alt+k", "dismiss(None)", "Close")]

    def __init__(self, *, web: bool = False) -> None:
        super().__init__()
        self.web = web

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog dialog-wide", id="help"):
            yield Static(Content.styled("Keys in this browser tab" if self.web else "Keys", "bold"))
            yield Static(keys_table(self.web))
            if self.web:
                yield Static(Content(f"\n{BROWSER_NOTE}"), id="browser-note")
            yield Static(Content.styled("\nModels", "bold"))
            yield Static(Content(CONFIGURE_HINT))

    def on_mount(self) -> None:
        self.add_class("dialog-screen")
