"""Thread memory: truncation (auto, last_messages), the running summary, token estimates
and context windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant_core.backends.base import ModelRequest
from assistant_core.objects import TruncationStrategy
from assistant_core.runtime import context_window
from assistant_core.tokens import TokenEstimator, estimate_item, estimate_text
from assistant_core.tools.registry import ToolRegistry
from tests.support.scripted_backend import (
    ScriptedBackend,
    collect,
    function_spec,
    make_runtime,
    text_turn,
    tool_turn,
)

FILLER = "lorem ipsum dolor sit amet " * 15  # ~400 characters, ~100 tokens


def price_tools() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        function_spec("get_price", {"symbol": {"type": "string"}}, ["symbol"]),
        lambda symbol: {"symbol": symbol, "price": 1.0},
    )
    return registry


async def build_thread(rt: Any, backend: ScriptedBackend, turns: int) -> str:
    """A thread of ``turns`` question → tool call → answer exchanges."""
    thread = rt.create_thread()
    for i in range(turns):
        # No usage reported: the estimate stays uncorrected, so the test controls the sizes.
        backend.add(
            tool_turn(("get_price", f'{{"symbol": "S{i}"}}', f"call_{i}"), usage=None),
            text_turn(f"A{i} {FILLER}", usage=None),
        )
        events = await collect(rt.ask(thread.id, f"Q{i} {FILLER}", instructions=""))
        assert events[-2].event == "thread.run.completed"
    return thread.id


def assert_pairs_intact(request: ModelRequest) -> None:
    """Every tool call is answered right after it, and every output follows its call."""
    items = request.input
    for index, item in enumerate(items):
        if item.get("tool_calls"):
            ids = [c["id"] for c in item["tool_calls"]]
            following = [i["tool_call_id"] for i in items[index + 1 : index + 1 + len(ids)]]
            assert following == ids, f"call/output pair split at item {index}"
        if item["role"] == "tool":
            owners = [
                i
                for i in items[:index]
                if any(c["id"] == item["tool_call_id"] for c in i.get("tool_calls") or ())
            ]
            assert owners, f"tool output {item['tool_call_id']} without its call"


def texts(request: ModelRequest) -> list[str]:
    return [
        i["content"][:3].strip()
        for i in request.input
        if i["role"] in ("user", "assistant") and i.get("content")
    ]


async def test_auto_truncation_drops_oldest_turns_without_splitting_pairs(tmp_path: Path) -> None:
    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite", tools=price_tools(), model="tiny-1", context_windows={"tiny": 2000}
    )
    thread_id = await build_thread(rt, backend, 8)
    last = backend.requests[-1]
    assert_pairs_intact(last)
    assert last.input[0]["role"] == "user"  # a kept turn starts at its question
    assert texts(last)[-1] == "Q7"
    assert "Q0" not in texts(last) and "A0" not in texts(last)
    run = rt.list_runs(thread_id)[-1]
    memory = run.memory
    assert memory["context_window"] == 2000 and memory["prompt_budget"] == 1500
    assert memory["dropped_messages"] >= 2 and memory["dropped_messages"] % 2 == 0  # whole turns
    assert memory["dropped_tool_calls"] >= 1
    assert memory["summarised"] is False and "summary_through" not in memory  # no LLM here
    assert memory["estimated_prompt_tokens"] <= 1500
    assert store.get_thread(thread_id).summary == ""
    # The first run, when everything fitted, dropped nothing.
    assert rt.list_runs(thread_id)[0].memory["dropped_messages"] == 0


async def test_summary_of_dropped_turns_is_stored_and_placed_first(tmp_path: Path) -> None:
    backend = ScriptedBackend(
        is_llm=True, summary="The user asked about S0 and S1; both trade at 1.0."
    )
    rt, _, store = make_runtime(
        tmp_path / "db.sqlite",
        backend=backend,
        tools=price_tools(),
        model="tiny-1",
        context_windows={"tiny": 2000},
    )
    thread_id = await build_thread(rt, backend, 8)
    thread = store.get_thread(thread_id)
    assert thread.summary == "The user asked about S0 and S1; both trade at 1.0."
    last = backend.requests[-1]
    assert last.input[0]["role"] == "system"
    assert last.input[0]["content"].endswith(thread.summary)
    assert_pairs_intact(last)

    summarising = [r for r in rt.list_runs(thread_id) if r.memory.get("summarised")]
    assert summarising, "no run summarised"
    first = summarising[0]
    assert first.memory["summary_through"]
    # What was summarised: the oldest turn, with its tool call and output, as plain text.
    transcript = backend.summary_requests[0].input[0]["content"]
    assert "User: Q0" in transcript and "Assistant called get_price" in transcript
    assert "Tool get_price returned" in transcript and "Assistant: A0" in transcript
    # Each later summary adds only turns not summarised before.
    for request in backend.summary_requests[1:]:
        body = request.input[0]["content"].split("Turns to add:", 1)[1]
        assert "User: Q0 " not in body
    assert len(backend.summary_requests) < 8


async def test_last_messages_keeps_the_last_n(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", tools=price_tools())
    thread_id = await build_thread(rt, backend, 3)
    backend.add(text_turn("ok"))
    strategy = TruncationStrategy(type="last_messages", last_messages=3)
    await collect(rt.ask(thread_id, "Q3 latest", truncation_strategy=strategy))
    last = backend.requests[-1]
    # Three messages: A1's turn is cut at the message, with the tool unit before A2 kept whole.
    assert texts(last) == ["Q2", "A2", "Q3"]
    assert_pairs_intact(last)
    assert [i["role"] for i in last.input] == ["user", "assistant", "tool", "assistant", "user"]
    run = rt.list_runs(thread_id)[-1]
    assert run.memory["strategy"] == "last_messages" and run.memory["dropped_messages"] == 4


async def test_current_runs_tool_outputs_are_never_dropped(tmp_path: Path) -> None:
    rt, backend, _ = make_runtime(
        tmp_path / "db.sqlite", tools=price_tools(), model="tiny", context_windows={"tiny": 2000}
    )
    thread_id = await build_thread(rt, backend, 4)
    backend.add(
        tool_turn(("get_price", '{"symbol": "X"}', "cx"), usage=None),
        tool_turn(("get_price", '{"symbol": "Y"}', "cy"), usage=None),
        text_turn("done", usage=None),
    )
    await collect(rt.ask(thread_id, "Q9 " + FILLER, instructions=""))
    last = backend.requests[-1]
    ids = [i["tool_call_id"] for i in last.input if i["role"] == "tool"]
    assert ids[-2:] == ["cx", "cy"]
    assert_pairs_intact(last)


def test_token_estimates() -> None:
    assert estimate_text("") == 0
    assert estimate_text("abcd" * 100) == 100
    assert estimate_text("애플 주식 사도 될까?") == 8 + 1 + 1  # 8 Hangul, 3 spaces / 4, "?" / 2
    assert estimate_text("391035000000") == 12  # Qwen's tokenizer: one token per digit
    assert estimate_text("日本語") == 3
    assert estimate_text("Müller") == 3  # 5 ASCII / 4 → 2, 1 other / 2 → 1
    item = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c", "name": "get_price", "arguments": "{}"}],
    }
    assert estimate_item(item) > estimate_item({"role": "user", "content": ""})


def test_estimator_learns_from_reported_usage() -> None:
    estimator = TokenEstimator()
    assert estimator.correct("m", 100) == 100
    for _ in range(8):
        estimator.observe("m", 100, 150)
    assert 145 <= estimator.correct("m", 100) <= 150
    assert estimator.correct("other", 100) == 100  # per model
    estimator.observe("m", 100, 100_000)  # absurd reports are clamped
    assert estimator.ratio("m") <= TokenEstimator.MAX_RATIO


def test_context_windows() -> None:
    assert context_window("gpt-4o-mini-2024-07-18") == 128_000
    assert context_window("gpt-4.1-mini") == 1_047_576
    assert context_window("gpt-5-mini") == 400_000
    assert context_window("o4-mini") == 200_000
    assert context_window("llama3:8b") == 8_192
    assert context_window("llama3.1:70b") == 131_072  # the longest prefix wins
    assert context_window("qwen2.5:7b-instruct") == 32_768
    assert context_window("mistralai/Mistral-7B-Instruct") == 32_768
    assert context_window("offline") == 1_000_000
    assert context_window("some-new-model") == 8_192
    assert context_window("llama3:8b", {"llama3": 16_000}) == 16_000  # configurable
    assert context_window("my-model-v2", {"my-model": 50_000}) == 50_000


async def test_unanswered_calls_of_a_cancelled_run_are_left_out(tmp_path: Path) -> None:
    from tests.support.scripted_backend import make_test_tools

    rt, backend, _ = make_runtime(tmp_path / "db.sqlite", tools=make_test_tools())
    thread = rt.create_thread()
    backend.add(
        tool_turn(("get_price", '{"symbol": "A"}', "c_done"), ("nap", '{"seconds": 10}', "c_open"))
    )
    async for event in rt.ask(thread.id, "first"):
        if event.event == "thread.run.step.delta" and any(
            e.get("id") == "c_done" and e.get("status") == "completed"
            for e in event.data.tool_calls
        ):
            await rt.cancel_run(event.data.run_id)
    backend.add(text_turn("second answer"))
    await collect(rt.ask(thread.id, "second"))
    last = backend.requests[-1]
    assert_pairs_intact(last)
    assert [i["role"] for i in last.input] == ["user", "assistant", "tool", "user"]
    assert [c["id"] for c in last.input[1]["tool_calls"]] == ["c_done"]


async def test_a_run_that_answers_again_leaves_out_the_run_it_replaces(tmp_path: Path) -> None:
    """Retry / Regenerate (issue 12.8): a new run on the same thread answers the question
    again without the replaced run's answer and tool calls in its input; both runs and
    answers stay in the thread; only a run of that thread can be replaced."""
    from assistant_core.errors import ConfigError

    rt, backend, store = make_runtime(tmp_path / "db.sqlite", tools=price_tools())
    thread = rt.create_thread()
    backend.add(text_turn("first answer"))
    await collect(rt.ask(thread.id, "earlier question"))
    backend.add(tool_turn(("get_price", '{"symbol": "A"}', "c_old")), text_turn("old answer"))
    events = await collect(rt.ask(thread.id, "the question"))
    old_run = events[0].data.id
    backend.add(text_turn("new answer"))
    events = await collect(rt.stream_run(thread.id, replaces=old_run))
    assert events[-2].event == "thread.run.completed"
    request = backend.requests[-1]
    assert texts(request) == ["ear", "fir", "the"]  # no "old answer", no c_old call
    assert not any(item.get("tool_calls") for item in request.input)
    assert store.get_run(events[0].data.id).replaces == old_run
    answers = [m.text for m in store.list_messages(thread.id) if m.role == "assistant"]
    assert answers == ["first answer", "old answer", "new answer"]

    other = rt.create_thread()
    with pytest.raises(ConfigError, match="not a run of thread"):
        await collect(rt.stream_run(other.id, replaces=old_run))


def _bulk_thread(store: Any, thread_id: str, messages: int, text: str) -> None:
    """``messages`` alternating questions and answers in one transaction (the rows
    ``add_message`` writes; 20,000 separate commits would take the test's time)."""
    from assistant_core.objects import Message, new_id, text_content
    from assistant_core.store import _dumps

    rows = []
    for i in range(messages):
        role = "user" if i % 2 == 0 else "assistant"
        m = Message(
            id=new_id("message"),
            created_at=1_700_000_000 + i,
            thread_id=thread_id,
            role=role,
            content=text_content(f"M{i} {text}"),
        )
        rows.append(
            (m.id, thread_id, None, role, "completed", m.created_at, m.text, _dumps(m.to_dict()))
        )
    with store._write() as db:
        db.executemany(
            "INSERT INTO messages (id, thread_id, run_id, role, status, created_at, text, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


async def test_a_long_thread_is_read_from_its_end(tmp_path: Path) -> None:
    # Issue 11 (16): every turn loaded all 50,000 messages of a long thread (and its runs
    # and tool calls) to keep the few hundred that fit the window. Read only the end.
    import tracemalloc

    rt, backend, store = make_runtime(
        tmp_path / "db.sqlite", model="tiny-1", context_windows={"tiny": 4000}
    )
    thread = rt.create_thread()
    _bulk_thread(store, thread.id, 20_000, FILLER)  # ~2 MB of text, 2 M estimated tokens
    backend.add(text_turn("ok", usage=None))
    tracemalloc.start()
    try:
        events = await collect(rt.ask(thread.id, "latest " + FILLER, instructions=""))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events[-2].event == "thread.run.completed"
    assert peak < 3_000_000, f"{peak:,} bytes traced: the whole thread was read"
    request = backend.requests[-1]
    kept = [i["content"].split()[0] for i in request.input]
    assert kept[-1] == "latest" and kept[-2] == "M19999"  # the newest turns, in order
    assert request.input[0]["role"] == "user"  # whole turns
    run = rt.list_runs(thread.id)[-1]
    # The messages never read count as dropped, like those read and left out.
    assert run.memory["dropped_messages"] == 20_000 - (len(kept) - 1)
    assert run.memory["estimated_prompt_tokens"] <= run.memory["prompt_budget"]


async def test_reading_the_end_of_a_thread_gives_the_same_units_as_reading_all(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # Tool calls of earlier runs (answered, and cancelled before answering) keep their
    # place when only the end of the thread is read.
    from assistant_core.runtime import history
    from tests.support.scripted_backend import make_test_tools

    rt, backend, store = make_runtime(tmp_path / "db.sqlite", tools=make_test_tools())
    thread_id = await build_thread(rt, backend, 6)
    backend.add(
        tool_turn(("get_price", '{"symbol": "A"}', "c_done"), ("nap", '{"seconds": 10}', "c_open"))
    )
    async for event in rt.ask(thread_id, "cancelled question"):
        if event.event == "thread.run.step.delta" and any(
            e.get("id") == "c_done" and e.get("status") == "completed"
            for e in event.data.tool_calls
        ):
            await rt.cancel_run(event.data.run_id)
    backend.add(
        tool_turn(("get_price", '{"symbol": "B"}', "c_b"), usage=None),
        text_turn("last answer", usage=None),
    )
    await collect(rt.ask(thread_id, "last question"))

    def items(units: list[Any]) -> list[Any]:
        return [item for unit in units for item in unit.items]

    everything = items(history.recent_history(store, thread_id, token_target=10**9).units)
    assert len(everything) > 20
    for page in (1, 2, 3, 5):
        monkeypatch.setattr(history, "FIRST_PAGE", page)
        for target in (1, 50, 200, 400, 800):
            read = history.recent_history(store, thread_id, token_target=target)
            got = items(read.units)
            assert got == everything[len(everything) - len(got) :], (page, target)
            assert read.omitted_messages + sum(u.is_message for u in read.units) == (
                store.count_messages(thread_id)
            )
