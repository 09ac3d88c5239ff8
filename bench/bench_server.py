"""The Assistants API server, measured over real HTTP against live ``investor-assistant serve``
processes (offline analyst; a Chat Completions replay for the 5,000-token stream):

1. p50/p99 latency of retrieve-run and of list-messages with 100 messages (goal p99 < 10 ms)
2. time to the first SSE event after runs create with ``stream: true`` (goal < 50 ms)
3. 50 concurrent streaming runs on one server: all complete, throughput, p99 event lag
   (how far each text delta arrives behind the analyst's fixed pace)
4. streaming overhead: a 5,000-token answer streamed through the server vs the same
   stream consumed in-process through the runtime (goal <= 1.3x), alternating runs

    .venv/bin/python bench/bench_server.py [--requests 500] [--streams 50] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CLI = Path(sys.executable).parent / "investor-assistant"
HEADERS = {"Authorization": "Bearer bench"}


class Server:
    def __init__(
        self,
        workdir: Path,
        *args: str,
        pace: float = 0.0,
        db: str | None = None,
        serve_args: tuple[str, ...] = (),
        **extra_env: str,
    ) -> None:
        """``args``: global flags; ``db``: the database (default: a new file in
        ``workdir``); ``serve_args``: flags of ``serve``; ``extra_env``: more environment."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "INVESTOR_ASSISTANT_"))
        }
        env.update(
            INVESTOR_ASSISTANT_DB=db or str(workdir / f"bench-{time.monotonic_ns()}.db"),
            INVESTOR_ASSISTANT_DEMO_PACE=repr(pace),
            XDG_DATA_HOME=str(workdir / "data"),
            XDG_CONFIG_HOME=str(workdir / "config"),
            XDG_CACHE_HOME=str(workdir / "cache"),
            PYTHONWARNINGS="ignore",
            **extra_env,
        )
        self.proc = subprocess.Popen(
            [str(CLI), *args, "serve", "--port", "0", "--log-level", "warning", *serve_args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self.url = ""
        for line in self.proc.stdout:
            match = re.search(r"Assistants API at (http://\S+/v1)", line)
            if match:
                self.url = match.group(1)
                break
        if not self.url:
            raise SystemExit("the server did not start")
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drain
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/models", headers=HEADERS, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def builtin(http: httpx.Client, url: str) -> str:
    listing = http.get(f"{url}/assistants", headers=HEADERS).json()["data"]
    return next(a["id"] for a in listing if a["name"] == "Investor Assistant")


# -- 1 and 2 -------------------------------------------------------------------------------
def latency(server: Server, requests: int) -> None:
    url = server.url
    with httpx.Client(timeout=30) as http:
        assistant = builtin(http, url)
        thread = http.post(
            f"{url}/threads",
            json={"messages": [{"role": "user", "content": "Should I buy Apple?"}]},
            headers=HEADERS,
        ).json()
        run = http.post(
            f"{url}/threads/{thread['id']}/runs", json={"assistant_id": assistant}, headers=HEADERS
        ).json()
        while (
            http.get(f"{url}/threads/{thread['id']}/runs/{run['id']}", headers=HEADERS).json()[
                "status"
            ]
            != "completed"
        ):
            time.sleep(0.05)
        for i in range(100):
            http.post(
                f"{url}/threads/{thread['id']}/messages",
                json={"role": "user", "content": f"note {i}: " + "x" * 200},
                headers=HEADERS,
            )

        def timed(path: str) -> list[float]:
            for _ in range(20):  # warm-up
                http.get(f"{url}{path}", headers=HEADERS)
            out = []
            for _ in range(requests):
                started = time.perf_counter()
                response = http.get(f"{url}{path}", headers=HEADERS)
                out.append(time.perf_counter() - started)
                assert response.status_code == 200
            return out

        retrieve = timed(f"/threads/{thread['id']}/runs/{run['id']}")
        listing = timed(f"/threads/{thread['id']}/messages?limit=100")
        assert (
            len(
                http.get(
                    f"{url}/threads/{thread['id']}/messages?limit=100", headers=HEADERS
                ).json()["data"]
            )
            == 100
        )
        print(
            f"retrieve run            : p50 {ms(statistics.median(retrieve))}  p99 {ms(pct(retrieve, 0.99))}  ({requests} requests; goal p99 < 10 ms)"
        )
        print(
            f"list messages (100)     : p50 {ms(statistics.median(listing))}  p99 {ms(pct(listing, 0.99))}"
        )

        firsts: list[float] = []
        seen: list[Any] = []
        for _ in range(30):
            t = http.post(
                f"{url}/threads",
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers=HEADERS,
            ).json()
            started = time.perf_counter()
            with http.stream(
                "POST",
                f"{url}/threads/{t['id']}/runs",
                json={"assistant_id": assistant, "stream": True},
                headers=HEADERS,
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("event:") and len(firsts) < len(seen) + 1:
                        firsts.append(time.perf_counter() - started)
                seen.append(t)
        print(
            f"first SSE event         : p50 {ms(statistics.median(firsts))}  p99 {ms(pct(firsts, 0.99))}  (30 runs; goal < 50 ms)"
        )


# -- 3 -------------------------------------------------------------------------------------
QUESTIONS = ["Should I buy Apple?", "How is Tesla's balance sheet?", "Show me MSFT's last 100 days"]


async def stream_text(
    http: httpx.AsyncClient, url: str, assistant: str, question: str
) -> tuple[str, list[tuple[int, float]]]:
    """(the last run event, [(characters received so far, seconds since the first delta)])."""
    thread = (
        await http.post(
            f"{url}/threads",
            json={"messages": [{"role": "user", "content": question}]},
            headers=HEADERS,
        )
    ).json()
    last, name, chars, first = "", "", 0, None
    points: list[tuple[int, float]] = []
    async with http.stream(
        "POST",
        f"{url}/threads/{thread['id']}/runs",
        json={"assistant_id": assistant, "stream": True},
        headers=HEADERS,
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
                if name.startswith("thread.run."):
                    last = name
            elif line.startswith("data:") and name == "thread.message.delta":
                now = time.perf_counter()
                first = now if first is None else first
                chars += len(json.loads(line[5:])["delta"]["content"][0]["text"]["value"])
                points.append((chars, now - first))
    return last, points


def behind(points: list[tuple[int, float]], alone: list[tuple[int, float]]) -> list[float]:
    """How much later each piece of text arrived than it did in a run streamed alone."""
    lags, j = [], 0
    for chars, t in points:
        while j + 1 < len(alone) and alone[j][0] < chars:
            j += 1
        lags.append(max(0.0, t - alone[j][1]))
    return lags


async def concurrent(server: Server, streams: int, pace: float) -> None:
    url = server.url
    async with httpx.AsyncClient(
        timeout=120, limits=httpx.Limits(max_connections=streams + 5)
    ) as http:
        listing = (await http.get(f"{url}/assistants", headers=HEADERS)).json()["data"]
        assistant = next(a["id"] for a in listing if a["name"] == "Investor Assistant")
        alone = {q: (await stream_text(http, url, assistant, q))[1] for q in QUESTIONS}
        questions = (QUESTIONS * (streams // 3 + 1))[:streams]
        started = time.perf_counter()
        results = await asyncio.gather(*(stream_text(http, url, assistant, q) for q in questions))
        took = time.perf_counter() - started
    completed = sum(1 for last, _ in results if last == "thread.run.completed")
    lags = [lag for q, (_, points) in zip(questions, results) for lag in behind(points, alone[q])]
    print(
        f"{streams} concurrent streams  : {completed}/{streams} completed in {took:.2f} s "
        f"({streams / took:.1f} runs/s; one alone takes {max(p[-1][1] for p in alone.values()):.2f} s at a "
        f"{pace * 1000:.0f} ms pace); text behind the same run streamed alone: "
        f"p50 {ms(statistics.median(lags))}  p99 {ms(pct(lags, 0.99))}"
    )
    if completed != streams:
        raise SystemExit(f"runs lost or failed: {[last for last, _ in results]}")


# -- 4 -------------------------------------------------------------------------------------
async def overhead(workdir: Path, tokens: int, repeats: int) -> None:
    from bench_runtime import MODEL, start_server, through_runtime

    from assistant_core.backends.chat_completions import ChatCompletionsBackend
    from assistant_core.runtime import Runtime
    from assistant_core.store import Store
    from assistant_core.tools.registry import ToolRegistry

    child, replay_url = start_server(tokens)
    api = Server(workdir, "--provider", "compatible", "--base-url", replay_url, "--model", MODEL)
    store = Store(workdir / "inproc.db")
    backend = ChatCompletionsBackend(replay_url, "bench")
    runtime = Runtime(store, backend, ToolRegistry(), model=MODEL)
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            listing = (await http.get(f"{api.url}/assistants", headers=HEADERS)).json()["data"]
            assistant = next(a["id"] for a in listing if a["name"] == "Investor Assistant")

            async def over_http() -> tuple[float, int]:
                started = time.perf_counter()
                thread = (
                    await http.post(
                        f"{api.url}/threads",
                        json={"messages": [{"role": "user", "content": "Tell me about Apple."}]},
                        headers=HEADERS,
                    )
                ).json()
                chars = 0
                async with http.stream(
                    "POST",
                    f"{api.url}/threads/{thread['id']}/runs",
                    json={"assistant_id": assistant, "stream": True},
                    headers=HEADERS,
                ) as response:
                    name = ""
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            name = line[6:].strip()
                        elif line.startswith("data:") and name == "thread.message.delta":
                            chars += len(
                                __import__("json").loads(line[5:])["delta"]["content"][0]["text"][
                                    "value"
                                ]
                            )
                return time.perf_counter() - started, chars

            await over_http()
            await through_runtime(runtime)
            served: list[float] = []
            local: list[float] = []
            for i in range(repeats):
                pair = [over_http(), through_runtime(runtime)]
                if i % 2:
                    pair.reverse()
                for coro in pair:
                    result = await coro
                    if len(result) == 2:
                        served.append(result[0])
                    else:
                        local.append(result[0])
    finally:
        await backend.aclose()
        store.close()
        api.stop()
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=5)
    ratio = statistics.median(served) / statistics.median(local)
    print(
        f"{tokens}-token stream      : over HTTP (server + SSE + SDK-style client) median "
        f"{statistics.median(served) * 1000:.0f} ms vs in-process runtime {statistics.median(local) * 1000:.0f} ms: "
        f"{ratio:.2f}x (goal <= 1.3x; {repeats} runs each, alternating)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--pace", type=float, default=0.01)
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        quick = Server(workdir)
        try:
            latency(quick, args.requests)
        finally:
            quick.stop()
        paced = Server(workdir, pace=args.pace)
        try:
            asyncio.run(concurrent(paced, args.streams, args.pace))
        finally:
            paced.stop()
        asyncio.run(overhead(workdir, args.tokens, args.repeats))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
