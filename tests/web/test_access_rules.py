"""The web command's rules without a browser: which binds need the token, what a request
must carry, how each tab's app is started, and one-line errors for bad options."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli.web import app_argv
from tui.web.access import Access, is_loopback_bind, split_host_header


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.7", False),
        ("10.0.0.1", False),
        ("no-such-host.invalid", False),
    ],
)
def test_which_binds_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_bind(host) is loopback


def test_host_header_names() -> None:
    assert split_host_header("127.0.0.1:8010") == "127.0.0.1"
    assert split_host_header("[::1]:8010") == "::1"
    assert split_host_header("localhost") == "localhost"


def test_an_open_loopback_server_answers_to_loopback_names_only() -> None:
    access = Access(None, cookie_name="c")
    assert access.token_matches(None)
    assert access.host_allowed("127.0.0.1:8010") and access.host_allowed("localhost:8010")
    assert access.host_allowed("[::1]:8010")
    # A page of another site whose name now points at 127.0.0.1 (DNS rebinding).
    assert not access.host_allowed("attacker.example:8010")
    assert not access.host_allowed(None)


def test_a_token_server_checks_the_token_in_constant_time() -> None:
    access = Access("s3cret-token", cookie_name="c")
    assert access.token_matches("s3cret-token")
    for wrong in (None, "", "s3cret", "s3cret-token ", "S3CRET-TOKEN", "é"):
        assert not access.token_matches(wrong)
    assert access.host_allowed("192.0.2.7:8010")  # reached under any name: the token decides


def test_websockets_only_from_pages_of_this_server() -> None:
    allowed = Access.origin_allowed
    assert allowed("http://127.0.0.1:8010", "127.0.0.1:8010")
    assert not allowed("http://127.0.0.1:8011", "127.0.0.1:8010")
    assert not allowed("https://attacker.example", "127.0.0.1:8010")
    assert not allowed("null", "127.0.0.1:8010")
    assert allowed(None, "127.0.0.1:8010")  # not a browser: the token/loopback rule applies


def test_each_tab_runs_the_app_with_the_same_settings(tmp_path: Path) -> None:
    flags = {
        "provider": "offline",
        "base_url": None,
        "model": None,
        "approval": "ask",
        "data": "demo",
        "db": None,
        "config": "conf.toml",
        "debug": True,
    }
    argv = app_argv(flags, tmp_path / "threads.db")
    assert argv[:3] == [sys.executable, "-m", "tui.cli"]
    pairs = dict(zip(argv[3:-1:2], argv[4:-1:2]))
    assert pairs == {
        "--provider": "offline",
        "--approval": "ask",
        "--data": "demo",
        # The store is pinned, so every tab works on the same one.
        "--db": str(tmp_path / "threads.db"),
        "--config": str(Path("conf.toml").absolute()),
    }
    assert argv[-1] == "--debug"


def test_the_default_store_is_left_to_each_tab_to_resolve_and_create() -> None:
    # A pinned --db must already exist (a user-given path never creates directories); the
    # default location is the app's own, which every tab resolves alike and may create.
    argv = app_argv({"provider": "offline", "db": None}, None)
    assert "--db" not in argv


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "--provider", "offline", "web", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_taken_port_is_a_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli("--port", str(port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--port", "70000"), "not a port number"),
        (("--max-sessions", "0"), "at least 1"),
        (("--host", "no-such-host.invalid", "--port", "0"), "cannot listen on"),
    ],
)
def test_bad_options_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
