"""Secrets and files: the API key never lands in anything the app writes or prints, and
the app's files are private (0600, directories 0700) even under a permissive umask.

The CLI runs as a subprocess with its default file locations (XDG dirs under a temporary
home) against a local OpenAI-wire server, then every file under that home and every line
it printed is searched for the key.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.openai_replay import ReplayServer, chat_stream, error_response, responses_stream

from .processes import CLI, REPO, cli_env

KEY = "sk-test-SECRET-" + secrets.token_hex(16)
APP_DIR = "investor-assistant"


def run(
    args: list[str], env: dict[str, str], *, umask: int = 0o000
) -> subprocess.CompletedProcess[str]:
    """The CLI with a wide-open umask: privacy must come from the app, not the user's umask."""
    return subprocess.run(
        [str(CLI), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(umask),
    )


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def assert_no_key(data: bytes | str, where: str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for needle in (KEY, KEY[len("sk-test-") :], KEY[-16:]):  # whole, or the secret part
        assert needle.encode() not in raw, f"the API key appears in {where}"


@pytest.fixture
def server() -> Any:
    with ReplayServer() as s:
        yield s


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_the_key_is_in_no_file_and_no_output(
    home: Path, server: ReplayServer, tmp_path: Path
) -> None:
    env = cli_env(home, OPENAI_API_KEY=KEY)  # default db, config and cache locations
    outputs: list[tuple[str, subprocess.CompletedProcess[str]]] = []

    def cli(*args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        result = run(list(args), env)
        outputs.append((" ".join(args), result))
        if code is not None:
            assert result.returncode == code, f"{args}: {result.stderr}"
        return result

    compatible = ["--provider", "compatible", "--base-url", server.base_url, "--model", "m"]
    # A compatible server (Chat Completions) with the key, market data from Yahoo (cache file).
    server.enqueue(chat_stream("Apple looks fine."))
    cli(*compatible, "ask", "Should I buy Apple?")
    # OpenAI's Responses API, pointed at the local server.
    server.enqueue(responses_stream("Microsoft too."), path="/v1/responses")
    cli("--provider", "openai", "--base-url", server.base_url, "ask", "--json", "And Microsoft?")
    # A rejected key, with and without --debug (tracebacks).
    for extra in ([], ["--debug"]):
        server.enqueue(error_response(401, "Incorrect API key provided", code="invalid_api_key"))
        failed = cli(*compatible, *extra, "ask", "hi", code=1)
        assert "auth_error" in failed.stderr
    # The key reached the server (so it was in use), as a bearer token only.
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.requests)
    for request in server.requests:
        assert_no_key(request.body, f"the body of {request.method} {request.path}")

    cli("config", "set", "model", "llama3.1")
    cli("config", "set", "base_url", server.base_url)
    refused = cli("config", "set", "api_key", KEY, code=2)
    assert "not saved" in refused.stderr
    shown = cli("config", "show")
    assert KEY[:3] in shown.stdout  # masked: a prefix and the last four characters at most
    listed = cli("threads", "list", "--json")
    thread_ids = [json.loads(line)["id"] for line in listed.stdout.splitlines()]
    assert len(thread_ids) == 4
    exports = tmp_path / "exports"
    exports.mkdir()
    for i, thread_id in enumerate(thread_ids):
        cli("threads", "export", thread_id, "-o", str(exports / f"t{i}.md"))
        cli("threads", "export", thread_id, "--format", "json", "-o", str(exports / f"t{i}.json"))
        cli("threads", "show", thread_id)
        for run_line in cli("runs", "list", "--thread", thread_id, "--json").stdout.splitlines():
            cli("runs", "show", json.loads(run_line)["id"], "--full", code=None)

    written = files_under(home) + files_under(exports)
    names = {p.name for p in written}
    assert {"threads.db", "config.toml", "market-cache.db", "t0.md", "t0.json"} <= names, names
    for path in written:
        assert_no_key(path.read_bytes(), str(path))
    for command, result in outputs:
        assert_no_key(result.stdout, f"stdout of `{command}`")
        assert_no_key(result.stderr, f"stderr of `{command}`")
    for path in exports.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is not private"


def test_a_server_message_echoing_the_key_is_redacted(home: Path, server: ReplayServer) -> None:
    """Some proxies and self-hosted servers put the whole key in their 401 message; the
    app must not copy it into the run's last_error (the database) or onto the terminal."""
    env = cli_env(home, OPENAI_API_KEY=KEY)
    results = []
    for wire, path in (("compatible", "/v1/chat/completions"), ("openai", "/v1/responses")):
        server.enqueue(
            error_response(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key"),
            path=path,
        )
        result = run(
            ["--provider", wire, "--base-url", server.base_url, "--model", "m", "ask", "hi"], env
        )
        assert result.returncode == 1 and "auth_error" in result.stderr, result.stderr
        results.append(result)
    for result in results:
        assert_no_key(result.stdout + result.stderr, "the error the user sees")
    for path in files_under(home):
        assert_no_key(path.read_bytes(), str(path))


def test_files_and_directories_are_private_under_umask_000(
    home: Path, server: ReplayServer
) -> None:
    env = cli_env(home)
    server.enqueue(chat_stream("Fine."))
    result = run(
        [
            "--provider",
            "compatible",
            "--base-url",
            server.base_url,
            "--model",
            "m",
            "ask",
            "Should I buy Apple?",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert run(["config", "set", "approval", "ask"], env).returncode == 0
    data, config, cache = (
        home / "data" / APP_DIR,
        home / "config" / APP_DIR,
        home / "cache" / APP_DIR,
    )
    expected_files = [data / "threads.db", config / "config.toml", cache / "market-cache.db"]
    for path in expected_files:
        assert path.exists(), f"{path} was not created"
    for directory in (data, config, cache):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, f"{directory} is not 0700"
    # Every file the app made (databases, their -wal/-shm, the lock file, the config).
    for path in files_under(home):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others (mode {mode:o})"
    for path in expected_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_database_made_by_the_store_is_private(tmp_path: Path) -> None:
    """The same in-process, for a database at a path of the user's choosing."""
    from assistant_core.store import Store

    old = os.umask(0)
    try:
        store = Store(tmp_path / "nested" / "dir" / "mine.db")
        thread = store.create_thread()
        store.add_message(thread.id, "user", "hello")
    finally:
        os.umask(old)
    try:
        for path in (tmp_path / "nested" / "dir").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        store.close()
