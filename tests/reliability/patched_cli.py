"""``python -m tests.reliability.patched_cli ARGS…``: the real CLI with test patches applied
to the demo market first, chosen by ``RELIABILITY_PATCHES`` (comma-separated):

* ``hang_history``: price history hangs (demo quotes use it too). It first creates the file
  named by ``RELIABILITY_TOOL_STARTED`` (the test's sign that tools are running), then sleeps
  ``RELIABILITY_TOOL_SECONDS`` (default 60).
* ``hostile_news``: news headlines full of terminal escapes and markup (``HOSTILE_HEADLINE``).
* ``disk_full_on_answer``: the database cannot grow any more once the answer starts.
* ``dns_fails``: no host name but the local ones resolves.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

HOSTILE_HEADLINE = (
    "\x1b]0;news-pwned\x07\x1b[2J[bold red]BREAKING[/] \x1b]8;;https://evil.example/\x1b\\"
    "click\x1b]8;;\x1b\\ \x9b31m\u202eesrever\u202c \x1b[200~paste\x1b[201~"
)


def _hang_history() -> None:
    from assistant_core.market.demo import DemoProvider

    original = DemoProvider.history

    def hanging_history(self: Any, symbol: str, period: str) -> Any:
        marker = os.environ.get("RELIABILITY_TOOL_STARTED")
        if marker:
            Path(marker).touch()
        time.sleep(float(os.environ.get("RELIABILITY_TOOL_SECONDS", "60")))
        return original(self, symbol, period)

    DemoProvider.history = hanging_history  # type: ignore[method-assign]


def hostile_news(self: Any, symbol: str) -> list[dict[str, Any]]:
    return [
        {
            "title": HOSTILE_HEADLINE,
            "publisher": "\x1b]0;pub\x07Evil Wire",
            "published": "2026-11-20T00:00:00Z",
            "url": "https://evil.example/\x1b[2J",
        },
    ]


def _hostile_news() -> None:
    from assistant_core.market.demo import DemoProvider

    DemoProvider.news = hostile_news  # type: ignore[method-assign,assignment]


def _disk_full_on_answer() -> None:
    """The disk fills up as the answer starts: from then on the database cannot grow
    (SQLite's ``max_page_count`` gives the very error a full disk gives, SQLITE_FULL)."""
    from assistant_core.runtime.runner import RunExecution

    original = RunExecution._open_message

    def open_message(self: Any, turn: Any) -> None:
        original(self, turn)
        db = self.store._db
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")

    RunExecution._open_message = open_message  # type: ignore[method-assign]


def _dns_fails() -> None:
    """No host name resolves but the local ones (a machine whose DNS is down, or a typo in
    the host): the resolver's own error, EAI_NONAME, without asking any DNS server."""
    import socket

    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


PATCHES = {
    "hang_history": _hang_history,
    "hostile_news": _hostile_news,
    "disk_full_on_answer": _disk_full_on_answer,
    "dns_fails": _dns_fails,
}


def main() -> int:
    for name in filter(None, os.environ.get("RELIABILITY_PATCHES", "").split(",")):
        PATCHES[name]()
    from tui.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
