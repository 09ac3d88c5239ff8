"""The app in a browser tab, headless: Textual's web driver says ``is_web``; then keys the
browser keeps have alternatives (also in the footer and F1 help) and exports are delivered
to the browser as downloads as well as written to disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import events

from assistant_core.session import Session
from tui.app import InvestorApp
from tui.browser import BROWSER_NOTE
from tui.screens.help import HelpScreen
from tui.screens.inspector import InspectorScreen

from ..tui.app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask_and_wait,
    make_demo_session,
    screen_text,
    wait_for,
    wait_ready,
)


class BrowserTabApp(InvestorApp):
    """The app as textual-serve runs it (the web driver), with deliveries recorded."""

    @property
    def is_web(self) -> bool:
        return True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deliveries: list[tuple[Path, dict[str, Any]]] = []

    def deliver_text(self, path_or_file: Any, **kwargs: Any) -> str:  # type: ignore[override]
        self.deliveries.append((Path(path_or_file), kwargs))
        return "delivery-key"


async def press_alt(pilot: Any, letter: str) -> None:
    """Alt+letter as xterm.js sends it and Textual's parser reads it: the key with its
    character (``Pilot.press`` leaves the character out, which hides what the prompt would
    do with it)."""
    pilot.app.post_message(events.Key(f"alt+{letter}", letter))
    await pilot.pause()


async def test_browser_keys_replace_the_ones_a_browser_keeps(
    make_demo_session: Callable[..., Session],
) -> None:
    app = BrowserTabApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")
        footer = screen_text(app).splitlines()[-1]
        assert "alt+n New" in footer and "alt+i Inspector" in footer and "alt+k Help" in footer

        # Typed while the prompt has the focus: the key acts, no letter lands in the prompt.
        app.main.prompt.focus()
        await press_alt(pilot, "i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main)
        app.main.prompt.focus()
        await press_alt(pilot, "n")
        await wait_for(pilot, lambda: app.main.thread_id != thread_id)
        assert app.main.prompt.text == ""

        await press_alt(pilot, "k")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.main.prompt.text == ""
        text = screen_text(app)
        assert "Keys in this browser tab" in text
        for label in ("Alt+N", "Alt+I", "Alt+R", "Alt+X", "Alt+K / F1", "Alt+L / Ctrl+L"):
            assert label in text, label
        assert "Ctrl+T / F3" not in text  # the terminal's labels are replaced, not added
        assert app.screen.query_one("#browser-note").visual is not None
        await press_alt(pilot, "k")
        await wait_for(pilot, lambda: app.screen is app.main)
        for letter in "rxl":  # rename, delete, prompt: acted on, never typed
            app.main.prompt.focus()
            await press_alt(pilot, letter)
            if app.screen is not app.main:
                await pilot.press("escape")
                await wait_for(pilot, lambda: app.screen is app.main)
            assert app.main.prompt.text == "", letter


async def test_terminal_help_has_no_browser_section(
    make_demo_session: Callable[..., Session],
) -> None:
    app = InvestorApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "Ctrl+T / F3" in text and "Alt+I" not in text
        assert BROWSER_NOTE[:40] not in text


async def test_exports_download_in_the_browser_and_stay_on_disk(
    make_demo_session: Callable[..., Session],
) -> None:
    app = BrowserTabApp(make_demo_session(), first_run_hint=False)
    notes: list[str] = []
    async with app.run_test(size=(140, 45)) as pilot:
        await ask_and_wait(pilot, "Should I buy Apple?")
        original_notify = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            notes.append(message)
            original_notify(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        app.export_thread("md")
        await pilot.pause()
        [(path, options)] = app.deliveries
        assert path.exists() and path.read_text().startswith("# Should I buy Apple?")
        assert options["encoding"] == "utf-8"
        assert any(str(path) in note and "downloading" in note for note in notes), notes

        await press_alt(pilot, "i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        await pilot.press("x")
        await wait_for(pilot, lambda: len(app.deliveries) == 2)
        jsonl = app.deliveries[1][0]
        assert jsonl.suffix == ".jsonl" and jsonl.read_text().count("\n") >= 4


def test_browser_tables_name_existing_keys_and_bindings() -> None:
    """The browser's keymap and labels follow the app's bindings and help table: a renamed
    binding id or help label would otherwise silently drop its browser key."""
    from tui.browser import BROWSER_KEY_LABELS, BROWSER_KEYMAP
    from tui.screens.help import KEYS
    from tui.screens.main import MainScreen

    labels = {key for key, _ in KEYS}
    assert set(BROWSER_KEY_LABELS) <= labels
    ids = {binding.id for binding in MainScreen.BINDINGS if hasattr(binding, "id")}
    assert set(BROWSER_KEYMAP) <= ids
    for binding_id, keys in BROWSER_KEYMAP.items():
        assert keys.split(",")[0].startswith(("alt+", "ctrl+b", "ctrl+r")), binding_id
