"""Crash safety of the real CLI: SIGKILL while the answer streams, while tools run, and while
a run waits for approval; SIGTERM / SIGINT (cancel, not fail); two processes on one database.

Each scenario runs the installed ``investor-assistant`` as a subprocess on its own temporary
database. The scenarios are independent and mostly wait on timers, so a module fixture runs
them side by side (threads) and each test asserts one scenario's outcome.
"""

from __future__ import annotations

import signal
import sqlite3
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from assistant_core.objects import Message, Run, RunStep
from assistant_core.store import INTERRUPTED_CODE, INTERRUPTED_MESSAGE, Store

from .processes import CLI, CliProcess, answer_part, cli_env, run_cli

QUESTION = "Should I buy Apple?"
FOLLOW_UP = "And what about Microsoft?"
# Seconds between streamed pieces of the demo answer: slow enough to kill it mid-answer.
SLOW_PACE = 0.05
STREAM_BEFORE_KILL_S = 2.3  # > 2 flush intervals of answer text before the kill
FLUSH_INTERVAL_S = 1.0  # the runtime's default, which the CLI uses
# Allowed on top of the flush interval: one pacing gap, scheduling, the pipe to the test.
FLUSH_SLACK_S = 0.5
SIGNAL_EXIT_WITHIN_S = 5.0


@dataclass
class Snapshot:
    """What one database holds, read without recovery (as a crash left it)."""

    integrity: str
    threads: list[str]
    messages: dict[str, list[Message]]
    runs: dict[str, list[Run]]
    steps: dict[str, list[RunStep]]


def snapshot_db(path: Path) -> Snapshot:
    with sqlite3.connect(path) as raw:
        (integrity,) = raw.execute("PRAGMA integrity_check").fetchone()
    store = Store(path)
    try:
        threads = [t.id for t in store.list_threads()]
        messages = {t: store.list_messages(t) for t in threads}
        runs = {t: store.list_runs(t) for t in threads}
        steps = {r.id: store.list_steps(r.id) for rs in runs.values() for r in rs}
    finally:
        store.close()
    return Snapshot(integrity, threads, messages, runs, steps)


@dataclass
class Outcome:
    name: str
    before: Snapshot | None = None  # right after the kill, before any recovery
    after: Snapshot | None = None  # after a follow-up command started on the same db
    printed: str = ""  # stdout of the killed/signalled process
    printed_by_then: str = ""  # stdout as it was FLUSH_INTERVAL_S + slack before the kill
    stderr: str = ""
    exit_code: int | None = None
    exit_after_s: float | None = None
    follow_up: Any = None  # CompletedProcess of the follow-up ask
    extra: dict[str, Any] = field(default_factory=dict)


# -- scenarios -----------------------------------------------------------------------------
def _follow_up(outcome: Outcome, home: Path, db: Path) -> None:
    """Start again on the crashed database: a new question on the same thread."""
    assert outcome.before is not None and len(outcome.before.threads) == 1
    thread_id = outcome.before.threads[0]
    outcome.follow_up = run_cli(["ask", "--thread", thread_id, FOLLOW_UP], cli_env(home, db=db))
    outcome.after = snapshot_db(db)


def kill_while_streaming(home: Path) -> Outcome:
    db = home / "threads.db"
    outcome = Outcome("streaming")
    proc = CliProcess(["ask", QUESTION], cli_env(home, db=db, pace=SLOW_PACE))
    try:
        # The answer starts with the DEMO banner; stream it for a while, then kill.
        proc.stdout.wait_for(lambda t: "DEMO DATA" in t, 30, "the answer to start")
        time.sleep(STREAM_BEFORE_KILL_S)
        killed_at = proc.kill()
        outcome.exit_code = proc.wait(10)
    finally:
        proc.close()
    outcome.printed = proc.stdout.text
    outcome.printed_by_then = proc.stdout.text_before(killed_at - FLUSH_INTERVAL_S - FLUSH_SLACK_S)
    outcome.stderr = proc.stderr.text
    outcome.before = snapshot_db(db)
    _follow_up(outcome, home, db)
    return outcome


def kill_while_tools_run(home: Path) -> Outcome:
    db = home / "threads.db"
    marker = home / "tool-started"
    outcome = Outcome("tools")
    env = cli_env(
        home, db=db, RELIABILITY_PATCHES="hang_history", RELIABILITY_TOOL_STARTED=str(marker)
    )
    proc = CliProcess(["ask", QUESTION], env, module="tests.reliability.patched_cli")
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline and proc.proc.poll() is None, (
                f"the slow tool never started:\n{proc.stderr.text}"
            )
            time.sleep(0.02)
        time.sleep(0.5)  # the step's other (fast) calls finish and are stored meanwhile
        proc.kill()
        outcome.exit_code = proc.wait(10)
    finally:
        proc.close()
    outcome.printed, outcome.stderr = proc.stdout.text, proc.stderr.text
    outcome.before = snapshot_db(db)
    _follow_up(outcome, home, db)
    return outcome


def _approval_prompt(home: Path, db: Path) -> CliProcess:
    proc = CliProcess(["ask", "--approval", "ask", QUESTION], cli_env(home, db=db), tty=True)
    proc.stderr.wait_for(lambda t: "[y/N]" in t, 30, "the approval prompt")
    time.sleep(0.2)
    return proc


def kill_while_waiting_for_approval(home: Path) -> Outcome:
    db = home / "threads.db"
    outcome = Outcome("requires_action")
    proc = _approval_prompt(home, db)
    try:
        proc.kill()
        outcome.exit_code = proc.wait(10)
    finally:
        proc.close()
    outcome.stderr = proc.stderr.text
    outcome.before = snapshot_db(db)
    _follow_up(outcome, home, db)
    return outcome


def _signal_while_streaming(home: Path, sig: int, name: str) -> Outcome:
    db = home / "threads.db"
    outcome = Outcome(name)
    proc = CliProcess(["ask", QUESTION], cli_env(home, db=db, pace=SLOW_PACE))
    try:
        proc.stdout.wait_for(lambda t: "DEMO DATA" in t, 30, "the answer to start")
        time.sleep(0.8)
        sent = proc.send(sig)
        outcome.exit_code = proc.wait(SIGNAL_EXIT_WITHIN_S + 5)
        outcome.exit_after_s = time.monotonic() - sent
    finally:
        proc.close()
    outcome.printed, outcome.stderr = proc.stdout.text, proc.stderr.text
    outcome.before = snapshot_db(db)
    _follow_up(outcome, home, db)
    return outcome


def sigterm_while_streaming(home: Path) -> Outcome:
    return _signal_while_streaming(home, signal.SIGTERM, "sigterm")


def sigint_while_streaming(home: Path) -> Outcome:
    return _signal_while_streaming(home, signal.SIGINT, "sigint")


def sigterm_while_waiting_for_approval(home: Path) -> Outcome:
    db = home / "threads.db"
    outcome = Outcome("sigterm_approval")
    proc = _approval_prompt(home, db)
    try:
        sent = proc.send(signal.SIGTERM)
        outcome.exit_code = proc.wait(SIGNAL_EXIT_WITHIN_S + 5)
        outcome.exit_after_s = time.monotonic() - sent
    finally:
        proc.close()
    outcome.stderr = proc.stderr.text
    outcome.before = snapshot_db(db)
    return outcome


def two_processes_side_by_side(home: Path) -> Outcome:
    db = home / "threads.db"
    outcome = Outcome("side_by_side")
    env = cli_env(home, db=db, pace=0.004)
    # The database exists before both start, as when a second terminal opens the app.
    first = run_cli(["threads", "list"], env)
    assert first.returncode == 0, first.stderr
    asks = [CliProcess(["ask", q], env) for q in (QUESTION, "How is Tesla's balance sheet?")]
    listings: list[Any] = []
    try:
        while any(p.proc.poll() is None for p in asks):
            listings.append(run_cli(["threads", "list", "--json"], env))
        outcome.extra["codes"] = [p.wait(30) for p in asks]
    finally:
        for p in asks:
            p.close()
    outcome.extra["listings"] = listings
    outcome.extra["stderr"] = [p.stderr.text for p in asks] + [r.stderr for r in listings]
    outcome.after = snapshot_db(db)
    return outcome


SCENARIOS: dict[str, Callable[[Path], Outcome]] = {
    "streaming": kill_while_streaming,
    "tools": kill_while_tools_run,
    "requires_action": kill_while_waiting_for_approval,
    "sigterm": sigterm_while_streaming,
    "sigint": sigint_while_streaming,
    "sigterm_approval": sigterm_while_waiting_for_approval,
    "side_by_side": two_processes_side_by_side,
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome | str]:
    if not CLI.exists():
        pytest.fail(f"console script not installed at {CLI}; run pip install -e .")

    homes = {
        name: tmp_path_factory.mktemp(f"crash-{name}") for name in SCENARIOS
    }  # not thread-safe

    def run(name: str) -> Outcome | str:
        try:
            return SCENARIOS[name](homes[name])
        except BaseException:  # reported by the scenario's own test
            return traceback.format_exc()

    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        return dict(zip(SCENARIOS, pool.map(run, SCENARIOS)))


def outcome_of(outcomes: dict[str, Outcome | str], name: str) -> Outcome:
    result = outcomes[name]
    if isinstance(result, str):
        pytest.fail(f"scenario {name} failed:\n{result}")
    return result


# -- shared assertions -----------------------------------------------------------------------
def stopped_run(outcome: Outcome) -> tuple[Snapshot, str, Run]:
    """The database as the stop left it (integrity checked), its thread, and its one run."""
    before = outcome.before
    assert before is not None and before.integrity == "ok"
    thread_id = before.threads[0]
    [run] = before.runs[thread_id]
    return before, thread_id, run


def assert_recovered_and_continues(outcome: Outcome) -> tuple[Run, Run]:
    """After the crash: the run was closed failed/app_stopped at start-up, the user's first
    message is kept, and the follow-up question on the same thread completed."""
    before, after = outcome.before, outcome.after
    assert before is not None and after is not None
    assert before.integrity == "ok"
    assert after.integrity == "ok"
    thread_id = before.threads[0]
    follow = outcome.follow_up
    assert follow.returncode == 0, f"follow-up ask failed: {follow.stderr}"
    runs = after.runs[thread_id]
    assert [r.status for r in runs] == ["failed", "completed"]
    crashed, resumed = runs
    assert crashed.last_error is not None
    assert crashed.last_error.code == INTERRUPTED_CODE
    assert crashed.last_error.message == INTERRUPTED_MESSAGE
    assert "app stopped" in crashed.last_error.message
    assert crashed.required_action is None and crashed.failed_at
    for step in after.steps[crashed.id]:
        assert step.status in ("completed", "failed"), step
        for call in step.tool_calls:
            assert call.status not in ("queued", "running", "awaiting_approval"), call
    user_texts = [m.text for m in after.messages[thread_id] if m.role == "user"]
    assert user_texts == [QUESTION, FOLLOW_UP]
    final = after.messages[thread_id][-1]
    assert final.role == "assistant" and final.status == "completed" and final.run_id == resumed.id
    assert "Microsoft" in final.text or "MSFT" in final.text
    return crashed, resumed


# -- SIGKILL ---------------------------------------------------------------------------------
def test_sigkill_while_streaming_keeps_all_but_the_last_second(outcomes: dict[str, Any]) -> None:
    outcome = outcome_of(outcomes, "streaming")
    assert outcome.exit_code == -signal.SIGKILL
    before, thread_id, run = stopped_run(outcome)
    assert run.status == "in_progress"  # as the crash left it
    user, partial = before.messages[thread_id]
    assert (user.role, user.text) == ("user", QUESTION)
    assert partial.role == "assistant" and partial.status == "in_progress"

    # What the user saw is the stored text plus at most the last second or so.
    printed = answer_part(outcome.printed, partial.text)
    assert printed.startswith(partial.text)
    seen_a_second_earlier = (
        answer_part(outcome.printed_by_then, partial.text)
        if (partial.text[:40] in outcome.printed_by_then)
        else ""
    )
    assert len(partial.text) >= len(seen_a_second_earlier), (
        f"lost more than {FLUSH_INTERVAL_S + FLUSH_SLACK_S} s of text: stored {len(partial.text)} "
        f"chars, but {len(seen_a_second_earlier)} had been printed by then"
    )
    assert len(partial.text) > 200, "expected over a second of the answer to be stored"

    crashed, _ = assert_recovered_and_continues(outcome)
    after = outcome.after
    assert after is not None
    kept = next(m for m in after.messages[thread_id] if m.id == partial.id)
    assert kept.status == "incomplete"
    assert kept.text == partial.text  # recovery keeps the partial answer as it was
    assert kept.incomplete_details == {"reason": "run_failed"}
    assert crashed.id == run.id


def test_sigkill_while_tools_run(outcomes: dict[str, Any]) -> None:
    outcome = outcome_of(outcomes, "tools")
    assert outcome.exit_code == -signal.SIGKILL
    before, _thread_id, run = stopped_run(outcome)
    assert run.status == "in_progress"
    # Price history hangs (demo quotes are computed from it too); the statements are done.
    running = {
        c.function.name for s in before.steps[run.id] for c in s.tool_calls if c.status == "running"
    }
    assert running == {"get_daily_stock_performance", "get_stock_quote"}

    crashed, _ = assert_recovered_and_continues(outcome)
    after = outcome.after
    assert after is not None
    steps = after.steps[crashed.id]
    assert [s.status for s in steps] == ["completed", "failed"]
    calls = {c.function.name: c for c in steps[1].tool_calls}
    for name in running:
        stopped = calls.pop(name)
        assert stopped.status == "error" and stopped.error == INTERRUPTED_MESSAGE
    # The calls that finished before the crash keep their outputs.
    assert calls and all(c.status == "completed" and c.function.output for c in calls.values())
    assert steps[1].last_error is not None and steps[1].last_error.code == INTERRUPTED_CODE


def test_sigkill_while_waiting_for_approval(outcomes: dict[str, Any]) -> None:
    outcome = outcome_of(outcomes, "requires_action")
    assert outcome.exit_code == -signal.SIGKILL
    before, _thread_id, run = stopped_run(outcome)
    assert run.status == "requires_action" and run.required_action
    [step] = before.steps[run.id]
    assert {c.status for c in step.tool_calls} == {"awaiting_approval"}

    crashed, _ = assert_recovered_and_continues(outcome)
    after = outcome.after
    assert after is not None
    [step] = after.steps[crashed.id]
    assert step.status == "failed"
    assert {c.status for c in step.tool_calls} == {"error"}


# -- SIGTERM / SIGINT --------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "code"), [("sigterm", 143), ("sigint", 130)])
def test_signal_cancels_the_run_and_keeps_the_partial_answer(
    outcomes: dict[str, Any], name: str, code: int
) -> None:
    outcome = outcome_of(outcomes, name)
    assert outcome.exit_code == code, outcome.stderr
    assert outcome.exit_after_s is not None and outcome.exit_after_s < SIGNAL_EXIT_WITHIN_S
    assert "cancelled: run is cancelled" in outcome.stderr
    assert "Traceback" not in outcome.stderr
    before, thread_id, run = stopped_run(outcome)
    assert run.status == "cancelled" and run.last_error is None and run.cancelled_at
    user, partial = before.messages[thread_id]
    assert user.text == QUESTION
    assert partial.status == "incomplete"
    assert partial.incomplete_details == {"reason": "run_cancelled"}
    # A clean shutdown writes everything the user saw.
    printed = answer_part(outcome.printed, partial.text)
    assert printed.rstrip("\n") == partial.text.rstrip("\n")
    # Start-up recovery leaves a cancelled run alone, and the thread goes on.
    assert outcome.follow_up.returncode == 0, outcome.follow_up.stderr
    after = outcome.after
    assert after is not None
    assert [r.status for r in after.runs[thread_id]] == ["cancelled", "completed"]


def test_sigterm_at_the_approval_prompt_cancels(outcomes: dict[str, Any]) -> None:
    outcome = outcome_of(outcomes, "sigterm_approval")
    assert outcome.exit_code == 143, outcome.stderr
    assert outcome.exit_after_s is not None and outcome.exit_after_s < SIGNAL_EXIT_WITHIN_S
    before = outcome.before
    assert before is not None and before.integrity == "ok"
    [run] = before.runs[before.threads[0]]
    assert run.status == "cancelled" and run.required_action is None
    [step] = before.steps[run.id]
    assert step.status == "cancelled"
    assert {c.status for c in step.tool_calls} == {"cancelled"}


# -- two processes ---------------------------------------------------------------------------
def test_two_processes_on_one_database(outcomes: dict[str, Any]) -> None:
    outcome = outcome_of(outcomes, "side_by_side")
    assert outcome.extra["codes"] == [0, 0]
    for text in outcome.extra["stderr"]:
        assert "locked" not in text.lower() and "Traceback" not in text, text
    listings = outcome.extra["listings"]
    assert listings, "threads list never ran while the two asks did"
    assert all(r.returncode == 0 for r in listings)
    after = outcome.after
    assert after is not None and after.integrity == "ok"
    assert len(after.threads) == 2
    for thread_id in after.threads:
        assert [r.status for r in after.runs[thread_id]] == ["completed"]
        roles = [(m.role, m.status) for m in after.messages[thread_id]]
        assert roles == [("user", "completed"), ("assistant", "completed")]
