"""Small modal dialogs: confirm, rename, and the model/provider form."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from assistant_core.settings_spec import DEFAULT_OPENAI_MODEL
from assistant_core.text import one_line

from ..panels.fmt import plain


class ConfirmScreen(ModalScreen[bool]):
    """Yes/No, Cancel focused first (Enter presses the focused button).

    | Key(s) | Description |
    | :- | :- |
    | y | Confirm. |
    | escape, n | Cancel. |
    """

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
    """A one-line title editor.

    | Key(s) | Description |
    | :- | :- |
    | enter | Save the title. |
    | escape | Cancel. |
    """

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
    "openai": f"empty: {DEFAULT_OPENAI_MODEL}",
    "compatible": "empty: the first one the server lists",
    "offline": "the offline analyst has no model",
}
#: How long the dialog waits for a server's model list before leaving the field to typing.
LIST_TIMEOUT_S = 3.0
LIST_DEBOUNCE_S = 0.4
#: Lists a compatible server's models (``GET /v1/models``) from its base URL; blocking.
ModelLister = Callable[[str], list[str]]


class ModelScreen(ModalScreen[ModelChoice | None]):
    """Provider, base URL and model, each labelled. The API key is never asked for: it
    comes from the environment only, so it is never written to the config file. A model
    belongs to its provider: picking a provider fills in the model saved for it (unless one
    was typed). For a compatible server the models it lists are offered under the field
    (read in a thread, with a timeout; the field stays free text).

    | Key(s) | Description |
    | :- | :- |
    | enter | Save the choice (in a text field). |
    | escape | Cancel. |
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        current: ModelChoice,
        *,
        saved_models: Mapping[str, str] | None = None,
        note: str = "",
        list_models: ModelLister | None = None,
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.initial = current
        self.saved_models = dict(saved_models or {})
        self.note = note
        self.list_models = list_models
        self._filled_in = current.model  # what the model field held before any typing
        self._list_timer: Timer | None = None
        #: The base URL whose models are listed below the field ("" when none).
        self.listed_url = ""

    def compose(self) -> ComposeResult:
        providers = {value for _, value in PROVIDERS}
        provider = self.initial.provider if self.initial.provider in providers else "offline"
        # Scrolls in a short terminal (80×24): the form is taller than the dialogs above.
        with VerticalScroll(classes="dialog dialog-wide"):
            yield Label(Content.styled("Model and provider", "bold"))
            yield Label("Provider", classes="field-label")
            yield Select(PROVIDERS, value=provider, allow_blank=False, id="provider", compact=True)
            yield Label("Server URL", classes="field-label", id="base-url-label")
            yield Input(
                value=self.initial.base_url,
                placeholder="e.g. http://localhost:11434/v1 (Ollama)",
                id="base-url",
                compact=True,
            )
            yield Label(Content("Model"), classes="field-label", id="model-label")
            yield Input(
                value=self.initial.model,
                placeholder=MODEL_HINTS[provider],
                id="model",
                compact=True,
            )
            yield Static("", id="model-status", classes="dialog-hint")
            yield OptionList(id="model-list", compact=True)
            yield Static(
                "The API key is read from OPENAI_API_KEY and never saved.",
                classes="dialog-hint",
            )
            yield Static(plain(self.note), id="model-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._show_fields(self.provider)
        self.query_one("#model-error").display = bool(self.note)

    @property
    def provider(self) -> str:
        return str(self.query_one("#provider", Select).value)

    def _show_fields(self, provider: str) -> None:
        """The server URL and model fields apply to model providers only (the offline
        analyst has neither); a compatible server's models are listed."""
        models = provider != "offline"
        for selector in ("#base-url", "#model"):  # disabled, not hidden: the form stays put
            self.query_one(selector).disabled = not models
        label = "Server URL" if provider == "compatible" else "Server URL (optional)"
        self.query_one("#base-url-label", Label).update(label)
        self._schedule_listing()

    @on(Select.Changed, "#provider")
    def _provider_changed(self, event: Select.Changed) -> None:
        provider = str(event.value)
        field = self.query_one("#model", Input)
        field.placeholder = MODEL_HINTS.get(provider, "")
        if field.value == self._filled_in:  # not typed by the user: follow the provider
            self._filled_in = self.saved_models.get(provider, "")
            field.value = self._filled_in
        self._show_fields(provider)

    # -- the server's models ---------------------------------------------------------------
    @on(Input.Changed, "#base-url")
    def _base_url_changed(self) -> None:
        self._schedule_listing()

    def _schedule_listing(self) -> None:
        if self._list_timer is not None:
            self._list_timer.stop()
        self._list_timer = self.set_timer(LIST_DEBOUNCE_S, self._start_listing)

    def _start_listing(self) -> None:
        url = self.query_one("#base-url", Input).value.strip()
        if self.provider != "compatible" or self.list_models is None or not url:
            self._show_models(url, [], "")
            return
        if url == self.listed_url:
            return
        status = self.query_one("#model-status", Static)
        status.update("Asking the server for its models…")
        status.display = True
        self.run_worker(
            partial(self._list_in_thread, url), thread=True, group="list-models", exclusive=True
        )

    def _list_in_thread(self, url: str) -> None:
        assert self.list_models is not None
        try:
            models = self.list_models(url)
            problem = "" if models else "the server lists no models"
        except Exception as exc:  # unreachable, a refused key, a timeout: typing still works
            models, problem = [], one_line(getattr(exc, "message", None) or exc, 160)
        self.app.call_from_thread(self._show_models, url, models, problem)

    def _show_models(self, url: str, models: list[str], problem: str) -> None:
        if url != self.query_one("#base-url", Input).value.strip():
            return  # the URL changed meanwhile: another listing follows
        self.listed_url = url if models else ""
        status = self.query_one("#model-status", Static)
        listing = self.query_one("#model-list", OptionList)
        listing.clear_options()
        listing.add_options([Option(Content(one_line(m, None)), id=m) for m in models])
        listing.display = bool(models)
        status.display = bool(models or problem)
        field = self.query_one("#model", Input)
        field.suggester = SuggestFromList(models, case_sensitive=False) if models else None
        if models:
            many = f"{len(models)} models" if len(models) != 1 else "1 model"
            status.update(f"{many} on this server: choose one below, or type a name.")
        elif problem:
            status.update(plain(f"Could not list the server's models ({problem}); type a name."))
        else:
            status.update("")

    @on(OptionList.OptionSelected, "#model-list")
    def _model_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        field = self.query_one("#model", Input)
        field.value = event.option.id or ""
        field.focus()

    # -- saving ----------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        error = self.query_one("#model-error", Static)
        error.update(plain(message))
        error.display = bool(message)

    def _choice(self) -> ModelChoice:
        return ModelChoice(
            provider=self.provider,
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
