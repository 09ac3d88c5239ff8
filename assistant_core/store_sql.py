"""What the SQL of both store engines shares: the connection the shared store code is written
against, and the text of its JSON columns.

The store's logic (``store.SqlStore``, ``store_api.ApiStore``) is plain SQL with ``?``
placeholders run through a ``Db``: SQLite's connection is one as it is; the PostgreSQL
engine wraps psycopg's (``store_pg``), translating placeholders. Where the engines' SQL
differs (a row lock, a null-safe comparison, a JSON path, the text search), the shared code
asks the engine for the fragment (``SqlStore``'s ``_sql_*`` hooks), so each difference is
one small, named place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .objects import Thread


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses (``sqlite3.Cursor``, psycopg's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class Db(Protocol):
    """One connection inside one of the store's transactions."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Any: ...


class JsonText(str):
    """The JSON text of an object, bound for a ``data`` column: an engine may treat it
    differently from other text (PostgreSQL's ``jsonb`` cannot hold an escaped NUL)."""

    __slots__ = ()


def dumps(data: Any) -> JsonText:
    return JsonText(json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def thread_from_row(data: str, title: str, updated_at: int) -> Thread:
    """A thread from its row: its JSON, with title and last activity from their columns
    (they are queried and bumped on their own)."""
    fields = json.loads(data)
    fields["title"] = title
    fields["updated_at"] = updated_at
    return Thread.from_dict(fields)


def like_pattern(needle: str) -> str:
    """A LIKE pattern matching ``needle`` anywhere, its wildcards taken literally
    (``ESCAPE '\\'``)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
