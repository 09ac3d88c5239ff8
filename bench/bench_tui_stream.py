"""Streaming an answer into the chat, headless: is every token on screen quickly, does the
event loop stay responsive, and does the UI keep up with a fast stream?

A 5,000-token Markdown answer (headings, paragraphs, lists, tables, code) is served by a
local OpenAI-style server (tests/support/openai_replay.py, in a child process) and read
with the real ``openai`` client; each content delta becomes a ``thread.message.delta``
event handed to ``ChatView.handle_event``, as the app does with the runtime's stream.

Measured, in one run:

* paced at 500 tokens/s: per-token delay from arrival (``handle_event``) to the first frame
  that shows it (p50/p95), the longest event-loop stall (a 5 ms ticker's lateness), and the
  time from the last token (+ ``message.completed``) to the final frame;
* full speed: time to the final frame over the bare client's receive time (ratio, median
  of a few runs).

A frame is Textual's compositor update handed to the driver (``App._display``); a token is
"on screen" in the first frame whose paint included the chat chunk holding it. Headless
frames skip only the final write to the terminal.

Also measured: switching to a thread of 2,000 messages with 300 tool calls — time from
``ChatView.show_thread`` to the first frame, and how many widgets are mounted.

The process is set up as the app should be (README, Performance): the start-up heap frozen
out of the garbage collector and a larger young-generation threshold (``BENCH_GC``), and a
stream consumer that lets the UI run every few milliseconds.

``--baseline`` also streams the same answer into Textual's own ``Markdown`` widget with
``Markdown.get_stream`` (the approach our chunked renderer replaces) for comparison.

Run: ``python bench/bench_tui_stream.py [--tokens 5000] [--rate 500] [--runs 3] [--baseline]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import contextlib

from markdown_answer import report_tokens
from textual.app import App, ComposeResult

from assistant_core.events import MessageCompleted, MessageCreated, MessageDelta, MessageDeltaData
from assistant_core.objects import Message, new_id, now
from tests.support.openai_replay import ReplayProcess, chat_stream
from tui.widgets import AssistantMessage, ChatView
from tui.widgets.message import MarkdownChunk

SIZE = (120, 40)
YIELD_EVERY = 0.005  # seconds of consuming before the consumer lets the UI run


def answer_tokens(count: int) -> list[str]:
    """A research-report-like Markdown answer cut into ~4-character tokens."""
    return report_tokens(count)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Host(App[None]):
    def __init__(self, store: Any) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield ChatView(self.store, id="chat")


class FrameProbe:
    """Timestamps frames, and what of the streamed answer each frame showed."""

    def __init__(self, app: App[Any]) -> None:
        self.frames: list[float] = []
        self.listeners: list[Callable[[float], None]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and not app._batch_count:
                stamp = time.perf_counter()
                self.frames.append(stamp)
                for listener in list(self.listeners):
                    listener(stamp)

        app._display = display  # type: ignore[method-assign]


class StallProbe:
    """A ticker's lateness = how long the event loop could not run it. On a busy machine
    the process is also preempted; the CPU time the loop's thread used during each late
    tick tells our own work (``busy``) from waiting for a core."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.lateness: list[float] = []
        self.busy: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self.cpu_started = 0.0
        self.cpu_used = 0.0

    def start(self) -> None:
        self.cpu_started = time.thread_time()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            started, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            late = time.perf_counter() - started - self.period
            self.lateness.append(late)
            self.busy.append(min(late, time.thread_time() - cpu))

    async def stop(self) -> tuple[float, float]:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.cpu_used = time.thread_time() - self.cpu_started
        return max(self.lateness, default=0.0), max(self.busy, default=0.0)


GC_POLICY = os.environ.get("BENCH_GC", "tuned")  # tuned | freeze | python


def settle_gc() -> None:
    """What the app does once it is up (see README, Performance): move the start-up heap
    out of the collector's way (``gc.freeze``) and collect the young generation less often.
    Here a full collection of the ~140k start-up objects takes ~100 ms, and the allocation
    churn of rendering triggers one every second or so. ``BENCH_GC=python`` measures
    Python's defaults, ``BENCH_GC=freeze`` the freeze alone."""
    if GC_POLICY in ("tuned", "freeze"):
        gc.freeze()
    if GC_POLICY == "tuned":
        gc.set_threshold(10_000, 10, 10)


async def openai_deltas(client: Any) -> Any:
    stream = await client.chat.completions.create(
        model="gpt-replay", messages=[{"role": "user", "content": "report"}], stream=True
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


async def bare_receive(base_url: str) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    started = time.perf_counter()
    text = []
    async for delta in openai_deltas(client):
        text.append(delta)
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def stream_into_chat(base_url: str, full_text: str) -> dict[str, float]:
    """Stream one answer into a ChatView; return the timings."""
    import openai

    from assistant_core.store import Store

    directory = tempfile.mkdtemp(prefix="bench-tui-stream-")
    store = Store(Path(directory) / "bench.db")
    thread = store.create_thread("bench")
    store.add_message(thread.id, "user", "Write me a long report on Apple.")
    app = Host(store)
    results: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        await chat.show_thread(thread.id)
        await pilot.pause()
        frames = FrameProbe(app)
        run_id = new_id("run")
        message = Message(
            id=new_id("message"),
            created_at=now(),
            thread_id=thread.id,
            role="assistant",
            status="in_progress",
            run_id=run_id,
        )
        chat.handle_event(MessageCreated(message))
        await pilot.pause()
        widget = chat.query_one(AssistantMessage)

        # The message's bottom chunks (the live block, and the chunk that finished blocks
        # move to) record how much of the answer the widgets held when they were painted; a
        # frame then shows every token up to that length.
        painted = {"length": 0, "final": False}
        original_render = MarkdownChunk.render

        def render(chunk: MarkdownChunk) -> Any:
            result = original_render(chunk)
            if chunk is widget._live or (widget._chunks and chunk is widget._chunks[-1]):
                painted["length"] = len(widget.shown_text)
                painted["final"] = widget.status == "completed"
            return result

        MarkdownChunk.render = render  # type: ignore[method-assign,assignment]
        arrivals: list[tuple[int, float]] = []  # (cumulative length, time)
        delays: list[float] = []
        pending_index = 0
        final_frame: list[float] = []

        def on_frame(stamp: float) -> None:
            nonlocal pending_index
            while pending_index < len(arrivals) and arrivals[pending_index][0] <= painted["length"]:
                delays.append(stamp - arrivals[pending_index][1])
                pending_index += 1
            if painted["final"] and not final_frame:
                final_frame.append(stamp)

        frames.listeners.append(on_frame)
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
        settle_gc()
        stalls = StallProbe()
        stalls.start()
        received = 0
        started = time.perf_counter()
        handed_over = started
        try:
            async for delta in openai_deltas(client):
                received += len(delta)
                chat.handle_event(
                    MessageDelta(MessageDeltaData(message.id, run_id, thread.id, delta))
                )
                stamp = time.perf_counter()
                arrivals.append((received, stamp))
                # A consumer that hands the loop over every few ms (as the app's run worker
                # should): buffered chunks otherwise run back to back, delaying frames.
                if stamp - handed_over > YIELD_EVERY:
                    await asyncio.sleep(0)
                    handed_over = time.perf_counter()
            last_token = time.perf_counter()
            done = Message.from_dict({**message.to_dict(), "status": "completed"})
            done.set_text(full_text)
            chat.handle_event(MessageCompleted(done))
            if painted["length"] == len(full_text) and not (widget._live and widget._live.display):
                final_frame.append(time.perf_counter())  # nothing left to paint
            while not final_frame and time.perf_counter() - last_token < 30:
                await asyncio.sleep(0.002)
        finally:
            MarkdownChunk.render = original_render  # type: ignore[method-assign]
            await client.close()
        stall, busy = await stalls.stop()
        assert widget.shown_text == full_text, "the final text on screen differs from the answer"
        results = {
            "tokens": len(arrivals),
            "delay_p50": percentile(delays, 0.5) if delays else float("nan"),
            "delay_p95": percentile(delays, 0.95) if delays else float("nan"),
            "stall_max": stall,
            "stall_busy": busy,
            "cpu": stalls.cpu_used,
            "final_frame": (final_frame[0] - last_token) if final_frame else float("nan"),
            "display_total": (final_frame[0] - started) if final_frame else float("nan"),
            "widgets": len(list(chat.query("*"))),
        }
    store.close()
    return results


async def stream_into_textual_markdown(base_url: str) -> dict[str, float]:
    """Baseline: the same stream into Textual's Markdown via Markdown.get_stream."""
    import openai
    from textual.containers import VerticalScroll
    from textual.widgets import Markdown

    class MarkdownHost(App[None]):
        def compose(self) -> ComposeResult:
            with VerticalScroll():
                yield Markdown()

    app = MarkdownHost()
    async with app.run_test(size=SIZE) as pilot:
        markdown = app.query_one(Markdown)
        app.query_one(VerticalScroll).anchor()
        await pilot.pause()
        client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
        settle_gc()
        stalls = StallProbe()
        stalls.start()
        stream = Markdown.get_stream(markdown)
        started = time.perf_counter()
        async for delta in openai_deltas(client):
            await stream.write(delta)  # yields to the loop itself
        last_token = time.perf_counter()
        await stream.stop()
        await markdown.update(markdown.source)  # textual#6518: one final update
        await pilot.pause()
        final = time.perf_counter()
        await client.close()
        stall, busy = await stalls.stop()
        return {
            "stall_max": stall,
            "stall_busy": busy,
            "cpu": stalls.cpu_used,
            "final_frame": final - last_token,
            "display_total": final - started,
            "widgets": len(list(app.screen.query("*"))),
        }


def build_big_thread(store: Any, messages: int, calls: int) -> str:
    """A thread of ``messages`` messages (question/answer turns) with ``calls`` tool calls
    spread over its runs, written straight to the store."""
    from assistant_core.objects import FunctionCall, Run, RunStep, ToolCall

    assistant = store.default_assistant()
    thread = store.create_thread("big")
    turns = messages // 2
    every = max(1, turns // max(calls, 1))
    made = 0
    displays: list[dict[str, Any]] = [
        {"kind": "kv", "title": "Quote", "items": [["Price", 189.5], ["Market cap", 2.9e12]]},
        {
            "kind": "table",
            "title": "Income",
            "columns": ["2024", "2023"],
            "rows": [["Revenue", 391035000000, 383285000000]],
            "unit": "USD",
        },
        {
            "kind": "prices",
            "series": [
                {
                    "symbol": "AAPL",
                    "dates": [f"2024-01-{d:02d}" for d in range(1, 29)],
                    "close": [180 + d % 5 for d in range(28)],
                    "volume": [5e7] * 28,
                }
            ],
        },
    ]
    for turn in range(turns):
        store.add_message(thread.id, "user", f"Question {turn}: how is AAPL doing?")
        run = Run(
            id=new_id("run"),
            created_at=now(),
            thread_id=thread.id,
            assistant_id=assistant.id,
            model="bench",
            status="queued",
        )
        store.create_run(run)
        for status in ("in_progress", "completed"):
            run.status = status  # type: ignore[assignment]
            store.update_run(run)
        if turn % every == 0 and made < calls:
            call = ToolCall(
                id=new_id("call"),
                function=FunctionCall("get_quote", '{"ticker": "AAPL"}', '{"data": 1}'),
                status="completed",
                display=displays[made % 3],
                source="demo",
                duration_ms=12.0,
            )
            made += 1
            store.create_step(
                RunStep(
                    id=new_id("step"),
                    created_at=now(),
                    run_id=run.id,
                    thread_id=thread.id,
                    assistant_id=assistant.id,
                    type="tool_calls",
                    status="completed",
                    tool_calls=[call],
                )
            )
        answer = store.add_message(
            thread.id,
            "assistant",
            f"## Answer {turn}\n\nApple is **fine**: revenue 391.0B.\n\n"
            "- services up\n- iPhone flat\n",
            run_id=run.id,
            assistant_id=assistant.id,
        )
        store.create_step(
            RunStep(
                id=new_id("step"),
                created_at=now(),
                run_id=run.id,
                thread_id=thread.id,
                assistant_id=assistant.id,
                type="message_creation",
                status="completed",
                message_id=answer.id,
            )
        )
    return thread.id


async def switch_to_big_thread(messages: int, calls: int, repeats: int) -> dict[str, float]:
    """Time from ``show_thread`` to the first frame showing a big thread, and what is mounted."""
    from assistant_core.store import Store

    directory = tempfile.mkdtemp(prefix="bench-tui-switch-")
    store = Store(Path(directory) / "bench.db")
    big = build_big_thread(store, messages, calls)
    small = store.create_thread("small")
    store.add_message(small.id, "user", "hello")
    app = Host(store)
    times: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        chat = app.query_one(ChatView)
        frames = FrameProbe(app)
        await pilot.pause(0.3)  # let the warm-up finish
        settle_gc()
        for _ in range(repeats):
            await chat.show_thread(small.id)
            await pilot.pause()
            frames.frames.clear()
            started = time.perf_counter()
            await chat.show_thread(big)
            while not frames.frames:
                await asyncio.sleep(0.001)
            times.append(frames.frames[0] - started)
            await pilot.pause()
        result = {
            "paint": statistics.median(times),
            "paint_max": max(times),
            "items": chat.mounted_items,
            "widgets": len(list(chat.query("*"))),
            "messages": store.count_messages(big),
        }
    store.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=500.0, help="tokens per second (paced run)")
    parser.add_argument("--runs", type=int, default=3, help="full-speed runs (median)")
    parser.add_argument(
        "--baseline", action="store_true", help="also measure Textual's Markdown + MarkdownStream"
    )
    parser.add_argument(
        "--messages", type=int, default=2000, help="size of the thread to switch to"
    )
    parser.add_argument("--calls", type=int, default=300, help="tool calls in that thread")
    args = parser.parse_args()

    switch = asyncio.run(switch_to_big_thread(args.messages, args.calls, repeats=5))

    tokens = answer_tokens(args.tokens)
    full_text = "".join(tokens)
    server = ReplayProcess()
    server.enqueue(chat_stream(tokens, interval=1 / args.rate))
    if args.baseline:
        server.enqueue(chat_stream(tokens, interval=1 / args.rate))
    server.enqueue(chat_stream(tokens), times=None)
    with server:
        paced = asyncio.run(stream_into_chat(server.base_url, full_text))
        baseline = (
            asyncio.run(stream_into_textual_markdown(server.base_url)) if args.baseline else None
        )
        bare: list[float] = []
        shown: list[float] = []
        for _ in range(args.runs):
            bare.append(asyncio.run(bare_receive(server.base_url)))
            shown.append(asyncio.run(stream_into_chat(server.base_url, full_text))["display_total"])
    ratios = [s / b for s, b in zip(shown, bare)]
    load = os.getloadavg()[0]

    print(
        f"bench_tui_stream: {len(tokens)} tokens ({len(full_text):,} characters of Markdown), "
        f"{SIZE[0]}x{SIZE[1]} headless, load average {load:.1f} on {os.cpu_count()} CPUs, "
        f"gc {GC_POLICY}"
    )
    print(f"paced at {args.rate:.0f} tokens/s ({paced['tokens']:.0f} deltas received):")
    print(
        f"  token -> on screen   p50 {paced['delay_p50'] * 1000:6.1f} ms   "
        f"p95 {paced['delay_p95'] * 1000:6.1f} ms   (target p95 < 100 ms)"
    )
    print(
        f"  longest loop stall   {paced['stall_max'] * 1000:6.1f} ms   (target < 50 ms); "
        f"of it busy in this thread {paced['stall_busy'] * 1000:.1f} ms"
    )
    print(
        f"  CPU used by the UI thread while streaming: {paced['cpu']:.2f} s "
        f"(client included; the stream lasts {len(tokens) / args.rate:.0f} s)"
    )
    print(f"  last token -> final frame {paced['final_frame'] * 1000:6.1f} ms   (target < 100 ms)")
    print(f"  widgets in the chat at the end: {paced['widgets']:.0f}")
    print(f"full speed ({args.runs} runs, medians):")
    print(f"  bare openai client receive {statistics.median(bare) * 1000:7.1f} ms")
    print(f"  streamed to final frame    {statistics.median(shown) * 1000:7.1f} ms")
    print(
        f"  ratio display / bare       {statistics.median(ratios):7.2f}x  "
        f"(per run: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        f"switch to a thread of {switch['messages']:.0f} messages with {args.calls} tool calls "
        f"(5 times):"
    )
    print(
        f"  show_thread -> first frame  median {switch['paint'] * 1000:6.1f} ms, "
        f"max {switch['paint_max'] * 1000:6.1f} ms   (target < 150 ms)"
    )
    print(f"  mounted: {switch['items']:.0f} items, {switch['widgets']:.0f} widgets in the chat")
    if baseline is not None:
        print("baseline, Textual Markdown + Markdown.get_stream, same paced stream:")
        print(
            f"  longest loop stall        {baseline['stall_max'] * 1000:8.1f} ms "
            f"(busy {baseline['stall_busy'] * 1000:.1f} ms)"
        )
        print(f"  CPU used by the UI thread {baseline['cpu']:8.2f} s")
        print(f"  last token -> final frame {baseline['final_frame'] * 1000:8.1f} ms")
        print(f"  stream start -> final     {baseline['display_total'] * 1000:8.1f} ms")
        print(f"  widgets at the end        {baseline['widgets']:8.0f}")
    if server.failures:
        print("server failures:", server.failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
