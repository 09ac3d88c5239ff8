"""A very long thread through the command line: peak memory and time of ``threads show``,
``threads export --format md`` and ``threads export --format json``.

Builds, in a temporary directory, one thread of 50,000 messages (25,000 questions, each
answered by a run with a tool call: a ``tool_calls`` step and a ``message_creation`` step,
a Markdown answer with a table, a list and a code block), then runs each command as its own
process (the real CLI, output to /dev/null) and reports its peak RSS (``ru_maxrss`` of that
child, from ``os.wait4``) and wall time, the median of ``--runs`` runs. For scale it also
reports a process that only imports the command line and exits.

``--compare-with DIR`` runs the same commands from another checkout of the project (e.g. the
commit before streaming exports), side by side in the same run, on the same database.

Run: ``python bench/bench_long_thread_export.py [--messages 50000] [--runs 3]
[--compare-with DIR] [--db PATH]`` (``--db``: build there, or reuse it if it exists).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant_core.objects import FunctionCall, Run, RunStep, ToolCall, new_id, now
from assistant_core.store import Store

QUESTION = "How is Apple's balance sheet compared with last year, and should I buy AAPL now? "
ANSWER = (
    "## Verdict\n\nRevenue **391.0B**, up 2.0% year on year; net margin 24%.\n\n"
    "| Metric | 2024 | 2023 |\n|:--|--:|--:|\n| Revenue | 391.0B | 383.3B |\n"
    "| Net income | 93.7B | 97.0B |\n\n- Strength: cash flow\n- Risk: China demand\n\n"
    "```python\nprint('not financial advice')\n```\n"
)
OUTPUT = json.dumps(
    {"data": {"symbol": "AAPL", "rows": [[f"row {i}", i * 1.5, i * 2.5] for i in range(12)]}}
)


def build(db: Path, messages: int) -> str:
    """The thread (its id); about 40 s for 50,000 messages here."""
    store = Store(db)
    # A benchmark database: nothing to lose if the machine stops while it is built.
    store._db.execute("PRAGMA synchronous = OFF")
    assistant = store.default_assistant()
    thread = store.create_thread("A very long thread")
    for turn in range(messages // 2):
        store.add_message(thread.id, "user", f"{QUESTION}({turn})")
        stamp = now()
        run = Run(
            new_id("run"), stamp, thread.id, assistant.id, "offline-analyst", status="completed"
        )
        store.create_run(run)
        call = ToolCall(
            new_id("call"),
            FunctionCall("get_balance_sheet", '{"ticker": "AAPL"}', output=OUTPUT),
            status="completed",
            duration_ms=12.0,
            source="demo",
        )
        store.create_step(
            RunStep(
                new_id("step"), stamp, run.id, thread.id, assistant.id, "tool_calls",
                status="completed", tool_calls=[call],
            )
        )  # fmt: skip
        answer = store.add_message(
            thread.id, "assistant", ANSWER, run_id=run.id, assistant_id=assistant.id
        )
        store.create_step(
            RunStep(
                new_id("step"), stamp, run.id, thread.id, assistant.id, "message_creation",
                status="completed", message_id=answer.id,
            )
        )  # fmt: skip
    store.close()
    return thread.id


def measure(code_root: Path, args: list[str], db: Path, timeout: float) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one CLI process run from ``code_root``; one that
    runs past ``timeout`` is stopped (its wall time is then reported as infinite)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code_root),
        "INVESTOR_ASSISTANT_DB": str(db),
        "PYTHONWARNINGS": "ignore",
    }
    command = [sys.executable, "-c", "import sys; from tui.cli import main; sys.exit(main())"]
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen(
            [*command, *args], env=env, cwd=code_root, stdout=devnull, stderr=subprocess.PIPE
        )
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                return usage.ru_maxrss / 1024, float("inf")
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        error = process.stderr.read().decode() if process.stderr else ""
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}): {error}")
    return usage.ru_maxrss / 1024, elapsed  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare-with", type=Path, help="another checkout to run as well")
    parser.add_argument("--db", type=Path, help="build the thread there (or reuse it)")
    parser.add_argument("--timeout", type=float, default=300, help="stop a command after (s)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or Path(tmp) / "threads.db"
        if db.exists():
            with Store(db) as store:
                [thread_id] = [t.id for t in store.list_threads()]
                count = store.count_messages(thread_id)
            print(f"reusing {db}: {count:,} messages")
        else:
            start = time.perf_counter()
            thread_id = build(db, options.messages)
            print(
                f"built {options.messages:,} messages ({options.messages // 2:,} runs and tool "
                f"calls) in {time.perf_counter() - start:.0f} s; "
                f"database {db.stat().st_size / 1e6:.0f} MB"
            )
        commands = {
            "import only": ["--help"],
            "threads show": ["threads", "show", thread_id],
            "export --format md": ["threads", "export", thread_id, "--format", "md"],
            "export --format json": ["threads", "export", thread_id, "--format", "json"],
        }
        roots = {"this checkout": ROOT}
        if options.compare_with:
            roots = {"before": options.compare_with.resolve(), "after": ROOT}
        load = os.getloadavg()[0]
        print(f"load average {load:.2f}; median of {options.runs} runs, peak RSS of the process")
        print(f"{'command':<22} {'code':<14} {'peak RSS':>10} {'wall':>9}")
        for name, args in commands.items():
            results: dict[str, list[tuple[float, float]]] = {label: [] for label in roots}
            for _ in range(options.runs):  # interleaved, so load changes hit both alike
                for label, root in roots.items():
                    results[label].append(measure(root, args, db, options.timeout))
            for label, runs in results.items():
                rss = max(r for r, _ in runs)
                wall = statistics.median(w for _, w in runs)
                took = f"{wall:>7.2f} s" if wall != float("inf") else f"> {options.timeout:.0f} s"
                print(f"{name:<22} {label:<14} {rss:>7.0f} MB {took:>9}", flush=True)


if __name__ == "__main__":
    main()
