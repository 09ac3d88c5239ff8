"""The dashboard in a real browser: `investor-assistant web` serving Chromium (headless),
driven like a person would — type a question, watch the tool cards and the answer, switch
threads, open the help, copy, export — with browser-safe keys only."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..support.web_browser import (
    RUN_COMPLETED_RE,
    TOOL_CARD_RE,
    WebServer,
    click_text,
    open_page,
    screen_text,
    wait_for_screen,
    wait_for_screen_sequence,
)

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-web.png"


def test_question_answer_threads_help_copy_and_export_in_chromium(
    browser: Any, tmp_path: Path, _isolated_home: Path
) -> None:
    db = tmp_path / "threads.db"
    server = WebServer(settings=("--provider", "offline", "--data", "demo", "--db", str(db)))
    try:
        origin = server.url.rstrip("/")
        assert origin.startswith("http://127.0.0.1:")
        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        page = open_page(browser)
        page.goto(server.url)
        wait_for_screen(page, r"Investor Assistant +DEMO +offline analyst")
        server.wait_for_sessions(1)
        # The tab's app: this interpreter, the same settings and store, and told it serves a
        # browser (INVESTOR_ASSISTANT_WEB, for code that needs no terminal then).
        [pid] = server.app_pids()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
        assert [arg.decode() for arg in argv[3:]] == [
            "--provider",
            "offline",
            "--data",
            "demo",
            "--db",
            str(db),
        ]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"INVESTOR_ASSISTANT_WEB=1" in environ
        # The terminal has the keyboard at once: no click needed before typing.
        assert page.evaluate("document.activeElement.className") == "xterm-helper-textarea"

        page.keyboard.type("Should I buy Apple?")
        page.keyboard.press("Enter")
        wait_for_screen_sequence(page, TOOL_CARD_RE, RUN_COMPLETED_RE)
        text = screen_text(page)
        assert "not financial advice" in text
        assert "alt+n New" in text.splitlines()[-1]  # the footer shows the browser's keys

        # The chat's top: the question and the tool cards with their chart.
        page.keyboard.press("Control+Home")
        wait_for_screen(page, r'[▾▸] get_ticker\(company_name="Apple"\) +✓ done')
        shot = tmp_path / "web-session.png"
        page.screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        if os.environ.get("INVESTOR_ASSISTANT_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(shot, DOCS_SCREENSHOT)

        # Alt+N (Ctrl+N would open a browser window): a new, empty thread...
        page.keyboard.press("Alt+n")
        wait_for_screen(page, r"No runs yet")
        assert "Should I buy Apple?" not in screen_text(page).splitlines()[0]
        # ...and back through the command palette (Ctrl+P reaches the page).
        page.keyboard.press("Control+p")
        wait_for_screen(page, r"Search for commands")
        page.keyboard.type("Should I buy")
        wait_for_screen(page, r"Switch to thread: Should I buy Apple\?")
        page.keyboard.press("Enter")
        wait_for_screen(page, RUN_COMPLETED_RE)
        assert "Should I buy Apple?" in screen_text(page).splitlines()[0]

        # F1 help with the browser's keys (Alt+K, as F-keys may belong to the system).
        page.keyboard.press("Alt+k")
        wait_for_screen(page, r"Keys in this browser tab")
        help_text = screen_text(page)
        for row in (r"Alt\+N +new thread", r"Alt\+I +tool-call inspector", r"Alt\+Backspace"):
            assert re.search(row, help_text), row
        page.keyboard.press("Escape")
        wait_for_screen(page, r"Keys in this browser tab", absent=True)

        # Copy goes to the browser's clipboard: a click selects the block under the mouse.
        page.keyboard.press("Control+End")
        wait_for_screen(page, r"Signals for")
        click_text(page, "Signals for")
        page.keyboard.press("y")
        wait_for_screen(page, r"Copied the")
        assert "Signals for" in page.evaluate("navigator.clipboard.readText()")

        # Export: written on the server and downloaded by the browser.
        page.keyboard.press("Control+p")
        wait_for_screen(page, r"Search for commands")
        page.keyboard.type("Export thread as Markdown")
        wait_for_screen(page, r"Write the shown thread to a \.md file")
        with page.expect_download(timeout=60_000) as download_info:
            page.keyboard.press("Enter")
        download = download_info.value
        assert download.suggested_filename.endswith(".md")
        exported = Path(download.path()).read_text(encoding="utf-8")
        assert exported.startswith("# Should I buy Apple?")
        assert "get_ticker" in exported
        wait_for_screen(page, r"downloading")
        on_disk = list(_isolated_home.glob("data/**/exports/*.md"))
        assert [path.read_text(encoding="utf-8") for path in on_disk] == [exported]

        page.close()
        server.wait_for_sessions(0)  # the tab's app quits with it
    finally:
        assert server.stop() == 0, server.output
