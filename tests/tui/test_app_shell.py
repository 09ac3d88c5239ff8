"""The frame around the chat (issue 12): the key bar at every width, the thread list's rows,
filter and origin marks, the starter questions on empty threads, the market-data switch,
the model dialog's labels and the server's model list, and the run panel's details."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual import events

from assistant_core.session import Session
from tests.support.openai_replay import ReplayServer, json_response
from tui.app import InvestorApp
from tui.panels.fmt import args_summary, call_lines, fit_cells
from tui.panels.key_footer import KeyFooter
from tui.panels.starters import STARTERS, StarterPanel
from tui.panels.thread_list import ThreadList, ThreadOptions
from tui.screens.help import HelpScreen

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask,
    ask_and_wait,
    make_demo_session,
    screen_text,
    wait_for,
    wait_ready,
    wait_run_over,
)
from .chat_helpers import ThreadBuilder, make_call
from .test_app_inspector import run_palette_command


def footer_text(app: InvestorApp) -> str:
    return screen_text(app).splitlines()[-1]


def thread_rows(app: InvestorApp) -> list[list[str]]:
    options = app.main.query_one(ThreadList).options
    return [
        str(options.get_option_at_index(i).prompt).split("\n") for i in range(options.option_count)
    ]


# -- the key bar -------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [50, 60, 80, 100, 140])
async def test_help_and_quit_stay_in_the_key_bar_at_every_width(
    make_demo_session: Callable[..., Session], width: int
) -> None:
    app = InvestorApp(make_demo_session(approval="ask", pace=0.05), first_run_hint=False)
    async with app.run_test(size=(width, 24)) as pilot:
        await wait_ready(pilot)
        footer = footer_text(app)
        assert "f1 Help" in footer and "^q Quit" in footer
        assert cell_len(footer.rstrip()) <= width
        if width >= 100:
            assert "^n New" in footer and "^p palette" in footer
        # What the moment calls for is kept too: approve / deny while a call waits.
        await ask(pilot, "Should I buy Apple?")
        await wait_for(pilot, lambda: "Approve" in footer_text(app))
        footer = footer_text(app)
        assert "^o Approve" in footer and "^g Deny" in footer and "f1 Help" in footer
        assert "Cancel run" in footer
        await pilot.press("escape")
        await wait_run_over(pilot, app.main.thread_id)


async def test_clicking_a_key_in_the_key_bar_presses_it(
    make_demo_session: Callable[..., Session],
) -> None:
    app = InvestorApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        footer = app.main.query_one(KeyFooter)
        x = footer_text(app).index("Help")
        await pilot.click(KeyFooter, offset=(x, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert footer.region.y == 23


# -- the thread list ---------------------------------------------------------------------------
async def test_thread_rows_are_one_line_titles_with_tickers_origin_and_time(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    store = session.store
    # Four threads of the same title, told apart by what their tool calls looked at.
    for tickers in (["MSFT"], ["MSFT", "AAPL"], ["GOOGL", "AMZN", "META", "NVDA"], []):
        thread = ThreadBuilder(store, "Tell me about Microsoft and its cloud business")
        calls = [make_call(arguments={"ticker": t}) for t in tickers[:1]]
        if len(tickers) > 1:
            calls.append(make_call("compare_stocks", {"tickers": tickers, "period": "6mo"}))
        thread.turn("Tell me about Microsoft", "…", calls)
    api = store.create_thread("삼성전자 실적과 주가 흐름을 자세히 알려줘", origin="api")
    store.add_message(api.id, "user", "삼성전자 실적")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        width = app.main.query_one(ThreadList).row_width()
        await wait_for(pilot, lambda: any("MSFT" in row[1] for row in thread_rows(app)))
        rows = thread_rows(app)
        # Two lines each, never wider than the list: titles cut with an ellipsis, in cells.
        assert all(len(row) == 2 for row in rows)
        assert all(cell_len(line) <= width for row in rows for line in row)
        korean, *microsoft = rows
        assert korean[0].endswith("…") and "삼성전자" in korean[0]
        assert korean[1].startswith("  api · ")
        # As many tickers as fit beside the time, then how many more.
        assert [row[1].strip() for row in microsoft] == [
            "now",
            "GOOGL, AMZN +2 · now",
            "MSFT, AAPL · now",
            "MSFT · now",
        ]
        assert all(row[0].startswith("  Tell me about Micro") for row in microsoft)


async def test_a_filter_that_matches_nothing_says_so_and_escape_clears_it(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    for title in ("Apple research", "Tesla debt"):
        session.store.add_message(session.store.create_thread(title).id, "user", title)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+f")
        await pilot.press(*"zzz")
        await wait_for(pilot, lambda: not app.main.thread_list.threads)
        await pilot.pause()
        note = app.main.query_one("#threads-empty")
        assert note.display and str(note.render()) == (
            "No threads match “zzz”.\nEscape clears the filter."
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(app.main.thread_list.threads) == 2)
        assert app.main.query_one("#thread-filter").value == ""
        assert not note.display
        # A second Escape with nothing to clear leaves the list alone (no run to cancel).
        await pilot.press("escape")
        assert len(app.main.thread_list.threads) == 2


async def test_slash_in_the_thread_list_moves_to_the_filter(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    session.store.add_message(session.store.create_thread("Apple").id, "user", "Apple")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        app.main.query_one(ThreadOptions).focus()
        await pilot.press("slash")
        await pilot.pause()
        assert app.focused is app.main.query_one("#thread-filter")


# -- starter questions ---------------------------------------------------------------------------
async def test_starter_questions_on_every_empty_thread_chosen_and_hidden_by_key(
    make_demo_session: Callable[..., Session],
) -> None:
    app = InvestorApp(make_demo_session())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        starters = app.main.query_one(StarterPanel)
        assert starters.display
        text = screen_text(app)
        assert STARTERS[0] in text and "DEMO" in text and "OPENAI_API_KEY" in text
        # ↓ from the empty prompt into the list, ↓ again, Enter: asked.
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: app.main.thread_id is not None)
        thread_id = app.main.thread_id
        await wait_run_over(pilot, thread_id)
        first = app.session.store.list_messages(thread_id)[0]
        assert first.text == STARTERS[1]
        assert not starters.display and app.focused is app.main.prompt
        # A new thread shows them again; Escape from the empty prompt hides them there.
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: starters.display)
        await pilot.press("escape")
        assert not starters.display
        hidden = app.main.thread_id
        await app.switch_thread(thread_id)
        await app.switch_thread(hidden)  # still empty, and hidden there
        await pilot.pause()
        assert not starters.display


async def test_down_and_enter_typed_together_ask_the_first_starter(
    make_demo_session: Callable[..., Session],
) -> None:
    # Both keys queued before either is handled, as a terminal delivers them in one read.
    app = InvestorApp(make_demo_session())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        app.post_message(events.Key("down", None))
        app.post_message(events.Key("enter", "\r"))
        await wait_for(pilot, lambda: app.main.thread_id is not None)
        await wait_run_over(pilot, app.main.thread_id)
        first = app.session.store.list_messages(app.main.thread_id)[0]
        assert first.text == STARTERS[0]


async def test_keys_typed_right_after_ctrl_f_go_into_the_filter(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    session.store.add_message(session.store.create_thread("Apple").id, "user", "Apple")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        for key, character in (("ctrl+f", None), ("z", "z"), ("q", "q")):
            app.post_message(events.Key(key, character))  # queued together, as typed
        await wait_for(pilot, lambda: app.main.query_one("#thread-filter").value == "zq")
        assert app.main.prompt.text == ""


async def test_no_demo_note_with_a_real_model(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    session.settings.provider = "compatible"
    session.settings.data = "yahoo"
    app = InvestorApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        text = screen_text(app)
        assert STARTERS[0] in text and "OPENAI_API_KEY" not in text


# -- market data -------------------------------------------------------------------------------
async def test_the_palette_switches_to_demo_market_data_and_back(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    session.settings.data = "yahoo"
    session.settings.sources["data"] = "flag"
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_ready(pilot)
        await run_palette_command(pilot, "use demo market data")
        await wait_for(pilot, lambda: session.settings.data == "demo")
        assert session.market.name == "demo" if hasattr(session.market, "name") else True
        assert "DEMO" in screen_text(app).splitlines()[0]
        saved = tomllib.loads(Path(session.settings.config_path).read_text(encoding="utf-8"))
        assert saved["data"] == "demo"
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")
        sources = {r.call.source for r in session.store.list_tool_calls(thread_id=thread_id)}
        assert sources <= {"demo", "builtin"}
        await run_palette_command(pilot, "use yahoo finance market data")
        await wait_for(pilot, lambda: session.settings.data == "yahoo")


def test_yahoo_unreachable_says_how_to_use_demo_data() -> None:
    from assistant_core.market.yahoo import _translate

    message = str(_translate(ConnectionError("down"), "prices", "AAPL"))
    assert "--data demo" in message and "Ctrl+P" in message


# -- the model dialog --------------------------------------------------------------------------
async def model_dialog_on(pilot: Any, base_url: str) -> Any:
    """The model dialog, open, on an OpenAI-compatible server at ``base_url``."""
    app = pilot.app
    await wait_ready(pilot)
    await run_palette_command(pilot, "switch model")
    await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ModelScreen")
    form = app.screen
    form.query_one("#provider").value = "compatible"
    form.query_one("#base-url").value = base_url
    return form


def models_list(*names: str) -> dict[str, object]:
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "me"} for n in names],
    }


async def test_model_dialog_labels_its_fields_and_offers_the_servers_models(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    with ReplayServer() as server:
        server.enqueue(
            json_response(models_list("qwen2.5:7b", "llama3.1:8b")),
            method="GET",
            path="/v1/models",
            times=None,
        )
        async with app.run_test(size=(100, 36)) as pilot:
            form = await model_dialog_on(pilot, server.base_url)
            await wait_for(pilot, lambda: form.query_one("#model-list").option_count == 2, 20)
            text = screen_text(app)
            for label in ("Provider", "Server URL", "Model"):
                assert f"\n{label}" in text.replace("│", "\n").replace("▊", "\n") or label in text
            assert "2 models on this server" in text
            listing = form.query_one("#model-list")
            listing.focus()
            listing.highlighted = 1  # sorted: llama3.1:8b, qwen2.5:7b
            await pilot.press("enter")
            assert form.query_one("#model").value == "qwen2.5:7b"
            await pilot.click("#save")
            await wait_for(pilot, lambda: app.screen is app.main)
            await wait_for(pilot, lambda: session.runtime.model == "qwen2.5:7b")
            assert [r.path for r in server.requests][:1] == ["/v1/models"]


async def test_model_dialog_falls_back_to_typing_when_the_server_cannot_list(
    make_demo_session: Callable[..., Session],
) -> None:
    app = InvestorApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(100, 36)) as pilot:
        form = await model_dialog_on(pilot, "http://127.0.0.1:9/v1")  # nothing listens
        status = form.query_one("#model-status")
        await wait_for(pilot, lambda: "type a name" in str(status.render()), 20)
        assert str(status.render()).startswith("Could not list the server's models (")
        assert not form.query_one("#model-list").display
        assert not form.query_one("#model").disabled


# -- details -----------------------------------------------------------------------------------
def test_call_lines_break_between_whole_arguments() -> None:
    args = json.dumps({"tickers": ["AAPL", "MSFT", "GOOGL"], "period": "6mo"})
    assert call_lines("compare_stocks", args, 80) == [
        'compare_stocks(tickers=["AAPL", "MSFT", "GOOGL"], period="6mo")'
    ]
    assert call_lines("compare_stocks", args, 40) == [
        "compare_stocks(",
        '    tickers=["AAPL", "MSFT", "GOOGL"],',
        '    period="6mo")',
    ]
    lines = call_lines("get_daily_stock_performance", json.dumps({"ticker": "AAPL"}), 30)
    assert lines == ["get_daily_stock_performance(", '    ticker="AAPL")']
    # Only an argument wider than a whole line is cut.
    long = call_lines("get_ticker", json.dumps({"company_name": "x" * 60}), 30)
    assert all(cell_len(line) <= 30 for line in long) and long[-1].endswith("…")


@pytest.mark.parametrize("width", [12, 20, 30, 45, 80])
def test_argument_summaries_keep_values_whole(width: int) -> None:
    args = json.dumps({"ticker": "AAPL", "period": "quarterly", "limit": 4})
    summary = args_summary(args, width)
    assert cell_len(summary) <= width
    shown = [part for part in summary.split(", ") if part != "…"]
    whole = ['ticker="AAPL"', 'period="quarterly"', "limit=4"]
    assert shown == whole[: len(shown)] or (len(shown) == 1 and summary.endswith("…"))


def test_fit_cells_measures_wide_characters() -> None:
    assert fit_cells("삼성전자 실적", 9) == "삼성전자…"
    assert cell_len(fit_cells("삼성전자 실적", 8)) <= 8
    assert fit_cells("Apple", 10) == "Apple"


async def test_run_panel_says_the_offline_analyst_has_no_context_window(
    make_demo_session: Callable[..., Session],
) -> None:
    app = InvestorApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await ask_and_wait(pilot, "Should I buy Apple?")
        await wait_for(pilot, lambda: "Memory" in str(app.main.run_panel.render_run()))
        panel = str(app.main.run_panel.render_run())
        assert "no context window" in panel and "window 1,000,000" not in panel
        # Arguments whole: the panel never cuts inside a value.
        assert 'get_ticker(company_name="Apple")' in panel or 'company_name="Apple")' in panel


async def test_one_exported_tool_call_is_singular(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    thread = ThreadBuilder(session.store, "One call")
    thread.turn("q", "a", [make_call()])
    app = InvestorApp(session, first_run_hint=False)
    notes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        app.notify = lambda message, **kw: notes.append(message)  # type: ignore[method-assign]
        await pilot.press("f3")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
        await pilot.press("x")
        await wait_for(pilot, lambda: bool(notes))
        assert notes[-1].startswith("Exported 1 tool call to ")
