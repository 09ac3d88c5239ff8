"""Access to `investor-assistant web`, in Chromium and over plain HTTP: a non-loopback bind
needs the printed token (checked on the page, the websocket and downloads), a loopback one
only answers to loopback names and to its own pages, and the session limit has its page."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from ..support.web_browser import WebServer, click_text, open_page, wait_for_screen

DEMO_TITLE = r"Investor Assistant +DEMO"


@dataclass
class Answer:
    status: int
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    close_code: int | None = None
    close_reason: str = ""


async def _request(url: str, headers: dict[str, str], websocket: bool) -> Answer:
    async with aiohttp.ClientSession() as client:
        if not websocket:
            async with client.get(url, headers=headers, allow_redirects=False) as response:
                return Answer(response.status, await response.text(), dict(response.headers))
        try:
            async with client.ws_connect(url, headers=headers) as ws:
                message = await ws.receive(timeout=30)
                if message.type == aiohttp.WSMsgType.CLOSE:
                    return Answer(101, close_code=message.data, close_reason=message.extra or "")
                return Answer(101, close_code=None)
        except aiohttp.WSServerHandshakeError as exc:
            return Answer(exc.status)


def request(url: str, headers: dict[str, str] | None = None, websocket: bool = False) -> Answer:
    """One request from a client that is not the page (another program, another site's
    script), in a thread of its own: Playwright's sync API owns this one's event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _request(url, headers or {}, websocket)).result(60)


def test_a_non_loopback_bind_needs_the_token_on_page_websocket_and_downloads(
    browser: Any,
) -> None:
    server = WebServer(options=("--host", "0.0.0.0", "--port", "0"))
    try:
        assert "controls the app" in server.output and "SSH tunnel" in server.output
        urls = server.urls
        assert len(urls) == 2 and all("?token=" in url for url in urls)
        token = urls[0].split("?token=", 1)[1]
        assert len(token) >= 32 and {url.split("?token=")[1] for url in urls} == {token}
        port = urlsplit(urls[0]).port
        base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
        origin = {"Origin": base}

        refused = request(f"{base}/")
        assert refused.status == 403 and "Access token needed" in refused.text
        wrong = request(f"{base}/?token=not-{token}")
        assert wrong.status == 403 and "Wrong access token" in wrong.text
        assert request(f"{base}/?token=").status == 403
        cookie_name = f"investor_assistant_token_{port}"
        for cookie in ("", f"{cookie_name}=not-{token}", f"{cookie_name}={token[:-1]}"):
            assert request(ws, {**origin, "Cookie": cookie}, websocket=True).status == 403
        assert request(f"{base}/download/abc", {"Cookie": f"{cookie_name}=x"}).status == 403
        # The right token on another site's page still cannot drive the app.
        other_site = {"Origin": "http://attacker.example", "Cookie": f"{cookie_name}={token}"}
        assert request(ws, other_site, websocket=True).status == 403

        accepted = request(f"{base}/?token={token}")
        assert accepted.status == 303 and accepted.headers["Location"] == "/"
        cookie = accepted.headers["Set-Cookie"]
        assert cookie.startswith(f"{cookie_name}={token};")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert server.app_pids() == []  # nothing was started for the refused requests

        # A browser with the printed address: in, and the token leaves the address bar.
        page = open_page(browser)
        page.goto(f"{base}/?token={token}")
        wait_for_screen(page, DEMO_TITLE)
        assert page.url == f"{base}/"
        page.close()
        server.wait_for_sessions(0)

        page = open_page(browser)
        page.goto(f"{base}/?token={token[::-1]}")
        assert "Wrong access token" in page.inner_text("body")
        page.close()
    finally:
        assert server.stop() == 0, server.output


def test_require_token_applies_to_a_loopback_bind_too() -> None:
    server = WebServer(options=("--port", "0", "--require-token"))
    try:
        [url] = server.urls
        assert url.startswith("http://127.0.0.1:") and "?token=" in url
        assert "warning" not in server.output  # loopback: nobody else on the network
        base = url.split("?", 1)[0].rstrip("/")
        assert request(f"{base}/").status == 403
        assert request(url).status == 303
    finally:
        assert server.stop() == 0, server.output


def test_a_loopback_server_refuses_other_sites_and_shows_the_session_limit(
    browser: Any,
) -> None:
    server = WebServer(options=("--port", "0", "--max-sessions", "1"))
    try:
        assert "?token=" not in server.url and "warning" not in server.output
        port = urlsplit(server.url).port
        base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
        # DNS rebinding: another site's name pointed at 127.0.0.1.
        rebound = request(f"{base}/", {"Host": f"attacker.example:{port}"})
        assert rebound.status == 403 and "Wrong address" in rebound.text
        # Another site's script opening the websocket through the user's browser.
        hijack = {"Origin": "http://attacker.example"}
        assert request(ws, hijack, websocket=True).status == 403

        first = open_page(browser)
        first.goto(server.url)
        wait_for_screen(first, DEMO_TITLE)
        server.wait_for_sessions(1)

        second = open_page(browser)
        response = second.goto(server.url)
        assert response is not None and response.status == 503
        body = second.inner_text("body")
        assert "All sessions are in use" in body and "close another tab" in body
        # A websocket that races past the page is closed with the reason, not started.
        late = request(ws, {"Origin": base}, websocket=True)
        assert late.close_code == 1013 and "close another tab" in late.close_reason
        assert len(server.app_pids()) == 1

        first.close()  # its app quits and frees the place
        server.wait_for_sessions(0)
        second.reload()
        wait_for_screen(second, DEMO_TITLE)
        server.wait_for_sessions(1)
        second.close()
    finally:
        assert server.stop() == 0, server.output


def test_copy_works_on_a_plain_http_address_too(browser: Any) -> None:
    """Browsers have no navigator.clipboard on plain HTTP (anything but localhost): the
    page copies through a text area instead, or copy would silently do nothing."""
    server = WebServer(options=("--host", "0.0.0.0", "--port", "0"))
    try:
        token_url = next(url for url in server.urls if "127.0.0.1" not in url)
        port = urlsplit(token_url).port
        host = _an_address_of_this_machine()
        page = open_page(browser)
        page.goto(f"http://{host}:{port}/?{token_url.split('?', 1)[1]}")
        wait_for_screen(page, DEMO_TITLE)
        assert page.evaluate("window.isSecureContext") is False
        page.keyboard.type("clipboard check 42")
        page.keyboard.press("Control+j")  # a second line, so the prompt's text is a block
        page.keyboard.press("Enter")
        wait_for_screen(page, r"completed {2}\d")
        page.keyboard.press("Control+Home")
        click_text(
            page, "│ clipboard check 42", offset=3
        )  # in the chat (the You box), not the title
        page.keyboard.press("y")
        wait_for_screen(page, r"Copied the")
        reader = open_page(browser)  # a secure page of the same browser reads the clipboard
        browser.grant_permissions(["clipboard-read"], origin=f"http://127.0.0.1:{port}")
        reader.goto(f"http://127.0.0.1:{port}/download/none")
        assert "clipboard check 42" in reader.evaluate("navigator.clipboard.readText()")
    finally:
        assert server.stop() == 0, server.output


def _an_address_of_this_machine() -> str:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the outgoing address
        address: str = probe.getsockname()[0]
    assert not re.match(r"127\.", address), "no non-loopback address on this machine"
    return address


def test_a_tab_whose_app_cannot_start_says_why(browser: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('approval = "auto"\n')
    server = WebServer(settings=("--provider", "offline", "--config", str(config)))
    try:
        config.write_text("approval = [unclosed\n")  # broken after the server started
        page = open_page(browser)
        page.goto(server.url)
        page.wait_for_function("document.body.classList.contains('-closed')")
        reason = page.inner_text("#closed-reason")
        assert reason.startswith("The app stopped:") and "malformed TOML" in reason, reason
        assert page.is_visible("#closed-reason")
        server.wait_for_sessions(0)
    finally:
        assert server.stop() == 0, server.output
