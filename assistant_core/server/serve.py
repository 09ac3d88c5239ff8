"""Running the server: start-up checks, the start banner, uvicorn, and draining on SIGTERM.

Shutdown (SIGTERM, Ctrl+C): the server stops accepting connections, answers new requests
503, cancels the runs it executes (their streams end with ``thread.run.cancelled`` and
``done``, not a cut socket), leaves runs that wait for client tool outputs as they are in
the store (a restarted server takes them up, until they expire), then closes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import sys
from dataclasses import dataclass
from typing import TextIO

import uvicorn

from ..backends.models import list_models
from ..config import Settings
from ..gc_tuning import settle_after_start
from ..session import Session, build_session, provider_label
from .app import DEFAULT_MAX_BODY, Api, Auth, create_app
from .service import Limits, Models, Service

log = logging.getLogger(__name__)


class ServeError(Exception):
    """A reason not to start (bad address, port in use, no keys on a public address)."""


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    max_active_runs: int = 100
    expires_after: int = 600
    max_body: int = DEFAULT_MAX_BODY
    log_level: str = "info"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out at once instead of
    # waiting on the client's delayed ACK (40 ms per small response otherwise).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def models_for(settings: Settings) -> Models:
    listed: list[str] = []
    if settings.provider == "compatible" and settings.base_url:
        try:
            listed = list_models(settings.base_url, settings.api_key)
        except Exception:  # the configured model still serves every run
            listed = []
    return Models(settings.provider, settings.model or "", listed)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, api: Api, session: Session) -> None:
        super().__init__(config)
        self.api = api
        self.session = session

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        settle_after_start()  # full collections held reads 50–100 ms under load

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.api.draining = True
        for server in self.servers:
            server.close()
        runtime = self.session.runtime
        released = runtime.release_waiting()
        running = runtime.executing_ids()
        if released:
            log.info("left %d run(s) waiting for tool outputs in the store", len(released))
        if running:
            log.info("cancelling %d run(s) before stopping", len(running))
            await asyncio.gather(*(runtime.cancel_run(r) for r in running), return_exceptions=True)
        await super().shutdown(sockets)
        await self.session.aclose()


def banner(settings: Settings, options: ServeOptions, port: int, open_mode: bool) -> list[str]:
    host = f"[{options.host}]" if ":" in options.host else options.host
    lines = [
        f"Assistants API at http://{host}:{port}/v1  (OPENAI_BASE_URL=http://{host}:{port}/v1)",
        f"model: {provider_label(settings)}; database: {settings.db}",
    ]
    if open_mode:
        lines.append(
            "no API keys exist: any bearer token is accepted (loopback only, single user); "
            "create one with `investor-assistant keys create --project NAME`"
        )
    else:
        lines.append("API keys required (investor-assistant keys list)")
    return lines


def serve(settings: Settings, options: ServeOptions, out: TextIO = sys.stderr) -> None:
    """Serve until stopped. Raises ServeError (or the core's ConfigError/StoreError) when
    the server cannot start."""
    loopback = is_loopback(options.host)
    session = build_session(settings)
    try:
        store = session.store
        store.expire_runs()
        open_mode = not store.has_keys()
        if open_mode and not loopback:
            raise ServeError(
                f"refusing to serve on {options.host} with no API keys: anyone who can reach "
                "it could use it. Create a key first (investor-assistant keys create --project "
                "NAME), or bind to 127.0.0.1"
            )
        sock = bind(options.host, options.port)
    except BaseException:
        asyncio.run(session.aclose())
        raise
    port = sock.getsockname()[1]
    service = Service(
        store,
        session.runtime,
        models_for(settings),
        Limits(options.max_active_runs, options.expires_after),
    )
    api = Api(service, Auth(store, open_allowed=loopback), max_body=options.max_body)
    config = uvicorn.Config(
        create_app(api),
        log_level=options.log_level,
        timeout_graceful_shutdown=15,
        lifespan="on",
        access_log=options.log_level in ("info", "debug"),
    )
    for line in banner(settings, options, port, open_mode):
        print(line, file=out, flush=True)
    DrainingServer(config, api, session).run(sockets=[sock])
