"""The object model: ids, transitions, round trips, and fidelity to the API's wire format
(every interesting state validates against the ``openai`` package's own models)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from openai.types.beta import Assistant as OpenAIAssistant
from openai.types.beta import Thread as OpenAIThread
from openai.types.beta.threads import Message as OpenAIMessage
from openai.types.beta.threads import Run as OpenAIRun
from openai.types.beta.threads.runs import RunStep as OpenAIRunStep

from assistant_core.objects import (
    ACTIVE_RUN_STATUSES,
    MESSAGE_TRANSITIONS,
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL_RUN_STATUSES,
    Assistant,
    FunctionCall,
    InvalidTransition,
    LastError,
    Message,
    Run,
    RunStep,
    Thread,
    ToolCall,
    TruncationStrategy,
    Usage,
    check_transition,
    new_id,
    required_action_for,
    text_content,
)

T0 = 1_790_000_000


def make_run(**overrides: object) -> Run:
    fields: dict[str, object] = {
        "id": "run_1",
        "created_at": T0,
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "model": "gpt-5-mini",
        "instructions": "be brief",
        "tools": [{"type": "function", "function": {"name": "lookup"}}],
    }
    fields.update(overrides)
    return Run(**fields)  # type: ignore[arg-type]


def make_call(call_id: str = "call_1", output: str | None = '{"price": 1.5}') -> ToolCall:
    return ToolCall(
        id=call_id,
        function=FunctionCall(name="get_price", arguments='{"ticker": "AAPL"}', output=output),
        status="completed" if output is not None else "running",
        started_at=T0 + 0.25,
        finished_at=T0 + 1.5,
        duration_ms=1250.0,
        source="yahoo",
        display={"table": [[1, 2]]},
    )


def make_step(**overrides: object) -> RunStep:
    fields: dict[str, object] = {
        "id": "step_1",
        "created_at": T0,
        "run_id": "run_1",
        "thread_id": "thread_1",
        "assistant_id": "asst_1",
        "type": "tool_calls",
    }
    fields.update(overrides)
    return RunStep(**fields)  # type: ignore[arg-type]


def make_message(**overrides: object) -> Message:
    fields: dict[str, object] = {
        "id": "msg_1",
        "created_at": T0,
        "thread_id": "thread_1",
        "role": "assistant",
        "content": text_content("Apple's revenue was $391.0B (yahoo)."),
        "run_id": "run_1",
        "assistant_id": "asst_1",
        "completed_at": T0 + 3,
    }
    fields.update(overrides)
    return Message(**fields)  # type: ignore[arg-type]


# -- ids and transitions -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        ("assistant", "asst_"),
        ("thread", "thread_"),
        ("message", "msg_"),
        ("run", "run_"),
        ("step", "step_"),
        ("call", "call_"),
    ],
)
def test_new_id_has_the_api_prefix_and_is_unique(kind: str, prefix: str) -> None:
    ids = {new_id(kind) for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9]{24}", value)


def test_transition_tables_cover_every_status() -> None:
    assert set(RUN_TRANSITIONS) == ACTIVE_RUN_STATUSES | TERMINAL_RUN_STATUSES
    assert all(not RUN_TRANSITIONS[s] for s in TERMINAL_RUN_STATUSES)
    assert set(STEP_TRANSITIONS) == {"in_progress", "cancelled", "failed", "completed", "expired"}
    assert set(MESSAGE_TRANSITIONS) == {"in_progress", "incomplete", "completed"}


def test_check_transition_allows_valid_and_same_status() -> None:
    check_transition("run", RUN_TRANSITIONS, "queued", "in_progress")
    check_transition("run", RUN_TRANSITIONS, "in_progress", "requires_action")
    check_transition("run", RUN_TRANSITIONS, "requires_action", "in_progress")
    check_transition("run", RUN_TRANSITIONS, "completed", "completed")


@pytest.mark.parametrize(
    ("table", "old", "new"),
    [
        (RUN_TRANSITIONS, "completed", "in_progress"),
        (RUN_TRANSITIONS, "queued", "completed"),
        (RUN_TRANSITIONS, "bogus", "queued"),
        (STEP_TRANSITIONS, "failed", "completed"),
        (MESSAGE_TRANSITIONS, "completed", "in_progress"),
    ],
)
def test_check_transition_refuses_invalid(table: dict, old: str, new: str) -> None:
    with pytest.raises(InvalidTransition, match=f"from '{old}' to '{new}'"):
        check_transition("run", table, old, new)


# -- small behaviours --------------------------------------------------------------------
def test_message_text_and_set_text() -> None:
    message = make_message(content=[])
    assert message.text == ""
    message.set_text("삼성전자 매출")
    assert message.text == "삼성전자 매출"
    assert message.content == [
        {"type": "text", "text": {"value": "삼성전자 매출", "annotations": []}}
    ]


def test_usage_add_keeps_total() -> None:
    usage = Usage()
    usage.add(10, 5)
    usage.add(1, 2)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 7, 18)


def test_run_is_active() -> None:
    assert make_run(status="requires_action").is_active
    assert not make_run(status="completed").is_active


def test_required_action_for_lists_calls_without_outputs() -> None:
    action = required_action_for([make_call("call_a"), make_call("call_b")])
    calls = action["submit_tool_outputs"]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_a", "call_b"]
    assert "output" not in calls[0]["function"]


# -- round trips -------------------------------------------------------------------------
def _interesting_runs() -> list[Run]:
    return [
        make_run(),
        make_run(
            status="in_progress",
            started_at=T0 + 1,
            provider="offline",
            truncation_strategy=TruncationStrategy("last_messages", 10),
            max_prompt_tokens=5000,
            max_completion_tokens=800,
            parallel_tool_calls=False,
            temperature=0.2,
            top_p=0.9,
            metadata={"k": "v"},
        ),
        make_run(
            status="requires_action",
            started_at=T0 + 1,
            approval="ask",
            required_action=required_action_for([make_call(output=None)]),
        ),
        make_run(
            status="failed",
            failed_at=T0 + 9,
            last_error=LastError("rate_limit_exceeded", "slow down"),
            retry={"attempt": 3, "max": 3, "reason": "429", "wait_s": 4.0},
            # Ours: the retries' timeline, and the run a Retry answers again.
            retries=[
                {"attempt": n, "max": 3, "reason": "rate_limit_exceeded", "wait_s": 1.0, "at": T0}
                for n in (1, 2, 3)
            ],
            replaces="run_0",
        ),
        make_run(
            status="completed",
            completed_at=T0 + 9,
            usage=Usage(120, 30, 150),
            memory={"dropped_messages": 4, "summarised": True},
        ),
        make_run(
            status="incomplete",
            completed_at=T0 + 9,
            usage=Usage(100, 800, 900),
            incomplete_details={"reason": "max_completion_tokens"},
        ),
        make_run(status="cancelled", cancelled_at=T0 + 2),
        make_run(status="expired", expires_at=T0 + 600),
    ]


def _interesting_steps() -> list[RunStep]:
    return [
        make_step(
            tool_calls=[make_call("call_a"), make_call("call_b", output='{"error": "x"}')],
            status="completed",
            completed_at=T0 + 2,
            usage=Usage(10, 5, 15),
        ),
        make_step(tool_calls=[make_call(output=None)]),
        make_step(
            type="message_creation", message_id="msg_1", status="completed", completed_at=T0 + 3
        ),
        make_step(status="failed", failed_at=T0 + 2, last_error=LastError("server_error", "boom")),
        make_step(status="cancelled", cancelled_at=T0 + 2, tool_calls=[make_call()]),
    ]


def _interesting_messages() -> list[Message]:
    return [
        make_message(),
        make_message(
            role="user",
            run_id=None,
            assistant_id=None,
            completed_at=None,
            content=text_content("삼성전자 주가 어때?"),
            metadata={"source": "cli"},
        ),
        make_message(status="in_progress", completed_at=None, content=text_content("Partial")),
        make_message(
            status="incomplete",
            completed_at=None,
            incomplete_at=T0 + 5,
            incomplete_details={"reason": "run_failed"},
        ),
    ]


def test_round_trips_are_lossless() -> None:
    objects: list = [
        *_interesting_runs(),
        *_interesting_steps(),
        *_interesting_messages(),
        Thread(
            id="thread_1",
            created_at=T0,
            metadata={"a": "b"},
            title="AAPL",
            updated_at=T0 + 5,
            summary="earlier: asked about AAPL",
        ),
        Assistant(
            id="asst_1",
            created_at=T0,
            model="m",
            name="n",
            instructions="i",
            tools=[{"type": "function"}],
            metadata={"x": "y"},
        ),
    ]
    for obj in objects:
        data = obj.to_dict()
        assert type(obj).from_dict(copy.deepcopy(data)) == obj
        assert type(obj).from_dict(data).to_dict() == data


def test_from_dict_ignores_unknown_keys() -> None:
    data = make_message().to_dict() | {"future_field": 1}
    assert Message.from_dict(data) == make_message()


# -- fidelity to openai.types.beta -------------------------------------------------------
@pytest.mark.parametrize("run", _interesting_runs(), ids=lambda r: r.status)
def test_run_validates_against_openai(run: Run) -> None:
    model = OpenAIRun.model_validate(run.to_dict())
    assert model.status == run.status
    assert model.id == run.id
    if run.last_error:
        assert model.last_error is not None and model.last_error.code == run.last_error.code
    if run.usage:
        assert model.usage is not None and model.usage.total_tokens == run.usage.total_tokens
    if run.required_action:
        assert model.required_action is not None
        assert model.required_action.submit_tool_outputs.tool_calls[0].function.name == "get_price"
    if run.incomplete_details:
        assert model.incomplete_details is not None
        assert model.incomplete_details.reason == "max_completion_tokens"
    assert model.truncation_strategy is not None
    assert model.truncation_strategy.type == run.truncation_strategy.type


@pytest.mark.parametrize("step", _interesting_steps(), ids=lambda s: f"{s.type}-{s.status}")
def test_step_validates_against_openai(step: RunStep) -> None:
    model = OpenAIRunStep.model_validate(step.to_dict())
    assert model.type == step.type
    assert model.status == step.status
    details = model.step_details
    if step.type == "tool_calls":
        assert details.type == "tool_calls"
        assert [c.id for c in details.tool_calls] == [c.id for c in step.tool_calls]
        for ours, theirs in zip(step.tool_calls, details.tool_calls):
            assert theirs.function.output == ours.function.output
            assert theirs.function.arguments == ours.function.arguments
    else:
        assert details.type == "message_creation"
        assert details.message_creation.message_id == step.message_id


@pytest.mark.parametrize("message", _interesting_messages(), ids=lambda m: f"{m.role}-{m.status}")
def test_message_validates_against_openai(message: Message) -> None:
    model = OpenAIMessage.model_validate(message.to_dict())
    assert model.status == message.status
    assert model.content[0].type == "text"
    assert model.content[0].text.value == message.text


def test_thread_and_assistant_validate_against_openai() -> None:
    thread = Thread(id="thread_1", created_at=T0, metadata={"a": "b"}, title="AAPL", updated_at=T0)
    assert OpenAIThread.model_validate(thread.to_dict()).id == "thread_1"
    assistant = Assistant(
        id="asst_1",
        created_at=T0,
        model="gpt-5-mini",
        name="Investor Assistant",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
    )
    assert OpenAIAssistant.model_validate(assistant.to_dict()).name == "Investor Assistant"


def test_objects_module_does_not_import_openai() -> None:
    import assistant_core.objects as objects

    source = Path(objects.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+openai", source, re.MULTILINE)


@pytest.mark.parametrize("code", ["app_stopped", "auth_error", "model_not_found", "internal_error"])
def test_our_finer_error_codes_stay_valid_on_the_wire(code: str) -> None:
    """The API's last_error.code is a closed set; ours travel beside it as ``reason`` and
    come back intact from storage."""
    run = Run(
        id="run_1",
        created_at=T0,
        thread_id="thread_1",
        assistant_id="asst_1",
        model="m",
        status="failed",
        failed_at=T0,
        last_error=LastError(code=code, message="the app stopped before this run finished"),
    )
    data = run.to_dict()
    assert data["last_error"] == {
        "code": "server_error",
        "reason": code,
        "message": "the app stopped before this run finished",
    }
    assert OpenAIRun.model_validate(data).last_error.code == "server_error"
    assert Run.from_dict(data).last_error == LastError(code=code, message=run.last_error.message)
    step = RunStep(
        id="step_1",
        created_at=T0,
        run_id="run_1",
        thread_id="thread_1",
        assistant_id="asst_1",
        type="message_creation",
        message_id="msg_1",
        status="failed",
        failed_at=T0,
        last_error=LastError(code=code, message="x"),
    )
    assert OpenAIRunStep.model_validate(step.to_dict()).last_error.code == "server_error"
    assert RunStep.from_dict(step.to_dict()).last_error.code == code
