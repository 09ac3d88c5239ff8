"""Switching to a long thread: time to first paint and the number of widgets mounted.

Builds a database with a small thread and a long one (2,000 messages: 1,000 questions and
1,000 answers, with 300 tool calls across 100 runs, outputs and charts as the demo tools
produce them), starts the app headless, then switches back and forth between the two
threads through the same path as choosing a thread in the list. For each switch to the long
thread it measures the time from the switch to the end of the next painted frame (target
under 150 ms) and counts the widgets in the chat afterwards (target: bounded, the same for
a thread of 200 or 2,000 messages).

    python bench/bench_thread_switch.py [--switches 9]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOOLS = ("get_income_statement", "get_balance_sheet", "get_daily_stock_performance")
ANSWER = (
    "## Apple Inc. (AAPL)\n\nRevenue grew **24.1%** to 305.7B; margins held (gross 58.7%).\n\n"
    "| USD | FY2025 | FY2024 |\n|---|---:|---:|\n| Revenue | 305.7B | 246.4B |\n"
    "| Net income | 43.6B | 34.5B |\n\nNot financial advice."
)


def demo_results() -> dict[str, Any]:
    """Real outputs of the demo tools, reused for every call of the same tool."""
    from assistant_core.market import create_market
    from assistant_core.tools.investor import build_investor_tools

    tools = build_investor_tools(create_market("demo"))

    async def run_all() -> dict[str, Any]:
        return {name: await tools.execute(name, json.dumps({"ticker": "AAPL"})) for name in TOOLS}

    return asyncio.run(run_all())


def build_thread(store: Any, messages: int, calls: int) -> str:
    from assistant_core.objects import FunctionCall, Run, RunStep, ToolCall, new_id, now

    results = demo_results()
    assistant = store.default_assistant()
    thread = store.create_thread(f"Long thread ({messages} messages)")
    runs_with_calls = calls // len(TOOLS)
    tool_cycle = itertools.cycle(TOOLS)
    for turn in range(messages // 2):
        store.add_message(thread.id, "user", f"Question {turn}: how is Apple doing?")
        run = store.create_run(
            Run(
                id=new_id("run"),
                created_at=now(),
                thread_id=thread.id,
                assistant_id=assistant.id,
                model="offline-analyst",
                provider="offline",
            )
        )
        run.status = "in_progress"
        run.started_at = now()
        store.update_run(run)
        if turn >= messages // 2 - runs_with_calls:  # the calls sit in the latest runs
            step = store.create_step(
                RunStep(
                    id=new_id("step"),
                    created_at=now(),
                    run_id=run.id,
                    thread_id=thread.id,
                    assistant_id=assistant.id,
                    type="tool_calls",
                )
            )
            for _ in TOOLS:
                name = next(tool_cycle)
                result = results[name]
                step.tool_calls.append(
                    ToolCall(
                        id=new_id("call"),
                        function=FunctionCall(
                            name, json.dumps({"ticker": "AAPL"}), result.to_model()
                        ),
                        status="completed",
                        started_at=time.time(),
                        finished_at=time.time(),
                        duration_ms=12.0,
                        source=result.source,
                        display=result.display,
                    )
                )
            step.status = "completed"
            step.completed_at = now()
            store.update_step(step)
        store.add_message(thread.id, "assistant", ANSWER, run_id=run.id, assistant_id=assistant.id)
        run.status = "completed"
        run.completed_at = now()
        store.update_run(run)
    return thread.id


async def measure(db: Path, switches: int) -> dict[str, Any]:
    from assistant_core.config import DEMO_PACE_ENV, load_settings
    from assistant_core.session import build_session
    from tui.app import InvestorApp

    session = build_session(
        load_settings({"provider": "offline", "db": str(db)}, env={DEMO_PACE_ENV: "0"})
    )
    threads = {t.title: t.id for t in session.store.list_threads()}
    long_id = next(i for title, i in threads.items() if title.startswith("Long thread (2000"))
    mid_id = next(i for title, i in threads.items() if title.startswith("Long thread (200 "))
    small_id = threads["Small thread"]
    app = InvestorApp(session, first_run_hint=False, tune_gc=True)  # as run_app does
    paint: list[float] = []
    widgets: dict[str, int] = {}
    async with app.run_test(size=(140, 45)) as pilot:
        await app.ready.wait()
        await pilot.pause()

        async def switch(thread_id: str) -> float:
            painted = asyncio.Event()
            start = time.perf_counter()
            await app.switch_thread(thread_id)
            app.call_after_refresh(painted.set)
            await painted.wait()
            return (time.perf_counter() - start) * 1000

        for _ in range(switches):
            await switch(small_id)
            await pilot.pause()
            paint.append(await switch(long_id))
            await pilot.pause()
        chat = app.main.chat
        widgets["long"] = len(list(chat.walk_children()))
        await switch(mid_id)
        await pilot.pause()
        widgets["mid"] = len(list(chat.walk_children()))
        messages_shown = chat.mounted_items
    return {"paint_ms": paint, "widgets": widgets, "items": messages_shown}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--switches", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for var, sub in (
            ("XDG_DATA_HOME", "data"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_CACHE_HOME", "cache"),
        ):
            os.environ[var] = str(Path(tmp) / sub)
        from assistant_core.store import Store

        db = Path(tmp) / "threads.db"
        store = Store(db)
        started = time.perf_counter()
        build_thread(store, 200, 30)
        build_thread(store, 2000, 300)
        small = store.create_thread("Small thread")
        store.add_message(small.id, "user", "hello")
        counts = store.count_messages(store.list_threads(filter="Long thread (2000")[0].id)
        calls = len(
            store.list_tool_calls(thread_id=store.list_threads(filter="Long thread (2000")[0].id)
        )
        store.close()
        print(
            f"built: a thread of {counts} messages and {calls} tool calls "
            f"(+ one of 200 messages) in {time.perf_counter() - started:.1f} s"
        )
        result = asyncio.run(measure(db, args.switches))
    paint = result["paint_ms"]
    print(
        f"switch to the 2,000-message thread, time to first paint over {len(paint)} switches: "
        f"median {statistics.median(paint):.0f} ms (min {min(paint):.0f}, max {max(paint):.0f}); "
        f"target < 150 ms"
    )
    print(
        f"widgets in the chat after the switch: {result['widgets']['long']} for 2,000 messages, "
        f"{result['widgets']['mid']} for 200 messages ({result['items']} items mounted); bounded"
    )


if __name__ == "__main__":
    main()
