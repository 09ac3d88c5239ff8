"""Each way a model server can fail gets advice that fits its cause, and the right exit
code (issue 11, item 12).

Seen: a reachable server that rejected the key was reported as "cannot reach the model
server … start it (e.g. ollama serve …)"; an OpenAI whose name did not resolve exited 1 as
a ``server_error`` and left an empty failed thread, although the README says an
unreachable server exits 2. Every class of error the ``openai`` client raises is checked
here through the real client against local servers (or, for TLS certificates, with the
exception the client raises), and the CLI cases through the real command.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.openai_common import connection_failure, to_backend_error
from assistant_core.store import Store
from tests.support.openai_replay import (
    ReplayServer,
    chat_stream,
    error_response,
    expect_error,
    unused_port,
)

from .processes import cli_env, run_cli
from .test_model_faults import server  # noqa: F401 (fixture)

PATCHED = "tests.reliability.patched_cli"


def backend(url: str, key: str | None = "sk-test-key") -> ChatCompletionsBackend:
    return ChatCompletionsBackend(url, key, timeout=5.0)


# -- what a server that answers says ---------------------------------------------------------
@pytest.mark.parametrize(
    ("response", "key", "code", "fragments", "retryable"),
    [
        (error_response(401, "Invalid API key"), "sk-bad", "auth_error",
         ["rejected the API key", "check the key for that server"], False),
        (error_response(401, "Missing bearer token"), None, "auth_error",
         ["wants an API key", "OPENAI_API_KEY"], False),
        (error_response(403, "Project lacks access"), "sk-x", "auth_error",
         ["refused the request", "permissions"], False),
        (error_response(404, "model 'nope' not found", code="model_not_found"), "sk-x",
         "model_not_found", ["model 'gpt-4o' not found", "--model"], False),
        (error_response(404, "no such route"), "sk-x", "bad_request",
         ["answered 404", "check the base URL"], False),
        (error_response(400, "messages: bad shape"), "sk-x", "bad_request",
         ["rejected the request (400)"], False),
        (error_response(500, "boom", type="server_error"), "sk-x", "server_error",
         ["server error 500"], True),
        (error_response(429, "slow down"), "sk-x", "rate_limit_exceeded", ["rate limit"], True),
        (error_response(429, "quota", code="insufficient_quota"), "sk-x",
         "rate_limit_exceeded", ["out of quota", "billing"], False),
    ],
    ids=["401", "401-no-key", "403", "404-model", "404-path", "400", "500", "429", "quota"],
)  # fmt: skip
async def test_an_answered_error_gets_its_own_advice(
    server: ReplayServer,
    response: Any,
    key: str | None,
    code: str,
    fragments: list[str],
    retryable: bool,
) -> None:
    server.enqueue(response)
    err, _ = await expect_error(backend(server.base_url, key))
    assert (err.code, err.retryable) == (code, retryable), err.message
    for fragment in fragments:
        assert fragment in err.message
    for wrong in ("cannot reach", "is the server running", "ollama serve"):
        assert wrong not in err.message


# -- what keeps a request from reaching a server --------------------------------------------
async def test_nothing_listening_locally_asks_whether_the_server_runs() -> None:
    err, _ = await expect_error(backend(f"http://127.0.0.1:{unused_port()}/v1"))
    assert err.code == "connection_error" and err.retryable
    assert "connection refused" in err.message and "is the server running?" in err.message


async def test_a_name_that_does_not_resolve_is_a_dns_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    err, _ = await expect_error(backend("https://models.example.invalid/v1"))
    assert (err.code, err.retryable) == ("dns_error", False)
    assert "cannot find the server models.example.invalid" in err.message
    assert "check the host name" in err.message and "is the server running" not in err.message


async def test_https_to_a_plain_http_server_says_to_use_http(server: ReplayServer) -> None:
    url = server.base_url.replace("http://", "https://")
    err, _ = await expect_error(backend(url))
    assert (err.code, err.retryable) == ("tls_error", False)
    assert "does not speak TLS" in err.message and "http://" in err.message


def test_an_untrusted_certificate_is_a_tls_error() -> None:
    import openai

    cause = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    exc = openai.APIConnectionError(request=None)  # type: ignore[arg-type]
    exc.__cause__ = cause
    err = to_backend_error(exc, base_url="https://llm.internal:8443/v1")
    assert (err.code, err.retryable) == ("tls_error", False)
    assert "certificate of llm.internal is not trusted" in err.message


@pytest.fixture
def hang_up() -> Iterator[str]:
    """A server that accepts, reads the request and closes without a word."""
    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join(5)
    sock.close()


async def test_a_server_that_hangs_up_is_told_apart_from_one_that_is_down(hang_up: str) -> None:
    err, _ = await expect_error(backend(hang_up))
    assert err.code == "connection_error" and err.retryable
    assert "closed the connection without an answer" in err.message


def test_a_reset_is_a_hang_up_too() -> None:
    # A server that closes with part of the request unread resets the connection.
    err = connection_failure(ConnectionResetError(104, "Connection reset by peer"), "http://x/v1")
    assert err is not None and err.code == "connection_error" and err.retryable
    assert "closed the connection without an answer" in err.message


def test_refused_elsewhere_is_not_told_to_start_a_local_server() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    err = connection_failure(refused, "http://gpu-box.lan:8000/v1")
    assert err is not None and "is the server running" not in err.message
    assert "check the URL and port" in err.message
    openai_err = connection_failure(refused, None)
    assert openai_err is not None and "check your network connection" in openai_err.message


# -- through the command line ---------------------------------------------------------------
def test_a_rejected_key_while_listing_models_is_not_called_unreachable(
    tmp_path: Path, server: ReplayServer
) -> None:
    server.enqueue(error_response(401, "Invalid API key"), method="GET", path="/v1/models")
    env = cli_env(tmp_path, db=tmp_path / "threads.db", OPENAI_API_KEY="sk-wrong-key-123456")
    result = run_cli(["--base-url", server.base_url, "ask", "hi"], env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "rejected the API key" in line and "check the key for that server" in line
    assert "cannot reach" not in line and "ollama serve" not in line
    assert "sk-wrong-key-123456" not in line


def test_a_dns_failure_exits_2_and_leaves_no_thread(tmp_path: Path) -> None:
    # OpenAI itself (no base URL: no reachability check first): the run's first request
    # fails, and the thread the command created for it goes with it.
    env = cli_env(
        tmp_path,
        db=tmp_path / "threads.db",
        OPENAI_API_KEY="sk-test",
        RELIABILITY_PATCHES="dns_fails",
    )
    result = run_cli(["ask", "Should I buy Apple?"], env, module=PATCHED)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("investor-assistant: error: cannot find the server api.openai.com")
    assert "check your network connection" in line and "server_error" not in line
    with Store(tmp_path / "threads.db") as store:
        assert store.list_threads() == []


def test_a_dns_failure_of_a_base_url_is_found_before_anything_is_created(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", RELIABILITY_PATCHES="dns_fails")
    url = "http://ollama.example.invalid:11434/v1"
    result = run_cli(["--base-url", url, "--model", "m", "ask", "hi"], env, module=PATCHED)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "cannot find the server ollama.example.invalid" in line
    assert "check the host name" in line and "ollama serve" not in line
    assert (
        not (tmp_path / "threads.db").exists() or not Store(tmp_path / "threads.db").list_threads()
    )


def test_a_failed_run_on_an_existing_thread_keeps_the_thread(
    tmp_path: Path, server: ReplayServer
) -> None:
    # Continuing a thread (--thread): nothing is removed, the run is recorded as failed.
    server.enqueue(chat_stream("First answer."))
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    flags = ["--base-url", server.base_url, "--model", "m", "--data", "demo"]
    assert run_cli([*flags, "ask", "First?"], env).returncode == 0
    with Store(tmp_path / "threads.db") as store:
        [thread] = store.list_threads()
    server.enqueue(error_response(401, "Invalid API key"))
    result = run_cli([*flags, "ask", "--thread", thread.id, "Second?"], env)
    assert result.returncode == 1
    with Store(tmp_path / "threads.db") as store:
        assert [m.text for m in store.list_messages(thread.id)] == [
            "First?",
            "First answer.",
            "Second?",
        ]
