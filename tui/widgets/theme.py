"""The chat's colours and text styles, from the app theme, declared once.

Textual resolves a widget's ``COMPONENT_CLASSES`` for every instance when it is mounted;
with ~40 of them on every Markdown chunk and tool card, that alone cost ~0.2 s when a
thread of 30 items was shown. So they are declared once, on the ChatView (the "provider"),
and every widget inside it looks its styles up there (cached per theme).
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from textual.dom import DOMNode

from .rendered import component_style

COMPONENTS: dict[str, str] = {
    # Markdown
    "md--h1": "color: $primary; text-style: bold underline;",
    "md--h2": "color: $primary; text-style: bold;",
    "md--h3": "color: $secondary; text-style: bold;",
    "md--h4": "color: $foreground; text-style: bold;",
    "md--h5": "color: $foreground; text-style: bold italic;",
    "md--h6": "color: $text-muted; text-style: bold italic;",
    "md--em": "text-style: italic;",
    "md--strong": "text-style: bold;",
    "md--strike": "text-style: strike;",
    "md--code-inline": "color: $text-warning;",
    "md--code-block": "color: $foreground; background: $foreground 6%;",
    "md--link": "color: $text-accent; text-style: underline;",
    "md--url": "color: $text-muted;",
    "md--quote": "color: $secondary;",
    "md--bullet": "color: $text-primary; text-style: bold;",
    "md--table-header": "color: $text-primary; text-style: bold;",
    "md--rule": "color: $foreground 30%;",
    "md--html": "color: $text-muted;",
    "md--block-cursor": "background: $primary 30%;",
    # Who speaks, and key hints
    "chat--role": "color: $text-primary; text-style: bold;",
    "chat--hint": "color: $text-muted;",
    # Tool-call cards
    "card--name": "color: $text-accent; text-style: bold;",
    "card--muted": "color: $text-muted;",
    "card--running": "color: $text-primary;",
    "card--awaiting": "color: $text-warning; text-style: bold;",
    "card--done": "color: $text-success;",
    "card--error": "color: $text-error;",
    "card--demo": "color: $background; background: $warning; text-style: bold;",
    "card--cache": "color: $text-muted; text-style: italic;",
    "card--table-title": "text-style: bold;",
    "card--table-header": "color: $text-primary; text-style: bold;",
    "card--negative": "color: $text-error;",
    "card--rule": "color: $foreground 30%;",
    "card--link": "color: $text-accent; text-style: underline;",
    # Price charts
    "chart--axes": "color: $foreground 60%;",
    "chart--caption": "color: $foreground;",
    "chart--muted": "color: $text-muted;",
    "chart--line": "color: $primary;",
    "chart--volume": "color: $secondary;",
    "chart--high": "color: $success;",
    "chart--low": "color: $error;",
    "chart--series-1": "color: $primary;",
    "chart--series-2": "color: $warning;",
    "chart--series-3": "color: $success;",
    "chart--series-4": "color: $error;",
    "chart--series-5": "color: $accent;",
    "chart--series-6": "color: $secondary;",
}


def provider_css(selector: str) -> str:
    """CSS declaring every component for the widget type ``selector``."""
    return "\n".join(f"{selector} > .{name} {{ {rules} }}" for name, rules in COMPONENTS.items())


def theme_style(widget: DOMNode, name: str) -> Style:
    """The style of component ``name`` from the nearest ancestor that declares it (the
    ChatView); a plain style when there is none (a widget used on its own)."""
    node: DOMNode | None = widget
    while node is not None:
        if name in node.COMPONENT_CLASSES:
            return _cached(node, name)
        node = node.parent
    return Style()


def _cached(provider: Any, name: str) -> Style:
    cache: dict[tuple[str, str], Style] = provider.__dict__.setdefault("_theme_style_cache", {})
    try:
        key = (provider.app.theme, name)
    except Exception:  # not attached to an app
        return Style()
    style = cache.get(key)
    if style is None:
        style = cache[key] = component_style(provider, name)
    return style


def clear_cache(provider: Any) -> None:
    provider.__dict__.pop("_theme_style_cache", None)
