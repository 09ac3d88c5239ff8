"""Untrusted text as a Rich ``Text``: the core text policy (``assistant_core.text``) for
what the characters may be, and ``Text`` rather than markup for how it is drawn, so
``[bold]`` or ``[link=…]`` in a model's answer is shown as written."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text

from assistant_core.text import for_terminal, one_line


def safe_text(text: str, style: str | Style = "", *, inline: bool = False) -> Text:
    """A Rich ``Text`` showing ``text`` literally: no markup, no escapes; ``inline``: on
    one line (a label)."""
    clean = one_line(text, None) if inline else for_terminal(text)
    return Text(clean, style=style, end="")
