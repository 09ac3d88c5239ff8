"""A real `investor-assistant web` server and Debian's Chromium driven headless by
Playwright, for the browser tests and bench/bench_web.py.

Reading the screen: textual-serve's page draws the terminal with xterm.js's WebGL/canvas
renderers, so there are no DOM rows, and the accessibility buffer exists only in
screen-reader mode. An init script catches the ``Terminal`` textual.js creates (the first
object that gets a ``terminal`` property) and the tests read its buffer through xterm.js's
public API — the text xterm.js draws, cell for cell.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
URL_RE = re.compile(r"https?://\S+")

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    window.__terminal = value;
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
  },
});
"""

# The visible screen as text, one line per row.
SCREEN_JS = """(() => {
  const terminal = window.__terminal;
  if (!terminal) return "";
  const buffer = terminal.buffer.active;
  const rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()"""

# The run panel's status line of a finished run: "completed  3s" (steps say "completed ·").
RUN_COMPLETED_RE = r"completed {2}\d"
# A tool card's header in the chat: "▾ get_ticker(company_name="Apple")  ✓ done · 80 ms".
TOOL_CARD_RE = r"[▾▸] get_\w+\("
# In-page polling; a timer rather than animation frames, which stop in a background tab.
POLL_MS = 10


def chromium_missing() -> str | None:
    if CHROMIUM.exists():
        return None
    return f"Chromium is not at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"


def launch(playwright: Any, user_data_dir: Path, **options: Any) -> Any:
    """A fresh headless Chromium profile (Playwright never downloads a browser here)."""
    options.setdefault("viewport", {"width": 1400, "height": 900})
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        headless=True,
        **options,
    )


def open_page(context: Any) -> Any:
    page = context.new_page()
    page.add_init_script(CATCH_TERMINAL)
    return page


def screen_text(page: Any) -> str:
    text: str = page.evaluate(SCREEN_JS)
    return text


def wait_for_screen(
    page: Any, pattern: str, timeout_s: float = 60.0, *, absent: bool = False
) -> float:
    """Wait (polling in the page every POLL_MS) until the screen matches the regular
    expression ``pattern`` (``absent``: until it no longer does); returns the page's clock
    (ms since navigation) then."""
    test = f"new RegExp({json.dumps(pattern)}, 'm').test({SCREEN_JS})"
    predicate = f"(() => ({'!' if absent else ''}{test}) ? performance.now() : false)()"
    return _wait(page, predicate, timeout_s, f"{'no ' if absent else ''}{pattern!r} on screen")


def _wait(page: Any, predicate: str, timeout_s: float, what: str) -> float:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        handle = page.wait_for_function(predicate, polling=POLL_MS, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        raise AssertionError(
            f"after {timeout_s} s still waiting for {what}; the screen:\n{screen_text(page)}"
        ) from None
    value: float = handle.json_value()
    return value


def wait_for_screen_sequence(page: Any, first: str, then: str, timeout_s: float = 90.0) -> float:
    """Wait until ``first`` has been on screen at some poll and ``then`` is on screen now
    (``first`` may scroll away meanwhile, e.g. a tool card above a long answer)."""
    predicate = f"""(() => {{
      const text = {SCREEN_JS};
      window.__seenFirst = window.__seenFirst || new RegExp({json.dumps(first)}, 'm').test(text);
      return window.__seenFirst && new RegExp({json.dumps(then)}, 'm').test(text)
        ? performance.now() : false;
    }})()"""
    page.evaluate("window.__seenFirst = false")
    return _wait(page, predicate, timeout_s, f"{first!r} then {then!r} on screen")


def focus_terminal(page: Any) -> None:
    page.focus("textarea.xterm-helper-textarea")


def click_text(page: Any, text: str, offset: int = 1) -> None:
    """Click the cell ``offset`` characters into the first place ``text`` is on screen."""
    rows = screen_text(page).splitlines()
    row = next((i for i, line in enumerate(rows) if text in line), None)
    assert row is not None, f"{text!r} is not on the screen:\n" + "\n".join(rows)
    column = rows[row].index(text) + offset
    box = page.locator(".xterm-screen").bounding_box()
    columns, lines = page.evaluate("[window.__terminal.cols, window.__terminal.rows]")
    page.mouse.click(
        box["x"] + (column + 0.5) * box["width"] / columns,
        box["y"] + (row + 0.5) * box["height"] / lines,
    )


class WebServer:
    """``investor-assistant [settings] web [options]`` as a subprocess, its URL read from
    its output. ``stop()`` sends SIGINT as Ctrl+C would."""

    def __init__(
        self,
        settings: Sequence[str] = ("--provider", "offline", "--data", "demo"),
        options: Sequence[str] = ("--port", "0"),
        env: dict[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.argv = [sys.executable, "-m", "tui.cli", *settings, "web", *options]
        self.process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env if env is not None else dict(os.environ),
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout_lines)),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr_lines)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()
        deadline = time.monotonic() + start_timeout_s
        while not self.urls:
            if self.process.poll() is not None:
                raise RuntimeError(f"web server exited: {self.output}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"web server printed no URL in {start_timeout_s} s")
            time.sleep(0.05)

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def urls(self) -> list[str]:
        return [m.group(0) for line in self.stdout_lines for m in URL_RE.finditer(line)]

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def output(self) -> str:
        return "\n".join(self.stdout_lines + self.stderr_lines)

    def app_pids(self) -> list[int]:
        """The server's child processes (one app per open tab)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                children += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        return children

    def wait_for_sessions(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.app_pids()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} app processes, have {self.app_pids()}: {self.output}"
                )
            time.sleep(0.05)

    def stop(self, timeout_s: float = 30.0) -> int:
        """Ctrl+C; returns the exit code. Asserts no app process is left behind."""
        apps = self.app_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"web server did not stop on SIGINT: {self.output}") from None
        for reader in self._readers:
            reader.join(5)
        left = [pid for pid in apps if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        assert not left, f"app processes left running after the server stopped: {left}"
        return code


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True
