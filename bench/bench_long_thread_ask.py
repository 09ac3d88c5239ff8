"""A follow-up question on a very long thread, end to end through the CLI, offline analyst.

Builds a database whose thread holds ``--messages`` messages (50,000 by default: questions
about a rotating set of companies and the offline analyst's real answers to them, every
tenth turn with a run that called tools), ends it with two real turns asked through the
CLI, then times ``investor-assistant ask --thread ID "and its balance sheet?"`` as a
subprocess (median of ``--repeat``). Side by side, the same follow-up on a short thread of
the same shape measures what any ask costs here (interpreter start-up, imports); the
ratio is what a long thread adds. Target: the long-thread follow-up under 1 s.

The answer is streamed with ``INVESTOR_ASSISTANT_DEMO_PACE=0``: the demo's pacing between
words is presentation, not work.

    python bench/bench_long_thread_ask.py [--messages 50000] [--repeat 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CLI = Path(sys.executable).parent / "investor-assistant"
QUESTIONS = (
    "Should I buy Apple?",
    "How is Tesla's balance sheet?",
    "Show me MSFT's last 100 days",
    "and its income statement?",
    "What about Nvidia?",
    "삼성전자 주식 사도 될까?",
    "Compare AAPL and MSFT",
    "How is Amazon's cash flow?",
)
FOLLOW_UP = "and its balance sheet?"


def env_for(home: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "INVESTOR_"))}
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config")):
        env[var] = str(home / sub)
    env["XDG_CACHE_HOME"] = str(home / "cache")
    env["INVESTOR_ASSISTANT_DB"] = str(db)
    env["INVESTOR_ASSISTANT_DEMO_PACE"] = "0"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def ask(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = subprocess.run(
        [str(CLI), "ask", *args], env=env, capture_output=True, text=True, timeout=600
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"ask failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, result


def real_answers() -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """The offline analyst's real answer (and tool calls) to each question, on a scratch
    database: the long thread repeats them."""
    from assistant_core.backends.offline import OfflineAnalyst
    from assistant_core.market import create_market
    from assistant_core.runtime import Runtime
    from assistant_core.store import Store
    from assistant_core.tools.investor import build_investor_tools

    async def collect() -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
        out: dict[str, tuple[str, list[tuple[str, str, str]]]] = {}
        with Store(":memory:") as store:
            runtime = Runtime(
                store,
                OfflineAnalyst(),
                build_investor_tools(create_market("demo")),
                model="offline-analyst",
            )
            thread = runtime.create_thread()
            for question in QUESTIONS:
                run_id = ""
                async for event in runtime.ask(thread.id, question):
                    if event.event == "thread.run.created":
                        run_id = event.data.id
                answer = store.list_messages(thread.id)[-1].text
                calls = [
                    (c.function.name, c.function.arguments, c.function.output or "")
                    for s in store.list_steps(run_id)
                    for c in s.tool_calls
                ]
                out[question] = (answer, calls)
            await runtime.aclose()
        return out

    return asyncio.run(collect())


CHATTER = (
    "Thanks, that helps.",
    "You're welcome. Ask me about any listed company: its statements, prices or news.",
)


def build_thread(db: Path, messages: int, shape: str = "research") -> str:
    """Bulk-insert ``messages`` messages (with their runs) in one transaction: the rows
    ``add_message`` / ``create_run`` would write, without 50,000 separate commits."""
    from assistant_core.objects import (
        FunctionCall,
        Message,
        Run,
        RunStep,
        ToolCall,
        new_id,
        text_content,
    )
    from assistant_core.store import Store, _dumps

    answers = real_answers()
    with Store(db) as store:
        assistant = store.default_assistant()
        thread = store.create_thread("A very long thread")
        base = int(time.time()) - messages
        messages_rows: list[tuple[Any, ...]] = []
        run_rows: list[tuple[Any, ...]] = []
        step_rows: list[tuple[Any, ...]] = []
        call_rows: list[tuple[Any, ...]] = []
        for turn in range(messages // 2):
            question = QUESTIONS[turn % len(QUESTIONS)]
            answer, calls = answers[question]
            if shape == "chatter":  # no company anywhere: the worst case for a follow-up
                question, answer, calls = f"{CHATTER[0]} ({turn})", CHATTER[1], []
            at = base + 2 * turn
            run = Run(
                id=new_id("run"),
                created_at=at,
                thread_id=thread.id,
                assistant_id=assistant.id,
                model="offline-analyst",
                provider="offline",
                status="completed",
                started_at=at,
                completed_at=at + 1,
            )
            user = Message(
                id=new_id("message"),
                created_at=at,
                thread_id=thread.id,
                role="user",
                content=text_content(question),
            )
            reply = Message(
                id=new_id("message"),
                created_at=at + 1,
                thread_id=thread.id,
                role="assistant",
                content=text_content(answer),
                run_id=run.id,
                assistant_id=assistant.id,
                completed_at=at + 1,
            )
            run.memory = {"input_through": user.id}
            for m in (user, reply):
                messages_rows.append(
                    (m.id, thread.id, m.run_id, m.role, "completed", m.created_at, m.text,
                     _dumps(m.to_dict()))
                )  # fmt: skip
            run_rows.append((run.id, thread.id, "completed", at, _dumps(run.to_dict())))
            if turn % 10 == 0 and calls:
                step = RunStep(
                    id=new_id("step"),
                    created_at=at,
                    run_id=run.id,
                    thread_id=thread.id,
                    assistant_id=assistant.id,
                    type="tool_calls",
                    status="completed",
                    completed_at=at,
                )
                for i, (name, arguments, output) in enumerate(calls):
                    call = ToolCall(
                        id=f"call_{turn}_{i}",
                        function=FunctionCall(name=name, arguments=arguments, output=output),
                        status="completed",
                    )
                    step.tool_calls.append(call)
                step_rows.append((step, len(step_rows)))
        with store._write() as conn:
            conn.executemany(
                "INSERT INTO messages (id, thread_id, run_id, role, status, created_at, text, "
                "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                messages_rows,
            )
            conn.executemany(
                "INSERT INTO runs (id, thread_id, status, created_at, data) VALUES (?, ?, ?, ?, ?)",
                run_rows,
            )
            for step, _ in step_rows:
                cursor = conn.execute(
                    "INSERT INTO steps (id, run_id, thread_id, status, created_at, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (step.id, step.run_id, thread.id, step.status, step.created_at,
                     _dumps(step.to_dict())),
                )  # fmt: skip
                for position, call in enumerate(step.tool_calls):
                    call_rows.append(
                        (step.id, call.id, cursor.lastrowid, position, step.run_id, thread.id,
                         step.created_at, _dumps(call.to_dict()))
                    )  # fmt: skip
            conn.executemany("INSERT INTO tool_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", call_rows)
        return thread.id


def prepare(
    home: Path, name: str, messages: int, shape: str = "research"
) -> tuple[dict[str, str], str]:
    db = home / f"{name}.db"
    env = env_for(home, db)
    if not db.exists():
        thread_id = build_thread(db, messages, shape)
        if shape == "research":
            # Two real turns at the end, asked through the CLI: real runs with tool calls.
            ask(env, "--thread", thread_id, "Should I buy Apple?")
            ask(env, "--thread", thread_id, "How is its cash flow?")
    else:
        from assistant_core.store import Store

        with Store(db) as store:
            thread_id = store.list_threads(limit=1)[0].id
    return env, thread_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the databases in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = args.keep or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        cases = {
            "research": prepare(home, f"long-{args.messages}", args.messages),
            "chatter": prepare(home, f"chatter-{args.messages}", args.messages, "chatter"),
            "short": prepare(home, "short-20", 20),
        }
        print(f"databases ready in {time.perf_counter() - started:.1f} s")
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeat):  # interleaved, so load changes hit every case alike
            for name, (env, thread_id) in cases.items():
                elapsed, _result = ask(env, "--thread", thread_id, FOLLOW_UP)
                times[name].append(elapsed)
        short = statistics.median(times["short"])
        labels = {
            "research": f"{args.messages:,} messages of research (8 companies)",
            "chatter": f"{args.messages:,} messages naming no company",
            "short": "20 messages (any ask's own cost)",
        }
        for name, samples in times.items():
            median = statistics.median(samples)
            print(
                f"follow-up, thread of {labels[name]:<40} median {median:.3f} s "
                f"(min {min(samples):.3f}, max {max(samples):.3f}; {median / short:.2f}x short)"
            )
        print("target: < 1 s for the 50,000-message threads; each run appends 2 messages")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
