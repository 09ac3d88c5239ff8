"""Folding the event stream: what the core's reducer and the chat's transcript cost per event.

Every view of a run (chat, run panel, CLI printer) folds every event through
``assistant_core.run_view``; the app folds every thread's events twice (chat and run
panel), whether the thread is shown or not. This measures, headless and without a screen,
the cost per event of a 5,000-delta answer after a step of four parallel tool calls whose
arguments stream in 200 fragments, through ``RunView`` alone and through the chat's
``Transcript`` (reducer + items), with the answer's thread shown and hidden.

    python bench/bench_run_view.py [--deltas 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant_core import events as ev
from assistant_core.objects import FunctionCall, Message, Run, RunStep, ToolCall, now
from assistant_core.run_view import RunView
from assistant_core.store import Store
from tui.transcript import Transcript


def stream(thread_id: str, deltas: int) -> list[ev.Event]:
    """A run's events as the runtime emits them (snapshots included)."""
    run = Run(id="run_b", created_at=now(), thread_id=thread_id, assistant_id="a", model="m")
    calls = [ToolCall(id=f"call_{i}", function=FunctionCall(name="get_quote")) for i in range(4)]
    step = RunStep(
        id="step_t",
        created_at=now(),
        run_id=run.id,
        thread_id=thread_id,
        assistant_id="a",
        type="tool_calls",
    )
    events: list[ev.Event] = [ev.RunCreated(run), ev.RunInProgress(run), ev.StepCreated(step)]
    for n in range(200):
        index = n % 4
        entry = {"index": index, "id": calls[index].id, "type": "function"}
        entry["function"] = {"name": "get_quote", "arguments": '{"t'}
        events.append(ev.StepDelta(ev.RunStepDelta(step.id, run.id, thread_id, [entry])))
    done = RunStep(**{**step.__dict__, "status": "completed", "tool_calls": calls})
    events.append(ev.StepCompleted(done))
    message = Message(
        id="msg_b",
        created_at=now(),
        thread_id=thread_id,
        role="assistant",
        status="in_progress",
        run_id=run.id,
    )
    events.append(ev.MessageCreated(message))
    for n in range(deltas):
        data = ev.MessageDeltaData(message.id, run.id, thread_id, "word ", offset=5 * n)
        events.append(ev.MessageDelta(data))
    final = Message(**{**message.__dict__, "status": "completed"})
    final.set_text("word " * deltas)
    events += [ev.MessageCompleted(final), ev.RunCompleted(run), ev.Done()]
    return events


def per_event_us(fold: object, events: list[ev.Event], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        apply = fold()  # type: ignore[operator]
        started = time.perf_counter()
        for event in events:
            apply(event)
        times.append((time.perf_counter() - started) / len(events) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        shown, hidden = store.create_thread("shown"), store.create_thread("hidden")
        events = stream(shown.id, args.deltas)

        def transcript_on(thread_id: str):  # type: ignore[no-untyped-def]
            def make():  # type: ignore[no-untyped-def]
                transcript = Transcript(store)
                transcript.load(thread_id)
                return transcript.apply

            return make

        view = per_event_us(lambda: RunView().apply, events, args.repeat)
        on_screen = per_event_us(transcript_on(shown.id), events, args.repeat)
        off_screen = per_event_us(transcript_on(hidden.id), events, args.repeat)
        store.close()
    print(f"{len(events):,} events ({args.deltas:,} text deltas, 200 argument fragments)")
    print(f"  RunView.apply              {view:6.2f} µs per event (median of {args.repeat})")
    print(f"  Transcript.apply, shown    {on_screen:6.2f} µs per event")
    print(f"  Transcript.apply, hidden   {off_screen:6.2f} µs per event")


if __name__ == "__main__":
    main()
