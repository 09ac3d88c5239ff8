"""A real terminal for the benchmarks: a program in a detached tmux session, and its screen
read back with ``capture-pane``, as a person would see it (the method of
``../shared/tools/firstframe.sh``).

    with TmuxScreen(command, env=env, size=(120, 40)) as screen:
        seconds = screen.wait_for("DEMO")        # since the command was launched
        screen.send_keys("Should I buy Apple?")
        screen.send_keys("Enter", literal=False)
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

POLL_S = 0.01
_counter = itertools.count()


def tmux_missing() -> str | None:
    return None if shutil.which("tmux") else "tmux is not installed"


def figure(label: str, values: list[float], reference: float, what: str) -> str:
    """``label  median ms (min–max)  ratio× what`` for seconds measured in a benchmark."""
    import statistics

    median = statistics.median(values)
    return (
        f"  {label} {median * 1000:6.0f} ms ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"
        f"  {median / reference:.2f}× {what}"
    )


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def bench_env(home: Path, *, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a fresh user: own data, config and cache directories, no model
    configured, and Python writing bytecode as it does for anyone who did not ask it not to
    (a first start compiles; the starts measured after it read the cache)."""
    env = {
        k: v
        for k, v in (base or os.environ).items()
        if not k.startswith("INVESTOR_ASSISTANT_")
        and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTHONDONTWRITEBYTECODE", "TMUX")
    }
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        env[var] = str(home / sub)
    env["XDG_CACHE_HOME"] = str(home / "cache")
    return env


class TmuxScreen:
    """``command`` running in its own tmux server, ``size`` columns × rows."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: dict[str, str],
        size: tuple[int, int] = (120, 40),
        cwd: Path | None = None,
    ) -> None:
        self.env = env
        if cwd is not None:
            cwd.mkdir(parents=True, exist_ok=True)
        self.socket = f"bench-{os.getpid()}-{next(_counter)}"
        self.session = "bench"
        self.tmux = ["tmux", "-L", self.socket, "-f", "/dev/null"]
        columns, rows = size
        # The shell stays after the program ends, so its last screen can still be read.
        line = shlex.join(command) + "; sleep 30"
        self.started = time.monotonic()
        size_flags = ["-x", str(columns), "-y", str(rows)]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", self.session, *size_flags, line],
            check=True,
            env=env,
            cwd=cwd,
        )

    def __enter__(self) -> TmuxScreen:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def text(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", self.session],
            capture_output=True,
            text=True,
            env=self.env,
        ).stdout

    def wait_for(self, pattern: str, *, timeout: float = 60.0, since: float | None = None) -> float:
        """Seconds from ``since`` (default: the launch) until ``pattern`` (a regular
        expression) is on the screen."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.M)
        while True:
            screen = self.text()
            if regex.search(screen):
                return time.monotonic() - (self.started if since is None else since)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{pattern!r} never showed; the screen:\n{screen}")
            time.sleep(POLL_S)

    def send_keys(self, keys: str, *, literal: bool = True) -> float:
        """Type ``keys`` (``literal=False``: a key name such as ``Enter``); returns the
        monotonic time just before they were sent."""
        now = time.monotonic()
        flags = ["-l"] if literal else []
        subprocess.run(
            [*self.tmux, "send-keys", "-t", self.session, *flags, keys], check=True, env=self.env
        )
        return now

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, env=self.env)
