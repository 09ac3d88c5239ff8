"""ToolCallCard: one tool call in the chat, live.

Header: ``get_daily_stock_performance(ticker="AAPL")`` with status (spinner while running),
duration, data source, and DEMO / cache badges; a call the model printed as text is marked
"recovered from text", one answered from an identical earlier call "repeat · not run again".
Body (collapsible): the result the way a person reads it — a price chart, a statement table, a short list, a key/value table, or the
raw output as JSON — or the error. While the call awaits approval the card shows Approve /
Deny buttons (keys ``a`` / ``d`` when focused) and posts :class:`ToolCallCard.Decision`.

Everything shown comes from the tool or the model, so it is sanitised and drawn as ``Text``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Click
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button

from assistant_core.numfmt import Locale
from assistant_core.objects import ToolCall
from assistant_core.text import (
    call_arguments,
    call_signature,
    for_terminal,
    format_duration,
    one_line,
)

from .rendered import LinePart, PlainText, RenderedText, fit_parts, line_of, wrap_text
from .tables import TableStyles, item_list, json_text, kv_table, statement_table
from .theme import theme_style

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ARGUMENTS_KEPT = 16  # a header keeps this much of the arguments before it drops details
FINISHED = frozenset({"completed", "error", "denied", "cancelled"})

# status → (glyph, label, component class)
STATUS = {
    "queued": ("○", "queued", "card--muted"),
    "running": ("", "running", "card--running"),
    "awaiting_approval": ("?", "awaiting approval", "card--awaiting"),
    "approved": ("○", "approved", "card--muted"),
    "completed": ("✓", "done", "card--done"),
    "error": ("✗", "error", "card--error"),
    "denied": ("⊘", "denied", "card--error"),
    "cancelled": ("■", "cancelled", "card--muted"),
}


class CardHeader(RenderedText):
    """The card's one- or two-line summary; a click toggles the body."""

    DEFAULT_CSS = """
    CardHeader { height: auto; }
    """

    def __init__(self, card: ToolCallCard) -> None:
        super().__init__()
        self.card = card

    def build(self, width: int) -> Text:
        return self.card.header_text(width)

    def on_click(self, event: Click) -> None:
        event.stop()
        self.card.toggle()


class ResultText(RenderedText):
    """A card body drawn by ``builder(width)``."""

    DEFAULT_CSS = """
    ResultText { height: auto; }
    """

    def __init__(self, builder: Callable[[int], Text], *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.builder = builder

    def build(self, width: int) -> Text:
        return self.builder(width)


class ToolCallCard(Vertical, can_focus=True):
    """A tool call: header, collapsible result body, Approve/Deny while awaiting approval.

    | Key(s) | Description |
    | :- | :- |
    | a | Approve the call (while it awaits approval). |
    | d | Deny the call (while it awaits approval). |
    | enter, space | Expand or collapse the result. |
    """

    DEFAULT_CSS = """
    ToolCallCard {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        border-left: outer $accent 50%;
        background: $surface;
    }
    ToolCallCard.-awaiting { border-left: outer $warning; }
    ToolCallCard.-error { border-left: outer $error; }
    ToolCallCard:focus {
        border-left: thick $accent;
        background: $accent 12%;
    }
    ToolCallCard > .card--body { margin-top: 1; }
    ToolCallCard > .card--error-text { color: $text-error; margin-top: 1; }
    ToolCallCard > .card--actions { height: auto; margin-top: 1; }
    ToolCallCard > .card--actions > Button { margin-right: 2; min-width: 14; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve", show=False),
        Binding("d", "deny", "Deny", show=False),
        Binding("enter,space", "toggle_card", "Expand/collapse", show=False),
    ]

    class Decision(Message):
        """The user approved or denied a call awaiting approval."""

        def __init__(self, call_id: str, run_id: str, approved: bool) -> None:
            super().__init__()
            self.call_id = call_id
            self.run_id = run_id
            self.approved = approved

    def __init__(
        self,
        call: ToolCall,
        run_id: str,
        *,
        expanded: bool | None = None,
        locale: Locale = "en",
    ) -> None:
        super().__init__()
        self.call = call
        self.run_id = run_id
        self.locale = locale  # the answer's language: how the result's numbers are written
        self._user_toggled = expanded is not None
        self.expanded = expanded if expanded is not None else self._wants_expanded()
        self._decided: bool | None = None
        self._frame = 0
        self._running_since: float | None = time.monotonic() if call.status == "running" else None
        self._shown_status = call.status  # the call changes in place: what was last shown
        self._header = CardHeader(self)
        self._body: Widget | None = None
        self._body_key: tuple[object, ...] | None = None
        self._actions: Horizontal | None = None
        self._composed = False  # before compose, compose itself reads the current state
        self._sync_classes()

    @property
    def user_toggled(self) -> bool:
        """The body is shown or hidden as the user (or the creator) chose."""
        return self._user_toggled

    @property
    def call_id(self) -> str:
        return self.call.id

    @property
    def status(self) -> str:
        if self._decided is not None and self.call.status == "awaiting_approval":
            return "approved" if self._decided else "denied"
        return self.call.status

    def compose(self) -> ComposeResult:
        self._composed = True
        yield self._header
        body = self._make_body() if self.expanded else None
        if body is not None:
            self._body = body
            yield body
        if self.status == "awaiting_approval":
            self._actions = self._make_actions()
            yield self._actions

    # -- updates ---------------------------------------------------------------------------
    def update_call(self, call: ToolCall) -> None:
        """Show ``call`` as it now stands. The card only reads it: a live call is the run
        view's object (assistant_core.run_view), which changes it in place between
        updates."""
        if call.status == "running" and self._shown_status != "running":
            self._running_since = time.monotonic()
        self.call = call
        self._shown_status = call.status
        self._changed()

    def tick(self) -> None:
        """Advance the spinner (the chat calls this a few times a second)."""
        if self.call.status == "running":
            self._frame += 1
            self._header.invalidate(layout=False)

    def _changed(self) -> None:
        if not self._user_toggled:
            self.expanded = self._wants_expanded()
        self._sync_classes()
        self._header.invalidate()
        if self._composed:
            self._sync_body()
            self._sync_actions()

    def _sync_classes(self) -> None:
        self.set_class(self.status == "awaiting_approval", "-awaiting")
        self.set_class(self.status == "error", "-error")

    def _wants_expanded(self) -> bool:
        call = self.call
        return call.display is not None or call.status == "error" or bool(call.error)

    # -- body ------------------------------------------------------------------------------
    def toggle(self) -> None:
        self._user_toggled = True
        self.expanded = not self.expanded
        self._header.invalidate()
        if self._composed:
            self._sync_body()

    def _sync_body(self) -> None:
        key = self._body_signature() if self.expanded else None
        if key == self._body_key and (self._body is None) == (key is None):
            return
        if self._body is not None:
            self._body.remove()
            self._body = None
        if self.expanded:
            self._body = self._make_body()
            if self._body is not None:
                self.mount(self._body, after=self._header)
        self._body_key = key

    def _body_signature(self) -> tuple[object, ...]:
        call = self.call
        return (
            self.status,
            call.error,
            call.function.output is None,
            id(call.display),
            len(call.function.arguments),
        )

    def _make_body(self) -> Widget | None:
        self._body_key = self._body_signature()
        call = self.call
        status = self.status
        if status == "denied":
            return PlainText("Denied: the tool did not run.", classes="card--error-text")
        if call.error or status == "error":
            return PlainText(
                for_terminal(call.error or "the tool failed"), classes="card--error-text"
            )
        display = call.display
        kind = display.get("kind") if isinstance(display, dict) else None
        if kind == "prices":
            from .chart import Figures, PriceChart

            figures = Figures(self.locale, self.result_currency())
            return PriceChart(display, figures, classes="card--body")
        if kind in ("table", "kv") and isinstance(display, dict):
            build = statement_table if kind == "table" else kv_table
            if kind == "kv" and "currency" not in display:  # stored before displays said it
                display = {**display, "currency": self.result_currency()}
            return ResultText(
                lambda w: build(display, w, self.table_styles(), self.locale),
                classes="card--body",
            )
        if kind == "list" and isinstance(display, dict):
            return ResultText(
                lambda w: item_list(display, w, self.table_styles(), self.locale),
                classes="card--body",
            )
        if call.function.output is not None:
            text = json_text(call.function.output)
            return ResultText(lambda w: wrap_text(text, w), classes="card--body")
        if call.function.arguments.strip():
            text = json_text(call.function.arguments)
            return ResultText(lambda w: wrap_text(text, w), classes="card--body")
        return None

    def result_currency(self) -> str | None:
        """The currency the tool said its figures are in (its output's ``currency``)."""
        output = self.call.function.output
        if not output or '"currency"' not in output:
            return None
        try:
            body = json.loads(output)
        except ValueError:
            return None
        currency = body.get("currency") if isinstance(body, dict) else None
        return currency if isinstance(currency, str) else None

    def table_styles(self) -> TableStyles:
        style = self._style
        return TableStyles(
            title=style("card--table-title"),
            header=style("card--table-header"),
            label=Style(),
            number=Style(),
            negative=style("card--negative"),
            muted=style("card--muted"),
            rule=style("card--rule"),
            key=style("card--table-header"),
            link=style("card--link"),
        )

    def _style(self, name: str) -> Style:
        return theme_style(self, name)

    # -- approval --------------------------------------------------------------------------
    def _make_actions(self) -> Horizontal:
        return Horizontal(
            Button("Approve (a)", variant="success", id="approve", compact=True),
            Button("Deny (d)", variant="error", id="deny", compact=True),
            classes="card--actions",
        )

    def _sync_actions(self) -> None:
        wanted = self.status == "awaiting_approval"
        if wanted and self._actions is None:
            self._actions = self._make_actions()
            self.mount(self._actions)
        elif not wanted and self._actions is not None:
            self._actions.remove()
            self._actions = None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._decide(event.button.id == "approve")

    def action_approve(self) -> None:
        self._decide(True)

    def action_deny(self) -> None:
        self._decide(False)

    def action_toggle_card(self) -> None:
        self.toggle()

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)
        self._header.invalidate()  # its key hints

    def _decide(self, approved: bool) -> None:
        if self.call.status != "awaiting_approval" or self._decided is not None:
            return
        self._decided = approved
        self.post_message(self.Decision(self.call.id, self.run_id, approved))
        self._changed()

    # -- text ------------------------------------------------------------------------------
    def header_text(self, width: int | None = None) -> Text:
        """The header on one line of ``width`` cells: ``▾ name(arguments)  ✓ done · 52 ms ·
        yahoo``. When it does not fit, the least useful details go first (key hints, cache
        note, source, duration), then the arguments are cut; the name, the status and a
        DEMO badge stay — a header never wraps, never splits a number."""
        call = self.call
        style = self._style
        status = self.status
        glyph, label, css = STATUS.get(status, ("•", one_line(status), "card--muted"))
        if status == "running":
            glyph = SPINNER[self._frame % len(SPINNER)]
        duration = call.duration_ms
        if duration is None and status == "running" and self._running_since is not None:
            duration = (time.monotonic() - self._running_since) * 1000
        muted = style("card--muted")
        parts: list[LinePart] = [([(f"  {glyph} {label}", style(css))], 0)]
        if duration is not None:
            parts.append(([(f" · {format_duration(duration)}", muted)], 3))
        if call.source:
            parts.append(([(f" · {one_line(call.source, 20)}", muted)], 4))
        if call.source == "demo":
            parts.append(([(" ", Style()), (" DEMO ", style("card--demo"))], 0))
        if call.cache_hit:
            parts.append(([(" cached", style("card--cache"))], 5))
        if call.recovered:
            parts.append(([(" recovered from text", style("card--cache"))], 2))
        if call.repeat_of:
            parts.append(([(" repeat · not run again", style("card--cache"))], 2))
        if self.has_focus:  # the keys that work on it
            toggle = "collapse" if self.expanded else "expand"
            parts.append(([(f"  ⏎ {toggle} · y copy", style("chat--hint"))], 6))
        arrow = "▾ " if self.expanded else "▸ "
        name = one_line(call.function.name, 60) or "?"
        arguments = call_arguments(call.function.arguments)
        if width is not None:
            # Drop details until the name and the start of the arguments (most often all
            # of them: ``ticker="MSFT"``) fit beside what is left; then cut the arguments.
            floor = len(arrow) + cell_len(name) + 2 + min(cell_len(arguments), ARGUMENTS_KEPT)
            parts = fit_parts(parts, width, floor)
            extras = sum(cell_len(text) for pieces, _ in parts for text, _ in pieces)
            room = width - len(arrow) - cell_len(name) - 2 - extras
            if cell_len(arguments) > room:
                arguments = one_line(arguments, max(room, 1))
        signature = f"{name}({arguments})"
        head: list[LinePart] = [([(arrow, muted), (signature, style("card--name"))], 0)]
        return line_of(head + parts, width)

    copy_label = "tool call"

    @property
    def copy_text(self) -> str:
        call = self.call
        parts = [call_signature(call.function.name, call.function.arguments, limit=10_000)]
        if call.error:
            parts.append(f"error: {for_terminal(call.error)}")
        if call.function.output is not None:
            parts.append(json_text(call.function.output, limit=1_000_000).plain)
        return "\n".join(parts)
