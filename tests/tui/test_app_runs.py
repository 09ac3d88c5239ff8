"""Runs seen from the app: approval in ``ask`` mode, cancel with Escape, a failed run, and
text from models and tools shown literally."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from assistant_core.market import MarketData
from assistant_core.market.cache import MarketCache
from assistant_core.market.demo import DemoProvider
from assistant_core.market.lookup import demo_lookup
from assistant_core.runtime import RetryPolicy
from assistant_core.session import Session
from assistant_core.tools.investor import build_investor_tools
from assistant_core.tools.result import ToolResult
from tests.support.scripted_backend import (
    ScriptedBackend,
    rate_limited,
    server_error,
    text_turn,
    tool_turn,
)
from tui.app import InvestorApp

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask,
    ask_and_wait,
    latest_run,
    make_demo_session,
    make_scripted_session,
    screen_text,
    wait_for,
    wait_ready,
    wait_run_over,
)

HOSTILE = "[bold]not bold[/bold] [link=https://evil.example]click[/link] \x1b[31mred\x1b[0m \x1b]0;pwned\x07 end"


def run_status(session: Session, thread_id: str) -> str | None:
    runs = session.store.list_runs(thread_id)
    return runs[-1].status if runs else None


async def test_approve_and_deny_in_ask_mode(make_demo_session: Callable[..., Session]) -> None:
    session = make_demo_session(approval="ask")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask(pilot, "Should I buy Apple?")

        # First step (the ticker lookup) waits for approval: panel, cards and footer say so.
        await wait_for(pilot, lambda: run_status(session, thread_id) == "requires_action")
        await pilot.pause(0.1)
        assert "requires_action" in str(app.main.run_panel.render_run())
        assert "awaiting_approval" in str(app.main.run_panel.render_run())
        assert "Approve" in screen_text(app)
        await pilot.press("ctrl+o")  # approve all pending

        # Second step (statements, prices, quote): approve one on its card, deny the rest.
        await wait_for(
            pilot,
            lambda: (
                run_status(session, thread_id) == "requires_action"
                and len(session.store.list_tool_calls(thread_id=thread_id)) > 1
            ),
        )
        await pilot.pause(0.1)
        pending = [
            card
            for card in app.main.chat.query("ToolCallCard")
            if card.status == "awaiting_approval"
        ]
        assert len(pending) >= 2
        first_card = pending[0]
        approved_id = first_card.call_id
        first_card.focus()
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+g")  # deny everything still pending

        await wait_run_over(pilot, thread_id)
        assert run_status(session, thread_id) == "completed"
        calls = {r.call.id: r.call for r in session.store.list_tool_calls(thread_id=thread_id)}
        assert calls[approved_id].status == "completed"
        denied = [c for c in calls.values() if c.status == "denied"]
        assert len(denied) == len(pending) - 1
        # The denial reached the model as the tool's output.
        assert all(c.function.output for c in denied)


async def test_escape_cancels_the_running_answer(make_demo_session: Callable[..., Session]) -> None:
    session = make_demo_session(pace=0.05)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask(pilot, "Should I buy Apple?")

        def answer_streaming() -> bool:
            messages = session.store.list_messages(thread_id)
            return any(m.role == "assistant" for m in messages)

        await wait_for(pilot, answer_streaming, timeout=30)
        await pilot.pause(0.3)
        assert app.main.prompt.has_focus
        await pilot.press("escape")
        await wait_run_over(pilot, thread_id)
        assert run_status(session, thread_id) == "cancelled"
        answer = session.store.list_messages(thread_id)[-1]
        assert answer.role == "assistant" and answer.status == "incomplete"
        assert "cancelled" in str(app.main.run_panel.render_run())
        # Escape with nothing running does nothing.
        await pilot.press("escape")
        assert run_status(session, thread_id) == "cancelled"


async def test_failed_run_shows_its_error(make_scripted_session: Callable[..., Session]) -> None:
    backend = ScriptedBackend([server_error(503)])
    session = make_scripted_session(backend)
    session.runtime.retry_policy = RetryPolicy(max_retries=0)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")
        run = latest_run(session, thread_id)
        assert run.status == "failed" and run.last_error is not None
        body = str(app.main.run_panel.render_run())
        assert "failed" in body
        assert run.last_error.code in body and "server error 503" in body
        assert "server error 503" in screen_text(app)


async def test_markup_and_escapes_in_an_answer_are_shown_literally(
    make_scripted_session: Callable[..., Session],
) -> None:
    backend = ScriptedBackend([text_turn(HOSTILE, chunk=5)])
    session = make_scripted_session(backend)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "say something odd")
        assert run_status(session, thread_id) == "completed"
        text = screen_text(app)
        assert "[bold]not bold[/bold]" in text
        assert "[link=https://evil.example]click[/link]" in text
        assert "\x1b" not in text and "\x07" not in text


async def test_tool_output_and_error_with_markup_are_shown_literally(
    make_scripted_session: Callable[..., Session],
) -> None:
    backend = ScriptedBackend(
        [
            tool_turn(
                ("echo_markup", '{"text": "[bold]loud[/bold]"}', "call_echo"),
                ("fail_markup", '{"text": "[red]x[/red]"}', "call_fail"),
            ),
            text_turn("Done."),
        ]
    )
    session = make_scripted_session(backend)
    tools = session.runtime.tools
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}

    def echo_markup(text: str) -> ToolResult:
        return ToolResult(
            data={"echo": f"{text} [link=https://evil.example]x[/link]"}, source="test"
        )

    def fail_markup(text: str) -> ToolResult:
        return ToolResult.failure(f"bad input {text} \x1b[2J[blink]")

    for func in (echo_markup, fail_markup):
        tools.register(
            {
                "type": "function",
                "function": {"name": func.__name__, "description": "t", "parameters": schema},
            },
            func,
        )
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(160, 50)) as pilot:
        thread_id = await ask_and_wait(pilot, "run the tools")
        assert run_status(session, thread_id) == "completed"

        panel = str(app.main.run_panel.render_run())
        # The whole argument on a line of its own, cut only at the panel's width.
        assert '  echo_markup(\n      text="[bold]loud[/b' in panel
        # The escape sequence is removed (the one text policy), the markup shown literally.
        assert "bad input [red]x[/red] [blink]" in panel and "\x1b" not in panel

        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "InspectorScreen")
        inspector = app.screen
        table = inspector.query_one("#calls")
        table.move_cursor(row=0)
        await pilot.pause()
        text = screen_text(app)
        assert "[link=https://evil.example]x[/link]" in text
        assert "[bold]loud[/bold]" in text
        table.move_cursor(row=1)
        await pilot.pause()
        text = screen_text(app)
        assert "bad input [red]x[/red] [blink]" in text
        assert "\x1b" not in text


async def test_run_panel_shows_a_retry_in_progress(
    make_scripted_session: Callable[..., Session],
) -> None:
    # A wait long enough to be seen on a loaded machine.
    backend = ScriptedBackend([rate_limited(retry_after=1.5), text_turn("Recovered.")])
    session = make_scripted_session(backend)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask(pilot, "anything")
        await wait_for(
            pilot, lambda: "retry 1/3: rate_limit_exceeded" in str(app.main.run_panel.render_run())
        )
        assert "waiting 1.5s" in str(app.main.run_panel.render_run())
        await wait_run_over(pilot, thread_id)
        body = str(app.main.run_panel.render_run())
        # Over: no retry is awaited any more, and the one that was stays in the timeline.
        assert body.startswith("completed") and "waiting" not in body
        assert "Retries (1)" in body and "↻ 1/3 · rate_limit_exceeded · after 1.5s" in body


def cached_demo_market(path: Path) -> MarketData:
    """Demo data behind a real SQLite market cache at ``path`` (demo mode has none)."""
    demo = DemoProvider()
    cache = MarketCache(path, busy_timeout_s=0.05)
    return MarketData(demo, lookup=demo_lookup(demo.search), cache=cache)


async def test_market_cache_warnings_are_shown_once(
    make_demo_session: Callable[..., Session], tmp_path: Path
) -> None:
    path = tmp_path / "market-cache.db"
    path.write_bytes(b"not a database" * 100)
    session = make_demo_session()
    session.market = cached_demo_market(path)  # moved aside and rebuilt on opening
    session.runtime.tools = build_investor_tools(session.market)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)

        def warnings() -> list[str]:
            return [
                n.message
                for n in app._notifications
                if n.severity == "warning" and n.title == "Market data cache"
            ]

        [corrupt] = warnings()
        assert "was corrupt" in corrupt and "started a new one" in corrupt
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the cache: writes skip it
        try:
            thread_id = await ask(pilot, "Should I buy Apple?")
            await wait_for(pilot, lambda: len(warnings()) == 2)
            await wait_run_over(pilot, thread_id)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert latest_run(session, thread_id).status == "completed"
        # Every tool's write was skipped, and said so in the log, but the user sees it once.
        assert len(session.market.cache.warnings) > 2
        locked = warnings()[1]
        assert "write skipped" in locked and "locked" in locked
        assert len(warnings()) == 2


async def test_retry_and_regenerate_answer_the_last_run_again(
    make_scripted_session: Callable[..., Session],
) -> None:
    """Issue 12.8: a failed run offers Retry (the r key on its error line, or its button);
    the retry is a new run on the same thread, the failed one kept; a complete answer
    offers Regenerate (here from the palette's command), whose run does not see the answer
    it replaces."""
    backend = ScriptedBackend([server_error(503)])
    session = make_scripted_session(backend)
    session.runtime.retry_policy = RetryPolicy(max_retries=0)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "How is Apple doing?")
        chat = app.main.chat
        await wait_for(pilot, lambda: chat.query("RedoOffer"))
        assert "↻ Retry (r)" in screen_text(app)

        backend.add(text_turn("Apple is doing fine."))
        chat.query_one("ErrorLine").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: len(session.store.list_runs(thread_id)) == 2)
        await wait_run_over(pilot, thread_id)
        failed, retried = session.store.list_runs(thread_id)
        assert (failed.status, retried.status) == ("failed", "completed")
        assert retried.replaces == failed.id
        await wait_for(pilot, lambda: "↻ Regenerate (r)" in screen_text(app))
        screen = screen_text(app)
        assert "server error 503" in screen and "Apple is doing fine." in screen

        backend.add(text_turn("Apple, regenerated."))
        app.main.action_redo_last()  # the palette's command
        await wait_for(pilot, lambda: len(session.store.list_runs(thread_id)) == 3)
        await wait_run_over(pilot, thread_id)
        assert session.store.list_runs(thread_id)[-1].replaces == retried.id
        seen = [str(item.get("content")) for item in backend.requests[-1].input]
        assert not any("doing fine" in text for text in seen)  # the replaced answer
        answers = [m.text for m in session.store.list_messages(thread_id) if m.role == "assistant"]
        assert answers == ["Apple is doing fine.", "Apple, regenerated."]


async def test_every_retry_stays_in_the_timeline_and_after_a_restart(
    make_scripted_session: Callable[..., Session],
) -> None:
    """Issue 12.8: of two 429s both stay in the run panel's timeline (not only while one is
    awaited), and a restart (the run read back from the store) shows them too."""
    backend = ScriptedBackend(
        [rate_limited(retry_after=0.2), rate_limited(retry_after=0.2), text_turn("Done.")]
    )
    session = make_scripted_session(backend)
    app = InvestorApp(session, first_run_hint=False, close_session=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await ask_and_wait(pilot, "anything")
        body = str(app.main.run_panel.render_run())
        assert "Retries (2)" in body and "↻ 1/3" in body and "↻ 2/3" in body
    again = InvestorApp(session, first_run_hint=False)
    async with again.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        await wait_for(pilot, lambda: "Retries (2)" in str(again.main.run_panel.render_run()))
        # The inspector has them in the run's timeline too.
        await pilot.press("f3")
        await wait_for(pilot, lambda: again.screen.__class__.__name__ == "InspectorScreen")
        await pilot.pause()
        table = again.screen.query_one("#calls")
        assert table.row_count == 2
        assert "Model call retried" in screen_text(again) and "(model retry)" in screen_text(again)
        assert "rate_limit_exceeded" in screen_text(again)
