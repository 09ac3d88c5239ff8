"""``investor-assistant web``: the full-screen app in a browser, one app process per tab.

The server (textual-serve, in ``tui.web``) is imported only when this command runs, so the
terminal app's start-up does not pay for aiohttp.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path
from typing import Any

from assistant_core.config import ENV_NAMES, FLAG_NAMES, WEB_ENV, check_provider, load_settings
from assistant_core.db_url import DatabaseUrl
from assistant_core.errors import AssistantError, ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8010
DEFAULT_MAX_SESSIONS = 4
APP_TITLE = "Investor Assistant"

WEB_EPILOG = """\
examples:
  investor-assistant web                      http://127.0.0.1:8010/ on this computer
  investor-assistant --approval ask web --port 8020
  investor-assistant web --host 0.0.0.0       reachable from other computers, with a token
  ssh -L 8010:127.0.0.1:8010 research-box     then run `investor-assistant web` there and
                                              open http://127.0.0.1:8010/ here (encrypted)

Every browser tab runs its own app process, with these settings, on the same thread
database. Access: a loopback address (the default) is open to this computer's browsers;
any other address requires the access token printed at start-up (once): anyone who has
the address with its token controls the app. The connection is plain HTTP.
"""


def add_web_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    """The ``web`` subcommand (``commands`` is the main parser's subparsers)."""
    web = commands.add_parser(
        "web",
        parents=[flags],
        help="serve the app to a web browser",
        description="Serve the full-screen app to web browsers (one app process per tab).",
        epilog=WEB_EPILOG,
    )
    web.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default {DEFAULT_HOST}; others require the token)",
    )
    web.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    web.add_argument(
        "--max-sessions",
        type=int,
        default=DEFAULT_MAX_SESSIONS,
        metavar="N",
        help=f"at most N browser tabs (app processes) at once (default {DEFAULT_MAX_SESSIONS})",
    )
    web.add_argument(
        "--require-token",
        action="store_true",
        help="require the access token on a loopback address too (other users of this "
        "computer can reach its loopback ports)",
    )


def app_argv(flags: dict[str, Any], db: Path | None) -> list[str]:
    """The command each browser tab's app runs: this interpreter, the user's setting flags,
    and the database pinned when the user chose one (``db`` None: the app's default, which
    every tab resolves alike and may create, while a pinned path must already exist), so
    every tab works on the same store."""
    argv = [sys.executable, "-m", "tui.cli"]
    given = {name: value for name, value in flags.items() if value is not None and name != "debug"}
    if db is not None:
        given["db"] = str(db.expanduser().absolute())
    if given.get("config"):
        given["config"] = str(Path(given["config"]).expanduser().absolute())
    for name, value in given.items():
        argv += [FLAG_NAMES[name], str(value)]
    if flags.get("debug"):
        argv.append("--debug")
    return argv


def bind(host: str, port: int) -> socket.socket:
    """Listen now, so a taken port is a one-line error and ``--port 0`` has its number."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    dualstack = address == "::" and socket.has_dualstack_ipv6()
    try:
        return socket.create_server((address, port), family=family, dualstack_ipv6=dualstack)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise AssistantError(
            f"cannot listen on {host}:{port}: {reason}; choose another --port or --host"
        ) from None


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def web_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    from tui.web.access import WILDCARD_HOSTS, Access, is_loopback_bind, new_token

    settings = load_settings(flags)
    check_provider(settings)  # a missing key: one line now, not in every tab
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port number (0-65535)")
    if args.max_sessions < 1:
        raise ConfigError("--max-sessions must be at least 1")
    loopback = is_loopback_bind(args.host)
    token = new_token() if args.require_token or not loopback else None
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]

    from tui.web.server import WebServer

    db = settings.db if settings.source("db") != "default" else None
    env = {WEB_ENV: "1"}
    if isinstance(db, DatabaseUrl):  # its password must not show on a command line
        env[ENV_NAMES["db"]], db, flags = db.url, None, {**flags, "db": None}
    server = WebServer(
        app_argv(flags, db),
        sock=sock,
        access=Access(token, cookie_name=f"investor_assistant_token_{port}"),
        max_sessions=args.max_sessions,
        title=APP_TITLE,
        env=env,
    )
    query = f"?token={token}" if token else ""
    hosts = [url_host(args.host)]
    if args.host in WILDCARD_HOSTS:
        hosts = [socket.gethostname(), "127.0.0.1"]
    print(f"{APP_TITLE} in a browser: open", flush=True)
    for host in hosts:
        print(f"  http://{host}:{port}/{query}", flush=True)
    print(
        f"Each tab runs its own app (at most {args.max_sessions} at once) on "
        f"{settings.db}. Stop with Ctrl+C.",
        flush=True,
    )
    notice = settings.demo_notice()
    if notice:
        print(f"note: {notice}", file=sys.stderr, flush=True)
    if token and not loopback:
        print(
            f"warning: anyone who has this address with its token and can reach "
            f"{args.host}:{port} controls the app: they can ask questions on your model "
            "account and read, export and delete your threads. The connection is not "
            "encrypted: on a network you do not trust, keep the default 127.0.0.1 and use "
            f"an SSH tunnel (ssh -L {port}:127.0.0.1:{port} THIS-HOST). The token is shown "
            "only here; a restart makes a new one.",
            file=sys.stderr,
            flush=True,
        )
    server.serve(debug=settings.debug)
    return 0
