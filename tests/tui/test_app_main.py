"""The main screen in demo mode: asking, streaming, switching threads while a run streams,
thread management, the prompt, the panes."""

from __future__ import annotations

from collections.abc import Callable

from assistant_core.runtime import ALL_CALLS
from assistant_core.session import Session
from tui.app import InvestorApp
from tui.panels.prompt import PromptInput
from tui.panels.thread_list import ACTIVE_MARK, ThreadList

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    ask,
    ask_and_wait,
    latest_run,
    make_demo_session,
    screen_text,
    wait_for,
    wait_ready,
    wait_run_over,
)
from .chat_helpers import ThreadBuilder


def thread_rows(app: InvestorApp) -> list[str]:
    options = app.main.query_one(ThreadList).options
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_demo_question_shows_cards_chart_and_answer(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")

        run = latest_run(session, thread_id)
        assert run.status == "completed"
        calls = session.store.list_tool_calls(thread_id=thread_id)
        names = {record.call.function.name for record in calls}
        assert {"get_ticker", "get_income_statement", "get_daily_stock_performance"} <= names

        # One card per tool call, a chart for the price series, and the answer.
        cards = app.main.chat.query("ToolCallCard")
        assert len(cards) == len(calls)
        assert len(app.main.chat.query("PriceChart")) >= 1
        answer = session.store.list_messages(thread_id)[-1]
        assert answer.role == "assistant" and answer.status == "completed"
        assert "AAPL" in answer.text

        # The run panel shows the finished run with its steps and token usage.
        body = str(app.main.run_panel.render_run())
        assert "completed" in body
        assert "get_daily_stock_performance" in body
        assert f"total {run.usage.total_tokens:,}" in body

        # The thread is titled from the question and is no longer marked active.
        rows = thread_rows(app)
        assert len(rows) == 1 and "Should I buy Apple?" in rows[0]
        assert ACTIVE_MARK not in rows[0]
        text = screen_text(app)
        assert "DEMO" in text.splitlines()[0]


async def test_switching_threads_while_a_run_streams(
    make_demo_session: Callable[..., Session],
) -> None:
    # In approval mode "ask" the run waits for us: the switch happens while it is open.
    session = make_demo_session(approval="ask")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        first = await ask(pilot, "Should I buy Apple?")
        await wait_for(pilot, lambda: latest_run(session, first).status == "requires_action")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.main.thread_id != first)
        second = app.main.thread_id

        # The other thread is marked active in the list while its run is open…
        await wait_for(pilot, lambda: any(ACTIVE_MARK in row for row in thread_rows(app)))
        assert app.main.thread_running(first)
        marked = [row for row in thread_rows(app) if ACTIVE_MARK in row]
        assert len(marked) == 1 and "Should I buy Apple?" in marked[0]
        # …and nothing of it reaches the chat of the shown (new, empty) thread, while
        # the run goes on (tools, then the streamed answer) in the background.
        while session.runtime.is_streaming(first):
            run = latest_run(session, first)
            if run.status == "requires_action":
                await session.runtime.approve(run.id, {ALL_CALLS: True})
            await pilot.pause(0.02)
        assert len(app.main.chat.query("ToolCallCard")) == 0

        # The run completes in the background; the marker goes.
        await wait_run_over(pilot, first, timeout=30)
        assert latest_run(session, first).status == "completed"
        assert session.store.list_messages(first)[-1].status == "completed"
        assert all(ACTIVE_MARK not in row for row in thread_rows(app))
        assert app.main.thread_id == second
        assert len(app.main.chat.query("ToolCallCard")) == 0

        # Back to the first thread: its whole conversation is there.
        await app.switch_thread(first)
        await wait_for(pilot, lambda: app.main.run_panel.loaded_thread == first)
        # The latest screens of it are mounted at once, the rest when scrolled to.
        chat = app.main.chat
        calls = len(session.store.list_tool_calls(thread_id=first))
        for _ in range(10):
            if len(chat.query("ToolCallCard")) == calls:
                break
            if chat.scroll_y == 0:
                chat.on_mouse_scroll_up()  # the wheel, at the top already
            else:
                chat.scroll_home(animate=False, immediate=True)
            await pilot.pause(0.05)
        assert len(chat.query("ToolCallCard")) == calls
        assert "completed" in str(app.main.run_panel.render_run())


async def test_new_rename_delete_and_filter_threads(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    apple = session.store.create_thread("Apple research")
    session.store.add_message(apple.id, "user", "What about the iPhone margins?")
    tesla = session.store.create_thread("Tesla debt")
    session.store.add_message(tesla.id, "user", "How is Tesla's balance sheet?")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        rows = thread_rows(app)
        assert "Tesla debt" in rows[0] and "Apple research" in rows[1]  # most recent first
        assert app.main.thread_id == tesla.id

        # New thread (Ctrl+N): created, shown, first in the list.
        await pilot.press("ctrl+n")
        await pilot.pause()
        new_id = app.main.thread_id
        assert new_id not in (apple.id, tesla.id)
        assert len(session.store.list_threads()) == 3
        # Ctrl+N on an empty thread does not pile up empty threads.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert len(session.store.list_threads()) == 3

        # Rename (F2) through the modal.
        await app.switch_thread(apple.id)
        await pilot.press("f2")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "RenameScreen")
        title_input = app.screen.query_one("#title")
        title_input.value = "Apple [bold]deep dive[/bold]"
        await pilot.press("enter")
        await pilot.pause()
        assert session.store.get_thread(apple.id).title == "Apple [bold]deep dive[/bold]"
        # Markup in a title is shown as typed (cut to the pane's width).
        assert any(row.startswith("  Apple [bold]deep") for row in thread_rows(app))

        # Filter as you type: over titles and message text, debounced.
        await pilot.press("ctrl+f")
        await pilot.press(*"balance")
        await wait_for(pilot, lambda: len(thread_rows(app)) == 1)
        assert "Tesla debt" in thread_rows(app)[0]
        filter_input = app.main.query_one("#thread-filter")
        filter_input.value = ""
        await wait_for(pilot, lambda: len(thread_rows(app)) == 3)

        # Delete with confirmation: cancel first, then confirm.
        await app.switch_thread(apple.id)
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        await pilot.press("escape")
        await pilot.pause()
        assert len(session.store.list_threads()) == 3
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ConfirmScreen")
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: len(session.store.list_threads()) == 2)
        assert apple.id not in {t.id for t in session.store.list_threads()}
        assert app.main.thread_id != apple.id
        assert len(thread_rows(app)) == 2

        # Keys in the focused thread list act on the highlighted row.
        app.main.thread_list.options.focus()
        app.main.thread_list.options.highlighted = 0
        target = app.main.thread_list.options.get_option_at_index(0).id
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "RenameScreen")
        app.screen.query_one("#title").value = "Renamed from the list"
        await pilot.press("enter")
        await pilot.pause()
        assert session.store.get_thread(target).title == "Renamed from the list"


async def test_selecting_a_thread_switches_chat_and_run_panel(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        first = await ask_and_wait(pilot, "Show me MSFT's last 100 days")
        await pilot.press("ctrl+n")
        second = await ask_and_wait(pilot, "hello")
        assert second != first
        assert len(app.main.chat.query("ToolCallCard")) == 0

        # Choose the first thread in the list (Enter on the highlighted row).
        options = app.main.thread_list.options
        options.focus()
        options.highlighted = options.get_option_index(first)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.run_panel.loaded_thread == first)
        assert app.main.thread_id == first
        assert len(app.main.chat.query("ToolCallCard")) >= 1
        assert "get_daily_stock_performance" in str(app.main.run_panel.render_run())
        assert app.main.prompt.has_focus


async def test_prompt_keys_send_newline_and_history(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        prompt = app.main.prompt
        await pilot.press(*"hello")
        await pilot.press("ctrl+j")
        await pilot.press(*"there")
        assert prompt.text == "hello\nthere"
        await pilot.press("enter")
        thread_id = app.main.thread_id
        await wait_run_over(pilot, thread_id)
        assert prompt.text == ""
        assert session.store.list_messages(thread_id)[0].text == "hello\nthere"

        await pilot.press(*"draft")
        await pilot.press("up")
        assert prompt.text == "hello\nthere"
        await pilot.press("down")  # the cursor is on the first line: moves within the text
        await pilot.press("down")
        assert prompt.text == "draft"

        # An empty prompt sends nothing.
        prompt.clear()
        await pilot.press("enter")
        await pilot.pause()
        assert len(session.store.list_messages(thread_id)) == 2


async def test_page_keys_in_the_prompt_scroll_the_chat(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    thread = ThreadBuilder(session.store)
    for turn in range(12):
        answer = f"Answer {turn}:\n\n" + "A line of analysis. " * 120 + f"\n\nEnd of answer {turn}."
        thread.turn(f"question {turn}", answer)
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        chat, prompt = app.main.chat, app.main.prompt
        await pilot.press(*"draft")
        bottom = chat.scroll_y
        assert bottom == chat.max_scroll_y > 2 * chat.size.height
        await pilot.press("pageup")
        assert chat.scroll_y == bottom - chat.scrollable_content_region.height
        await pilot.press("pageup", "pagedown")
        assert chat.scroll_y == bottom - chat.scrollable_content_region.height
        await pilot.press("ctrl+home")
        # Older items are mounted as the top is reached (the view stays on what it showed):
        # Ctrl+Home again until the start.
        for _ in range(10):
            await pilot.pause(0.1)
            if "question 0" in screen_text(app):
                break
            await pilot.press("ctrl+home")
        assert chat.scroll_y == 0 and "question 0" in screen_text(app)
        await pilot.press("ctrl+end")
        assert chat.scroll_y == chat.max_scroll_y and "End of answer 11." in screen_text(app)
        # The keys never reached the prompt: its text and cursor are as they were.
        assert app.focused is prompt
        assert prompt.text == "draft" and prompt.cursor_location == (0, 5)


async def test_at_80_columns_the_thread_list_comes_over_the_chat(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    earlier = session.store.create_thread("Tesla debt")
    session.store.add_message(earlier.id, "user", "How is Tesla's balance sheet?")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        threads = app.main.query_one(ThreadList)
        run = app.main.query_one("#run-pane")
        # Too narrow for the panes beside the chat: the chat and prompt take the width.
        assert not threads.display and not run.display
        assert app.main.prompt.size.width >= 70
        # Ctrl+B: the list over the chat, focused; the chat keeps its width.
        await pilot.press("ctrl+b")
        assert threads.display and threads.has_class("-overlay")
        assert app.focused is threads.options
        assert app.main.chat.size.width >= 70
        await pilot.press("escape")
        assert not threads.display and app.focused is app.main.prompt
        # Choosing a thread there shows it and closes the list.
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.main.thread_id != earlier.id
        await pilot.press("ctrl+b")
        threads.options.highlighted = threads.options.get_option_index(earlier.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.main.thread_id == earlier.id)
        assert not threads.display and app.focused is app.main.prompt
        # The run panel still toggles; wide again, the list is beside the chat.
        await pilot.press("ctrl+r")
        assert run.display
        await pilot.press("ctrl+r")
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert threads.display and not threads.has_class("-overlay")

        thread_id = await ask_and_wait(pilot, "How is Tesla's balance sheet?")
        assert latest_run(session, thread_id).status == "completed"


async def test_a_click_on_a_starter_question_asks_it(
    make_demo_session: Callable[..., Session],
) -> None:
    """The demo note and starter questions replaced the first-run hint shown once ever
    (tests/tui/test_app_shell.py has the keys)."""
    app = InvestorApp(make_demo_session())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        text = screen_text(app)
        assert "OPENAI_API_KEY" in text and "--base-url" in text and "DEMO" in text
        options = app.main.query_one("#starter-options")
        await pilot.click(options, offset=(2, 2))  # the third question
        await wait_for(pilot, lambda: app.main.thread_id is not None)
        await wait_run_over(pilot, app.main.thread_id)
        first = app.session.store.list_messages(app.main.thread_id)[0]
        assert first.text == "Compare AAPL and MSFT"
        assert not app.main.query_one("#starters").display


async def test_help_screen_lists_the_keys(make_demo_session: Callable[..., Session]) -> None:
    app = InvestorApp(make_demo_session(), first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f1")
        await pilot.pause()
        text = screen_text(app)
        for key in (
            "Ctrl+N",
            "Escape",
            "Ctrl+T / F3",
            "Ctrl+O / Ctrl+G",
            "PageUp / PageDown",
            "J / K or Down / Up",
        ):
            assert key in text
        await pilot.press("escape")
        assert app.screen is app.main


async def test_copy_key_copies_the_focused_message(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        thread_id = await ask_and_wait(pilot, "hello [bold]there[/bold]")
        # Nothing focused in the chat: nothing copied, and the user is told.
        app.main.thread_list.options.focus()
        await pilot.press("y")
        assert app.clipboard == ""
        user_message = app.main.chat.query("UserMessage").first()
        user_message.focus()
        await pilot.press("y")
        assert app.clipboard == "hello [bold]there[/bold]"
        answer = app.main.chat.query("AssistantMessage").last()
        answer.focus()
        await pilot.press("ctrl+c")
        assert app.clipboard == session.store.list_messages(thread_id)[-1].text


async def test_quitting_cancels_a_running_answer(make_demo_session: Callable[..., Session]) -> None:
    session = make_demo_session(pace=0.05)
    db = session.store.path
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        thread_id = await ask(pilot, "Should I buy Apple?")
        await wait_for(pilot, lambda: session.runtime.is_streaming(thread_id))
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running)
    from assistant_core.store import Store

    store = Store(db)
    try:
        assert store.list_runs(thread_id)[-1].status == "cancelled"
    finally:
        store.close()


async def test_session_factory_is_built_after_the_first_frame(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assistant_core.errors import ConfigError

    from .app_helpers import demo_session

    calls: list[str] = []

    def factory() -> Session:
        calls.append("built")
        return demo_session(tmp_path / "threads.db")

    app = InvestorApp(factory, first_run_hint=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_ready(pilot)
        assert calls == ["built"]
        assert "DEMO" in screen_text(app).splitlines()[0]
        await ask_and_wait(pilot, "hello")

    def broken() -> Session:
        raise ConfigError("provider 'openai' needs an API key: export OPENAI_API_KEY=sk-...")

    app = InvestorApp(broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.start_error is not None)
    assert isinstance(app.start_error, ConfigError)
    assert app.return_code == 2


async def test_exports_from_the_app_are_written_in_the_background(
    make_demo_session: Callable[..., Session],
) -> None:
    """Ctrl+P → Export thread: both files appear under the data directory's exports/, are
    private, and say where they are; the JSON reads back."""
    from assistant_core import paths
    from assistant_core.export import read_json_export

    session = make_demo_session()
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple? [bold]x[/bold] \u202e")
        exports = paths.data_dir() / "exports"
        for fmt in ("md", "json"):
            app.export_thread(fmt)
            await wait_for(pilot, lambda fmt=fmt: any(exports.glob(f"*.{fmt}")))
            await app.workers.wait_for_complete()
            [path] = exports.glob(f"*.{fmt}")
            assert path.stat().st_mode & 0o777 == 0o600
            await wait_for(pilot, lambda path=path: str(path) in str(list(app._notifications)))
        back = read_json_export(next(exports.glob("*.json")).read_text())
        assert back.thread.id == thread_id and len(back.messages) == 2
        markdown = next(exports.glob("*.md")).read_text()
        assert "\u202e" not in markdown and "\\[bold\\]x\\[/bold\\]" in markdown


async def test_a_question_the_busy_thread_cannot_take_goes_back_with_what_was_typed_since(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session(approval="ask")  # the run waits for us: the thread is busy
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        first = await ask(pilot, "Should I buy Apple?")
        await wait_for(pilot, lambda: latest_run(session, first).status == "requires_action")
        prompt = app.main.prompt
        # Enter cleared the prompt and more was typed before the screen read the question.
        prompt.load_text("and then Tesla")
        prompt.post_message(PromptInput.Submitted(prompt, "How about MSFT?"))
        await wait_for(pilot, lambda: prompt.text != "and then Tesla")
        assert prompt.text == "How about MSFT?\nand then Tesla"
        assert prompt.cursor_location == (1, len("and then Tesla"))  # typing goes on there
        assert [m.text for m in session.store.list_messages(first)] == ["Should I buy Apple?"]
        await app.main.runtime.cancel_run(latest_run(session, first).id)
