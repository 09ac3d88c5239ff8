"""Small modal dialogs: confirm, rename, and the model/provider form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from assistant_core.settings_spec import DEFAULT_OPENAI_MODEL
from assistant_core.text import one_line

from ..panels.fmt import plain


class ConfirmScreen(ModalScreen[bool]):
    """Yes/No. Enter or y confirms; Escape or n cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "dismiss(False)", "Cancel"),
        Binding("y", "dismiss(True)", "Yes"),
    ]

    def __init__(self, question: str, *, confirm_label: str = "Delete") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, variant="error", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(False)


class RenameScreen(ModalScreen[str | None]):
    """A one-line title editor. Enter saves, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__(classes="dialog-screen")
        self.current = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Rename thread")
            yield Input(value=one_line(self.current, None), id="title", select_on_focus=True)
            yield Static("Enter to save · Escape to cancel", classes="dialog-hint")

    @on(Input.Submitted, "#title")
    def _save(self, event: Input.Submitted) -> None:
        title = " ".join(event.value.split())
        self.dismiss(title or None)


@dataclass
class ModelChoice:
    provider: str  # openai | compatible | offline
    base_url: str
    model: str


PROVIDERS = [
    ("OpenAI (Responses API; key from OPENAI_API_KEY)", "openai"),
    ("OpenAI-compatible server (Ollama, vLLM, llama.cpp…)", "compatible"),
    ("Offline analyst (demo, no model)", "offline"),
]


#: The model field's hint per provider: what applies when it is left empty.
MODEL_HINTS = {
    "openai": f"Model (empty: {DEFAULT_OPENAI_MODEL})",
    "compatible": "Model (empty: the first one the server lists)",
    "offline": "The offline analyst has no model",
}


class ModelScreen(ModalScreen[ModelChoice | None]):
    """Provider, base URL and model. The API key is never asked for: it comes from the
    environment only, so it is never written to the config file. A model belongs to its
    provider: picking a provider fills in the model saved for it (unless one was typed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        current: ModelChoice,
        *,
        saved_models: Mapping[str, str] | None = None,
        note: str = "",
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.initial = current
        self.saved_models = dict(saved_models or {})
        self.note = note
        self._filled_in = current.model  # what the model field held before any typing

    def compose(self) -> ComposeResult:
        providers = {value for _, value in PROVIDERS}
        provider = self.initial.provider if self.initial.provider in providers else "offline"
        with Vertical(classes="dialog dialog-wide"):
            yield Label("Model and provider")
            yield Select(PROVIDERS, value=provider, allow_blank=False, id="provider")
            yield Input(
                value=self.initial.base_url,
                placeholder="Base URL, e.g. http://localhost:11434/v1 (Ollama)",
                id="base-url",
            )
            yield Input(value=self.initial.model, placeholder=MODEL_HINTS[provider], id="model")
            yield Static(
                "The API key is read from OPENAI_API_KEY and never saved.",
                classes="dialog-hint",
            )
            yield Static(plain(self.note), id="model-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    @on(Select.Changed, "#provider")
    def _provider_changed(self, event: Select.Changed) -> None:
        provider = str(event.value)
        field = self.query_one("#model", Input)
        field.placeholder = MODEL_HINTS.get(provider, "Model")
        if field.value == self._filled_in:  # not typed by the user: follow the provider
            self._filled_in = self.saved_models.get(provider, "")
            field.value = self._filled_in

    def show_error(self, message: str) -> None:
        self.query_one("#model-error", Static).update(plain(message))

    def _choice(self) -> ModelChoice:
        provider = self.query_one("#provider", Select).value
        return ModelChoice(
            provider=str(provider),
            base_url=self.query_one("#base-url", Input).value.strip(),
            model=self.query_one("#model", Input).value.strip(),
        )

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        choice = self._choice()
        if choice.provider == "compatible" and not choice.base_url:
            self.show_error("An OpenAI-compatible server needs a base URL.")
            return
        self.dismiss(choice)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)
