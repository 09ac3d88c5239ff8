"""End to end: the runtime with the offline analyst and the investor tools on demo data
(no network, no model), through the same tool-call path a real model uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant_core.runtime import Runtime
from assistant_core.store import Store


@pytest.fixture
def offline_runtime(tmp_path: Path) -> Any:
    from assistant_core.backends.offline import OfflineAnalyst
    from assistant_core.market import create_market
    from assistant_core.tools.investor import build_investor_tools

    store = Store(tmp_path / "db.sqlite")
    runtime = Runtime(
        store,
        OfflineAnalyst(pace=0.0),
        build_investor_tools(create_market("demo")),
        model="offline",
    )
    yield runtime
    store.close()


async def ask(runtime: Runtime, thread_id: str, question: str) -> dict[str, Any]:
    events = [event async for event in runtime.ask(thread_id, question)]
    assert events[-1].event == "done"
    run = events[-2].data
    assert run.status == "completed", (run.status, run.last_error, run.incomplete_details)
    steps = runtime.list_steps(run.id)
    calls = [c for s in steps if s.type == "tool_calls" for c in s.tool_calls]
    answer = next(e.data for e in reversed(events) if e.event == "thread.message.completed")
    return {"events": events, "run": run, "calls": calls, "answer": answer.text}


def called(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for call in result["calls"]:
        out.setdefault(call.function.name, []).append(json.loads(call.function.arguments or "{}"))
    return out


async def test_should_i_buy_apple(offline_runtime: Runtime) -> None:
    thread = offline_runtime.create_thread()
    result = await ask(offline_runtime, thread.id, "Should I buy Apple?")
    names = called(result)
    for tool in ("get_income_statement", "get_balance_sheet", "get_daily_stock_performance"):
        assert tool in names, f"{tool} not called for a buy question: {sorted(names)}"
    assert any(args.get("ticker") == "AAPL" for args in names["get_balance_sheet"])
    assert all(c.status == "completed" and not c.is_error for c in result["calls"])
    assert "AAPL" in result["answer"] and "not financial advice" in result["answer"]
    assert "DEMO" in result["answer"].upper() or any(c.source == "demo" for c in result["calls"])
    event_names = [e.event for e in result["events"]]
    assert event_names.index("thread.run.step.created") < event_names.index(
        "thread.message.created"
    )


async def test_tesla_balance_sheet(offline_runtime: Runtime) -> None:
    thread = offline_runtime.create_thread()
    result = await ask(offline_runtime, thread.id, "How is Tesla's balance sheet?")
    names = called(result)
    assert [a.get("ticker") for a in names["get_balance_sheet"]] == ["TSLA"]
    assert "get_income_statement" not in names
    assert "TSLA" in result["answer"] or "Tesla" in result["answer"]


async def test_msft_100_days_then_follow_up_income_statement(offline_runtime: Runtime) -> None:
    thread = offline_runtime.create_thread()
    first = await ask(offline_runtime, thread.id, "Show me MSFT's last 100 days")
    names = called(first)
    assert [a.get("ticker") for a in names["get_daily_stock_performance"]] == ["MSFT"]
    performance = next(
        c for c in first["calls"] if c.function.name == "get_daily_stock_performance"
    )
    assert performance.display and performance.display["kind"] == "prices"

    follow = await ask(offline_runtime, thread.id, "and its income statement?")
    names = called(follow)
    assert [a.get("ticker") for a in names["get_income_statement"]] == ["MSFT"]
    assert "MSFT" in follow["answer"] or "Microsoft" in follow["answer"]
    assert len(offline_runtime.list_runs(thread.id)) == 2


async def test_hello_gets_the_help_message(offline_runtime: Runtime) -> None:
    thread = offline_runtime.create_thread()
    result = await ask(offline_runtime, thread.id, "hello")
    assert result["calls"] == []
    assert "Should I buy Apple?" in result["answer"]
    assert "offline analyst" in result["answer"]
