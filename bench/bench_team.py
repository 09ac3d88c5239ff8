"""Team deployment: ``investor-assistant serve`` replicas on one PostgreSQL database, measured
over real HTTP with the offline analyst.

1. Throughput and read latency, three set-ups side by side: 1 replica on SQLite, 1 on
   PostgreSQL, 2 on PostgreSQL. What a replica adds is capacity, so the bottleneck is made
   the one replicas exist for: each replica executes at most ``--per-replica`` runs at once
   (``serve --max-active-runs``; more get 429), and each run streams at the analyst's paced
   speed (``--pace`` seconds between pieces), so a run is mostly waiting, as a run on a real
   model is, not computing: the 2 cores are not what limits. The same closed-loop load is
   offered to every set-up — ``2 × per-replica`` clients, each creating a thread and
   streaming a run to its end, again and again, retrying a 429 after 100 ms — routed
   round-robin over the replicas as a load balancer would. Figures: runs completed per
   second, and p50/p99 of retrieve-run and list-messages probed while the load runs.
   The same reads are also timed with no runs in flight. (Goals: 2 replicas ≥ 1.6× the
   runs/s of one; p99 retrieve < 15 ms on PostgreSQL.)
2. Cancel across replicas: a run executing on A cancelled through B — the time of B's
   answer (B returns once A has closed the run) (goal < 250 ms).
3. Take-over after SIGKILL: A killed with runs in flight; the time until B has closed them
   all (``failed``, "lease expired"), for a short and the default lease.

    .venv/bin/python bench/bench_team.py [--url postgresql://…] [--seconds 20]

Without ``--url`` a throwaway PostgreSQL cluster is started (tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_server import Server  # a live `serve` in a subprocess

HEADERS = {"Authorization": "Bearer bench"}
QUESTION = "Should I buy Apple?"
RETRY_429_S = 0.1  # a client told the replica is full tries again this much later
PROBE_EVERY_S = 0.03


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def builtin(url: str) -> str:
    data = httpx.get(f"{url}/assistants", headers=HEADERS, timeout=10).json()["data"]
    return next(a["id"] for a in data if a["name"] == "Investor Assistant")


# -- 1. throughput and read latency --------------------------------------------------------
async def one_run(http: httpx.AsyncClient, url: str, assistant: str) -> tuple[str, str] | None:
    """Create a thread and stream a run to its end; None on a 429 (the replica is full)."""
    body = {
        "assistant_id": assistant,
        "stream": True,
        "thread": {"messages": [{"role": "user", "content": QUESTION}]},
    }
    async with http.stream("POST", f"{url}/threads/runs", json=body) as response:
        if response.status_code == 429:
            await response.aread()
            return None
        response.raise_for_status()
        run_id = thread_id = last = ""
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "thread.run.created":
                data = json.loads(line[5:])
                run_id, thread_id = data["id"], data["thread_id"]
            if event:
                last = event
        if last != "done":
            raise RuntimeError(f"stream ended with {last}")
    return run_id, thread_id


async def load(
    urls: list[str], assistant: str, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    done: list[float] = []
    finished: list[tuple[str, str]] = []
    rejected = 0
    stop_at = time.monotonic() + warmup + seconds
    counter = iter(range(10**9))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal rejected
        # Staggered starts: clients that all began together would finish in batches, and
        # the count in the window would move by a whole batch.
        await asyncio.sleep(random.uniform(0, warmup))
        while time.monotonic() < stop_at:
            url = urls[next(counter) % len(urls)]  # round-robin, as a load balancer
            result = await one_run(http, url, assistant)
            if result is None:
                rejected += 1
                await asyncio.sleep(RETRY_429_S)
                continue
            done.append(time.monotonic())
            finished.append(result)

    retrieve: list[float] = []
    listing: list[float] = []

    async def probe(http: httpx.AsyncClient) -> None:
        """Reads of finished runs while the load runs, through every replica."""
        while time.monotonic() < stop_at:
            await asyncio.sleep(PROBE_EVERY_S)
            if not finished or time.monotonic() < stop_at - seconds:
                continue
            run_id, thread_id = random.choice(finished)
            url = random.choice(urls)
            started = time.perf_counter()
            r = await http.get(f"{url}/threads/{thread_id}/runs/{run_id}")
            retrieve.append(time.perf_counter() - started)
            started = time.perf_counter()
            m = await http.get(f"{url}/threads/{thread_id}/messages", params={"limit": 20})
            listing.append(time.perf_counter() - started)
            assert r.status_code == 200 and m.status_code == 200

    limits = httpx.Limits(max_connections=clients + 8)
    async with httpx.AsyncClient(headers=HEADERS, timeout=120, limits=limits) as http:
        measure_from = time.monotonic() + warmup
        await asyncio.gather(*(client(http) for _ in range(clients)), probe(http))
    counted = [t for t in done if measure_from <= t <= stop_at]
    return {
        "runs_per_s": len(counted) / seconds,
        "runs": len(counted),
        "rejected": rejected,
        "retrieve": retrieve,
        "list": listing,
    }


def throughput(workdir: Path, pg: Any, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    setups = {
        "1 replica, SQLite": [("sqlite", "A")],
        "1 replica, PostgreSQL": [("pg", "A")],
        "2 replicas, PostgreSQL": [("pg", "A"), ("pg", "B")],
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
    for repeat in range(args.repeats):
        for name, members in setups.items():
            db_pg = pg.create_database("bench") if pg else args.url
            db_sqlite = str(workdir / f"team-{repeat}-{len(members)}.db")
            servers = [
                Server(
                    workdir,
                    db=db_sqlite if engine == "sqlite" else db_pg,
                    serve_args=("--max-active-runs", str(args.per_replica)),
                    pace=args.pace,
                    INVESTOR_ASSISTANT_REPLICA=f"{replica}-{repeat}",
                )
                for engine, replica in members
            ]
            try:
                assistant = builtin(servers[0].url)
                result = asyncio.run(
                    load(
                        [s.url for s in servers],
                        assistant,
                        2 * args.per_replica,
                        args.seconds,
                        args.warmup,
                    )
                )
            finally:
                for server in servers:
                    server.stop()
            results[name].append(result)
            print(
                f"  run {repeat + 1}: {name}: {result['runs_per_s']:.2f} runs/s "
                f"({result['runs']} runs, {result['rejected']} 429s), load average "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
    summary: dict[str, dict[str, Any]] = {}
    for name, runs in results.items():
        summary[name] = {
            "runs_per_s": statistics.median(r["runs_per_s"] for r in runs),
            "retrieve": [x for r in runs for x in r["retrieve"]],
            "list": [x for r in runs for x in r["list"]],
        }
    return summary


def quiet_reads(workdir: Path, db: str, requests: int) -> tuple[list[float], list[float]]:
    """Retrieve-run and list-messages (20 of a 20-message thread) with nothing else
    running: the store's and the server's own cost, without the stalls of runs in flight."""
    server = Server(workdir, db=db, INVESTOR_ASSISTANT_REPLICA="quiet")
    try:
        assistant = builtin(server.url)
        with httpx.Client(headers=HEADERS, timeout=30) as http:
            messages = [{"role": "user", "content": f"question {i}"} for i in range(19)]
            body = {"assistant_id": assistant, "thread": {"messages": messages}}
            run = http.post(f"{server.url}/threads/runs", json=body).json()
            path = f"{server.url}/threads/{run['thread_id']}"
            while http.get(f"{path}/runs/{run['id']}").json()["status"] != "completed":
                time.sleep(0.05)
            timings: tuple[list[float], list[float]] = ([], [])
            for _ in range(requests):
                for times, url in zip(timings, (f"{path}/runs/{run['id']}", f"{path}/messages")):
                    started = time.perf_counter()
                    http.get(url, params={"limit": 20} if url.endswith("messages") else None)
                    times.append(time.perf_counter() - started)
            return timings
    finally:
        server.stop()


# -- 2. cancel across replicas --------------------------------------------------------------
def cancel_latency(workdir: Path, db: str, tries: int) -> list[float]:
    a = Server(workdir, db=db, pace=0.02, INVESTOR_ASSISTANT_REPLICA="cancel-A")
    b = Server(workdir, db=db, pace=0.02, INVESTOR_ASSISTANT_REPLICA="cancel-B")
    took: list[float] = []
    try:
        assistant = builtin(a.url)
        with httpx.Client(headers=HEADERS, timeout=30) as http:
            for _ in range(tries):
                body = {
                    "assistant_id": assistant,
                    "thread": {"messages": [{"role": "user", "content": QUESTION}]},
                }
                run = http.post(f"{a.url}/threads/runs", json=body).json()
                thread_id, run_id = run["thread_id"], run["id"]
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # until B reads it in progress
                    seen = http.get(f"{b.url}/threads/{thread_id}/runs/{run_id}").json()
                    if seen["status"] == "in_progress":
                        break
                    time.sleep(0.02)
                time.sleep(0.3)
                started = time.perf_counter()
                answer = http.post(f"{b.url}/threads/{thread_id}/runs/{run_id}/cancel").json()
                took.append(time.perf_counter() - started)
                if answer["status"] != "cancelled":
                    raise RuntimeError(f"cancel through B answered {answer['status']}")
    finally:
        a.stop()
        b.stop()
    return took


# -- 3. take-over after SIGKILL -------------------------------------------------------------
def take_over(workdir: Path, db: str, lease: float) -> float:
    env = {"INVESTOR_ASSISTANT_LEASE": repr(lease)}
    a = Server(workdir, db=db, pace=0.05, INVESTOR_ASSISTANT_REPLICA=f"kill-A-{lease}", **env)
    b = Server(workdir, db=db, pace=0.05, INVESTOR_ASSISTANT_REPLICA=f"kill-B-{lease}", **env)
    try:
        assistant = builtin(a.url)
        with httpx.Client(headers=HEADERS, timeout=30) as http:
            runs = []
            for _ in range(3):
                body = {
                    "assistant_id": assistant,
                    "thread": {"messages": [{"role": "user", "content": QUESTION}]},
                }
                runs.append(http.post(f"{a.url}/threads/runs", json=body).json())
            time.sleep(1.0)
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait()
            killed = time.perf_counter()
            pending = {r["id"]: r["thread_id"] for r in runs}
            while pending:
                for run_id, thread_id in list(pending.items()):
                    run = http.get(f"{b.url}/threads/{thread_id}/runs/{run_id}").json()
                    if run["status"] == "failed":
                        del pending[run_id]
                    elif run["status"] not in ("queued", "in_progress"):
                        raise RuntimeError(f"run ended {run['status']}")
                time.sleep(0.02)
                if time.perf_counter() - killed > lease * 4 + 30:
                    raise RuntimeError("not taken over")
            return time.perf_counter() - killed
    finally:
        a.stop()
        b.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing PostgreSQL database (default: a throwaway one)")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured load per set-up")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the three set-ups")
    parser.add_argument(
        "--per-replica", type=int, default=4, help="runs a replica executes at once"
    )
    parser.add_argument("--pace", type=float, default=0.02, help="the analyst's s between pieces")
    parser.add_argument("--cancels", type=int, default=15)
    parser.add_argument("--reads", type=int, default=500, help="quiet reads per kind")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pg = None
    if args.url is None:
        from tests.support.postgres import PostgresCluster, find_bindir

        bindir = find_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL is not installed; pass --url postgresql://…")
        pg = PostgresCluster(bindir).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            print(
                f"1. throughput: {2 * args.per_replica} clients, --max-active-runs "
                f"{args.per_replica} per replica, analyst pace {args.pace} s, "
                f"{args.seconds:g} s measured after {args.warmup:g} s, {args.repeats} rounds"
            )
            summary = throughput(workdir, pg, args)
            base = summary["1 replica, PostgreSQL"]["runs_per_s"]
            for name, result in summary.items():
                ratio = result["runs_per_s"] / base
                r, m = result["retrieve"], result["list"]
                print(
                    f"   {name:<24} {result['runs_per_s']:6.2f} runs/s ({ratio:.2f}× one "
                    f"PostgreSQL replica) · retrieve p50 {ms(pct(r, 0.5))} p99 {ms(pct(r, 0.99))}"
                    f" · list p50 {ms(pct(m, 0.5))} p99 {ms(pct(m, 0.99))} ({len(r)} probes)"
                )
            for name, db in (
                ("SQLite", str(workdir / "quiet.db")),
                ("PostgreSQL", pg.create_database("quiet") if pg else args.url),
            ):
                r, m = quiet_reads(workdir, db, args.reads)
                print(
                    f"   with no runs in flight, {name:<10}: retrieve p50 {ms(pct(r, 0.5))} p99 "
                    f"{ms(pct(r, 0.99))} · list p50 {ms(pct(m, 0.5))} p99 {ms(pct(m, 0.99))} "
                    f"({len(r)} each)"
                )
            db = pg.create_database("cancel") if pg else args.url
            took = cancel_latency(workdir, db, args.cancels)
            print(
                f"2. cancel through B of a run executing on A: median {ms(statistics.median(took))}"
                f", p95 {ms(pct(took, 0.95))}, max {ms(max(took))} ({len(took)} runs)"
            )
            for lease in (2.0, 15.0):
                db = pg.create_database("kill") if pg else args.url
                seconds = take_over(workdir, db, lease)
                print(
                    f"3. take-over after SIGKILL, lease {lease:g} s: all 3 runs closed by B "
                    f"{seconds:.2f} s after the kill"
                )
    finally:
        if pg is not None:
            pg.stop()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
