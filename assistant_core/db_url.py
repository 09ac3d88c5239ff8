"""The database setting: a file (SQLite) or a PostgreSQL URL, and showing a URL without its
password.

Imports nothing heavy: settings are read before the app's first frame, and psycopg loads
only when a ``postgresql://`` URL is opened (``store_pg``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

#: libpq's URI schemes.
SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)
#: Query parameters of a libpq URI that hold secrets.
_SECRET_PARAMS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL database, as a libpq URI (``postgresql://user@host:5432/dbname``).

    ``str()`` and ``repr()`` show it with its password masked, so it can go into banners,
    ``config show`` and error messages; ``url`` is the real one, for connecting only."""

    url: str = field(repr=False)

    def __str__(self) -> str:
        return masked_url(self.url)

    def __repr__(self) -> str:
        return f"DatabaseUrl({masked_url(self.url)!r})"

    @property
    def password(self) -> str | None:
        parts = urlsplit(self.url)
        secrets = [v for k, v in parse_qsl(parts.query) if k in _SECRET_PARAMS]
        return parts.password or (secrets[0] if secrets else None)


Database = Path | DatabaseUrl


def is_database_url(text: str) -> bool:
    return bool(_URL.match(text.strip()))


def parse_database(text: str) -> Database:
    """``postgresql://…`` (or ``postgres://…``) is a PostgreSQL URL; anything else a file
    path (``~`` expanded). ``sqlite:PATH`` names a file explicitly."""
    text = text.strip()
    if is_database_url(text):
        return DatabaseUrl(text)
    if text.lower().startswith("sqlite:"):
        text = text[len("sqlite:") :].removeprefix("//")
    return Path(text).expanduser()


def masked_url(url: str) -> str:
    """The URL with any password (in the authority or the query) replaced by ``***``; the
    rest as written."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostinfo = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hostinfo}"
    pairs = parts.query.split("&") if parts.query else []
    masked = [
        f"{key}=***" if unquote(key) in _SECRET_PARAMS else pair
        for pair in pairs
        for key in [pair.split("=", 1)[0]]
    ]
    text = f"{parts.scheme}://{netloc}{parts.path}"
    if masked:
        text += "?" + "&".join(masked)
    if parts.fragment:
        text += "#" + parts.fragment
    return text
