"""A slow or silent model server (issue 11, item 11).

A server that accepts connections and never answers left ``ask`` silent for about four
minutes (60 s × 4 attempts) before it said ``server_error``. Now connecting has its own
short timeout, the first event of a stream has its own limit apart from the silence
allowed between events, a model turn gives up after ``RetryPolicy.give_up_after`` seconds
without an answer however many retries that leaves, and every retry is shown as it is
scheduled (``run.retry``: the CLI prints it on stderr, the app's run panel shows it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assistant_core.backends.chat_completions import ChatCompletionsBackend
from assistant_core.backends.openai_common import CONNECT_TIMEOUT_S
from assistant_core.runtime import RetryPolicy
from tests.support.openai_replay import (
    ReplayServer,
    chat_stream,
    error_response,
    synthetic_tokens,
)

from .processes import cli_env, run_cli
from .test_model_faults import ANSWER, assert_completed_with, harness, retries, server  # noqa: F401


class SilentServer:
    """Accepts every connection, reads what is sent, never answers."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.connections: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(0.1)
            self.connections.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def slow_harness(harness: Any, url: str, *, give_up_after: float, **timeouts: float) -> Any:
    h = harness(url, timeout=timeouts.pop("timeout", 5.0))
    backend = h.runtime.backend
    backend.first_byte_timeout = timeouts.get("first_byte_timeout", backend.first_byte_timeout)
    h.runtime.retry_policy = RetryPolicy(
        max_retries=10, base_delay=0.05, max_delay=0.1, jitter=0.0, give_up_after=give_up_after
    )
    return h


async def test_a_server_that_never_answers_is_given_up_on_in_the_budget(
    silent: SilentServer, harness: Any
) -> None:
    h = slow_harness(harness, silent.base_url, give_up_after=1.5, first_byte_timeout=0.4)
    events, elapsed = await h.ask()
    assert [e.event for e in events][-2:] == ["thread.run.failed", "done"]
    run = h.run(events)
    assert run.last_error.code == "server_error"
    assert "no response from" in run.last_error.message
    assert "1.5 s in all" in run.last_error.message  # the budget, not 10 retries × 0.4 s
    shown = retries(events)
    assert shown and all(r["reason"] == "timeout" for r in shown)  # each retry was visible
    assert 1.3 < elapsed < 3.5
    assert len(silent.connections) >= 2


async def test_headers_then_silence_counts_as_no_answer_and_is_retried(
    server: ReplayServer, harness: Any
) -> None:
    h = slow_harness(harness, server.base_url, give_up_after=10, first_byte_timeout=0.4)
    server.enqueue(chat_stream(ANSWER, pauses={0: 10.0}))  # 200 OK, headers, then nothing
    server.enqueue(chat_stream(ANSWER))
    events, elapsed = await h.ask()
    assert_completed_with(h, events)
    assert [r["reason"] for r in retries(events)] == ["timeout"]
    assert elapsed < 5


async def test_a_trickling_answer_may_take_longer_than_the_budget(
    server: ReplayServer, harness: Any
) -> None:
    # The budget is for getting an answer at all; a stream that keeps coming is not cut.
    h = slow_harness(
        harness, server.base_url, give_up_after=0.6, first_byte_timeout=0.5, timeout=0.5
    )
    tokens = synthetic_tokens(12)
    server.enqueue(chat_stream(tokens, interval=0.15))  # about 2 s in all
    events, elapsed = await h.ask()
    assert_completed_with(h, events, "".join(tokens))
    assert elapsed > 1.5


async def test_a_trickle_slower_than_the_read_timeout_is_a_stall(
    server: ReplayServer, harness: Any
) -> None:
    h = slow_harness(harness, server.base_url, give_up_after=10, timeout=0.3)
    server.enqueue(chat_stream(synthetic_tokens(6), interval=0.1, pauses={3: 1.0}))
    events, elapsed = await h.ask()
    run = h.run(events)
    assert run.status == "failed" and "stalled (no data for 0.3 s)" in run.last_error.message
    assert elapsed < 4


def test_connecting_has_its_own_short_timeout() -> None:
    backend = ChatCompletionsBackend("http://127.0.0.1:9/v1", None, timeout=60.0)
    assert backend.client.timeout.connect == CONNECT_TIMEOUT_S == 5.0
    assert backend.client.timeout.read > 60.0  # outside the backend's own limits


def test_the_cli_shows_each_retry_as_it_happens(tmp_path: Any, server: ReplayServer) -> None:
    server.enqueue(error_response(503, "overloaded", type="server_error"), times=2)
    server.enqueue(chat_stream(ANSWER))
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    started = time.monotonic()
    result = run_cli(
        ["--base-url", server.base_url, "--model", "m", "--data", "demo", "ask", "Apple?"], env
    )
    assert result.returncode == 0, result.stderr
    shown = [line for line in result.stderr.splitlines() if line.startswith("retry ")]
    assert len(shown) == 2, result.stderr
    assert shown[0].startswith("retry 1/3 in ") and "(server_error)" in shown[0]
    assert "server error 503: overloaded" in shown[0]
    assert result.stdout.startswith(ANSWER)
    assert time.monotonic() - started < 30
