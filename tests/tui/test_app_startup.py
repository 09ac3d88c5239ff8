"""What a user waits for when the app starts: the command line opens it without building
the parsers of every command or the session first, the first frame's title already says
who answers (DEMO), and keys typed before the main screen is up reach the prompt."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path

from textual import events

from assistant_core.config import load_settings
from assistant_core.session import Session
from tui.app import InvestorApp
from tui.screens.start import StartScreen

from .app_helpers import _fixed_demo_day, demo_session, screen_text, wait_for, wait_ready  # noqa: F401
from .test_app_process import REPO, child_env

# The console script's path, up to the app: what had been imported when run_app was called.
OPEN_APP = """
import json, sys
import tui.app

def probe(session, settings=None):
    seen = {
        "modules": sorted(m for m in sys.modules if m.startswith(("tui.cli.", "assistant_core."))),
        "demo": settings is not None and settings.is_demo,
        "session_built": not callable(session) or hasattr(session, "runtime"),
    }
    print(json.dumps(seen))
    return 0

tui.app.run_app = probe
from tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def open_app_probe(tmp_path: Path, *args: str) -> dict[str, object]:
    env = child_env()
    env.update(
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        # Output is a pipe here: name a driver, as the benchmarks and textual-serve do.
        TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver",
    )
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "INVESTOR_ASSISTANT_PROVIDER"):
        env.pop(var, None)
    result = subprocess.run(
        [sys.executable, "-c", OPEN_APP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_opening_the_app_builds_no_command_parser_and_no_session(tmp_path: Path) -> None:
    seen = open_app_probe(tmp_path, "--approval", "ask")
    modules = set(seen["modules"])  # type: ignore[call-overload]
    # The subcommands' modules (behind the whole parser), and the session's parts: the
    # session is built by the app after its first frame.
    for module in (
        "tui.cli.keys",
        "tui.cli.serve",
        "tui.cli.web",
        "tui.cli.common",
        "assistant_core.session",
        "assistant_core.runtime",
        "assistant_core.store",
    ):
        assert module not in modules, module
    assert seen["session_built"] is False
    assert seen["demo"] is True  # the first frame can say DEMO


def test_a_bad_flag_value_for_the_app_is_still_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--provider", "nonsense"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        cwd=REPO,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "invalid choice: 'nonsense'" in result.stderr


def blocked_factory(db: Path) -> tuple[threading.Event, object]:
    """A session factory that waits for the test: the app stays on its first frame."""
    go = threading.Event()

    def build() -> Session:
        go.wait(30)
        return demo_session(db)

    return go, build


async def test_the_first_frame_title_says_demo_before_the_session_exists(tmp_path: Path) -> None:
    go, build = blocked_factory(tmp_path / "threads.db")
    settings = load_settings({"provider": "offline", "db": str(tmp_path / "threads.db")}, env={})
    app = InvestorApp(build, first_run_hint=False, settings=settings)
    async with app.run_test(size=(100, 30)) as pilot:
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
            await pilot.pause()
            title = screen_text(app).splitlines()[0]
            assert "Investor Assistant" in title
            assert "DEMO" in title and "offline analyst" in title
        finally:
            go.set()
        await wait_ready(pilot)


async def test_keys_typed_while_the_app_starts_reach_the_prompt(tmp_path: Path) -> None:
    go, build = blocked_factory(tmp_path / "threads.db")
    app = InvestorApp(build, first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
            await pilot.press("A", "p", "p", "l", "x", "backspace", "e", "question_mark")
        finally:
            go.set()
        await wait_ready(pilot)
        await pilot.pause()
        assert app.main.prompt.text == "Apple?"
        assert app.focused is app.main.prompt


async def test_keys_typed_while_the_main_screen_mounts_reach_the_prompt_in_order(
    tmp_path: Path,
) -> None:
    # Keys keep coming while the first frame gives way to the main screen: none may land in
    # another widget (Textual focuses the first focusable one, the thread filter, on mount).
    go, build = blocked_factory(tmp_path / "threads.db")
    app = InvestorApp(build, first_run_hint=False)
    typed = ""
    async with app.run_test(size=(100, 30)) as pilot:
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
        finally:
            go.set()
        letters = itertools.cycle("abcdefghijklmnopqrstuvwxyz ")
        while not (app._main is not None and app.main.prompt_ready) or len(typed) < 40:
            letter = next(letters)
            key = "space" if letter == " " else letter
            app.post_message(events.Key(key, letter))
            typed += letter
            await asyncio.sleep(0.002)
        await wait_ready(pilot)
        await pilot.pause()
        assert app.main.prompt.text == typed
        assert app.main.query_one("#thread-filter").value == ""


async def test_a_question_sent_while_the_app_starts_is_asked_once_it_is_up(
    tmp_path: Path,
) -> None:
    go, build = blocked_factory(tmp_path / "threads.db")
    app = InvestorApp(build, first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        try:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
            await pilot.press(*"hi", "enter", *"and", "enter", *"xthen")
            app.post_message(events.Paste(" the chart"))
            await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        finally:
            go.set()
        await wait_ready(pilot)
        await wait_for(pilot, lambda: app.main.thread_id is not None)
        await wait_for(pilot, lambda: not app.main.running_threads)
        messages = app.session.store.list_messages(app.main.thread_id)
        assert [m.role for m in messages][:1] == ["user"]
        assert messages[0].text == "hi"
        # What was typed after Enter waits in the prompt for the next question (a second
        # Enter is a new line in it: it is not sent while the first question is answered).
        assert app.main.prompt.text == "and\nxthen the "


async def test_quitting_on_the_first_frame_is_clean(tmp_path: Path) -> None:
    """The first frame says DEMO: a user may quit from it, before the session exists."""
    go, build = blocked_factory(tmp_path / "threads.db")
    app = InvestorApp(build, first_run_hint=False)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, StartScreen))
            await pilot.press("ctrl+p")  # the palette has nothing to act on yet
            await pilot.pause()
            await pilot.press("escape")
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: not app.is_running)
    finally:
        go.set()
    assert app.return_code in (0, None) and app.start_error is None
