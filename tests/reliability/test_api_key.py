"""A malformed API key (issue 11, item 2) is refused at start-up — one line, exit 2, the key
never echoed — and the key, in any spelling, is masked wherever an error is formatted: the
backends' error mapping, a run's last_error, the CLI's error lines and --debug tracebacks,
the app's notifications, exports.

Malformed keys are a class: any character that cannot go into an HTTP header value
(line breaks, other controls, non-ASCII) or whitespace inside the key. A server that
echoes the Authorization header back, in several spellings, stands for the proxies and
self-hosted servers that quote the key they rejected.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from assistant_core.backends.base import BackendError
from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.responses import ResponsesBackend
from assistant_core.export import collect_thread, to_json_text, to_markdown
from assistant_core.objects import LastError
from assistant_core.redact import redact, register_secret
from assistant_core.runtime import Runtime
from assistant_core.store import Store
from tests.support.openai_replay import ReplayServer, chat_stream
from tests.support.scripted_backend import make_test_tools

from .processes import cli_env, run_cli

SECRET = "0123456789abcdefSECRET"

#: Each kind of character that cannot be in a key sent as ``Authorization: Bearer KEY``.
MALFORMED = {
    "line feed": f"sk-te\nst-{SECRET}",
    "carriage return": f"sk-test\r-{SECRET}",
    "CRLF header injection": f"sk-test-{SECRET}\r\nX-Evil: 1\r\nmore",
    "tab": f"sk-te\tst-{SECRET}",
    "space inside": f"sk-test {SECRET}",
    "no-break space": f"sk-test\xa0{SECRET}",
    "control character": f"sk-te\x01st-{SECRET}",
    "DEL": f"sk-te\x7fst-{SECRET}",
    "non-ASCII letter": f"sk-tést-{SECRET}",
    "line separator": f"sk-test\u2028{SECRET}",
    "zero-width space": f"sk-test\u200b{SECRET}",
    "emoji": f"sk-test-🔑-{SECRET}",
}


def spellings(key: str) -> set[str]:
    """Ways the key can appear in text: raw, escaped, encoded, whitespace-folded."""
    forms = {
        key,
        repr(key)[1:-1],
        repr(key.encode("utf-8"))[2:-1],
        quote(key, safe=""),
        quote_plus(key),
        json.dumps(key)[1:-1],
        " ".join(key.split()),
    }
    return {form for form in forms if len(form) >= 8}


def assert_no_key(text: str | bytes, key: str, where: str) -> None:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for form in spellings(key):
        assert form not in raw, f"{where} contains the key as {form!r}"
    assert SECRET not in raw, f"{where} contains the secret part of the key"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


# -- refused at start-up -------------------------------------------------------------------
COMMANDS = {
    "openai": ["ask", "Should I buy Apple?"],  # auto-detected from the key
    "compatible": ["--provider", "compatible", "--base-url", "SERVER", "ask", "hi"],
    "app": [],  # the full-screen app (with a named driver: past the terminal check)
}
#: Every kind through `ask`; a few through the other ways in (each run is a process).
CASES = [(kind, "openai") for kind in MALFORMED] + [
    (kind, command)
    for kind in ("line feed", "CRLF header injection", "non-ASCII letter")
    for command in ("compatible", "app")
]


@pytest.mark.parametrize(("kind", "command"), CASES)
def test_a_malformed_key_is_refused_at_start_up_without_echoing_it(
    home: Path, kind: str, command: str
) -> None:
    key = MALFORMED[kind]
    with ReplayServer() as server:
        args = [server.base_url if arg == "SERVER" else arg for arg in COMMANDS[command]]
        env = cli_env(
            home,
            OPENAI_API_KEY=key,
            TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver",
        )
        result = run_cli(args, env, timeout=30)
        assert server.requests == []  # nothing was sent anywhere
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "API key (from OPENAI_API_KEY)" in lines[0]
    assert "cannot be sent in an HTTP header" in lines[0]
    assert_no_key(result.stdout + result.stderr, key, "the output")
    listed = run_cli(["threads", "list", "--json"], cli_env(home))
    assert listed.stdout == ""  # no thread was created


def test_a_malformed_key_in_the_config_file_is_refused_naming_the_file(
    home: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'api_key = "sk-te\\u0000st-{SECRET}"\n')
    cfg.chmod(0o600)
    result = run_cli(["--config", str(cfg), "ask", "hi"], cli_env(home))
    assert result.returncode == 2
    assert f"API key (in {cfg}) contains a control character" in result.stderr
    assert_no_key(result.stderr, f"sk-te\x00st-{SECRET}", "stderr")


@pytest.mark.parametrize("value", ["   ", "\t\n"])
def test_a_blank_key_is_refused_without_echoing_it(home: Path, value: str) -> None:
    result = run_cli(["ask", "hi"], cli_env(home, OPENAI_API_KEY=value))
    assert result.returncode == 2
    assert "bad value for api_key (environment variable OPENAI_API_KEY)" in result.stderr


# -- masked when it gets into an error anyway ---------------------------------------------------
@pytest.mark.parametrize("kind", MALFORMED)
@pytest.mark.parametrize("backend_class", [ChatCompletionsBackend, ResponsesBackend])
async def test_a_backend_made_without_the_checks_never_quotes_the_key(
    kind: str, backend_class: Any, tmp_path: Path
) -> None:
    """Should a session be built another way (the API server, a script), the httpx error
    that quotes the header (``Illegal header value b'Bearer sk-te\\nst'``) is masked in the
    backend's error, the stored run, the exports."""
    key = MALFORMED[kind]
    with ReplayServer() as server:
        backend = backend_class(server.base_url, key, timeout=5.0)
        store = Store(tmp_path / "t.db")
        runtime = Runtime(store, backend, make_test_tools(), model="m", max_retries=0)
        thread = runtime.create_thread()
        errors = [
            event.data.message
            async for event in runtime.ask(thread.id, "hi")
            if event.event == "error"
        ]
        await runtime.aclose()
    [run] = store.list_runs(thread.id)
    assert run.status == "failed" and run.last_error is not None
    export = collect_thread(store, thread.id)
    texts = {
        "last_error": run.last_error.message,
        "error events": " ".join(errors),
        "markdown export": to_markdown(export),
        "JSON export": to_json_text(export),
        "database": (tmp_path / "t.db").read_bytes().decode("utf-8", "replace"),
    }
    store.close()
    for where, text in texts.items():
        assert_no_key(text, key, where)


class EchoAuthServer:
    """Answers every request with 401 and an error message quoting the Authorization
    header it received, raw and in the spellings servers and proxies use."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._reject()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._reject()

            def _reject(self) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ")
                message = (
                    f"Incorrect API key provided: {token}. Header was {auth.encode()!r}; "
                    f"as sent: {quote(auth)} / {quote_plus(token)}; parsed {json.dumps(token)}"
                )
                body = json.dumps(
                    {
                        "error": {
                            "message": message,
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        }
                    }
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> EchoAuthServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


#: Valid keys (header-safe) whose spellings differ: quotes, backslashes, URL-reserved ones.
VALID_ODD_KEYS = [
    f"sk-proj-{SECRET}-Ab3dEf6hIj9",
    f'sk-te"st\\{SECRET}+/=',
    f"sk-{SECRET}%20&?#",
]


@pytest.fixture
def echo_server() -> Iterator[EchoAuthServer]:
    with EchoAuthServer() as server:
        yield server


@pytest.mark.parametrize("key", VALID_ODD_KEYS)
def test_a_server_echoing_the_key_in_any_spelling_is_masked_everywhere(
    home: Path, echo_server: EchoAuthServer, key: str
) -> None:
    env = cli_env(home, OPENAI_API_KEY=key)
    outputs: dict[str, str] = {}
    for wire, extra in (("compatible", []), ("openai", ["--debug"])):  # tracebacks too
        args = ["--provider", wire, "--base-url", echo_server.base_url, "--model", "m", *extra]
        asked = run_cli([*args, "ask", "hi"], env)
        assert asked.returncode == 1 and "auth_error" in asked.stderr, asked
        # Masked, not dropped: sk-…1234 tells the user which key (**** when its ends are odd).
        assert "sk-…" in asked.stderr or "****" in asked.stderr
        outputs[f"ask ({wire})"] = asked.stdout + asked.stderr
    # No model given: a compatible server is asked for its list, which it refuses too.
    listing = run_cli(["--base-url", echo_server.base_url, "ask", "hi"], env)
    assert listing.returncode == 2 and "rejected the API key" in listing.stderr, listing
    outputs["model listing"] = listing.stdout + listing.stderr
    thread = json.loads(run_cli(["threads", "list", "--json"], env).stdout.splitlines()[0])["id"]
    for fmt in ("md", "json"):
        outputs[f"{fmt} export"] = run_cli(
            ["threads", "export", thread, "--format", fmt], env
        ).stdout
    outputs["threads show"] = run_cli(["threads", "show", thread], env).stdout
    for where, text in outputs.items():
        assert_no_key(text, key, where)
    for path in home.rglob("*"):
        if path.is_file():
            assert_no_key(path.read_bytes(), key, str(path))


def test_redact_masks_every_spelling_and_a_cut_off_key() -> None:
    key = f"sk-te\nst-{SECRET}"
    for form in spellings(key):
        assert_no_key(redact(f"before {form} after", key), key, form)
    cut = ("x" * 100 + f" b'Bearer {key!r}")[:120] + "…"
    assert_no_key(redact(cut, key), key, "a one-line cut")
    assert redact("an error with no key in it", key) == "an error with no key in it"


def test_a_registered_key_is_masked_in_every_last_error() -> None:
    key = f"sk-registered-{SECRET}"
    register_secret(key)
    error = LastError("auth_error", f"the server said: {quote(key)}")
    assert_no_key(error.message, key, "LastError")
    assert LastError.from_dict({"code": "server_error", "message": key}).message == "sk-…CRET"


async def test_the_app_masks_keys_in_notifications(tmp_path: Path) -> None:
    from assistant_core.config import load_settings
    from assistant_core.session import build_session
    from tui.app import InvestorApp

    key = f"sk-notified-{SECRET}"
    settings = load_settings(
        {"provider": "offline", "db": str(tmp_path / "t.db")}, {"OPENAI_API_KEY": key}
    )
    app = InvestorApp(build_session(settings), first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.ready.is_set():
            await pilot.pause(0.05)
        app.notify(f"Illegal header value {('Bearer ' + key).encode()!r}", markup=False)
        app.main.notify(f"as a URL: {quote(key)}", markup=False)
        await pilot.pause()
        messages = [n.message for n in app._notifications]
    assert len(messages) == 2
    for message in messages:
        assert_no_key(message, key, "a notification")


def test_backend_error_mapping_masks_the_key_it_was_given() -> None:
    from assistant_core.backends.openai_common import mask_key

    key = f"sk-mapped-{SECRET}"
    error = BackendError("auth_error", f"bad key {json.dumps(key)} / {quote_plus(key)}", status=401)
    masked = mask_key(error, key)
    assert_no_key(masked.message, key, "the mapped error")
    assert (masked.code, masked.status) == ("auth_error", 401)
    assert chat_stream  # the replay helpers above are the real ones


def test_log_records_and_their_tracebacks_are_masked() -> None:
    import io
    import logging

    from assistant_core.redact import redact_log_handler

    key = f"sk-logged-{SECRET}"
    register_secret(key)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redact_log_handler(handler)
    redact_log_handler(handler)  # once is enough
    assert len(handler.filters) == 1
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError(f"Illegal header value {('Bearer ' + key).encode()!r}")
        except ValueError:
            logger.exception("request with %s failed", quote(key))
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Traceback" in text and "ValueError" in text
    assert_no_key(text, key, "the log")
