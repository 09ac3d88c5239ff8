"""Surrogate code points: text that Python holds but UTF-8 cannot encode.

They reach us three ways: a JSON stream that escapes an emoji as two ``\\uXXXX`` halves and
splits them across chunks (each chunk decodes to a lone half); command-line arguments and
environment values with bytes that are not UTF-8 (Python keeps them as ``\\udcXX`` escapes,
PEP 383); and any other text that was cut in the middle of a pair. SQLite, the terminal and
every export encode UTF-8 and fail on them, so a stream re-joins pairs split across chunks
(``SurrogateJoiner``), and everything else is made encodable with ``scrub``: valid pairs
joined, lone halves replaced by U+FFFD (�).
"""

from __future__ import annotations

import sys

REPLACEMENT = "\ufffd"
_HIGH = range(0xD800, 0xDC00)  # a pair's first half


def scrub(text: str) -> str:
    """``text`` with surrogate pairs joined into their character and lone halves replaced by
    U+FFFD; text without surrogates comes back unchanged (the same object)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass writes each half as the code unit it is; decoding joins
        # the halves that form a pair and replaces the rest.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


class SurrogateJoiner:
    """Cleans a text stream fragment by fragment: a first half at the end of a fragment is
    held back until the next one says whether it completes a pair."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, fragment: str) -> str:
        text = self._held + fragment
        self._held = ""
        if text and ord(text[-1]) in _HIGH:
            text, self._held = text[:-1], text[-1]
        return scrub(text)

    def flush(self) -> str:
        """What is still held at the end of the stream (a lone half, as U+FFFD)."""
        held, self._held = self._held, ""
        return REPLACEMENT if held else ""


def from_os(value: str) -> str:
    """A command-line argument (or environment value) as text: bytes that were not valid
    in the locale's encoding (kept by Python as surrogate escapes) become U+FFFD."""
    encoding = sys.getfilesystemencoding()
    return value.encode(encoding, "surrogateescape").decode(encoding, "replace")
