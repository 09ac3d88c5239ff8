"""The key bar at the bottom: the screen's keys that fit, and always Help and Quit.

Textual's ``Footer`` lays its keys out left to right and cuts what does not fit, so at 60
columns Help and Quit went first; it is also one widget per key, rebuilt whenever the
bindings change. This is one line of text: when the keys do not fit, the least needed go
first (the palette, then keys from the right), never the ones named in ``keep`` (Help,
Quit, and a key the moment calls for, such as Cancel run or Approve). A click on a key
presses it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

#: Actions always shown (without a namespace: ``app.quit`` is ``quit``).
ESSENTIAL_ACTIONS = frozenset({"help", "quit", "cancel_run", "approve_all", "deny_all"})
KEY_STYLE = "bold $footer-key-foreground"
GAP = 1


@dataclass(frozen=True)
class FooterItem:
    key: str  # the key a click presses
    display: str  # how the key reads (``^n``, ``f1``, ``alt+n``)
    description: str
    enabled: bool
    essential: bool

    def content(self) -> Content:
        style = "" if self.enabled else "dim"
        return Content.assemble(
            (self.display, f"{KEY_STYLE} {style}".strip()), " ", (self.description, style)
        )


def fit(items: list[FooterItem], palette: FooterItem | None, width: int) -> list[FooterItem]:
    """The items to show in ``width`` cells, in their order: the palette goes first, then
    items that are not essential, from the right."""

    def needed(chosen: list[FooterItem]) -> int:
        return sum(item.content().cell_length + GAP for item in chosen) + GAP

    shown = [*items, palette] if palette is not None else list(items)
    while needed(shown) > width:
        if palette is not None and palette in shown:
            shown.remove(palette)
            continue
        optional = [item for item in shown if not item.essential]
        if not optional:
            break
        shown.remove(optional[-1])
    return shown


class KeyFooter(Widget):
    ALLOW_SELECT = False
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, *, keep: Collection[str] = ESSENTIAL_ACTIONS, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keep = frozenset(keep)
        #: Where each shown key is on the line: (first cell, end cell, key).
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()

    def items(self) -> tuple[list[FooterItem], FooterItem | None]:
        """The screen's shown keys, one per action (its first key), and the palette's."""
        app = self.app
        seen: set[str] = set()
        items: list[FooterItem] = []
        palette: FooterItem | None = None
        for _, binding, enabled, _tooltip in self.screen.active_bindings.values():
            action = binding.action.rpartition(".")[2]
            if binding.key == app.COMMAND_PALETTE_BINDING and app.ENABLE_COMMAND_PALETTE:
                palette = FooterItem(
                    binding.key, app.get_key_display(binding), "palette", enabled, False
                )
                continue
            if not binding.show or action in seen:
                continue
            seen.add(action)
            items.append(
                FooterItem(
                    binding.key,
                    app.get_key_display(binding),
                    binding.description,
                    enabled,
                    action in self.keep,
                )
            )
        return items, palette

    def render(self) -> Content:
        items, palette = self.items()
        shown = fit(items, palette, self.size.width)
        parts: list[Content] = []
        spans: list[tuple[int, int, str]] = []
        x = GAP
        for item in shown:
            if item is palette:
                continue
            piece = item.content()
            spans.append((x, x + piece.cell_length, item.key))
            parts.append(piece)
            x += piece.cell_length + GAP
        line = Content(" ") + Content(" " * GAP).join(parts)
        if palette is not None and palette in shown:
            piece = palette.content()
            pad = max(self.size.width - line.cell_length - piece.cell_length - GAP, GAP)
            spans.append(
                (line.cell_length + pad, line.cell_length + pad + piece.cell_length, palette.key)
            )
            line = line + Content(" " * pad) + piece
        self._spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
