"""Start and stop ``llama-server`` from the cache that ``scripts/local-model.sh prepare`` fills.

Used by the ``realmodel`` tests (a session fixture) and by ``bench/bench_realmodel.py``. The
server is started through the script's ``serve`` command, so tests, benchmarks and the README
recipe run the same binary with the same flags; only the port and the context size differ.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local-model.sh"
# The environment as the process started, before the test suite points XDG_CACHE_HOME at a
# temporary directory: the prepared model lives in the real cache.
START_ENV = dict(os.environ)
REQUIRE_ENV = "INVESTOR_ASSISTANT_REALMODEL"
START_TIMEOUT_S = 180.0


def required() -> bool:
    """CI sets INVESTOR_ASSISTANT_REALMODEL=require: a missing model is then a failure."""
    return START_ENV.get(REQUIRE_ENV, "").lower() in ("1", "require", "required", "yes")


def prepared(size: str) -> tuple[Path, Path] | None:
    """The server binary and model file the script prepared, or None."""
    proc = subprocess.run(
        ["bash", str(SCRIPT), "paths", size],
        capture_output=True,
        text=True,
        env=START_ENV,
        check=False,
    )
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) != 2:
        return None
    return Path(lines[0]), Path(lines[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LlamaServer:
    size: str = "0.5b"
    context: int = 4096
    log_path: Path | None = None
    extra: tuple[str, ...] = ()  # more llama-server options
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def model(self) -> str:
        return f"qwen2.5-coder-{self.size}-instruct"

    def start(self) -> LlamaServer:
        self.port = free_port()
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "bash",
                str(SCRIPT),
                "serve",
                self.size,
                str(self.port),
                "--ctx-size",
                str(self.context),
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=START_ENV,
            start_new_session=True,  # its own process group: stopped whole, never orphaned
        )
        if log is not subprocess.DEVNULL:
            log.close()
        try:
            self._wait_ready()
        except BaseException:  # not ready, or interrupted while waiting: leave nothing behind
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited with {self.process.returncode}; {self._log_tail()}"
                )
            if self._healthy():
                return
            time.sleep(0.25)
        raise RuntimeError(f"llama-server did not become ready in {START_TIMEOUT_S:g} s")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.root_url}/health", timeout=2) as response:
                return bool(response.status == 200 and json.load(response).get("status") == "ok")
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "no log"
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
