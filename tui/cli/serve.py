"""``investor-assistant serve``: the Assistants API server (see assistant_core.server).

The web framework loads only here, when the command runs: the parser itself imports
nothing heavy, so the app's start-up is untouched.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from assistant_core.config import load_settings

from .exit_codes import EXIT_OK, EXIT_USAGE

SERVE_EPILOG = """\
examples:
  investor-assistant serve                              http://127.0.0.1:8000/v1
  investor-assistant serve --port 9000
  investor-assistant --provider openai serve --host 0.0.0.0   (needs an API key: keys create)
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 python tutorial.py  programs for the Assistants API

With no API key created, the server accepts any bearer token on a loopback address (single
user, like a local model server) and says so; once a key exists every request needs one.
A non-loopback address with no keys is refused. Runs execute on the configured provider
(--provider, --model, --data as for the app); function tools an assistant declares run on the
client (requires_action), the built-in Investor Assistant's tools on the server.
"""


def add_serve_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[flags],
        help="serve the Assistants API over HTTP",
        description="Serve the Assistants v2 REST API (with streaming) on this app's threads.",
        epilog=SERVE_EPILOG,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0: any free port)"
    )
    serve.add_argument(
        "--max-active-runs",
        type=int,
        default=100,
        metavar="N",
        help="runs executing at once; more get 429 (default 100)",
    )
    serve.add_argument(
        "--expires-after",
        type=int,
        default=600,
        metavar="SECONDS",
        help="how long a run waits for a client's tool outputs before it expires (default 600)",
    )
    serve.add_argument(
        "--log-level",
        choices=("warning", "info", "debug"),
        default="info",
        help="request log detail (default info: one line per request)",
    )
    serve.set_defaults(_run=serve_command)


def serve_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    if not 0 <= args.port <= 65535:
        print(f"investor-assistant serve: error: bad port {args.port}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_active_runs < 1:
        print(
            "investor-assistant serve: error: --max-active-runs must be at least 1", file=sys.stderr
        )
        return EXIT_USAGE
    if args.expires_after < 1:
        print(
            "investor-assistant serve: error: --expires-after must be at least 1 second",
            file=sys.stderr,
        )
        return EXIT_USAGE
    settings = load_settings(flags)
    try:
        from assistant_core.server.serve import ServeError, ServeOptions, serve
    except ImportError as exc:  # the server's packages are dependencies; say which is missing
        print(
            f"investor-assistant serve: error: {exc}; reinstall investor-assistant", file=sys.stderr
        )
        return EXIT_USAGE
    options = ServeOptions(
        host=args.host,
        port=args.port,
        max_active_runs=args.max_active_runs,
        expires_after=args.expires_after,
        log_level=args.log_level,
    )
    try:
        serve(settings, options)
    except ServeError as exc:
        print(f"investor-assistant serve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
