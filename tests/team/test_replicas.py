"""Two ``serve`` replicas on one PostgreSQL database, one truth: a run started through A is
cancelled through B; tool outputs submitted through B reach A's run (by the SDK's polling
loop — the tutorial's own code — and by its streaming helper); objects read through either
replica agree; A SIGKILLed mid-run has its runs closed by B once its lease expires, its
waiting run resumed through B; 20 clients × 5 streaming runs spread over both end exactly.
Real processes, real PostgreSQL, the official SDK; nothing mocked."""

from __future__ import annotations

import importlib
import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import psycopg
import pytest

from tests.server.conftest import DEPRECATIONS, ServerProcess
from tests.server.test_lifecycle import HEADERS, TUTORIAL_TOOL, builtin_id, sse, wait_for
from tests.server.test_tutorial import Events
from tests.support.yahoo_replay import YahooReplay
from tests.team.conftest import LEASE_S

pytestmark = DEPRECATIONS
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def owner_of(pg_url: str, run_id: str) -> str | None:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT owner FROM runs WHERE id = %s", (run_id,)).fetchone()
    assert row is not None
    return row[0]


def answer_text(client: openai.OpenAI, thread_id: str, run_id: str) -> str:
    messages = client.beta.threads.messages.list(thread_id, run_id=run_id).data
    return "".join(m.content[0].text.value for m in messages if m.role == "assistant")


def test_a_run_started_through_a_is_cancelled_through_b(make_replica: Any, pg_url: str) -> None:
    a = make_replica("A", pace=0.02).start()
    b = make_replica("B").start()
    ca, cb = a.client(), b.client()
    thread = ca.beta.threads.create(messages=[{"role": "user", "content": "Should I buy Apple?"}])
    run = ca.beta.threads.runs.create(thread.id, assistant_id=builtin_id(ca))
    # B reads what A writes: the run in progress, then its answer growing (flushed each second).
    wait_for(lambda: answer_text(cb, thread.id, run.id), timeout=30)
    assert cb.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress"
    started = time.monotonic()
    cancelled = cb.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    took = time.monotonic() - started
    assert cancelled.status == "cancelled", cancelled
    assert took < 2.0  # the figure is in bench_team.py; here: it reached A, not a timeout
    assert owner_of(pg_url, run.id) == "A"  # A executed and closed it
    for client in (ca, cb):
        again = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert again.status == "cancelled" and again.cancelled_at
        message = client.beta.threads.messages.list(thread.id, run_id=run.id).data[0]
        assert message.status == "incomplete" and message.content[0].text.value
    # The thread takes a new run at once, on either replica.
    follow_up = cb.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=builtin_id(cb), poll_interval_ms=100
    )
    assert follow_up.status == "completed"


def tutorial_module(base_url: str, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "any-key")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sys.modules.pop("assistants_tutorial", None)
    module = importlib.import_module("assistants_tutorial")
    module.YAHOO_SESSION = YahooReplay(fixtures_dir).session()
    module.functions_map["get_ticker"] = lambda inputs: "Apple Inc. (AAPL)"
    return module


def test_the_tutorial_client_on_b_drives_a_thread_created_through_a(
    make_replica: Any,
    pg_url: str,
    fixtures_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = make_replica("A").start()
    b = make_replica("B").start()
    ca = a.client()
    tutorial = tutorial_module(b.base_url, fixtures_dir, monkeypatch)  # its client: B
    assistant = ca.beta.assistants.create(
        name="Investor Assistant", model="gpt-4-turbo", tools=tutorial.functions
    )
    thread = ca.beta.threads.create(
        messages=[{"role": "user", "content": "I want to know if the Apple stock is a good buy"}]
    )
    run = ca.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    # The tutorial's own loop, its functions and client, against replica B.
    while True:
        run = tutorial.get_run(run.id, thread.id)
        if run.status == "requires_action":
            tutorial.submit_tool_outputs(run.id, thread.id)  # reaches A, which executes it
        elif run.status in ("queued", "in_progress"):
            time.sleep(0.1)
        else:
            break
    assert run.status == "completed", run.last_error
    assert owner_of(pg_url, run.id) == "A"
    messages = tutorial.get_messages(thread.id)
    assert "391.0B" in messages[-1].content[0].text.value  # from the client's DataFrames
    assert "Calling function: get_income_statement" in capsys.readouterr().out
    # Every object reads the same through either replica.
    cb = b.client()
    for client in (ca, cb):
        assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id) == run
    steps = [c.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data for c in (ca, cb)]
    assert steps[0] == steps[1] and len(steps[0]) >= 3
    listed = [c.beta.threads.messages.list(thread.id).data for c in (ca, cb)]
    assert listed[0] == listed[1]
    assert ca.beta.assistants.retrieve(assistant.id) == cb.beta.assistants.retrieve(assistant.id)


def test_tool_outputs_streamed_through_b_reach_a_run(make_replica: Any, pg_url: str) -> None:
    a = make_replica("A").start()
    b = make_replica("B").start()
    ca, cb = a.client(), b.client()
    assistant = ca.beta.assistants.create(model="gpt-4-turbo", tools=[TUTORIAL_TOOL])
    thread = ca.beta.threads.create(messages=[{"role": "user", "content": "Should I buy Apple?"}])
    run = ca.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    run = wait_for(
        lambda: (
            (r := cb.beta.threads.runs.retrieve(run.id, thread_id=thread.id)).status
            == "requires_action"
            and r
        )
    )
    calls = run.required_action.submit_tool_outputs.tool_calls
    events = Events()
    with cb.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "Apple Inc. (AAPL)"} for c in calls],
        event_handler=events,
    ) as stream:
        stream.until_done()
    assert events.names[-1] == "thread.run.completed", events.names
    assert "thread.message.delta" in events.names and events.text
    assert "thread.run.created" not in events.names  # from the submission on, not replayed
    assert owner_of(pg_url, run.id) == "A"
    assert answer_text(ca, thread.id, run.id) == events.text
    # A second submission to the finished run is refused through either replica.
    for client in (ca, cb):
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.submit_tool_outputs(
                run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "x", "output": ""}]
            )


def test_a_replica_killed_mid_run_has_its_runs_closed_by_the_other(
    make_replica: Any, pg_url: str
) -> None:
    a = make_replica("A", pace=0.05).start()
    b = make_replica("B").start()
    ca, cb = a.client(), b.client()
    builtin = builtin_id(ca)
    busy = []
    for question in ("Should I buy Apple?", "How is Microsoft doing?"):
        thread = ca.beta.threads.create(messages=[{"role": "user", "content": question}])
        busy.append(ca.beta.threads.runs.create(thread.id, assistant_id=builtin))
    waiting_assistant = ca.beta.assistants.create(model="gpt-4-turbo", tools=[TUTORIAL_TOOL])
    waiting_thread = ca.beta.threads.create(messages=[{"role": "user", "content": "Apple?"}])
    waiting = ca.beta.threads.runs.create(waiting_thread.id, assistant_id=waiting_assistant.id)
    wait_for(
        lambda: (
            cb.beta.threads.runs.retrieve(waiting.id, thread_id=waiting_thread.id).status
            == "requires_action"
        )
    )
    for run in busy:
        wait_for(lambda run=run: answer_text(cb, run.thread_id, run.id))
    a.signal(signal.SIGKILL)
    a.wait()
    killed = time.monotonic()
    for run in busy:
        closed = wait_for(
            lambda run=run: (
                (r := cb.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)).status
                not in ("queued", "in_progress")
                and r
            ),
            timeout=LEASE_S * 3 + 5,
        )
        assert closed.status == "failed"
        assert closed.last_error.code == "server_error"  # the API's code for it
        assert "replica A" in closed.last_error.message
        assert "lease expired" in closed.last_error.message
        assert "replica B closed" in closed.last_error.message
        message = cb.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
        assert message.status == "incomplete" and message.content[0].text.value
    took = time.monotonic() - killed
    assert took < LEASE_S + 3, took  # the lease, one tick of B's, and the polling here
    # The run waiting for the client's outputs needs no live replica: B takes it up.
    still = cb.beta.threads.runs.retrieve(waiting.id, thread_id=waiting_thread.id)
    assert still.status == "requires_action"
    calls = still.required_action.submit_tool_outputs.tool_calls
    done = cb.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=waiting.id,
        thread_id=waiting_thread.id,
        tool_outputs=[{"tool_call_id": c.id, "output": "Apple Inc. (AAPL)"} for c in calls],
        poll_interval_ms=100,
    )
    assert done.status == "completed"
    assert owner_of(pg_url, waiting.id) == "B"
    with psycopg.connect(pg_url) as conn:
        active = conn.execute(
            "SELECT count(*) FROM runs WHERE status IN ('queued', 'in_progress', 'cancelling')"
        ).fetchone()
    assert active == (0,)


CLIENTS, RUNS_EACH = 20, 5


def test_20_clients_x_5_streaming_runs_over_two_replicas(make_replica: Any, pg_url: str) -> None:
    replicas: list[ServerProcess] = [make_replica(name, pace=0.002).start() for name in ("A", "B")]
    builtin = builtin_id(replicas[0].client())

    def client_session(index: int) -> list[tuple[str, str, str, str]]:
        """One client: a thread created through one replica, five streamed runs spread over
        both. Returns (run id, thread id, replica, streamed text) per run."""
        home = replicas[index % 2]
        with httpx.Client(headers=HEADERS, timeout=120) as http:
            created = http.post(f"{home.base_url}/threads", json={}).json()
            thread_id = created["id"]
            seen = []
            for number in range(RUNS_EACH):
                replica = replicas[(index + number) % 2]
                body = {
                    "assistant_id": builtin,
                    "stream": True,
                    "additional_messages": [
                        {"role": "user", "content": f"client {index} question {number}: hello"}
                    ],
                }
                run_id, text, names = "", "", []
                with http.stream(
                    "POST", f"{replica.base_url}/threads/{thread_id}/runs", json=body
                ) as response:
                    assert response.status_code == 200, response.read()
                    for name, data in sse(response):
                        names.append(name)
                        if name == "thread.run.created":
                            run_id = json.loads(data)["id"]
                        elif name == "thread.message.delta":
                            text += json.loads(data)["delta"]["content"][0]["text"]["value"]
                assert names[-2:] == ["thread.run.completed", "done"], names[-3:]
                seen.append((run_id, thread_id, replica.base_url, text))
            return seen

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [run for runs in pool.map(client_session, range(CLIENTS)) for run in runs]
    assert len(results) == CLIENTS * RUNS_EACH
    assert len({run_id for run_id, *_ in results}) == CLIENTS * RUNS_EACH  # none duplicated
    assert {url for _, _, url, _ in results} == {r.base_url for r in replicas}
    with psycopg.connect(pg_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM threads), (SELECT count(*) FROM runs), "
            "(SELECT count(*) FROM runs WHERE status = 'completed'), "
            "(SELECT count(*) FROM messages WHERE role = 'user'), "
            "(SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'completed'), "
            "(SELECT count(DISTINCT owner) FROM runs)"
        ).fetchone()
        assert counts == (CLIENTS, 100, 100, 100, 100, 2)
        stored = dict(
            conn.execute(
                "SELECT run_id, string_agg(text, '' ORDER BY seq) FROM messages "
                "WHERE role = 'assistant' GROUP BY run_id"
            ).fetchall()
        )
        per_thread = conn.execute(
            "SELECT thread_id, count(*) FROM runs GROUP BY thread_id"
        ).fetchall()
    assert {n for _, n in per_thread} == {RUNS_EACH}
    for run_id, _, _, text in results:  # what each client saw is what was stored
        assert stored[run_id] == text
