#!/usr/bin/env python
"""The app with a real model: llama.cpp's llama-server and a small Qwen2.5-Coder model, both
prepared by ``scripts/local-model.sh prepare [0.5b|1.5b]``.

``success``  — ten fixed research questions (five English, five Korean) asked through the app
               (``--provider compatible --data demo --approval auto``), one fresh database per
               question. A run succeeds when it ends with a final text answer that cites
               fetched data: a completed assistant message that is not a tool call printed as
               text and that contains a figure found in the output of one of the run's
               successful tool calls (allowing for units: 391,035,000,000 = "391.04 billion",
               0.0345 = "3.45%"). Each question gets ``--timeout`` seconds of wall-clock time;
               a run still going then is cancelled and counted as a failure.
``overhead`` — time to first token and tokens/s of one streamed answer, through the app's
               runtime vs the bare ``openai`` client, against the same server with the same
               prompt (the app's instructions and a question; no tools, so both stream the
               same kind of text to the same token limit), alternated and repeated; medians.
               Each run is also divided by the server's own time for it (llama.cpp's
               ``timings``), which the machine's load does not skew. Target: the app's time
               ≤ 1.1× the model's own.

Run:  python bench/bench_realmodel.py success --model 0.5b [--before OLD_CHECKOUT] [--out FILE]
      python bench/bench_realmodel.py overhead --model 0.5b [--repeats 5]
The ``success`` mode only uses APIs the app has had from the start (settings, session,
runtime.ask), so it also measures an older checkout (``--before``, e.g. from
``git archive c0cfa01 | tar -x -C /tmp/before``), question by question beside this one.
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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.realmodel.llama_server import LlamaServer, prepared

if os.environ.get("BENCH_APP_PATH"):  # measuring another checkout: its app code comes first
    sys.path.insert(0, os.environ["BENCH_APP_PATH"])

QUESTIONS = [
    "Should I buy Apple stock? Look at its income statement and its last 100 days.",
    "How has Microsoft's revenue changed over the last few years?",
    "What is NVIDIA's current stock price, and how did it do over the last 100 days?",
    "Is Tesla's debt a concern? Check its balance sheet.",
    "What do analysts recommend for Amazon stock right now?",
    "삼성전자 주식을 사도 될까요? 손익계산서와 최근 100일 주가를 확인해 주세요.",
    "애플의 최근 매출과 순이익은 얼마인가요?",
    "엔비디아의 현재 주가는 얼마인가요?",
    "테슬라의 현금흐름을 분석해 주세요.",
    "마이크로소프트의 최근 100일 주가 흐름은 어땠나요?",
]

NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")
SCALES = (1.0, 1e-2, 1e2, 1e3, 1e6, 1e9, 1e12, 1e-3, 1e-6, 1e-9)


def numbers(text: str) -> list[float]:
    out = []
    for match in NUMBER.findall(text):
        try:
            out.append(float(match.replace(",", "")))
        except ValueError:
            continue
    return out


def significant(value: float) -> bool:
    """A figure worth matching: not 0/1-digit counts, not a bare year."""
    if value == int(value) and 1900 <= value <= 2100:
        return False
    digits = re.sub(r"\D", "", f"{abs(value):.6g}").strip("0")
    return len(digits) >= 2


def cites(answer: str, outputs: list[str]) -> bool:
    fetched = [n for out in outputs for n in numbers(out) if n and significant(n)]
    for value in numbers(answer):
        if not significant(value):
            continue
        for scale in SCALES:
            scaled = value * scale
            if any(abs(scaled - t) <= 0.006 * abs(t) for t in fetched):
                return True
    return False


def looks_like_call(text: str) -> bool:
    body = text.strip().strip("`").removeprefix("json").strip()
    return body.startswith(("{", "[", "<tool_call>")) and '"name"' in body


@dataclass
class Outcome:
    question: str
    status: str
    success: bool
    reason: str
    seconds: float
    turns: int = 0
    calls: int = 0
    answer: str = ""
    notes: list[str] = field(default_factory=list)


async def ask_one(base_url: str, model: str, question: str, timeout: float) -> Outcome:
    from assistant_core.config import load_settings
    from assistant_core.session import build_session

    with tempfile.TemporaryDirectory(prefix="bench-realmodel-") as tmp:
        settings = load_settings(
            {
                "provider": "compatible",
                "base_url": base_url,
                "model": model,
                "data": "demo",
                "approval": "auto",
                "db": str(Path(tmp) / "db.sqlite"),
            }
        )
        session = build_session(settings)
        runtime = session.runtime
        thread = runtime.create_thread()
        run_id = ""
        started = time.monotonic()
        timed_out = False
        error = ""

        async def consume() -> None:
            nonlocal run_id
            async for event in runtime.ask(thread.id, question):
                if event.event == "thread.run.created":
                    run_id = event.data.id

        try:
            await asyncio.wait_for(consume(), timeout)
        except TimeoutError:
            timed_out = True
        except Exception as exc:  # the app must not raise; record it as a failure
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        try:
            return classify(session, question, run_id, seconds, timed_out, error)
        finally:
            await session.aclose()


def classify(
    session: Any, question: str, run_id: str, seconds: float, timed_out: bool, error: str
) -> Outcome:
    store = session.store
    if not run_id:
        return Outcome(question, "none", False, error or "no run", seconds)
    run = store.get_run(run_id)
    steps = store.list_steps(run_id)
    calls = [c for s in steps if s.type == "tool_calls" for c in s.tool_calls]
    outputs = [
        c.function.output
        for c in calls
        if c.function.output and not c.is_error and c.status == "completed"
    ]
    messages = [
        m
        for m in store.list_messages(run.thread_id)
        if m.run_id == run_id and m.role == "assistant"
    ]
    answer = messages[-1].text.strip() if messages else ""
    notes = [str(n.get("message", n)) for n in (getattr(run, "notes", None) or [])]
    turns = sum(1 for s in steps if s.type == "tool_calls") + sum(
        1 for s in steps if s.type == "message_creation"
    )
    outcome = Outcome(
        question, run.status, False, "", seconds, turns, len(calls), answer[:400], notes
    )
    if timed_out:
        outcome.reason = "timeout"
    elif error:
        outcome.reason = error
    elif not messages or messages[-1].status != "completed" or not answer:
        outcome.reason = f"no final answer ({run.status})"
    elif looks_like_call(answer):
        outcome.reason = "answer is a tool call printed as text"
    elif not outputs:
        outcome.reason = "no tool data fetched"
    elif not cites(answer, outputs):
        outcome.reason = "answer cites no fetched figure"
    else:
        outcome.success = True
        outcome.reason = "ok"
    return outcome


def success(args: argparse.Namespace) -> None:
    """Each question through the app, as one subprocess per run (``one``), so an older
    checkout (``--before``) runs the same question against the same server right beside the
    current code: before and after alternate, under the same load."""
    if prepared(args.model) is None:
        sys.exit(f"not prepared: run scripts/local-model.sh prepare {args.model}")
    log = Path(tempfile.gettempdir()) / f"bench-realmodel-{args.model}.log"
    questions = QUESTIONS[: args.questions]
    versions = {"after": ""} if not args.before else {"before": args.before, "after": ""}
    results: dict[str, list[Outcome]] = {name: [] for name in versions}
    with LlamaServer(args.model, context=args.context, log_path=log) as server:
        for index, question in enumerate(questions):
            order = list(versions) if index % 2 == 0 else list(reversed(versions))
            for name in order:
                outcome = run_one(server, index, args.timeout, versions[name])
                results[name].append(outcome)
                mark = "ok  " if outcome.success else "FAIL"
                print(
                    f"{name:<6} {mark} {outcome.seconds:6.1f}s {outcome.status:<10} "
                    f"calls={outcome.calls:<3} {outcome.reason[:55]:<55} {question[:40]}",
                    flush=True,
                )
                if args.out:
                    with open(args.out, "a", encoding="utf-8") as fh:
                        record = {"model": args.model, "version": name, **asdict(outcome)}
                        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"\n{args.model}, load average {os.getloadavg()[0]:.2f}, timeout {args.timeout:g} s")
    for name, outcomes in results.items():
        ok = sum(r.success for r in outcomes)
        english = [r for r in outcomes if r.question.isascii()]
        korean = [r for r in outcomes if not r.question.isascii()]
        print(
            f"{name:<6} {ok}/{len(outcomes)} runs ended with a final answer citing fetched data "
            f"(English {sum(r.success for r in english)}/{len(english)}, Korean "
            f"{sum(r.success for r in korean)}/{len(korean)}); median "
            f"{statistics.median(r.seconds for r in outcomes):.0f} s per question"
        )


def run_one(server: LlamaServer, index: int, timeout: float, app_path: str) -> Outcome:
    env = dict(os.environ)
    env.pop("BENCH_APP_PATH", None)
    if app_path:
        env["BENCH_APP_PATH"] = app_path
    command = [
        sys.executable,
        __file__,
        "one",
        "--base-url",
        server.base_url,
        "--model-name",
        server.model,
        "--question",
        str(index),
        "--timeout",
        str(timeout),
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout + 120, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(QUESTIONS[index], "none", False, f"crashed: {error}", timeout)
    return Outcome(**json.loads(lines[-1]))


def one(args: argparse.Namespace) -> None:
    question = QUESTIONS[args.question]
    outcome = asyncio.run(ask_one(args.base_url, args.model_name, question, args.timeout))
    print(json.dumps(asdict(outcome), ensure_ascii=False))


# -- overhead --------------------------------------------------------------------------------
# Long enough that both answers run into the same token limit.
OVERHEAD_QUESTION = (
    "Write a detailed 500-word guide on what an investor should check before buying a stock."
)


@dataclass
class Timing:
    ttft: float  # seconds to the first token, as the consumer saw it
    total: float  # seconds to the end of the stream (the app: to its done event)
    tokens: int
    model: float  # the server's own time for the request (llama.cpp's timings)

    @property
    def ratio(self) -> float:
        return self.total / self.model


def server_seconds(timings: Any) -> float:
    """llama.cpp's ``timings`` of a finished request: prompt and generation, in seconds."""
    return (float(timings["prompt_ms"]) + float(timings["predicted_ms"])) / 1000


def chunk_timings(chunk: Any) -> Any:
    extra = getattr(chunk, "model_extra", None) or {}
    return extra.get("timings")


async def bare_client(
    base_url: str, model: str, messages: list[dict[str, Any]], max_tokens: int
) -> Timing:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    started = time.perf_counter()
    first: float | None = None
    tokens, timings = 0, None
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=max_tokens,
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        timings = chunk_timings(chunk) or timings
    total = time.perf_counter() - started
    await client.close()
    return Timing(first or total, total, tokens, server_seconds(timings))


async def through_app(base_url: str, model: str, max_tokens: int, tmp: Path) -> Timing:
    """The same answer through the app's runtime: store, run loop, memory, events, backend.
    No tools are registered, so the request holds the same two messages as the bare one.
    The server's timings are read off the raw chunks on their way into the backend."""
    from assistant_core.backends.chat_completions import ChatCompletionsBackend
    from assistant_core.runtime import Runtime
    from assistant_core.store import Store
    from assistant_core.tools.registry import ToolRegistry

    store = Store(tmp / f"db-{time.monotonic_ns()}.sqlite")
    backend = ChatCompletionsBackend(base_url=base_url, api_key=None)
    seen: list[Any] = []
    translate = backend._translate

    async def recording(events: Any) -> Any:
        async def raw() -> Any:
            async for chunk in events:
                seen.append(chunk_timings(chunk))
                yield chunk

        async for item in translate(raw()):
            yield item

    backend._translate = recording  # type: ignore[method-assign]
    runtime = Runtime(store, backend, ToolRegistry(), model=model)
    thread = runtime.create_thread()
    started = time.perf_counter()
    first: float | None = None
    run = None
    async for event in runtime.ask(thread.id, OVERHEAD_QUESTION, max_completion_tokens=max_tokens):
        if event.event == "thread.message.delta" and first is None:
            first = time.perf_counter() - started
        if event.event in ("thread.run.completed", "thread.run.incomplete", "thread.run.failed"):
            run = event.data
    total = time.perf_counter() - started
    await runtime.aclose()
    store.close()
    if run is None or run.status == "failed":
        raise SystemExit(f"the app's run failed: {run.last_error if run else 'no run'}")
    tokens = run.usage.completion_tokens if run.usage else 0
    timings = next(t for t in reversed(seen) if t)
    return Timing(first or total, total, tokens, server_seconds(timings))


def overhead(args: argparse.Namespace) -> None:
    from assistant_core.store import DEFAULT_INSTRUCTIONS

    if prepared(args.model) is None:
        sys.exit(f"not prepared: run scripts/local-model.sh prepare {args.model}")
    log = Path(tempfile.gettempdir()) / f"bench-realmodel-overhead-{args.model}.log"
    tmp = Path(tempfile.mkdtemp(prefix="bench-realmodel-"))
    messages = [
        {"role": "system", "content": DEFAULT_INSTRUCTIONS},
        {"role": "user", "content": OVERHEAD_QUESTION},
    ]
    rows: dict[str, list[Timing]] = {"bare": [], "app": []}
    with LlamaServer(args.model, context=args.context, log_path=log) as server:
        for i in range(args.repeats + 1):  # the first pair warms the server's caches
            order = ("bare", "app") if i % 2 else ("app", "bare")
            for who in order:
                if who == "bare":
                    result = asyncio.run(
                        bare_client(server.base_url, server.model, messages, args.max_tokens)
                    )
                else:
                    result = asyncio.run(
                        through_app(server.base_url, server.model, args.max_tokens, tmp)
                    )
                if i:
                    rows[who].append(result)
    print(
        f"{args.model}, {args.repeats} alternated pairs, {args.max_tokens} tokens each, medians; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'':6} {'TTFT s':>7} {'tok/s':>6} {'total s':>8} {'model s':>8} {'total/model':>12}")
    for who, results in rows.items():
        ttft = statistics.median(r.ttft for r in results)
        rate = statistics.median(r.tokens / (r.total - r.ttft) for r in results if r.total > r.ttft)
        total = statistics.median(r.total for r in results)
        model_s = statistics.median(r.model for r in results)
        ratio = statistics.median(r.ratio for r in results)
        print(f"{who:6} {ttft:7.3f} {rate:6.1f} {total:8.2f} {model_s:8.2f} {ratio:11.3f}×")
    app = statistics.median(r.ratio for r in rows["app"])
    print(
        f"the app's time / the model's own time: {app:.3f}× (target ≤ 1.1×); server speed "
        f"varies with the machine's load, so each run is divided by the server's own timings"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("success")
    s.add_argument("--model", default="0.5b", choices=("0.5b", "1.5b"))
    s.add_argument("--timeout", type=float, default=180.0)
    s.add_argument("--context", type=int, default=8192)
    s.add_argument("--questions", type=int, default=len(QUESTIONS))
    s.add_argument("--before", default="", help="an older checkout to measure beside this one")
    s.add_argument("--out", default="")
    s.set_defaults(func=success)
    one_run = sub.add_parser("one")  # internal: one question, one run, an Outcome as JSON
    one_run.add_argument("--base-url", required=True)
    one_run.add_argument("--model-name", required=True)
    one_run.add_argument("--question", type=int, required=True)
    one_run.add_argument("--timeout", type=float, default=180.0)
    one_run.set_defaults(func=one)
    o = sub.add_parser("overhead")
    o.add_argument("--model", default="0.5b", choices=("0.5b", "1.5b"))
    o.add_argument("--repeats", type=int, default=10)
    o.add_argument("--max-tokens", type=int, default=96)
    o.add_argument("--context", type=int, default=8192)
    o.set_defaults(func=overhead)
    args = parser.parse_args()
    # Stopped with SIGTERM (e.g. by `timeout`): unwind, so the server it started stops too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.func(args)


if __name__ == "__main__":
    main()
