"""A live ``investor-assistant serve`` on a free loopback port, and official clients for it.

The server is the real console script in a subprocess (the offline analyst on a temporary
database); tests talk to it over HTTP with the official ``openai`` SDK, as any program
written for the Assistants API would.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.processes import cli_env

CLI = Path(sys.executable).parent / "investor-assistant"
BANNER = re.compile(r"Assistants API at (http://\S+/v1)")


class ServerProcess:
    """``investor-assistant serve`` with its output collected; restartable on one database."""

    def __init__(self, home: Path, db: Path, *args: str, pace: float = 0.0, **env: str) -> None:
        self.home = home
        self.db = db
        self.args = args
        self.env = cli_env(home, db=db, pace=pace, **env)
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.base_url = ""

    def start(self, timeout: float = 60) -> ServerProcess:
        self.proc = subprocess.Popen(
            [str(CLI), "serve", "--port", "0", "--log-level", "info", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        found = threading.Event()
        threading.Thread(target=self._pump, args=(self.proc, found), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the server did not start:\n{self.output}")
        return self

    def _pump(self, proc: subprocess.Popen[str], found: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)
            match = BANNER.search(line)
            if match:
                self.base_url = match.group(1)
            if "Application startup complete" in line:  # uvicorn's: ready for requests
                found.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def client(self, api_key: str = "any-token", **kwargs: Any) -> Any:
        import openai

        return openai.OpenAI(
            base_url=self.base_url, api_key=api_key, max_retries=0, timeout=30, **kwargs
        )

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module (starting one takes a second or two)."""
    home = tmp_path_factory.mktemp("server-home")
    proc = ServerProcess(home, home / "threads.db").start()
    yield proc
    proc.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """Servers of the test's own (on its own database unless ``db`` is given)."""
    started: list[ServerProcess] = []

    def make(*args: str, db: Path | None = None, pace: float = 0.0, **env: str) -> ServerProcess:
        proc = ServerProcess(tmp_path, db or tmp_path / "threads.db", *args, pace=pace, **env)
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return server.client()


def cli_run(proc_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line against the same database as a server (``server.env``)."""
    return subprocess.run(
        [str(CLI), *args], env=proc_env, capture_output=True, text=True, timeout=60, check=False
    )


# The SDK warns that the Assistants API is deprecated (the point of this server); yfinance
# warns about pandas' coming changes in the tutorial's client-side functions.
DEPRECATIONS = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]
