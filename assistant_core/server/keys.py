"""API keys: a key is shown once, when made; the store keeps only its SHA-256.

Keys carry 256 random bits, so a plain hash is enough to make the stored value useless to
whoever reads the database (no salt or slow hash needed, unlike passwords). No framework
import here: the ``keys`` command uses this without loading the server.
"""

from __future__ import annotations

import hashlib
import secrets

from ..store_api import ApiKey
from ..store_interface import ThreadStore

KEY_PREFIX = "sk-ia-"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def create_key(store: ThreadStore, project: str, name: str = "") -> tuple[ApiKey, str]:
    """A new key for ``project``: (its record, the key itself — to show once)."""
    key = new_key()
    return store.add_api_key(project, key_hash(key), name), key


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
