"""The app in a browser versus in a terminal, on the same machine in one run.

Two figures, each as a user sees it:

- **first frame**: from opening the page (navigation start) until the terminal in the page
  shows the app's title, and until it shows the demo-mode title (`DEMO`, painted with the
  main screen); in the terminal, from launching the app in tmux until the same text is on
  the tmux screen (as ../shared/tools/firstframe.sh measures);
- **answer**: from pressing Enter on "Should I buy Apple?" until the run panel says
  `completed` (the offline analyst's whole demo answer: five tool calls and the report).

The browser is Debian's Chromium, headless, driven by Playwright through
`investor-assistant web` (one server per run, started before the clock); the terminal is
tmux at 120×40, the browser's viewport sized to about the same cells. Every run starts on a
fresh data directory (a first start, with the demo hint). Runs alternate after one warm-up
of each; the script prints medians (min–max), the browser/terminal ratios and the load
average.

    python bench/bench_web.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.web_browser import (
    RUN_COMPLETED_RE,
    WebServer,
    chromium_missing,
    launch,
    open_page,
    screen_text,
    wait_for_screen,
)

SETTINGS = ("--provider", "offline", "--data", "demo")
QUESTION = "Should I buy Apple?"
TITLE_RE = r"Investor Assistant"
DEMO_RE = r"Investor Assistant +DEMO"
COLUMNS, ROWS = 120, 40
VIEWPORT = {"width": 1085, "height": 848}  # about 120×40 cells at the page's 16 px font
TIMEOUT_S = 120.0
POLL_S = 0.01


def fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVESTOR_ASSISTANT_")}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        env[var] = str(home / sub)
    env["XDG_CACHE_HOME"] = str(home / "cache")
    return env


# -- the terminal (tmux) ---------------------------------------------------------------------
def run_terminal(home: Path) -> dict[str, float]:
    env = fresh_env(home)
    socket_name, session = f"bench-web-{os.getpid()}", "app"
    tmux = ["tmux", "-L", socket_name, "-f", "/dev/null"]
    command = " ".join([sys.executable, "-m", "tui.cli", *SETTINGS])

    def screen() -> str:
        return subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", session],
            capture_output=True,
            text=True,
            env=env,
        ).stdout

    def wait(pattern: str) -> float:
        deadline = time.monotonic() + TIMEOUT_S
        while not re.search(pattern, screen(), re.M):
            if time.monotonic() > deadline:
                raise RuntimeError(f"terminal: {pattern!r} never showed:\n{screen()}")
            time.sleep(POLL_S)
        return time.monotonic()

    start = time.monotonic()
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(ROWS), command],
        check=True,
        env=env,
        cwd=ROOT,
    )
    try:
        title = wait(TITLE_RE)
        demo = wait(DEMO_RE)
        subprocess.run([*tmux, "send-keys", "-t", session, "-l", QUESTION], check=True, env=env)
        time.sleep(0.2)  # let the prompt take the text, as a person's typing would
        enter = time.monotonic()
        subprocess.run([*tmux, "send-keys", "-t", session, "Enter"], check=True, env=env)
        done = wait(RUN_COMPLETED_RE)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)
    return {
        "first frame": (title - start) * 1000,
        "demo title": (demo - start) * 1000,
        "answer": (done - enter) * 1000,
    }


# -- the browser -----------------------------------------------------------------------------
def run_browser(context: Any, home: Path) -> dict[str, float]:
    server = WebServer(settings=SETTINGS, env=fresh_env(home))
    try:
        page = open_page(context)
        page.goto(server.url, wait_until="commit")
        # Both clocks are the page's: milliseconds since the navigation started.
        title = wait_for_screen(page, TITLE_RE, TIMEOUT_S)
        demo = wait_for_screen(page, DEMO_RE, TIMEOUT_S)
        page.keyboard.type(QUESTION)
        time.sleep(0.2)
        enter = page.evaluate("performance.now()")
        page.keyboard.press("Enter")
        done = wait_for_screen(page, RUN_COMPLETED_RE, TIMEOUT_S)
        size = page.evaluate("[window.__terminal.cols, window.__terminal.rows]")
        assert "not financial advice" in screen_text(page)
        page.close()
        server.wait_for_sessions(0)
    finally:
        server.stop()
    return {
        "first frame": title,
        "demo title": demo,
        "answer": done - enter,
        "cells": size[0] * 1000 + size[1],
    }


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.0f} ms ({min(values):.0f}–{max(values):.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    missing = chromium_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    results: dict[str, list[dict[str, float]]] = {"browser": [], "terminal": []}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        context = launch(playwright, Path(tmp) / "profile", viewport=VIEWPORT)
        runners: dict[str, Callable[[Path], dict[str, float]]] = {
            "browser": lambda home: run_browser(context, home),
            "terminal": run_terminal,
        }
        for index in range(args.runs + 1):  # the first of each is a warm-up
            for name, runner in runners.items():
                home = Path(tmp) / f"{name}-{index}"
                result = runner(home)
                if index:
                    results[name].append(result)
                print(
                    f"{'warm-up' if not index else f'run {index}'} {name:8}: "
                    + ", ".join(f"{k} {v:.0f} ms" for k, v in result.items() if k != "cells"),
                    flush=True,
                )
        context.close()
    load_after = os.getloadavg()

    cells = results["browser"][0]["cells"]
    print(
        f"\nbrowser: headless Chromium, {int(cells // 1000)}×{int(cells % 1000)} cells; "
        f"terminal: tmux {COLUMNS}×{ROWS}; medians of {args.runs} (min–max)"
    )
    for metric in ("first frame", "demo title", "answer"):
        browser = [r[metric] for r in results["browser"]]
        terminal = [r[metric] for r in results["terminal"]]
        ratio = statistics.median(browser) / statistics.median(terminal)
        print(
            f"{metric:12}  browser {summary(browser)}   terminal {summary(terminal)}   "
            f"browser/terminal {ratio:.2f}×"
        )
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
