"""Event types: one per Assistants streaming event, in the API's JSON and SSE forms (checked
against the ``openai`` package's ``AssistantStreamEvent`` union)."""

from __future__ import annotations

import json

import pytest
from openai.types.beta import AssistantStreamEvent
from pydantic import TypeAdapter

from assistant_core import events as ev
from assistant_core.objects import LastError, RunStep, Thread, Usage, text_content
from tests.test_objects import make_call, make_message, make_run, make_step

EXPECTED_EVENTS = {
    "thread.created",
    *(
        f"thread.run.{s}"
        for s in (
            "created",
            "queued",
            "in_progress",
            "requires_action",
            "completed",
            "incomplete",
            "failed",
            "cancelling",
            "cancelled",
            "expired",
        )
    ),
    *(
        f"thread.run.step.{s}"
        for s in ("created", "in_progress", "delta", "completed", "failed", "cancelled", "expired")
    ),
    *(
        f"thread.message.{s}"
        for s in ("created", "in_progress", "delta", "completed", "incomplete")
    ),
    "error",
    "done",
}

STREAM_EVENT = TypeAdapter(AssistantStreamEvent)


def test_one_type_per_api_event() -> None:
    assert set(ev.EVENT_TYPES) == EXPECTED_EVENTS
    assert all(cls.event == name for name, cls in ev.EVENT_TYPES.items())
    assert len(set(ev.EVENT_TYPES.values())) == len(EXPECTED_EVENTS)


def test_status_maps_cover_every_status() -> None:
    assert set(ev.RUN_EVENT_BY_STATUS) == {
        "queued",
        "in_progress",
        "requires_action",
        "completed",
        "incomplete",
        "failed",
        "cancelling",
        "cancelled",
        "expired",
    }
    for status, cls in ev.RUN_EVENT_BY_STATUS.items():
        assert cls.event == f"thread.run.{status}"
    for status, cls in ev.STEP_EVENT_BY_STATUS.items():
        assert cls.event == f"thread.run.step.{status}"


def _sample_events() -> list[ev.Event]:
    thread = Thread(id="thread_1", created_at=1, title="t", updated_at=1)
    run = make_run(status="completed", usage=Usage(1, 2, 3), completed_at=5)
    step = make_step(tool_calls=[make_call()], status="completed", completed_at=4)
    message = make_message()
    samples: list[ev.Event] = [ev.ThreadCreated(thread), ev.RunCreated(make_run())]
    samples += [cls(make_run(status=status)) for status, cls in ev.RUN_EVENT_BY_STATUS.items()]
    samples += [ev.StepCreated(make_step()), ev.StepCompleted(step)]
    samples += [cls(make_step(status=s)) for s, cls in ev.STEP_EVENT_BY_STATUS.items()]
    samples += [
        ev.StepDelta(
            ev.RunStepDelta(
                "step_1", "run_1", "thread_1", [ev.tool_call_delta(0, make_call(), '{"tick')]
            )
        ),
        # Ours: a call's progress, with its display form (extra keys the API ignores).
        ev.StepDelta(
            ev.RunStepDelta("step_1", "run_1", "thread_1", [ev.call_progress(0, make_call())])
        ),
        ev.MessageCreated(make_message(status="in_progress", content=[])),
        ev.MessageInProgress(make_message(status="in_progress")),
        ev.MessageDelta(ev.MessageDeltaData("msg_1", "run_1", "thread_1", "Hel")),
        ev.MessageCompleted(message),
        ev.MessageIncomplete(
            make_message(status="incomplete", incomplete_details={"reason": "run_failed"})
        ),
        ev.RunCompleted(run),
        ev.ErrorEvent(LastError("server_error", "the model server closed the stream")),
    ]
    return samples


@pytest.mark.parametrize("event", _sample_events(), ids=lambda e: e.event)
def test_json_form_validates_as_an_openai_stream_event(event: ev.Event) -> None:
    data = event.to_json()
    parsed = STREAM_EVENT.validate_python(json.loads(json.dumps(data)))
    assert parsed.event == event.event


def test_sse_form() -> None:
    run = make_run()
    sse = ev.RunCreated(run).to_sse()
    assert sse.startswith("event: thread.run.created\ndata: ")
    assert sse.endswith("\n\n")
    assert json.loads(sse.split("data: ", 1)[1]) == run.to_dict()
    assert ev.Done().to_sse() == "event: done\ndata: [DONE]\n\n"
    assert ev.Done().to_json() == {"event": "done", "data": "[DONE]"}


def test_sse_keeps_non_ascii_and_escapes_newlines() -> None:
    message = make_message(content=text_content("삼성전자\n매출"))
    sse = ev.MessageCompleted(message).to_sse()
    assert "삼성전자" in sse
    assert sse.count("\n") == 3  # event line, data line, blank line: the text's newline is escaped


def test_message_delta_form() -> None:
    data = ev.MessageDelta(
        ev.MessageDeltaData("msg_1", "run_1", "thread_1", "Hi", index=0)
    ).to_json()
    assert data["data"]["object"] == "thread.message.delta"
    assert data["data"]["delta"]["content"][0]["text"]["value"] == "Hi"


def test_tool_call_delta_includes_output_when_known() -> None:
    with_output = ev.tool_call_delta(1, make_call(output="42"))
    assert with_output == {
        "index": 1,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_price", "output": "42"},
    }
    pending = ev.tool_call_delta(0, make_call(output=None), arguments='{"t')
    assert pending["function"] == {"name": "get_price", "arguments": '{"t'}


def test_routing_properties() -> None:
    assert ev.ThreadCreated(Thread(id="thread_9", created_at=1)).thread_id == "thread_9"
    assert ev.RunQueued(make_run()).run_id == "run_1"
    assert ev.RunQueued(make_run()).thread_id == "thread_1"
    delta = ev.StepDelta(ev.RunStepDelta("step_1", "run_2", "thread_2", []))
    assert (delta.thread_id, delta.run_id) == ("thread_2", "run_2")
    assert ev.Done().thread_id is None
    assert ev.ErrorEvent(LastError("server_error", "x")).run_id is None


def test_snapshot_is_independent_of_later_changes() -> None:
    step = make_step(tool_calls=[make_call(output=None)])
    event = ev.StepCreated(ev.snapshot(step))
    step.tool_calls[0].function.output = "later"
    step.status = "completed"
    assert isinstance(event.data, RunStep)
    assert event.data.status == "in_progress"
    assert event.data.tool_calls[0].function.output is None


def test_error_event_carries_an_error_object() -> None:
    data = ev.ErrorEvent(LastError("rate_limit_exceeded", "slow down")).to_json()["data"]
    assert data == {
        "code": "rate_limit_exceeded",
        "message": "slow down",
        "type": "rate_limit_exceeded",
        "param": None,
    }
