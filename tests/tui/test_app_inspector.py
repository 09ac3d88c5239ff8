"""The tool-call inspector and the command palette's commands."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from assistant_core import paths
from assistant_core.session import Session
from tui.app import InvestorApp
from tui.screens.inspector import InspectorScreen

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask_and_wait,
    make_demo_session,
    screen_text,
    wait_for,
    wait_ready,
)


async def test_inspector_lists_filters_selects_copies_and_exports(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")
        records = session.store.list_tool_calls(thread_id=thread_id)

        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectorScreen))
        inspector = app.screen
        assert isinstance(inspector, InspectorScreen)
        table = inspector.query_one("#calls")
        assert table.row_count == len(records)

        # Selecting a row shows that call's arguments and output.
        target = next(r for r in records if r.call.function.name == "get_balance_sheet")
        row = [r.call.id for r in inspector.shown].index(target.call.id)
        table.move_cursor(row=row)
        await pilot.press("enter")
        await pilot.pause()
        assert inspector.selected is not None and inspector.selected.call.id == target.call.id
        text = screen_text(app)
        assert "get_balance_sheet" in text and '"ticker": "AAPL"' in text and "Output" in text

        # Filter by tool, then by status.
        inspector.query_one("#tool-filter").value = "get_ticker"
        await pilot.pause()
        assert table.row_count == 1
        assert inspector.shown[0].call.function.name == "get_ticker"
        inspector.query_one("#tool-filter").clear()
        await pilot.pause()
        assert table.row_count == len(records)
        statuses = [value for _, value in inspector.query_one("#status-filter")._options[1:]]
        assert statuses == ["completed"]  # only the statuses present are offered
        inspector.query_one("#status-filter").value = "completed"
        await pilot.pause()
        assert table.row_count == len(records)

        # Copy the selected call as JSON.
        table.focus()
        table.move_cursor(row=0)
        await pilot.pause()
        await pilot.press("c")
        copied = json.loads(app.clipboard)
        assert copied["call"]["id"] == inspector.shown[0].call.id
        assert copied["thread_id"] == thread_id

        # Export the list as JSON Lines under the data dir.
        await pilot.press("x")
        exports = list((paths.data_dir() / "exports").glob("tool-calls-*.jsonl"))
        assert len(exports) == 1
        assert exports[0].stat().st_mode & 0o777 == 0o600
        lines = exports[0].read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(records)
        assert {json.loads(line)["call"]["function"]["name"] for line in lines} == {
            r.call.function.name for r in records
        }

        await pilot.press("escape")
        assert app.screen is app.main


async def run_palette_command(pilot, query: str) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Input

    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "CommandPalette")
    # The whole query at once (typing it key by key searches after every key).
    pilot.app.screen.query_one(Input).value = query
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause(0.2)


async def test_palette_toggles_approval_mode_and_saves_it(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert session.runtime.approval == "auto"
        await run_palette_command(pilot, "toggle approval")
        assert session.runtime.approval == "ask"
        saved = tomllib.loads(Path(session.settings.config_path).read_text(encoding="utf-8"))
        assert saved["approval"] == "ask"
        assert "approval: ask" in screen_text(app).splitlines()[0]
        # The API key is never among what is saved.
        assert "api_key" not in saved


async def test_palette_exports_thread_and_switches_threads(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    tesla = session.store.create_thread("Tesla debt")
    session.store.add_message(tesla.id, "user", "How is Tesla's balance sheet?")
    session.store.add_message(tesla.id, "assistant", "Tesla's **balance sheet** is solid.")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert app.main.thread_id == tesla.id
        await run_palette_command(pilot, "export thread as markdown")
        await run_palette_command(pilot, "export thread as json")
        exports = paths.data_dir() / "exports"
        markdown = list(exports.glob("*.md"))
        documents = list(exports.glob("*.json"))
        assert len(markdown) == 1 and len(documents) == 1
        # Threads are private research: exports are readable by the user only.
        assert {path.stat().st_mode & 0o777 for path in (*markdown, *documents)} == {0o600}
        assert "Tesla's **balance sheet** is solid." in markdown[0].read_text(encoding="utf-8")
        document = json.loads(documents[0].read_text(encoding="utf-8"))
        assert document["thread"]["id"] == tesla.id
        assert [m["role"] for m in document["messages"]] == ["user", "assistant"]

        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.main.thread_id != tesla.id
        await run_palette_command(pilot, "switch to thread tesla")
        assert app.main.thread_id == tesla.id


async def test_palette_has_one_theme_command_and_opens_inspector(
    make_demo_session: Callable[..., Session],
) -> None:
    from textual.command import CommandList

    session = make_demo_session()
    thread = session.store.create_thread("Notes")
    session.store.add_message(thread.id, "user", "hello")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "CommandPalette")
        await pilot.pause(0.3)
        commands = app.screen.query_one(CommandList)
        names = [
            str(commands.get_option_at_index(i).prompt).splitlines()[0]
            for i in range(commands.option_count)
        ]
        assert [name for name in names if "theme" in name.lower()] == ["Theme"]
        await pilot.press("escape")
        await pilot.pause()
        # Textual's Theme command lists every theme; our widgets follow the one chosen.
        await run_palette_command(pilot, "theme")
        await run_palette_command(pilot, "textual-light")
        assert app.theme == "textual-light" and not app.current_theme.dark
        await run_palette_command(pilot, "open tool-call inspector")
        assert isinstance(app.screen, InspectorScreen)
        assert "No tool calls in this thread yet." in screen_text(app)


async def test_switch_model_form_refuses_openai_without_key_and_switches_to_compatible(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await run_palette_command(pilot, "switch model")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ModelScreen")
        app.screen.query_one("#provider").value = "openai"
        await pilot.click("#save")
        # No key in the environment: the form comes back with the fix, nothing is saved.
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ModelScreen")
        await pilot.pause()
        assert "OPENAI_API_KEY" in screen_text(app)
        assert not Path(session.settings.config_path).exists()

        form = app.screen
        form.query_one("#provider").value = "compatible"
        form.query_one("#base-url").value = "http://127.0.0.1:9/v1"
        form.query_one("#model").value = "llama3.1"
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.screen is app.main)
        await pilot.pause()
        saved = tomllib.loads(Path(session.settings.config_path).read_text(encoding="utf-8"))
        assert saved == {
            "provider": "compatible",
            "base_url": "http://127.0.0.1:9/v1",
            "providers": {"compatible": {"model": "llama3.1"}},  # the model is the server's
        }
        # Applied now: the runtime talks to the new backend, with real (not demo) data.
        assert session.runtime.model == "llama3.1"
        assert session.runtime.backend.name == "chat-completions"
        assert not session.is_demo
        assert "DEMO" not in screen_text(app).splitlines()[0]


async def test_model_dialog_fills_in_each_providers_model_and_switches_through_the_session(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    config = Path(session.settings.config_path)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[providers.compatible]\nmodel = "qwen3:8b"  # my local one\n')
    session.settings.provider_models = {"compatible": "qwen3:8b"}
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await run_palette_command(pilot, "switch model")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ModelScreen")
        form = app.screen
        assert form.query_one("#model").value == ""  # the offline analyst has none
        form.query_one("#provider").value = "compatible"
        await wait_for(pilot, lambda: form.query_one("#model").value == "qwen3:8b")
        form.query_one("#base-url").value = "http://127.0.0.1:9/v1"
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.screen is app.main)
        await pilot.pause()
        assert session.runtime.model == "qwen3:8b"
        assert "compatible · qwen3:8b" in screen_text(app).splitlines()[0]
        text = config.read_text()
        assert "# my local one" in text and 'provider = "compatible"' in text
        # Back to the demo: the base URL goes from the file (no "remove that line" chore).
        await run_palette_command(pilot, "switch model")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ModelScreen")
        app.screen.query_one("#provider").value = "offline"
        await pilot.click("#save")
        await wait_for(pilot, lambda: app.screen is app.main)
        await pilot.pause()
        assert session.is_demo and "base_url" not in tomllib.loads(config.read_text())
        notes = [n.message for n in app._notifications]
        assert notes[-1] == "Now answering: offline analyst (DEMO)."
        assert not any("remove that line" in note for note in notes)
