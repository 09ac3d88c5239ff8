"""The name a company goes by in an answer.

An English answer uses the company's name as looked up (``Samsung Electronics Co., Ltd.``).
A Korean answer uses the name the user typed (``삼성전자``, ``SK하이닉스``), else the Korean
name from the built-in table, and only then the English legal name; the ticker stands beside
it in the heading.
"""

from __future__ import annotations

import unicodedata

from ...market.known_companies import korean_name, lookup_known
from ...numfmt import locale_of
from .i18n import Lang


def reader_name(
    question: str, lang: Lang, symbol: str | None, query: str | None, official: str | None
) -> str | None:
    """``official`` in English; in Korean, the user's own or the local name when there is one.

    ``query`` is what the user typed for a company the table doesn't know (looked up by name).
    """
    if lang != "ko" or not symbol:
        return official
    typed = typed_name(question, symbol)
    if typed:
        return typed
    if query and locale_of(query) == "ko":
        return query
    return korean_name(symbol) or official


def typed_name(question: str, symbol: str) -> str | None:
    """The Korean name of ``symbol``'s company as written in ``question``, if it is there."""
    known = lookup_known(symbol)
    if known is None or known.symbol != symbol:
        return None
    text = unicodedata.normalize("NFKC", question)
    lowered = text.lower()
    for alias in sorted((a for a in known.aliases if not a.isascii()), key=len, reverse=True):
        at = lowered.find(alias)
        if at >= 0 and len(lowered) == len(text):  # lower() kept the positions
            return text[at : at + len(alias)]
    return None
