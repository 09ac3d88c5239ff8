"""The core's reducer (assistant_core.run_view): folding a run's events into the run as it
stands — checked against what the runtime stored, on runs driven by scripted and recorded
backends and on the hosted API's own recorded stream; no view ever changes an event's
snapshot; and a message's text reconciled exactly with reads from the store, at any
interleaving (property-based)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant_core import events as ev
from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.responses import ResponsesBackend
from assistant_core.objects import FunctionCall, Message, Run, RunStep, ToolCall, now
from assistant_core.run_view import Change, LiveRuns, MessageText, RunView
from assistant_core.store import Store
from tests.support.assistants_stream import parse_stream, recorded_streams
from tests.support.openai_replay import ReplayServer, load_cassette, load_sse_body
from tests.support.scripted_backend import (
    Pause,
    make_runtime,
    rate_limited,
    server_error,
    stream_cut,
    text_turn,
    tool_turn,
)

FINISHED_CALL = {"completed", "error", "denied", "cancelled"}


# -- helpers -------------------------------------------------------------------------------
class Folder:
    """Folds events one by one, checking after each that nothing went backwards: texts and
    arguments only grow (each a prefix of what follows), a finished call stays finished, and
    the events' snapshots are left as they were."""

    def __init__(self) -> None:
        self.view = RunView()
        self.events: list[ev.Event] = []
        self.changes: list[Change] = []
        self.printed: dict[str, str] = {}  # message id → the Change texts, joined

    def apply(self, event: ev.Event) -> Change:
        before = copy.deepcopy(event)
        texts = {m.id: m.text for m in self.view.messages}
        calls = {
            (s.id, c.id): (c.function.arguments, c.status)
            for s in self.view.steps
            for c in s.tool_calls
        }
        change = self.view.apply(event)
        assert event == before, f"folding changed the snapshot of {event.event}"
        for message in self.view.messages:
            if message.id in texts and message.status == "in_progress":
                assert message.text.startswith(texts[message.id])
        for step in self.view.steps:
            for call in step.tool_calls:
                arguments, status = calls.get((step.id, call.id), ("", "queued"))
                assert call.function.arguments.startswith(arguments)
                if status in FINISHED_CALL:
                    assert call.status == status, call
        message_id = getattr(event.data, "id", None)
        if change.text and isinstance(message_id, str):
            self.printed[message_id] = self.printed.get(message_id, "") + change.text
        self.events.append(event)
        self.changes.append(change)
        return change


async def fold_run(
    stream: AsyncIterator[ev.Event], on_event: Callable[[ev.Event], Any] | None = None
) -> Folder:
    folder = Folder()
    async for event in stream:
        folder.apply(event)
        if on_event is not None:
            result = on_event(event)
            if asyncio.iscoroutine(result):
                await result
    return folder


def assert_view_is_store(view: RunView, store: Store, run_id: str) -> None:
    """The folded run is the stored run: status, usage, every step and call, every text."""
    stored = store.get_run(run_id)
    assert view.run is not None and view.done
    assert (view.run.status, view.run.usage, view.run.last_error) == (
        stored.status,
        stored.usage,
        stored.last_error,
    )
    steps = store.list_steps(run_id)
    assert [s.id for s in view.steps] == [s.id for s in steps]
    for folded, saved in zip(view.steps, steps):
        assert folded.to_dict() == saved.to_dict()
        for call in saved.tool_calls:
            folded_call = view.call(call.id, saved.id)
            assert folded_call is not None and folded_call.to_dict() == call.to_dict()
    messages = [m for m in store.list_messages(stored.thread_id) if m.run_id == run_id]
    assert [(m.id, m.status, m.text) for m in view.messages] == [
        (m.id, m.status, m.text) for m in messages
    ]


def ask(runtime: Any, thread_id: str, text: str = "Compare Apple and Microsoft", **kw: Any) -> Any:
    return runtime.ask(thread_id, text, **kw)


# -- the documented order, on the real runtime ------------------------------------------------
async def test_a_tool_calling_run_folds_into_what_the_runtime_stored(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(
                ("get_price", '{"symbol": "AAPL"}'),
                ("get_price", '{"symbol": "MSFT"}'),
                fragments=4,
                interleave=True,  # parallel calls, argument fragments by index
                text="Let me look that up.",
            ),
            text_turn("AAPL and MSFT both trade at 123.5.", chunk=3),
        ],
    )
    thread = runtime.create_thread()
    folder = await fold_run(ask(runtime, thread.id))
    view = folder.view
    assert_view_is_store(view, store, folder.events[0].data.id)
    assert [m.text for m in view.messages] == [
        "Let me look that up.",
        "AAPL and MSFT both trade at 123.5.",
    ]
    # The text a printer would write (each change's new part) is the answer, once.
    assert list(folder.printed.values()) == [m.text for m in view.messages]
    tool_step = view.steps[1]
    assert [c.function.arguments for c in tool_step.tool_calls] == [
        '{"symbol": "AAPL"}',
        '{"symbol": "MSFT"}',
    ]
    # While the arguments streamed, each delta changed exactly the call it named.
    deltas = [(e, c) for e, c in zip(folder.events, folder.changes) if isinstance(e, ev.StepDelta)]
    assert deltas
    for event, change in deltas:
        assert {c.id for c in change.calls} == {entry["id"] for entry in event.data.tool_calls}
    assert view.retries == [] and view.error is None


async def test_a_call_is_shown_whole_as_soon_as_it_is_done(tmp_path: Path) -> None:
    """A finished call's progress delta carries what a view draws (its display form, the
    cache hit), so a chart need not wait for the slowest call of its step (issue 12.7)."""
    runtime, _, _ = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "AAPL"}'), ("nap", '{"seconds": 0.3}')),
            text_turn("Done."),
        ],
    )
    thread = runtime.create_thread()
    seen: list[tuple[str, Any]] = []

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.StepDelta | ev.StepCompleted):
            view_call = next(
                (
                    c
                    for s in folder.view.steps
                    for c in s.tool_calls
                    if c.function.name == "get_price"
                ),
                None,
            )
            if view_call is not None and view_call.status == "completed":
                seen.append((event.event, view_call.display))

    folder = Folder()
    async for event in ask(runtime, thread.id):
        folder.apply(event)
        on_event(event)
    first_event, display = seen[0]
    assert first_event == "thread.run.step.delta"  # before the step (and the nap) completed
    assert display == {"kind": "kv", "title": "AAPL", "items": [["price", 123.5]]}


async def test_folded_objects_stay_the_same_objects_for_the_whole_run(tmp_path: Path) -> None:
    runtime, _, _ = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_price", '{"symbol": "AAPL"}')), text_turn("Done.")],
    )
    thread = runtime.create_thread()
    seen: dict[str, ToolCall] = {}
    folder = Folder()
    async for event in ask(runtime, thread.id):
        for call in folder.apply(event).calls:
            assert seen.setdefault(call.id, call) is call  # a view may keep it and re-read
    (call,) = seen.values()
    assert call.status == "completed" and call.display is not None


async def test_approval_ask_marks_calls_awaiting_then_approved_and_denied(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [
            tool_turn(("get_price", '{"symbol": "AAPL"}'), ("get_price", '{"symbol": "TSLA"}')),
            text_turn("Only Apple."),
        ],
        approval="ask",
    )
    thread = runtime.create_thread()
    awaiting: list[list[str]] = []
    folder = Folder()

    async def decide(event: ev.Event) -> None:
        if isinstance(event, ev.RunRequiresAction):
            change = folder.changes[-1]
            awaiting.append([c.status for c in change.calls])
            apple, tesla = (c.id for c in change.calls)
            await runtime.approve(event.data.id, {apple: True, tesla: False})

    async for event in ask(runtime, thread.id):
        folder.apply(event)
        await decide(event)
    assert awaiting == [["awaiting_approval", "awaiting_approval"]]
    view = folder.view
    assert [c.status for c in view.steps[0].tool_calls] == ["completed", "denied"]
    assert_view_is_store(view, store, view.run.id)  # type: ignore[union-attr]


async def test_client_outputs_mark_calls_running_then_complete_them(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [tool_turn(("get_price", '{"symbol": "AAPL"}', "call_client")), text_turn("Fine.")],
        approval="client",
    )
    thread = runtime.create_thread()
    folder = Folder()
    async for event in ask(runtime, thread.id):
        change = folder.apply(event)
        if isinstance(event, ev.RunRequiresAction):
            assert [(c.id, c.status) for c in change.calls] == [("call_client", "running")]
            await runtime.submit_tool_outputs(
                event.data.id, [{"tool_call_id": "call_client", "output": "123.5"}]
            )
    call = folder.view.call("call_client")
    assert call is not None and (call.status, call.function.output) == ("completed", "123.5")
    assert_view_is_store(folder.view, store, folder.view.run.id)  # type: ignore[union-attr]


async def test_retries_are_kept_as_a_timeline(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [rate_limited(0.0), server_error(502), text_turn("Recovered.")],
    )
    thread = runtime.create_thread()
    folder = await fold_run(ask(runtime, thread.id))
    view = folder.view
    assert [(r["attempt"], r["reason"]) for r in view.retries] == [
        (1, "rate_limit_exceeded"),
        (2, "server_error"),
    ]
    assert view.run is not None and view.run.retry is None  # over: the retry worked
    assert_view_is_store(view, store, view.run.id)
    # The run keeps them: a view of it read from the store (a reload, another process)
    # has the same timeline.
    stored = RunView.from_store(store.get_run(view.run.id), store.list_steps(view.run.id))
    assert [(r["attempt"], r["reason"]) for r in stored.retries] == [
        (1, "rate_limit_exceeded"),
        (2, "server_error"),
    ]


@pytest.mark.parametrize(
    ("turns", "status", "message_status"),
    [
        # Cut mid-answer (not retryable once text was shown): failed, text kept.
        (
            [[*text_turn("Half an ans", finish=None, usage=None), stream_cut()]],
            "failed",
            "incomplete",
        ),
        # The token limit: incomplete, text kept.
        ([text_turn("Too long an answer", finish="length")], "incomplete", "incomplete"),
        # Retries exhausted before any text.
        ([server_error()] * 4, "failed", None),
    ],
    ids=["failed-mid-answer", "incomplete", "failed-after-retries"],
)
async def test_runs_that_end_badly_fold_into_what_was_stored(
    tmp_path: Path, turns: list[Any], status: str, message_status: str | None
) -> None:
    runtime, _, store = make_runtime(tmp_path / "db.sqlite", turns)
    thread = runtime.create_thread()
    folder = await fold_run(ask(runtime, thread.id))
    view = folder.view
    assert view.run is not None and view.run.status == status
    assert [m.status for m in view.messages] == ([message_status] if message_status else [])
    assert_view_is_store(view, store, view.run.id)


async def test_a_cancelled_run_keeps_its_partial_answer(tmp_path: Path) -> None:
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        [[*text_turn("The balance sheet ", usage=None, finish=None), Pause(30)]],
    )
    thread = runtime.create_thread()
    folder = Folder()
    cancelling: asyncio.Task[Run] | None = None
    async for event in ask(runtime, thread.id):
        folder.apply(event)
        if isinstance(event, ev.MessageDelta) and cancelling is None:
            cancelling = asyncio.create_task(runtime.cancel_run(event.data.run_id))
    assert cancelling is not None
    await cancelling
    view = folder.view
    assert view.run is not None and view.run.status == "cancelled"
    (message,) = view.messages
    assert (message.status, message.text) == ("incomplete", "The balance sheet ")
    assert [s.status for s in view.steps] == ["cancelled"]
    assert_view_is_store(view, store, view.run.id)


async def test_an_error_event_is_kept_apart_from_the_runs_own_error() -> None:
    view = RunView()
    view.apply(ev.ErrorEvent(ev.LastError("internal_error", "the end could not be saved")))
    view.apply(ev.Done())
    assert view.error is not None and view.error.code == "internal_error" and view.done


# -- recorded streams, through the real runtime and the real openai client ------------------
@pytest.fixture
def server() -> Any:
    with ReplayServer() as s:
        yield s


async def replay_run(tmp_path: Path, backend: Any) -> tuple[Folder, Store]:
    runtime, _, store = make_runtime(tmp_path / "db.sqlite", backend=backend, flush_interval=0.01)
    try:
        thread = runtime.create_thread()
        folder = await fold_run(ask(runtime, thread.id, "What are the secrets?"))
        return folder, store
    finally:
        await runtime.aclose()


async def test_recorded_parallel_calls_then_answer_chat_completions(
    tmp_path: Path, server: ReplayServer, fixtures_dir: Path
) -> None:
    turns = load_cassette(
        fixtures_dir
        / "chat_completions/mirascope_call_with_tools_openai_gpt_4o_completions_stream.yaml"
    )
    server.enqueue_interactions(turns[:2])
    folder, store = await replay_run(
        tmp_path, ChatCompletionsBackend(server.base_url, "sk-test", timeout=5.0)
    )
    view = folder.view
    assert_view_is_store(view, store, view.run.id)  # type: ignore[union-attr]
    calls = view.steps[0].tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"password": "mellon"},
        {"password": "radiance"},
    ]
    assert view.messages[-1].text.startswith("The secrets associated with the passwords are")
    assert folder.printed[view.messages[-1].id] == view.messages[-1].text


async def test_recorded_parallel_calls_responses_api(
    tmp_path: Path, server: ReplayServer, fixtures_dir: Path
) -> None:
    turns = load_cassette(
        fixtures_dir / "responses/mirascope_call_with_tools_openai_gpt_4o_responses_stream.yaml"
    )
    server.enqueue_interactions(turns[:2])
    folder, store = await replay_run(
        tmp_path, ResponsesBackend(server.base_url, "sk-test", timeout=5.0)
    )
    view = folder.view
    assert_view_is_store(view, store, view.run.id)  # type: ignore[union-attr]
    assert len(view.steps[0].tool_calls) == 2
    assert view.messages[-1].text == folder.printed[view.messages[-1].id]


async def test_recorded_parallel_weather_and_stock_calls(
    tmp_path: Path, server: ReplayServer, fixtures_dir: Path
) -> None:
    sse = "chat_completions/openai-python_parallel_tool_calls_weather_and_stock_price.sse.bin"
    server.enqueue(load_sse_body(fixtures_dir / sse))
    # The model asks again on its last turn, where it was asked for a final answer: the run
    # ends with what it wrote and a note (the weak-model guards), its calls not run.
    server.enqueue(load_sse_body(fixtures_dir / sse))
    runtime, _, store = make_runtime(
        tmp_path / "db.sqlite",
        backend=ChatCompletionsBackend(server.base_url, "sk-test", timeout=5.0),
        max_turns=2,
    )
    try:
        thread = runtime.create_thread()
        folder = await fold_run(ask(runtime, thread.id, "Weather in Edinburgh, AAPL price?"))
    finally:
        await runtime.aclose()
    view = folder.view
    assert view.run is not None and view.run.status == "completed" and view.run.notes
    first = view.steps[0].tool_calls
    assert [c.function.name for c in first] == ["GetWeatherArgs", "get_stock_price"]
    # Tools the registry does not know: errors, which are results too.
    assert all(c.status == "error" and c.is_error for c in first)
    assert_view_is_store(view, store, view.run.id)


def test_the_hosted_apis_recorded_stream_folds_too(fixtures_dir: Path) -> None:
    first, second = recorded_streams(
        fixtures_dir / "assistants/openai-dotnet_StreamingToolCall.json"
    )
    folder = Folder()
    for event in parse_stream(first):
        change = folder.apply(event)
        if isinstance(event, ev.RunRequiresAction):
            # Function tools of the hosted API run on the client.
            assert [(c.function.name, c.status) for c in change.calls] == [
                ("get_current_weather", "running")
            ]
    view = folder.view
    (call,) = view.steps[0].tool_calls
    # The second fragment named only its index.
    assert (call.id, call.function.arguments) == ("call_xyFYaEeyocjyE6jN64QTcxip", "{}")
    deltas_text = ""
    for event in parse_stream(second):
        if isinstance(event, ev.MessageCompleted):
            # Every delta, in order, is the completed text.
            assert view.message(event.data.id).text == event.data.text  # type: ignore[union-attr]
            deltas_text = event.data.text
        folder.apply(event)
    assert view.run is not None and view.run.status == "completed"
    assert view.call(call.id).function.output == "warm and sunny"  # type: ignore[union-attr]
    assert view.messages[-1].text == deltas_text and deltas_text.startswith("Since it's warm")
    assert view.messages[-1].status == "completed"


# -- joining a run that is already going -----------------------------------------------------
def live_message() -> Message:
    """msg_1 of run_1, as created: in progress, no text yet."""
    return Message(
        id="msg_1",
        created_at=now(),
        thread_id="thread_1",
        role="assistant",
        status="in_progress",
        run_id="run_1",
    )


def make_step(type_: str, **fields: Any) -> RunStep:
    """step_1 of run_1."""
    return RunStep(
        id="step_1",
        created_at=now(),
        run_id="run_1",
        thread_id="thread_1",
        assistant_id="asst_1",
        type=type_,  # type: ignore[arg-type]
        **fields,
    )


def delta(text: str, offset: int | None, message_id: str = "msg_1") -> ev.MessageDelta:
    return ev.MessageDelta(
        ev.MessageDeltaData(message_id, "run_1", "thread_1", text, offset=offset)
    )


def stored(text: str, status: str = "in_progress") -> Message:
    message = live_message()
    message.status = status  # type: ignore[assignment]
    message.set_text(text)
    return message


def test_a_view_from_the_store_continues_exactly_from_offsets() -> None:
    step = make_step("message_creation", message_id="msg_1")
    run = Run(id="run_1", created_at=now(), thread_id="thread_1", assistant_id="a", model="m")
    run.status = "in_progress"
    view = RunView.from_store(run, [step], [stored("Hello, wor")])
    # Deltas emitted before the store was read (queued for us) add nothing twice …
    assert view.apply(delta("Hello", 0)).text == ""
    assert view.apply(delta(", wo", 5)).text == ""
    assert view.apply(delta("rld", 9)).text == "ld"
    assert view.apply(delta("!", 12)).text == "!"
    assert view.message("msg_1").text == "Hello, world!"  # type: ignore[union-attr]


def test_a_delta_past_a_gap_waits_for_the_store() -> None:
    view = RunView.from_store(
        Run(id="run_1", created_at=now(), thread_id="thread_1", assistant_id="a", model="m"),
        messages=[stored("One ")],
    )
    # "two " was emitted before this view existed and is not in the store yet.
    assert view.apply(delta("three", 8)).text == ""
    assert view.message("msg_1").text == "One "  # type: ignore[union-attr]
    assert view.seed_message(stored("One two ")) == "two three"
    assert view.message("msg_1").text == "One two three"  # type: ignore[union-attr]


def test_the_store_ahead_with_the_final_message_is_not_undone_by_late_events() -> None:
    view = RunView()
    view.apply(ev.MessageCreated(live_message()))
    view.apply(delta("Fin", 0))
    assert view.seed_message(stored("Final.", "completed")) == "al."
    for late in (ev.MessageInProgress(live_message()), delta("al.", 3)):
        assert view.apply(late).text == ""
    message = view.message("msg_1")
    assert message is not None and (message.status, message.text) == ("completed", "Final.")
    done = stored("Final.", "completed")
    assert view.apply(ev.MessageCompleted(done)).text == ""


def test_a_final_text_that_differs_from_the_deltas_replaces_them() -> None:
    text = MessageText()
    text.add("First draft")
    assert text.finish("Rewritten.") is None
    assert text.value == "Rewritten."


def test_a_step_delta_before_its_step_still_makes_the_call() -> None:
    view = RunView()
    entry = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_quote"}}
    change = view.apply(ev.StepDelta(ev.RunStepDelta("step_1", "run_1", "thread_1", [entry])))
    (call,) = change.calls
    assert call.function.name == "get_quote" and view.steps[0].tool_calls == [call]
    fragment = {"index": 0, "function": {"arguments": '{"ticker": "AAPL"}'}}  # by index only
    view.apply(ev.StepDelta(ev.RunStepDelta("step_1", "run_1", "thread_1", [fragment])))
    assert call.function.arguments == '{"ticker": "AAPL"}'


def test_live_runs_route_error_and_done_by_thread_and_let_go() -> None:
    live = LiveRuns()
    run = Run(id="run_1", created_at=now(), thread_id="thread_1", assistant_id="a", model="m")
    view, _ = live.apply(ev.RunCreated(run))
    assert view is not None and live.of_thread("thread_1") is view
    error = ev.ErrorEvent(ev.LastError("internal_error", "boom"))
    assert live.apply(error, "thread_2") == (None, Change())  # not that thread's run
    assert live.apply(error, "thread_1")[0] is view and view.error is not None
    live.apply(ev.Done(), "thread_1")
    assert view.done and live.get("run_1") is None and len(live) == 0
    live.apply(ev.RunCreated(dataclasses.replace(run, id="run_2")))
    live.end_thread("thread_1")  # a stream that ended without its done
    assert live.of_thread("thread_1") is None


def test_a_call_from_a_snapshot_is_copied_not_shared() -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="get_quote", arguments="{"))
    step = make_step("tool_calls", tool_calls=[call])
    view = RunView()
    view.apply(ev.StepCreated(step))
    fragment = {"index": 0, "id": "call_1", "function": {"arguments": "}"}}
    view.apply(ev.StepDelta(ev.RunStepDelta("step_1", "run_1", "thread_1", [fragment])))
    assert call.function.arguments == "{" and view.call("call_1").function.arguments == "{}"  # type: ignore[union-attr]


# -- property: any interleaving of deltas, flushes and reads from the store -----------------
@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[tuple[int, str]], list[str]]:
    """A final text, its deltas (offset, text), and a schedule of what happens: the runtime
    emits the next delta (and may flush what it emitted to the store), the view receives the
    next emitted delta, the view reads the store, or a new view starts from the store."""
    text = draw(st.text(min_size=1, max_size=60))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=20)))
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    pieces = [(a, text[a:b]) for a, b in itertools.pairwise(bounds) if b > a]
    schedule = draw(
        st.lists(st.sampled_from(["emit", "flush", "receive", "read", "join"]), max_size=80)
    )
    return text, pieces, schedule


def covered_prefix(intervals: list[tuple[int, int]]) -> int:
    """The longest [0, n) covered by the intervals."""
    end = 0
    for start, stop in sorted(intervals):
        if start > end:
            break
        end = max(end, stop)
    return end


@settings(max_examples=400, deadline=None)
@given(streams(), st.booleans())
def test_text_is_exact_at_any_interleaving(
    stream: tuple[str, list[tuple[int, str]], list[str]], with_offsets: bool
) -> None:
    final, pieces, schedule = stream
    if not with_offsets:
        # Without offsets a view can only count what it received: it must see every delta
        # from the start, so it never joins late.
        schedule = [step for step in schedule if step != "join"]
    emitted = received = 0
    store = ""
    text = MessageText()
    shown = ""  # what a widget holds: the view's text when made, plus every added piece
    intervals: list[tuple[int, int]] = []

    def check() -> None:
        assert text.value == final[: covered_prefix(intervals)]
        assert shown == text.value

    for step in [*schedule, *["emit"] * len(pieces), *["receive"] * len(pieces), "flush", "read"]:
        if step == "emit" and emitted < len(pieces):
            emitted += 1
        elif step == "flush":
            store = final[: pieces[emitted - 1][0] + len(pieces[emitted - 1][1])] if emitted else ""
        elif step == "receive" and received < emitted:
            start, piece = pieces[received]
            received += 1
            shown += text.add(piece, start if with_offsets else None)
            intervals.append((start, start + len(piece)))
        elif step == "read":
            shown += text.seed(store)
            intervals.append((0, len(store)))
        elif step == "join":
            text, shown, intervals = MessageText(store), store, [(0, len(store))]
        check()
    assert text.value == final


@settings(max_examples=150, deadline=None)
@given(streams())
def test_a_run_view_reconciles_store_reads_with_events(
    stream: tuple[str, list[tuple[int, str]], list[str]],
) -> None:
    """The same at the level of events and stored messages: what a view of a run shows is
    always a prefix of the answer, its changes add up to it, and the end is exact."""
    final, pieces, schedule = stream
    view = RunView()
    shown = view.apply(ev.MessageCreated(live_message())).text
    emitted = received = 0
    store = stored("")
    for step in [*schedule, *["emit"] * len(pieces), *["receive"] * len(pieces)]:
        if step == "emit" and emitted < len(pieces):
            emitted += 1
        elif step == "flush" and emitted:
            start, piece = pieces[emitted - 1]
            store = stored(final[: start + len(piece)])
        elif step == "receive" and received < emitted:
            start, piece = pieces[received]
            received += 1
            shown += view.apply(delta(piece, start)).text
        elif step in ("read", "join"):
            shown += view.seed_message(store)
        message = view.message("msg_1")
        assert message is not None and final.startswith(message.text) and shown == message.text
    assert view.message("msg_1").text == final  # type: ignore[union-attr]
    shown += view.apply(ev.MessageCompleted(stored(final, "completed"))).text
    assert shown == final
