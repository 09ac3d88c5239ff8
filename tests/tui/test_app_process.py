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
from pathlib import Path

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
    master, slave = pty.openpty()
    quiet = termios.tcgetattr(slave)
    quiet[3] &= ~termios.ECHO  # what the app draws is all the screen shows of the typing
    termios.tcsetattr(slave, termios.TCSANOW, quiet)
    before = termios.tcgetattr(slave)
    # Typed before the process even starts: the line discipline cooks all of it.
    os.write(master, b"Should I buy Applx\x7fe?\rnext one")
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--provider", "offline", "--db", str(tmp_path / "t.db")],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env()
        | {f"XDG_{d.upper()}_HOME": str(tmp_path / d) for d in ("config", "data", "cache")},
        cwd=REPO,
    )
    output = bytearray()
    reader = threading.Thread(target=drain, args=(master, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        questions: list[str] = []
        while time.monotonic() < deadline and process.poll() is None:
            questions = asked(tmp_path / "t.db")
            if questions and answered(tmp_path / "t.db"):
                break
            time.sleep(0.2)
        assert questions == ["Should I buy Apple?"]
        # What followed the Enter waits in the prompt.
        while time.monotonic() < deadline and b"next one" not in output:
            time.sleep(0.1)
        assert b"next one" in output
        os.write(master, b"\x11")  # Ctrl+Q
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0
    # The terminal is left as it was found (the driver left cooked mode before Textual did).
    assert termios.tcgetattr(slave) == before
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
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    result = tmp_path / "job.json"
    os.write(master, b"typed meanwhile")  # the shell's, not the app's: it is in the background
    app = [sys.executable, "-m", "tui.cli", "--provider", "offline", "--db", str(tmp_path / "t.db")]
    shell = subprocess.Popen(
        [sys.executable, "-c", JOB_CONTROL, str(result), *app],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env()
        | {f"XDG_{d.upper()}_HOME": str(tmp_path / d) for d in ("config", "data", "cache")},
        cwd=REPO,
        start_new_session=True,
    )
    output = bytearray()
    reader = threading.Thread(target=drain, args=(master, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and b"Ask about a company" not in output:
            time.sleep(0.1)
        assert b"Ask about a company" in output  # the prompt: up once in the foreground
        os.write(master, b"\x11")  # Ctrl+Q
        shell.wait(60)
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait(10)
    assert json.loads(result.read_text()) == {"stopped": True, "code": 0}
    assert termios.tcgetattr(slave) == before
    os.close(slave)
    reader.join(10)
    os.close(master)
