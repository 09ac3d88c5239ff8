"""A widget that paints one ``Text`` built for its width, cached until width, theme or
content change.

Chat content (answers, tables, lists, JSON) is laid out by our own code for a given width,
so each piece is a single cheap widget: Textual's layout cost grows with the number of
widgets, and a ``Text`` (not markup) keeps untrusted strings literal. Selecting text with
the mouse works on it (Textual selects within a widget's ``Text``/``Content``).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget


class RenderedText(Widget):
    """Subclasses implement :meth:`build`; call :meth:`invalidate` when their data changes."""

    DEFAULT_CSS = """
    RenderedText {
        height: auto;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cache_key: tuple[object, ...] | None = None
        self._cache: Text | None = None
        self._cache_lines = 0
        self._version = 0

    def build(self, width: int) -> Text:  # pragma: no cover - abstract
        raise NotImplementedError

    def invalidate(self, *, layout: bool = True) -> None:
        """Content changed: rebuild. A new layout (which makes Textual repaint the whole
        screen) is requested only when the height changed."""
        self._version += 1
        self._cache_key = None
        width = self.content_size.width
        if layout and width > 0 and self._cache is not None:
            height_before = self.height_for_lines(self._cache_lines)
            self.text_for(width)
            layout = self.height_for_lines(self._cache_lines) != height_before
        if layout:
            relayout(self)
        else:
            self.refresh()

    def height_for_lines(self, lines: int) -> int:
        """The widget's height for ``lines`` lines of text (subclasses may reserve more)."""
        return lines

    def text_for(self, width: int) -> Text:
        key = (width, self._version, self._theme_key())
        if key != self._cache_key or self._cache is None:
            self._cache = self.build(width)
            plain = self._cache.plain
            self._cache_lines = plain.count("\n") + 1 if plain else 0
            self._cache_key = key
        return self._cache

    def _theme_key(self) -> str:
        try:
            return self.app.theme
        except Exception:  # not attached to an app (unit use)
            return ""

    # -- Textual hooks ---------------------------------------------------------------------
    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width <= 0:
            return 0
        self.text_for(width)
        return self.height_for_lines(self._cache_lines)

    def render(self) -> Text:
        return self.text_for(max(self.content_size.width, 1))


class PlainText(RenderedText):
    """A string shown as it is (never markup), folded to the width; what the copy key
    takes when the widget is focused. The caller sanitises it."""

    copy_label = "text"

    def __init__(self, text: str, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.text = text

    @property
    def copy_text(self) -> str:
        return self.text

    def build(self, width: int) -> Text:
        return wrap_text(Text(self.text, end=""), width)


#: Part of a one-line label: its pieces (text, style) and how readily it goes when the line is
#: too narrow (0: never; higher numbers go first).
LinePart = tuple[list[tuple[str, Style]], int]


def fit_parts(parts: list[LinePart], width: int, reserve: int = 0) -> list[LinePart]:
    """``parts`` without the least needed ones (those of one rank go together), until they
    fit in ``width`` cells beside ``reserve`` cells of something else — or only the ones
    never dropped are left."""
    kept = list(parts)

    def length() -> int:
        return sum(cell_len(text) for pieces, _ in kept for text, _ in pieces)

    while reserve + length() > width and any(rank > 0 for _, rank in kept):
        worst = max(rank for _, rank in kept)
        kept = [part for part in kept if part[1] != worst]
    return kept


def line_of(parts: list[LinePart], width: int | None = None) -> Text:
    """The parts as one line of text, cut with an ellipsis at ``width`` cells."""
    text = Text(end="", no_wrap=True)
    for pieces, _ in parts:
        for piece, style in pieces:
            text.append(piece, style)
    if width is not None:
        text.truncate(max(width, 1), overflow="ellipsis")
    return text


def relayout(widget: Widget) -> None:
    """``widget.refresh(layout=True)``, measuring ``widget`` again whatever is pending.

    Textual starts a new layout generation for a widget (the key of its cached height)
    only when no layout is pending for it. When the screen lays out in between — a sibling
    asked for a layout and its container was arranged again — the widget is measured and
    cached under the pending generation, and a second change before the widget's own turn
    reuses that measurement: the widget keeps its old height until something else changes
    (an answer cut by Escape hid its last line and ``⚠ incomplete`` until a panel was
    toggled). Starting a generation for every change keeps the measurement current.
    """
    widget._layout_required = False  # Textual 8.2.8 (pinned): a pending layout, counted once
    widget.refresh(layout=True)


def component_style(widget: Widget, name: str) -> Style:
    """A component class's Rich ``Style`` with theme colours resolved (alpha blended over the
    widget's background), carrying a background only when the component sets one, so text
    composes over whatever surface the widget has."""
    full = widget.get_component_rich_style(name)
    has_background = widget.get_component_styles(name).has_rule("background")
    return Style(
        color=full.color,
        bgcolor=full.bgcolor if has_background else None,
        bold=full.bold,
        dim=full.dim,
        italic=full.italic,
        underline=full.underline,
        strike=full.strike,
        reverse=full.reverse,
    )


def wrap_text(text: Text, width: int) -> Text:
    """``text`` folded to ``width`` cells, as one ``Text`` of lines (RenderedText.build
    must return lines that fit: the line count is the widget's height); a joiner a fold
    leaves at a line's edge is dropped (``render.markdown.wrap_text``)."""
    from ..render.markdown import wrap_text as wrap_lines

    return Text("\n", end="").join(wrap_lines(text, max(width, 1)))
