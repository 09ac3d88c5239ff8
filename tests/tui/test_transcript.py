"""The chat's model without a screen (tui.transcript): items from the store in reading
order, older pages, the cached tool-call index, live events of every thread folded through
the core's reducer, and — property-based — an answer shown again at any moment of its
stream continuing exactly from what was read from the store."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant_core.events import (
    ErrorEvent,
    MessageCompleted,
    MessageCreated,
    MessageDelta,
    MessageDeltaData,
    RunCreated,
    StepCreated,
)
from assistant_core.objects import LastError, Message
from tui.transcript import (
    MIN_ITEMS,
    PAGE_ITEMS,
    PAGE_MESSAGES,
    TEXT_BUDGET,
    Added,
    CallChanged,
    Finished,
    TextAdded,
    Transcript,
    Update,
)

from .chat_helpers import KV, EventFactory, ThreadBuilder, make_call, make_store, new_thread


def kinds(transcript: Transcript) -> list[str]:
    return [item.kind for item in transcript.items]


def texts(transcript: Transcript) -> list[str]:
    return [item.text for item in transcript.items if item.kind in ("user", "assistant")]


def test_items_read_in_order_calls_before_their_answer_and_errors_after(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.turn("How is Apple?", "Apple is fine.", calls=[make_call(), make_call("get_quote")])
    thread.user("And Tesla?")
    failed = thread.run(status="failed", last_error=LastError("server_error", "the model fell"))
    thread.tool_step(failed, [make_call("get_quote", {"ticker": "TSLA"}, display=KV)])
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    assert kinds(transcript) == [
        *["user", "call", "call", "assistant", "user", "call", "error"],
        "redo",  # the last run ended: it can be answered again
    ]
    error = transcript.items[-2]
    assert error.error is not None and error.error.message == "the model fell"
    assert error.error_label == "Run failed"
    # Cards of earlier runs start collapsed; the latest run's keep their state.
    assert [i.expanded for i in transcript.items if i.kind == "call"] == [False, False, None]
    # Calls are keyed by their step too: a model may use a call id again in a later step.
    assert all(i.key.count(":") == 2 for i in transcript.items if i.kind == "call")


def test_older_pages_load_in_front(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    for n in range(PAGE_MESSAGES):  # two messages a turn: two pages
        thread.turn(f"question {n}", f"answer {n}")
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    assert len(transcript.items) == PAGE_MESSAGES + 1 and transcript.has_older  # and "redo"
    assert texts(transcript)[0] == f"question {PAGE_MESSAGES // 2}"
    older = transcript.load_older()
    assert len(older) == PAGE_MESSAGES and transcript.items[: len(older)] == older
    assert texts(transcript)[0] == "question 0"
    assert transcript.load_older() == [] and not transcript.has_older


def test_latest_window_holds_a_few_screens_within_a_text_budget(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    for n in range(40):
        thread.turn(f"q{n}", "short")
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    start = transcript.latest_window(100, 24)
    assert 0 < len(transcript.items) - start <= PAGE_ITEMS
    thread.turn("long one", "x" * (TEXT_BUDGET * 2))
    transcript.load(thread.id)
    assert len(transcript.items) - transcript.latest_window(100, 24) == MIN_ITEMS


def test_the_tool_call_index_is_reused_until_the_thread_moves(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.turn("q", "a", calls=[make_call()])
    transcript = Transcript(thread.store)
    reads: list[str | None] = []
    list_tool_calls = thread.store.list_tool_calls

    def counting(*, thread_id: str | None = None, run_id: str | None = None) -> Any:
        reads.append(thread_id)
        return list_tool_calls(thread_id=thread_id, run_id=run_id)

    thread.store.list_tool_calls = counting  # type: ignore[method-assign]
    transcript.load(thread.id)
    transcript.load(None)
    transcript.load(thread.id)
    assert reads == [thread.id]
    # A run event of the thread (here: while another thread is shown) drops the cache.
    transcript.load(None)
    transcript.apply(EventFactory(thread.id).failed("server_error", "boom"))
    transcript.load(thread.id)
    assert reads == [thread.id, thread.id]


def test_live_events_become_item_updates(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.user("Compare Apple and Tesla")
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    events = EventFactory(thread.id)
    first, second = make_call(status="queued"), make_call("get_quote", status="queued")
    step = events.step([first, second])
    updates = transcript.apply(StepCreated(step))
    assert [type(u) for u in updates] == [Added, Added]  # one card per call, at once
    card = updates[0].item
    assert card.call is not first  # the reducer's own copy: the event's snapshot is left alone
    first.status = "running"
    (update,) = transcript.apply(events.call_progress(step, first))
    assert isinstance(update, CallChanged) and update.item is card and card.call is not None
    assert card.call.status == "running"
    (_, awaiting) = transcript.apply(events.requires_action([first, second]))
    assert isinstance(awaiting, CallChanged) and awaiting.item.call.status == "awaiting_approval"  # type: ignore[union-attr]

    message = events.message()
    (added,) = transcript.apply(events.created(message))
    assert isinstance(added, Added) and added.item.kind == "assistant"
    assert transcript.apply(events.delta(message, "Apple ")) == [TextAdded(added.item, "Apple ")]
    transcript.apply(events.delta(message, "leads."))
    (finished,) = transcript.apply(events.completed(message, "Apple leads."))
    assert isinstance(finished, Finished) and finished.item.message.status == "completed"  # type: ignore[union-attr]
    assert finished.item.text == "Apple leads."

    (error,) = transcript.apply(events.failed("server_error", "gone"))
    assert isinstance(error, Added) and error.item.error_label == "Run failed"
    boom = ErrorEvent(LastError("internal_error", "not saved"))
    keys = {
        u.item.key for u in transcript.apply(boom, thread.id) + transcript.apply(boom, thread.id)
    }
    assert len(keys) == 2  # error events have no id: each is its own line


def test_another_threads_run_is_followed_while_hidden(tmp_path: Path) -> None:
    thread = new_thread(tmp_path)
    thread.user("Apple?")
    other = ThreadBuilder(thread.store, "other")
    other.user("Tesla?")
    run = other.run(status="in_progress")
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    events = EventFactory(other.id)
    events.run = run
    # Its arguments are still streaming: the store has no call yet.
    step = other.tool_step(run, [], status="in_progress")
    step_event = StepCreated(step)
    entry = {"index": 0, "id": "call_t", "type": "function", "function": {"name": "get_quote"}}
    fragment = {"index": 0, "function": {"arguments": '{"ticker": "TS'}}
    stored = other.answer(run, "", status="in_progress")
    message = Message.from_dict(stored.to_dict())
    for event in (
        RunCreated(run),
        step_event,
        events.step_delta(step, [entry]),
        events.step_delta(step, [fragment]),
        MessageCreated(message),
        events.delta(message, "Tesla "),
        events.delta(message, "is volatile."),
    ):
        assert transcript.apply(event) == []  # nothing of it is shown here
    transcript.load(other.id)  # the store still has "" for the answer (not flushed yet)
    answer = next(i for i in transcript.items if i.kind == "assistant")
    assert answer.text == "Tesla is volatile."
    card = next(i for i in transcript.items if i.kind == "call")
    assert card.call is not None and card.call.function.arguments == '{"ticker": "TS'
    # From now on its updates come here.
    assert transcript.apply(events.delta(message, " Careful.")) == [TextAdded(answer, " Careful.")]


# -- property: shown again at any moment, the answer continues exactly --------------------
ANSWER = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=50)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answer=ANSWER,
    cuts=st.lists(st.integers(1, 49), max_size=12),
    schedule=st.lists(st.sampled_from(["emit", "flush", "receive", "switch"]), max_size=60),
    joined_late=st.booleans(),
)
def test_an_answer_shown_again_mid_stream_continues_exactly(
    answer: str, cuts: list[int], schedule: list[str], joined_late: bool
) -> None:
    """The runtime emits deltas and flushes what it emitted to the store; the app receives
    the emitted deltas later (a queue); the user switches away and back at any moment. What
    a widget following the updates holds is always the stored answer's prefix, never a
    piece twice or missing, and the whole answer at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        store = make_store(Path(tmp))
        try:
            run_stream(store, answer, cuts, schedule, joined_late)
        finally:
            store.close()


def run_stream(store: Any, answer: str, cuts: list[int], schedule: list[str], late: bool) -> None:
    thread = ThreadBuilder(store)
    thread.user("Go on")
    hidden = ThreadBuilder(store, "elsewhere")
    run = thread.run(status="in_progress")
    stored = thread.answer(run, "", status="in_progress")
    events = EventFactory(thread.id)
    events.run = run
    bounds = sorted({0, len(answer), *(c for c in cuts if c < len(answer))})
    pieces = [(a, answer[a:b]) for a, b in itertools.pairwise(bounds)]
    transcript = Transcript(store)
    shown: str | None = None  # what a widget holds (None: the thread is not shown)

    def show() -> None:
        nonlocal shown
        transcript.load(thread.id)
        item = transcript.item(f"m:{stored.id}")
        assert item is not None
        shown = item.text

    def follow(updates: list[Update]) -> None:
        nonlocal shown
        for update in updates:
            if isinstance(update, TextAdded) and shown is not None:
                shown += update.text
            elif isinstance(update, Added | Finished):
                shown = update.item.text

    transcript.load(hidden.id if late else thread.id)  # late: it starts elsewhere
    shown = None if late else ""
    follow(transcript.apply(MessageCreated(Message.from_dict(stored.to_dict()))))
    emitted = received = 0
    for step in [*schedule, *["emit"] * len(pieces), *["receive"] * len(pieces), "switch"]:
        if step == "emit" and emitted < len(pieces):
            emitted += 1
        elif step == "flush" and emitted:
            start, piece = pieces[emitted - 1]
            stored.set_text(answer[: start + len(piece)])
            store.update_message(stored)
        elif step == "receive" and received < emitted:
            start, piece = pieces[received]
            received += 1
            delta = MessageDeltaData(stored.id, run.id, thread.id, piece, offset=start)
            follow(transcript.apply(MessageDelta(delta)))
        elif step == "switch":
            transcript.load(hidden.id)
            shown = None
            show()
        if shown is not None:
            assert answer.startswith(shown)
            item = transcript.item(f"m:{stored.id}")
            assert item is not None and item.text == shown
    assert shown == answer
    stored.set_text(answer)
    stored.status = "completed"
    store.update_message(stored)
    follow(transcript.apply(MessageCompleted(Message.from_dict(stored.to_dict()))))
    assert shown == answer


def test_the_last_run_is_offered_again_and_quiet_failures_keep_their_error(tmp_path: Path) -> None:
    """Issue 12.8: the thread's last run, once over, is offered again (Retry after a
    failure or a cancel, Regenerate after an answer) as the last item; the offer goes when
    another run starts or a question is sent, and comes back when that run is done. A run
    that failed before it wrote anything keeps its error line after a reload."""
    thread = new_thread(tmp_path)
    thread.turn("first", "answer")
    thread.user("second")
    thread.run(status="failed", last_error=LastError("rate_limit_exceeded", "slow down"))
    transcript = Transcript(thread.store)
    transcript.load(thread.id)
    assert kinds(transcript) == ["user", "assistant", "user", "error", "redo"]
    assert transcript.items[-2].error is not None
    redo = transcript.items[-1]
    assert redo.run_status == "failed" and transcript.redo is redo

    events = EventFactory(thread.id)
    updates = transcript.apply(RunCreated(events.run))
    assert [type(u).__name__ for u in updates] == ["Removed"] and transcript.redo is None
    message = events.message()
    transcript.apply(MessageCreated(message))
    transcript.apply(MessageDelta(MessageDeltaData(message.id, events.run.id, thread.id, "ok")))
    from assistant_core.events import Done, RunCompleted

    done_run = events.run.__class__.from_dict({**events.run.to_dict(), "status": "completed"})
    transcript.apply(RunCompleted(done_run))
    updates = transcript.apply(Done(), thread.id)
    assert [type(u).__name__ for u in updates] == ["Added"]
    assert transcript.redo is not None and transcript.redo.run_status == "completed"
    assert kinds(transcript)[-2:] == ["assistant", "redo"]

    question = thread.user("third")
    updates = transcript.add_user_message(question)
    assert [type(u).__name__ for u in updates] == ["Removed", "Added"]
    assert kinds(transcript)[-1] == "user" and transcript.redo is None
