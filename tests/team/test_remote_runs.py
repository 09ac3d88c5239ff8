"""Requests for a run another process executes, at the runtime's level: two runtimes, each on
its own PostgreSQL store (two replicas in one process), one database. A cancel and tool
outputs reach the owner's live run; what the owner refuses comes back as the owner's error;
a request the owner can no longer act on leaves the run as it ended; a request whose
notification was lost is still found by the owner's next lease tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from assistant_core.backends.offline import OfflineAnalyst
from assistant_core.errors import RunStateError
from assistant_core.market import create_market
from assistant_core.runtime import Runtime
from assistant_core.store_pg import PostgresStore
from assistant_core.tools.investor import build_investor_tools
from tests.server.test_lifecycle import TUTORIAL_TOOL


def replica(url: str, name: str, pace: float = 0.0) -> Runtime:
    store = PostgresStore(url, replica=name, lease=1.0)
    tools = build_investor_tools(create_market("demo"))
    return Runtime(store, OfflineAnalyst(pace=pace), tools, model="offline-analyst")


@pytest.fixture
async def pair(pg_url: str) -> AsyncIterator[tuple[Runtime, Runtime]]:
    a, b = replica(pg_url, "A", pace=0.02), replica(pg_url, "B")
    yield a, b
    for runtime in (a, b):
        await runtime.aclose()
        runtime.store.close()


async def until(predicate: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)
    return value


async def test_a_cancel_reaches_the_owner(pair: tuple[Runtime, Runtime]) -> None:
    a, b = pair
    thread = a.create_thread()
    await a.add_message(thread.id, "Should I buy Apple?")
    run = a.start_run(thread.id)
    await until(lambda: b.store.get_run(run.id).status == "in_progress")
    assert not b.executing(run.id)
    cancelled = await b.cancel_run(run.id)
    assert cancelled.status == "cancelled"  # A closed it before B answered
    assert not a.executing(run.id)
    # Asked again when it has ended: the run as it ended, not an error.
    assert (await b.cancel_run(run.id)).status == "cancelled"


async def test_tool_outputs_reach_the_owner_and_its_refusals_come_back(
    pair: tuple[Runtime, Runtime],
) -> None:
    a, b = pair
    assistant = a.store.create_assistant("m", tools=[TUTORIAL_TOOL])
    thread = a.create_thread()
    await a.add_message(thread.id, "Should I buy Apple?")
    run = a.start_run(thread.id, assistant_id=assistant.id, approval="client")
    waiting = await until(lambda: (r := b.store.get_run(run.id)).status == "requires_action" and r)
    calls = waiting.required_action["submit_tool_outputs"]["tool_calls"]
    with pytest.raises(RunStateError, match="call_nope"):  # A's own check, sent back
        await b.submit_tool_outputs(run.id, [{"tool_call_id": "call_nope", "output": "x"}])
    outputs = [{"tool_call_id": c["id"], "output": "Apple Inc. (AAPL)"} for c in calls]
    await b.submit_tool_outputs(run.id, outputs)
    assert b.store.get_run(run.id).status != "requires_action"  # answered once it moved on
    assert a.executing(run.id) or a.store.get_run(run.id).status == "completed"
    await until(lambda: a.store.get_run(run.id).status == "completed")


async def test_a_request_whose_notification_was_lost_is_found_by_the_next_tick(
    pair: tuple[Runtime, Runtime], pg_url: str
) -> None:
    a, _ = pair
    thread = a.create_thread()
    await a.add_message(thread.id, "Should I buy Apple?")
    run = a.start_run(thread.id)
    await until(lambda: a.store.get_run(run.id).status == "in_progress")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # no NOTIFY sent
        conn.execute(
            "INSERT INTO run_requests (run_id, target, sender, kind) "
            "VALUES (%s, 'A', 'someone', 'cancel')",
            (run.id,),
        )
    await until(lambda: a.store.get_run(run.id).status == "cancelled", timeout=5)

    def answer() -> tuple[bool, str | None] | None:
        with psycopg.connect(pg_url) as conn:
            return conn.execute(  # type: ignore[return-value]
                "SELECT answered_at IS NOT NULL, error FROM run_requests"
            ).fetchone()

    assert await until(lambda: (row := answer()) and row[0] and row) == (True, None)
