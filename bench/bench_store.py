"""Store benchmark: prints median timings (run: python bench/bench_store.py).

Targets on a 2-core machine: the last 100 messages of a 10,000-message thread in < 5 ms,
1,000 threads listed in < 20 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant_core.store import Store

WORDS = ("revenue", "margin", "dividend", "삼성전자", "매출", "guidance", "buyback", "risk")


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm the page cache and SQLite's statement cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def message_text(i: int) -> str:
    return (
        f"Message {i}: the {WORDS[i % len(WORDS)]} figure for fiscal {2000 + i % 25} "
        f"was {i * 1.7:.1f} (source: yahoo). " * 3
    )


def bench_append(tmp: Path, rounds: int = 3, count: int = 10_000) -> tuple[float, float]:
    totals = []
    for r in range(rounds):
        with Store(tmp / f"append{r}.db") as store:
            thread_id = store.create_thread("append").id
            start = time.perf_counter()
            for i in range(count):
                store.add_message(thread_id, "user" if i % 2 else "assistant", message_text(i))
            totals.append(time.perf_counter() - start)
    total = statistics.median(totals)
    return total, total / count * 1e6


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        total_s, per_message_us = bench_append(tmp)
        print(
            f"append 10,000 messages:           {total_s:8.2f} s total, "
            f"{per_message_us:.0f} µs per message (median of 3)"
        )

        with Store(tmp / "threads.db") as store:
            for t in range(1_000):
                thread_id = store.create_thread(f"Research {t}").id
                for i in range(5):
                    store.add_message(
                        thread_id, "user" if i % 2 else "assistant", message_text(t * 5 + i)
                    )
            assert len(store.list_threads()) == 1_000
            print(f"list 1,000 threads (no filter):   {median_ms(store.list_threads, 50):8.2f} ms")
            for needle in ("dividend", "fiscal 2003", "삼성전자", "매출", "no such text"):
                hits = len(store.list_threads(needle))
                ms = median_ms(lambda needle=needle: store.list_threads(needle), 50)
                print(f"list threads, filter {needle!r:15} {ms:8.2f} ms  ({hits} threads match)")

        with Store(tmp / "append0.db") as store:
            (thread,) = store.list_threads()
            assert store.count_messages(thread.id) == 10_000
            last = store.list_messages(thread.id, limit=100)
            ms = median_ms(lambda: store.list_messages(thread.id, limit=100), 200)
            print(f"last 100 of 10,000 messages:      {ms:8.2f} ms")
            ms = median_ms(
                lambda: store.list_messages(thread.id, limit=100, before=last[0].id), 200
            )
            print(f"previous 100 (scroll-up page):    {ms:8.2f} ms")
            ms = median_ms(lambda: store.list_messages(thread.id), 5)
            print(f"all 10,000 messages:              {ms:8.2f} ms")


if __name__ == "__main__":
    main()
