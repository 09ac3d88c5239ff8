"""The app (Textual, under Pilot) asks llama-server's Qwen2.5-Coder-0.5B the CLI's English
question: the answer streams into the chat with a card per tool call, the run ends
``completed`` or ``incomplete`` with a final message, and the app stays usable."""

from __future__ import annotations

from pathlib import Path

from assistant_core.config import load_settings
from assistant_core.session import build_session
from tests.tui.app_helpers import ask, latest_run, wait_for, wait_ready, wait_run_over
from tui.app import InvestorApp
from tui.widgets import ToolCallCard
from tui.widgets.message import AssistantMessage

from .llama_server import LlamaServer
from .test_cli_realmodel import ENGLISH

RUN_TIMEOUT_S = 900.0


async def test_the_app_streams_a_real_models_answer_with_cards(
    llama: LlamaServer, tmp_path: Path
) -> None:
    settings = load_settings(
        {
            "provider": "compatible",
            "base_url": llama.base_url,
            "model": llama.model,
            "data": "demo",
            "approval": "auto",
            "db": str(tmp_path / "threads.db"),
        }
    )
    session = build_session(settings)
    app = InvestorApp(session, first_run_hint=False)
    deltas: list[str] = []
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        route = app._route  # every runtime event passes here on its way to the screen

        def spy(thread_id: str, event: object) -> None:
            name = getattr(event, "event", "")
            if name in ("thread.message.delta", "thread.run.step.delta"):
                deltas.append(name)
            route(thread_id, event)  # type: ignore[arg-type]

        app._route = spy  # type: ignore[method-assign]
        thread_id = await ask(pilot, ENGLISH)
        screen = app.main  # the app's main screen (app.query would search the default one)
        await wait_for(pilot, lambda: bool(screen.query(ToolCallCard)), RUN_TIMEOUT_S)
        await wait_run_over(pilot, thread_id, RUN_TIMEOUT_S)
        run = latest_run(session, thread_id)
        assert run.status in ("completed", "incomplete"), run.last_error
        cards = list(screen.query(ToolCallCard))
        assert any(c.call.status in ("completed", "error") for c in cards), "no call ran"
        # Every card ended: run, answered from an earlier call, or cut off and not run.
        assert all(c.call.status in ("completed", "error", "cancelled") for c in cards)
        answers = [m for m in screen.query(AssistantMessage) if m.received_text.strip()]
        assert answers, "no final message in the chat"
        # Streamed: the calls' arguments into their cards, the answer into the chat (a reply
        # held back as a possible printed call arrives in one piece).
        assert deltas.count("thread.run.step.delta") > 1, "the tool calls did not stream"
        assert "thread.message.delta" in deltas
        # Still usable: the prompt takes the next question.
        app.main.prompt.focus()
        assert app.main.prompt.has_focus
