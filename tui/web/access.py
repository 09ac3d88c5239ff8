"""Who may use the web server.

A loopback bind is open to this machine's browsers; any other bind requires the access token
printed at start-up. On top of that every request must be addressed to this server (the
``Host`` check stops DNS rebinding of a loopback server) and a websocket must be opened by a
page of this server (the ``Origin`` check stops another site's page from driving the app
through the user's browser).

The token travels once in the URL (``/?token=…``); the page answers with an HttpOnly cookie
and a redirect to ``/``, so the token leaves the address bar and the websocket and downloads
are authorised by the cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
TOKEN_BYTES = 24


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def is_loopback_address(host: str) -> bool:
    """A loopback IP literal or a loopback name (no resolution)."""
    host = _strip_brackets(host.strip()).lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_bind(host: str) -> bool:
    """Binding ``host`` listens on loopback only: a loopback literal or name, or a name that
    resolves to loopback addresses only. Anything unresolvable counts as not loopback (and
    then needs a token; the bind itself reports the bad name)."""
    if host in WILDCARD_HOSTS:
        return False
    if is_loopback_address(host):
        return True
    try:
        infos = socket.getaddrinfo(_strip_brackets(host), None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(is_loopback_address(str(info[4][0])) for info in infos)


def split_host_header(value: str) -> str:
    """The host name of a ``Host`` header value (``[::1]:8010`` → ``::1``)."""
    value = value.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True)
class Access:
    """The access rule of one server: ``token`` None means loopback-only and open."""

    token: str | None
    cookie_name: str

    @property
    def needs_token(self) -> bool:
        return self.token is not None

    def token_matches(self, given: str | None) -> bool:
        if self.token is None:
            return True
        if not given:
            return False
        return hmac.compare_digest(given.encode(), self.token.encode())

    def host_allowed(self, host_header: str | None) -> bool:
        """Without a token the server must be reached by a loopback name: a page of another
        site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused."""
        if self.token is not None:
            return True
        return host_header is not None and is_loopback_address(split_host_header(host_header))

    @staticmethod
    def origin_allowed(origin: str | None, host_header: str | None) -> bool:
        """A websocket may only be opened by a page served from this very host and port.
        Browsers always send ``Origin`` with a websocket; a missing one is a non-browser
        client, which the token (or the loopback bind) already covers."""
        if origin is None:
            return True
        if host_header is None:
            return False
        return urlsplit(origin).netloc.lower() == host_header.strip().lower()
