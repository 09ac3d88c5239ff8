"""The app as a fresh process: nothing heavy is imported before its first frame, and what
the code logs or prints while it runs never lands on the terminal it draws on."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant_core.store import Store

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "openai",
    "pandas",
    "yfinance",
    "plotext",
    "numpy",
    "jsonschema",
    "markdown_it",
    "pygments",
    "httpx",
    "ddgs",
    "psycopg",
)

# Builds a demo session on a fresh database in the directory given as argv[1].
SESSION = """
import sys
from pathlib import Path
from assistant_core.config import load_settings
from assistant_core.session import build_session

def make_session():
    settings = load_settings({"provider": "offline", "db": str(Path(sys.argv[1]) / "t.db")}, env={})
    return build_session(settings)
"""

FIRST_FRAME = (
    SESSION
    + f"""
import json
HEAVY = set({HEAVY!r})

def heavy():
    return sorted(HEAVY & {{name.split(".")[0] for name in sys.modules}})

from tui.app import InvestorApp
seen = {{"import": heavy()}}

class Probe(InvestorApp):
    def on_mount(self):
        # Runs before InvestorApp.on_mount (Textual calls both, subclass first), so this
        # is called before the start that follows the first frame.
        self.call_after_refresh(lambda: seen.setdefault("first_frame", heavy()))

    async def _start(self):  # what follows the first frame is not measured here
        self.exit()

Probe(make_session).run(headless=True)
print(json.dumps(seen))
"""
)

LOGS_WHILE_RUNNING = (
    SESSION
    + """
import logging, threading
from tui.app import InvestorApp

class Noisy(InvestorApp):
    async def _start(self):
        await super()._start()
        logging.getLogger("assistant_core.runtime").warning("MARKER-log-main")
        worker = threading.Thread(
            target=lambda: logging.getLogger("assistant_core.market").warning("MARKER-log-thread"))
        worker.start()
        worker.join()
        print("MARKER-print", file=sys.stderr)
        self.set_timer(0.2, self.exit)

Noisy(make_session(), first_run_hint=False).run()
"""
)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["TERM"] = "xterm-256color"
    return env


def test_nothing_heavy_is_imported_before_the_first_frame(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"import": [], "first_frame": []}


def test_logging_while_the_app_runs_never_reaches_the_terminal(tmp_path: Path) -> None:
    """Logging with no handler goes to stderr (logging.lastResort), the terminal the app
    draws on; Textual redirects stderr while the app runs, from every thread."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", LOGS_WHILE_RUNNING, str(tmp_path)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env(),
        cwd=REPO,
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the pty reports EIO once the child is gone
                    break
                if not data:
                    break
                output += data
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
        process.wait(10)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text[-2000:]
    assert "Investor Assistant" in text  # it did draw on this terminal
    assert "MARKER" not in text


def test_a_question_typed_before_the_app_takes_the_terminal_is_asked(tmp_path: Path) -> None:
    """Typed (and Enter pressed) before the app leaves cooked mode, the kernel hands the
    question over as a line: Enter arrives as a line feed, which the prompt would take as a
    new line. The driver reads it as typed: the question is asked, what follows waits."""
    # Typed before the process even starts: the line discipline cooks all of it. No echo:
    # what the app draws is all the screen shows of the typing.
    typed = b"Should I buy Applx\x7fe?\rnext one"
    with on_a_pty(app_command(tmp_path), tmp_path, typed, echo=False) as (process, tty):
        deadline = time.monotonic() + 60
        questions: list[str] = []
        while time.monotonic() < deadline and process.poll() is None:
            questions = asked(tmp_path / "t.db")
            if questions and answered(tmp_path / "t.db"):
                break
            time.sleep(0.2)
        assert questions == ["Should I buy Apple?"]
        assert tty.shows(b"next one", deadline)  # what followed the Enter waits in the prompt
        tty.type(b"\x11")  # Ctrl+Q
        assert process.wait(30) == 0
        # The terminal is left as it was found (the driver left cooked mode before Textual).
        assert tty.attributes() == tty.found


def app_command(tmp_path: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tui.cli",
        "--provider",
        "offline",
        "--db",
        str(tmp_path / "t.db"),
    ]


@dataclass
class Pty:
    """The terminal side of a pty a process runs on: what it drew, and the keyboard."""

    master: int
    slave: int
    found: list[Any]  # its attributes before the process started
    output: bytearray

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def shows(self, text: bytes, deadline: float) -> bool:
        while time.monotonic() < deadline and text not in self.output:
            time.sleep(0.1)
        return text in self.output

    def attributes(self) -> list[Any]:
        return termios.tcgetattr(self.slave)


@contextmanager
def on_a_pty(
    argv: list[str], tmp_path: Path, typed: bytes = b"", *, echo: bool = True, **popen: Any
) -> Iterator[tuple[subprocess.Popen[bytes], Pty]]:
    """``argv`` running on a new pty (its own config, data and cache directories under
    ``tmp_path``), with ``typed`` already waiting in its input; killed if still running."""
    master, slave = pty.openpty()
    if not echo:
        attributes = termios.tcgetattr(slave)
        attributes[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
    tty = Pty(master, slave, termios.tcgetattr(slave), bytearray())
    tty.type(typed)
    dirs = {f"XDG_{d.upper()}_HOME": str(tmp_path / d) for d in ("config", "data", "cache")}
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=child_env() | dirs, cwd=REPO, **popen
    )
    reader = threading.Thread(target=drain, args=(master, tty.output), daemon=True)
    reader.start()
    try:
        yield process, tty
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        os.close(slave)
        reader.join(10)
        os.close(master)


def drain(master: int, into: bytearray) -> None:
    """Read what the app draws (a pty whose output is not read blocks its writer)."""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        into.extend(data)


def asked(db: Path) -> list[str]:
    if not db.exists():
        return []
    with Store(db) as store:
        threads = store.list_threads(limit=5)
        return [
            message.text
            for thread in threads
            for message in store.list_messages(thread.id)
            if message.role == "user"
        ]


def answered(db: Path) -> bool:
    with Store(db) as store:
        runs = [store.latest_run(thread.id) for thread in store.list_threads(limit=5)]
        return any(run is not None and run.status == "completed" for run in runs)


# Plays a shell's job control on the pty it is given as stdin (its controlling terminal):
# starts the app in a process group of its own in the background (`app &`), waits until the
# app is stopped for touching the terminal, brings it to the foreground (`fg`) and waits.
JOB_CONTROL = """
import fcntl, json, os, signal, subprocess, sys, termios, time
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # the shell hands the terminal over
app = subprocess.Popen(  # as a shell starts a job: default signal handling
    sys.argv[2:],
    process_group=0,
    preexec_fn=lambda: signal.signal(signal.SIGTTOU, signal.SIG_DFL),
)
deadline, stopped = time.monotonic() + 30, False
while time.monotonic() < deadline and not stopped:
    stopped = open(f"/proc/{app.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T"
    time.sleep(0.05)
os.tcsetpgrp(0, app.pid)
os.killpg(app.pid, signal.SIGCONT)
try:
    code = app.wait(60)
except subprocess.TimeoutExpired:
    app.kill()
    code = "hung"
os.tcsetpgrp(0, os.getpgrp())
with open(sys.argv[1], "w") as out:
    json.dump({"stopped": stopped, "code": code}, out)
"""


def test_an_app_started_in_the_background_runs_once_brought_to_the_foreground(
    tmp_path: Path,
) -> None:
    """`investor-assistant &` then `fg`: stopped in the background before it changes the
    terminal, then it starts, draws, quits on Ctrl+Q and leaves the terminal as it was."""
    result = tmp_path / "job.json"
    shell = [sys.executable, "-c", JOB_CONTROL, str(result), *app_command(tmp_path)]
    # Typed meanwhile: the shell's, not the app's (it is in the background).
    with on_a_pty(shell, tmp_path, b"typed meanwhile", start_new_session=True) as (job, tty):
        deadline = time.monotonic() + 60
        assert tty.shows(b"Ask about a company", deadline)  # the prompt, once in the foreground
        tty.type(b"\x11")  # Ctrl+Q
        job.wait(60)
        assert json.loads(result.read_text()) == {"stopped": True, "code": 0}
        assert tty.attributes() == tty.found
