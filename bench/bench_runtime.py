"""Runtime overhead: a ~5,000-token Chat Completions stream consumed through the runtime
(ChatCompletionsBackend → run loop → events → SQLite persistence) versus the bare ``openai``
client reading the same stream from the same local server.

The server (tests/support/openai_replay.py) runs in a child process, so its work does not
compete with the measured client for the GIL. Runs alternate between the two consumers;
the script prints the medians and their ratio (target: at most 1.3×).

    /work/venv/bin/python bench/bench_runtime.py [--tokens 5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = """
import sys
sys.path.insert(0, {root!r})
from tests.support.openai_replay import ReplayServer, chat_stream, synthetic_tokens
server = ReplayServer().start()
server.enqueue(chat_stream(synthetic_tokens({tokens}), usage=(40, {tokens})), times=None)
print(server.base_url, flush=True)
sys.stdin.read()  # serve until the parent closes our stdin
"""
MODEL = "gpt-replay"


def start_server(tokens: int) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT), tokens=tokens)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    base_url = child.stdout.readline().strip()
    if not base_url.startswith("http"):
        child.kill()
        raise SystemExit("the replay server did not start")
    return child, base_url


Timing = tuple[float, float, int]  # wall seconds, CPU seconds of this process, characters


async def bare_client(client: object) -> Timing:
    started, cpu = time.perf_counter(), time.process_time()
    stream = await client.chat.completions.create(  # type: ignore[attr-defined]
        model=MODEL,
        messages=[{"role": "user", "content": "Tell me about Apple."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts = []
    async for chunk in stream:
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
    return time.perf_counter() - started, time.process_time() - cpu, len("".join(parts))


async def through_runtime(runtime: object) -> Timing:
    from assistant_core.events import MessageDelta

    started, cpu = time.perf_counter(), time.process_time()
    thread = runtime.create_thread()  # type: ignore[attr-defined]
    chars = 0
    status = ""
    async for event in runtime.ask(thread.id, "Tell me about Apple."):  # type: ignore[attr-defined]
        if isinstance(event, MessageDelta):
            chars += len(event.data.value)
        elif event.event.startswith("thread.run.") and hasattr(event.data, "status"):
            status = event.data.status
    if status != "completed":
        raise SystemExit(f"the benchmark run ended {status}, not completed")
    return time.perf_counter() - started, time.process_time() - cpu, chars


async def main(tokens: int, repeats: int) -> None:
    from openai import AsyncOpenAI

    from assistant_core.backends.chat_completions import ChatCompletionsBackend
    from assistant_core.runtime import Runtime
    from assistant_core.store import Store
    from assistant_core.tools.registry import ToolRegistry

    child, base_url = start_server(tokens)
    workdir = tempfile.TemporaryDirectory()
    store = Store(Path(workdir.name) / "bench.db")
    client = AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    backend = ChatCompletionsBackend(base_url, "bench")
    runtime = Runtime(store, backend, ToolRegistry(), model=MODEL)
    try:
        # Warm-up: imports, connection pools, SQLite pages.
        *_, bare_chars = await bare_client(client)
        *_, runtime_chars = await through_runtime(runtime)
        if bare_chars != runtime_chars:
            raise SystemExit(f"text differs: bare {bare_chars} chars, runtime {runtime_chars}")
        bare: list[Timing] = []
        ours: list[Timing] = []
        for i in range(repeats):
            order = (bare_client(client), through_runtime(runtime))
            if i % 2:
                order = order[::-1]
            first, second = [await coro for coro in order]
            (b, r) = (first, second) if i % 2 == 0 else (second, first)
            bare.append(b)
            ours.append(r)
        # Persistence did its job: the last answer is in the store, whole.
        latest = store.list_threads(limit=1)[0]
        stored = store.list_messages(latest.id)[-1]
        if (stored.status, len(stored.text)) != ("completed", bare_chars):
            raise SystemExit(f"stored answer is {stored.status} with {len(stored.text)} chars")
    finally:
        await client.close()
        await backend.aclose()
        store.close()
        workdir.cleanup()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=5)

    print(f"stream: {tokens} tokens, {bare_chars} characters; {repeats} runs each, alternating")
    for label, index in (("wall", 0), ("CPU ", 1)):
        b = [t[index] for t in bare]
        r = [t[index] for t in ours]
        print(f"{label} bare openai client : median {median_ms(b):7.1f} ms  (runs: {fmt(b)})")
        print(f"{label} runtime + store    : median {median_ms(r):7.1f} ms  (runs: {fmt(r)})")
        print(
            f"{label} ratio runtime/bare : {statistics.median(r) / statistics.median(b):.2f}x  (target <= 1.3x)"
        )


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.repeats))
