"""API keys: what a usable one looks like, and masking one wherever text is formatted.

Every place that turns an error into text a person or a file will see — the backends'
error mapping, a run's ``last_error``, the CLI's one-line errors and ``--debug``
tracebacks, the app's notifications, exports, log records — passes it through ``redact``.
The key a session uses is registered when the settings are loaded, so ``redact`` needs no
argument to find it; a backend can pass its own key too.

A key reaches error text in many spellings: raw, ``repr``-escaped (``sk-te\\nst``), as
bytes (``b'Bearer sk-te\\nst'``), URL-encoded, JSON-escaped, with whitespace folded by a
one-line formatter, or cut off by one. ``redact`` therefore matches the key's letters and
digits in order and lets each other character stand for any short spelling of it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

#: Shorter values are not credentials, and masking them would mangle ordinary text.
MIN_SECRET_LENGTH = 8
#: Characters every spelling keeps as they are; any other one may be escaped or encoded.
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
#: One other character, however it is spelled (``\n``, ``\x0a``, ``%0A``, ``\u000a``, a
#: folded space, U+FFFD…) — the longest is a 4-byte UTF-8 character in a bytes repr.
_GAP = r"[\s\S]{0,16}?"
#: A secret with fewer plain characters is matched by its usual spellings only (a pattern
#: made mostly of gaps would match ordinary text).
_MIN_PLAIN = 6
#: A cut-off secret still counts when at least this much of it is left.
_MIN_TAIL = 8

_registered: set[str] = set()
_lock = threading.Lock()


def masked_form(secret: str | None) -> str:
    """How a secret is shown: its first three and last four characters at most."""
    if not secret:
        return "(not set)"
    ends = secret[:3] + secret[-4:]
    if len(secret) <= 10 or not all(c in _PLAIN for c in ends):
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"


def register_secret(secret: str | None) -> None:
    """From now on, ``redact`` masks ``secret`` in every text of this process."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _registered.add(secret)


def redact(text: str, *extra: str | None) -> str:
    """``text`` with every registered secret (and each of ``extra``) masked, in any of the
    spellings above, including a secret cut off at the end of ``text``."""
    with _lock:
        secrets = {*_registered, *(s for s in extra if s)}
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH:
            text = _patterns(secret).mask(text)
    return text


def api_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be sent in an HTTP ``Authorization`` header (None: it can). Says
    what and where, never which character: the message must not leak the key."""
    if not key.strip():
        return "is empty"
    for position, char in enumerate(key, 1):
        if char in "\r\n":
            what = "a line break"
        elif char.isspace():
            what = "whitespace"
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            what = "a control character"
        elif ord(char) > 0x7E:
            what = "a non-ASCII character"
        else:
            continue
        return f"contains {what} (character {position} of {len(key)})"
    return None


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message and traceback (attach it
    to the handlers that write logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_log_handler(handler: logging.Handler | None) -> None:
    """Mask secrets in what ``handler`` writes (the CLI's stderr fallback; a log file)."""
    if handler is not None and not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


@dataclass(frozen=True)
class _Patterns:
    whole: re.Pattern[str]
    tail: re.Pattern[str] | None
    shown: str

    def mask(self, text: str) -> str:
        text = self.whole.sub(self.shown, text)
        if self.tail is not None:
            text = self.tail.sub(self.shown, text)
        return text


def _spelled(char: str) -> str:
    """One character in any of its usual spellings, or left out."""
    forms = {
        char,
        repr(char)[1:-1],
        repr(char.encode("utf-8", "surrogatepass"))[2:-1],
        quote(char, safe=""),
        quote(char, safe="").lower(),
        quote_plus(char),
        json.dumps(char)[1:-1],
        "\ufffd",
    }
    if char.isspace():
        forms.add(" ")
    alternatives = sorted(forms, key=len, reverse=True)
    return "(?:" + "|".join(map(re.escape, alternatives)) + ")?"


@functools.lru_cache(maxsize=32)
def _patterns(secret: str) -> _Patterns:
    shown = masked_form(secret)
    if sum(c in _PLAIN for c in secret) < _MIN_PLAIN:
        spellings = {
            secret,
            repr(secret)[1:-1],
            repr(secret.encode("utf-8", "surrogatepass"))[2:-1],
            quote(secret, safe=""),
            quote_plus(secret),
            json.dumps(secret)[1:-1],
            " ".join(secret.split()),
        }
        alternatives = sorted((s for s in spellings if s), key=len, reverse=True)
        return _Patterns(re.compile("|".join(map(re.escape, alternatives))), None, shown)
    units = [re.escape(c) if c in _PLAIN else _GAP for c in secret]
    # A lazy gap at either end would match nothing: spell those characters out.
    for indexes in (range(len(secret)), reversed(range(len(secret)))):
        for index in indexes:
            if secret[index] in _PLAIN:
                break
            units[index] = _spelled(secret[index])
    whole = re.compile("".join(units))
    # A prefix of the secret (at least _MIN_TAIL characters) cut off by a one-line
    # formatter: before its ellipsis, or at the end of the text. u1…u8(?:u9(?:u10…)?)?
    nested = ""
    for unit in reversed(units[_MIN_TAIL:]):
        nested = f"(?:{unit}{nested})?"
    tail = re.compile("".join(units[:_MIN_TAIL]) + nested + r"(?=…|\Z)")
    return _Patterns(whole, tail, shown)
