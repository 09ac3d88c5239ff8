"""A 2,048-token context (``llama-server -c 2048``): the app reads the window from the server's
``/props`` and its memory keeps every request inside it — a thread with a long history still
gets its answer, the dropped turns recorded on the run, and no request is refused for size."""

from __future__ import annotations

from pathlib import Path

from assistant_core.config import load_settings
from assistant_core.session import build_session

from .llama_server import LlamaServer

HISTORY_TURNS = 4


async def test_a_long_thread_fits_a_2048_token_server(
    llama_2048: LlamaServer, tmp_path: Path
) -> None:
    settings = load_settings(
        {
            "provider": "compatible",
            "base_url": llama_2048.base_url,
            "model": llama_2048.model,
            "data": "demo",
            "approval": "auto",
            "db": str(tmp_path / "threads.db"),
        }
    )
    session = build_session(settings)
    try:
        store, runtime = session.store, session.runtime
        thread = runtime.create_thread()
        # About 4,000 tokens of earlier conversation: twice the whole context.
        for n in range(HISTORY_TURNS):
            store.add_message(thread.id, "user", f"Question {n}: tell me about company {n}. " * 25)
            store.add_message(
                thread.id, "assistant", f"Company {n} makes widgets and sells them. " * 40
            )
        events = [e async for e in runtime.ask(thread.id, "What is Apple's ticker symbol?")]
        run = store.get_run(events[0].data.id)
        assert run.status in ("completed", "incomplete"), run.last_error
        assert run.memory["context_window"] == 2048
        assert run.memory["context_window_source"] == "server"
        assert run.memory["dropped_messages"] >= 2 * HISTORY_TURNS - 2
        assert run.memory["estimated_prompt_tokens"] <= run.memory["prompt_budget"] < 2048
        # Every model turn was accepted by the server (prompt + limit inside 2,048 tokens).
        assert run.usage is not None and run.usage.prompt_tokens > 0
        answers = [
            m for m in store.list_messages(thread.id) if m.run_id == run.id and m.text.strip()
        ]
        assert answers, "no final message"
    finally:
        await session.aclose()
