"""The real ``investor-assistant`` CLI as a subprocess, watched while it runs.

``CliProcess`` records everything the process writes, with the time each piece arrived,
so a test can kill it at a chosen moment and later ask "what had the user seen one second
before the kill?". Standard input and standard error may be a pseudo-terminal (the
approval prompt only appears on a terminal).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant_core.config import ALL_ENV_NAMES

CLI = Path(sys.executable).parent / "investor-assistant"
REPO = Path(__file__).resolve().parents[2]


def cli_env(
    home: Path, *, db: Path | None = None, pace: float = 0.0, **extra: str
) -> dict[str, str]:
    """An environment with private XDG dirs under ``home`` and demo mode unless told otherwise."""
    env = {k: v for k, v in os.environ.items() if k not in ALL_ENV_NAMES}
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        env[var] = str(home / sub)
    if db is not None:
        env["INVESTOR_ASSISTANT_DB"] = str(db)
    env["INVESTOR_ASSISTANT_DEMO_PACE"] = repr(pace)
    env["PYTHONWARNINGS"] = "ignore"
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@dataclass
class Stream:
    """Bytes read from one pipe or pty, with arrival times."""

    pieces: list[tuple[float, bytes]] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def text(self) -> str:
        return b"".join(p for _, p in self.pieces).decode("utf-8", "replace")

    def text_before(self, moment: float) -> str:
        return b"".join(p for t, p in self.pieces if t <= moment).decode("utf-8", "replace")

    def pump(self, read: Callable[[], bytes]) -> None:
        try:
            while True:
                try:
                    data = read()
                except OSError:  # a pty reports EIO once the other side is gone
                    break
                if not data:
                    break
                with self.changed:
                    self.pieces.append((time.monotonic(), data))
                    self.changed.notify_all()
        finally:
            self.closed.set()
            with self.changed:
                self.changed.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float, what: str = "") -> str:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                text = self.text
                if predicate(text):
                    return text
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed.is_set() and not predicate(self.text)):
                    raise AssertionError(
                        f"timed out waiting for {what or 'output'}; got so far:\n{text[-2000:]}"
                    )
                self.changed.wait(min(left, 0.1))


class CliProcess:
    """One ``investor-assistant`` process (or ``python -m module``) with its output recorded."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        tty: bool = False,
        module: str | None = None,
    ) -> None:
        command = [sys.executable, "-m", module, *args] if module else [str(CLI), *args]
        self.stdout = Stream()
        self.stderr = Stream()  # the pty's output when tty=True (stderr and echo)
        self._master: int | None = None
        if tty:
            master, slave = pty.openpty()
            self._master = master
            self.proc = subprocess.Popen(
                command,
                stdin=slave,
                stdout=subprocess.PIPE,
                stderr=slave,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
            os.close(slave)

            def err_read() -> bytes:
                return os.read(master, 4096)
        else:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
            assert self.proc.stderr is not None
            err_pipe = self.proc.stderr

            def err_read():
                return os.read(err_pipe.fileno(), 4096)

        assert self.proc.stdout is not None
        out_pipe = self.proc.stdout
        self._threads = [
            threading.Thread(
                target=self.stdout.pump,
                args=(lambda: os.read(out_pipe.fileno(), 4096),),
                daemon=True,
            ),
            threading.Thread(target=self.stderr.pump, args=(err_read,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.signalled_at: float | None = None

    def send(self, sig: int) -> float:
        """Send ``sig``; returns the monotonic time it was sent."""
        self.signalled_at = time.monotonic()
        self.proc.send_signal(sig)
        return self.signalled_at

    def kill(self) -> float:
        return self.send(signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"process did not exit within {timeout} s\n--- stdout\n{self.stdout.text[-2000:]}"
                f"\n--- stderr\n{self.stderr.text[-2000:]}"
            ) from None
        for thread in self._threads:
            thread.join(timeout=5)
        if self._master is not None:
            os.close(self._master)
            self._master = None
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait(10)


def run_cli(
    args: list[str],
    env: dict[str, str],
    *,
    timeout: float = 60,
    input: str | None = None,
    module: str | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", module, *args] if module else [str(CLI), *args]
    return subprocess.run(
        command,
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input if input is not None else "",
    )


def answer_part(stdout: str, stored: str) -> str:
    """The streamed answer in ``stdout``: from where the stored answer begins to the end."""
    head = stored[:40]
    assert head, "the stored answer is empty"
    at = stdout.find(head)
    assert at >= 0, f"the stored answer {head!r} does not appear in what the CLI printed"
    return stdout[at:]
