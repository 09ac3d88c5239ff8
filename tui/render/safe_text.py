"""Untrusted text (model answers, tool outputs, web snippets) made safe to put on screen.

Such text is data. It must never reach the terminal as escape sequences (an OSC could
retitle the window or plant a hyperlink, a CSI could clear the screen) and must never be
read as Rich/Textual markup (``[link=…]``, ``[bold]``). Everything shown in the chat goes
through :func:`sanitize` first; :func:`safe_text` then wraps it in a Rich ``Text``, which
takes its string literally.

Complete escape sequences are removed (their payload is not meant to be read); any other
control character is replaced by a visible placeholder from Unicode's Control Pictures
block, so it is obvious that something odd was in the text.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

# ECMA-48 sequences, 7-bit (ESC …) and 8-bit (C1) introducers.
#   OSC / DCS / SOS / PM / APC: string up to BEL or ST (ESC \ or U+009C).
#   CSI: parameters, intermediates, one final byte.
#   Other ESC sequences: intermediates, one final byte (ESC c, ESC 7, ESC ( B …).
_ESCAPE_SEQUENCE = re.compile(
    r"""
    (?: \x1b[\]PX^_] | [\x90\x98\x9d\x9e\x9f] ) [^\x07\x1b\x9c]* (?: \x07 | \x1b\\ | \x9c )
  | (?: \x1b\[ | \x9b ) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]
  | \x1b [\x20-\x2f]* [\x30-\x7e]
    """,
    re.VERBOSE,
)

# Newline and tab are kept; carriage returns become newlines (a bare CR would let text
# overwrite the start of its own line).
_CR = re.compile(r"\r\n?")

# Bidirectional overrides and isolates can reorder what is displayed ("Trojan Source").
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

_PLACEHOLDERS: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_PLACEHOLDERS[0x7F] = "\u2421"  # ␡
for _code in range(0x80, 0xA0):
    _PLACEHOLDERS[_code] = "\ufffd"
del _PLACEHOLDERS[ord("\n")], _PLACEHOLDERS[ord("\t")]

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INLINE_SPACE = re.compile(r"[\n\t]+")


def _placeholder(match: re.Match[str]) -> str:
    return _PLACEHOLDERS[ord(match.group())]


def sanitize(text: str) -> str:
    """``text`` without terminal escape sequences, carriage returns or bidi overrides, and
    with every other control character (but newline and tab) shown as a placeholder."""
    if not text:
        return ""
    if text.isprintable():  # the common case: nothing to do (newline/tab are not printable)
        return _BIDI.sub("", text)
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _CR.sub("\n", text)
    text = _BIDI.sub("", text)
    return _CONTROL.sub(_placeholder, text)


def sanitize_inline(text: str) -> str:
    """:func:`sanitize` for a one-line place (a card header, a table cell): runs of
    newlines and tabs become one space."""
    return _INLINE_SPACE.sub(" ", sanitize(text))


def safe_text(text: str, style: str | Style = "", *, inline: bool = False) -> Text:
    """A Rich ``Text`` showing ``text`` literally: no markup, no escapes."""
    clean = sanitize_inline(text) if inline else sanitize(text)
    return Text(clean, style=style, end="")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… {len(text) - limit:,} more characters"
