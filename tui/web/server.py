"""The web server: textual-serve's ``Server`` with access control, a session limit and a
page of our own.

textual-serve (1.1.3, pinned) starts one app process per websocket and relays the
terminal stream and file deliveries between it and xterm.js in the page. We keep its
protocol and its ``AppService`` and change what a public service needs:

- the page, the websocket and downloads check the access rule (``access.Access``);
- at most ``max_sessions`` app processes run at once; the page says so when all are taken;
- the app is started with ``exec`` (no shell) and an ``INVESTOR_ASSISTANT_WEB=1``
  environment, in its own process group, and is killed if it does not quit in time;
- the page loads nothing from the internet (textual-serve's page links a Google font), gives
  close reasons to the user, asks before the tab is closed (Ctrl+W) while a session runs,
  and copies to the clipboard on plain-HTTP origins too, where ``navigator.clipboard``
  does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import socket
from asyncio.subprocess import Process
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import WSCloseCode, web
from aiohttp.helpers import content_disposition_header
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .access import Access

log = logging.getLogger("investor-assistant.web")

TEMPLATES = Path(__file__).resolve().parent / "templates"
STOP_TIMEOUT_S = 10.0
HEARTBEAT_S = 15.0
MAX_CLOSE_REASON = 123  # bytes, by the websocket protocol


class StderrTail:
    """The app's stderr as textual-serve reads it (``read``), keeping its end: when the
    app stops with an error, its last line is what the page shows."""

    KEEP = 4096

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.tail = b""

    async def read(self, n: int = -1) -> bytes:
        data = await self.stream.read(n)
        self.tail = (self.tail + data)[-self.KEEP :]
        return data

    async def last_line(self) -> str:
        if not self.stream.at_eof():  # what textual-serve's reader had not read yet
            try:
                await asyncio.wait_for(self.read(), 2.0)
            except TimeoutError:
                pass
        lines = self.tail.decode("utf-8", "replace").splitlines()
        return next((line.strip() for line in reversed(lines) if line.strip()), "")


def close_reason(text: str) -> bytes:
    """A websocket close reason: one line of at most 123 bytes."""
    data = " ".join(text.split()).encode()
    if len(data) <= MAX_CLOSE_REASON:
        return data
    return data[: MAX_CLOSE_REASON - 3].decode("utf-8", "ignore").encode() + "…".encode()


class AppSession(AppService):
    """One browser tab's app process."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        websocket: web.WebSocketResponse,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            shlex.join(argv),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=self._close_page,
            **kwargs,
        )
        self.argv = list(argv)
        self.extra_env = dict(env)
        self.websocket = websocket
        self.stderr: StderrTail | None = None

    async def _close_page(self) -> None:
        await self.websocket.close()

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        environment.update(self.extra_env)
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24) -> Process:
        # exec, not a shell: the arguments (paths, model names) are never re-parsed. Its own
        # session: Ctrl+C on the server's terminal reaches the server, which quits each app
        # in order (runs cancelled, partial answers kept) rather than all at once.
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
        )
        assert process.stdin is not None and process.stderr is not None
        self._stdin = process.stdin
        self.stderr = StderrTail(process.stderr)
        # textual-serve reads the app's stderr from ``process.stderr`` and has no hook for
        # it: the tail stands in for the StreamReader (``read`` is all it calls).
        process.stderr = self.stderr  # type: ignore[assignment]
        return process

    async def run(self) -> None:
        await super().run()
        # The app is gone (quit, failed or killed): end the page's session too, saying why
        # when it failed, rather than leave a terminal that no longer answers.
        process = self._process
        code = None
        if process is not None:
            try:
                code = await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                pass
        if code:
            line = await self.stderr.last_line() if self.stderr is not None else ""
            prefix = "investor-assistant: error: "
            line = line.removeprefix(prefix) or f"exit code {code}; see the server's output"
            await self.websocket.close(
                code=WSCloseCode.INTERNAL_ERROR, message=close_reason(f"The app stopped: {line}")
            )
        else:
            await self.websocket.close()

    async def stop(self) -> None:
        """Ask the app to quit; kill it if it has not gone within STOP_TIMEOUT_S."""
        process = self._process
        try:
            await asyncio.wait_for(super().stop(), STOP_TIMEOUT_S)
            if process is not None:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            if process is not None and process.returncode is None:
                log.warning("app process %s did not quit in time: killed", process.pid)
                process.kill()
                await process.wait()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid


class WebServer(Server):
    """Serves the app: one process per browser tab, at most ``max_sessions`` at once."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        sock: socket.socket,
        access: Access,
        max_sessions: int,
        title: str,
        env: Mapping[str, str],
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(
            shlex.join(argv), host=host, port=port, title=title, templates_path=TEMPLATES
        )
        self.argv = list(argv)
        self.sock = sock
        self.access = access
        self.max_sessions = max_sessions
        self.app_env = dict(env)
        self.sessions: set[AppSession] = set()

    # -- the aiohttp application -----------------------------------------------------------
    async def _make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(
            app, loader=jinja2.FileSystemLoader(self.templates_path), autoescape=True
        )
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_response_prepare.append(self._security_headers)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @staticmethod
    async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Frame-Options", "DENY")  # no clicks through a frame
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")

    def initialize_logging(self) -> None:
        logging.basicConfig(
            level=logging.DEBUG if self.debug else logging.WARNING,
            format="investor-assistant web: %(message)s",
        )

    def serve(self, debug: bool = False) -> None:
        """Serve on the socket bound by the caller until SIGINT/SIGTERM; then quit every
        session's app (their runs are cancelled and kept) and return."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        try:
            web.run_app(
                self._make_app(),
                sock=self.sock,
                handle_signals=False,
                loop=loop,
                print=None,
                access_log=log if debug else None,
                shutdown_timeout=STOP_TIMEOUT_S + 5,
            )
        finally:
            loop.close()

    async def on_shutdown(self, app: web.Application) -> None:
        sessions = list(self.sessions)
        for session in sessions:
            await session.websocket.close(
                code=WSCloseCode.GOING_AWAY, message=close_reason("The server stopped.")
            )
        await asyncio.gather(*(session.stop() for session in sessions))

    # -- access -----------------------------------------------------------------------------
    def _notice(self, request: web.Request, status: int, title: str, text: str) -> web.Response:
        return aiohttp_jinja2.render_template(
            "notice.html",
            request,
            {"app_name": self.title, "title": title, "text": text},
            status=status,
        )

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The page to show instead of the app, if this request may not have it."""
        access = self.access
        if not access.host_allowed(request.headers.get("Host")):
            return self._notice(
                request,
                403,
                "Wrong address",
                "This server answers on this computer only: open it as 127.0.0.1 or localhost.",
            )
        if access.needs_token and not access.token_matches(request.cookies.get(access.cookie_name)):
            return self._notice(
                request,
                403,
                "Access token needed",
                "Open the full address printed where the server was started, including its "
                "?token=… part.",
            )
        return None

    def _ws_allowed(self, request: web.Request) -> bool:
        access = self.access
        host = request.headers.get("Host")
        return (
            access.host_allowed(host)
            and access.origin_allowed(request.headers.get("Origin"), host)
            and access.token_matches(request.cookies.get(access.cookie_name))
        )

    @property
    def full(self) -> bool:
        return len(self.sessions) >= self.max_sessions

    def _limit_text(self) -> str:
        # Also a websocket close reason: at most 123 bytes.
        n = self.max_sessions
        return (
            f"All sessions are in use ({n} of {n}): close another tab of this app, then try again."
        )

    # -- handlers -----------------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        access = self.access
        given = request.query.get("token")
        if access.needs_token and given is not None:
            if not access.token_matches(given):
                return self._notice(
                    request,
                    403,
                    "Wrong access token",
                    "This token does not open this server. Use the address printed where the "
                    "server was started (a restarted server has a new token).",
                )
            # Keep the token in a cookie and take it out of the address bar (and history).
            rest = {key: value for key, value in request.query.items() if key != "token"}
            response = web.Response(
                status=303, headers={"Location": str(request.rel_url.with_query(rest))}
            )
            response.set_cookie(
                access.cookie_name,
                given,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=request.secure,
            )
            return response
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if self.full:
            return self._notice(request, 503, "All sessions are in use", self._limit_text())
        context = {
            "app_name": self.title,
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
        }
        return aiohttp_jinja2.render_template("app.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if not self._ws_allowed(request):
            raise web.HTTPForbidden(text="not allowed: open the page of this server first")
        websocket = web.WebSocketResponse(heartbeat=HEARTBEAT_S)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        if self.full:
            await websocket.prepare(request)
            await websocket.close(
                code=WSCloseCode.TRY_AGAIN_LATER, message=close_reason(self._limit_text())
            )
            return websocket
        # Counted before the first await, so two tabs cannot both take the last place.
        session = AppSession(
            self.argv,
            self.app_env,
            websocket,
            download_manager=self.download_manager,
            debug=self.debug,
        )
        self.sessions.add(session)
        try:
            await websocket.prepare(request)
            await session.start(width, height)
            log.info("session started: app process %s", session.pid)
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("session failed")
        finally:
            await session.stop()
            self.sessions.discard(session)
            log.info("session ended: app process %s", session.pid)
        return websocket

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        key = request.match_info["key"]
        try:
            meta = await self.download_manager.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(
                text="This download is over or unknown: export the file again."
            ) from None
        content_type = meta.mime_type
        if meta.encoding:
            content_type += f"; charset={meta.encoding}"
        disposition = "inline" if meta.open_method == "browser" else "attachment"
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type,
                # Quoted and UTF-8-encoded (textual-serve writes the name bare).
                "Content-Disposition": content_disposition_header(
                    disposition, filename=meta.file_name
                ),
            }
        )
        await response.prepare(request)
        async for chunk in self.download_manager.download(key):
            await response.write(chunk)
        await response.write_eof()
        return response
