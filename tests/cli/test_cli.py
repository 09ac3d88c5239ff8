"""The installed ``investor-assistant`` script, end to end, as a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from assistant_core.export import read_json_export
from assistant_core.store import Store

from .conftest import Cli

ESCAPE = re.compile(r"[\x1b\x9b]")
APPLE_TOOLS = (
    "get_ticker",
    "get_income_statement",
    "get_balance_sheet",
    "get_daily_stock_performance",
    "get_stock_quote",
)


def tool_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("→ ")]


def only_thread_id(cli: Cli) -> str:
    listed = cli("threads", "list", "--json")
    assert listed.code == 0, listed
    rows = [json.loads(line) for line in listed.out.splitlines()]
    assert len(rows) == 1, listed
    return rows[0]["id"]


def test_ask_in_korean_prints_korean_figures(cli: Cli) -> None:
    asked = cli("ask", "삼성전자 주식 사도 될까?")
    assert asked.code == 0, asked
    assert "## 삼성전자 (005930.KS)" in asked.out
    assert "| 단위: 조 원 |" in asked.out and re.search(r"시가총액 [\d.]+조 원", asked.out)
    assert re.search(r"현재가 [\d,]+원 ", asked.out) and not re.search(r"\d\.\d+원", asked.out)


def test_ask_in_demo_mode_then_every_thread_and_run_command(cli: Cli, tmp_path: Path) -> None:
    asked = cli("ask", "Should I buy Apple?")
    assert asked.code == 0, asked
    lines = tool_lines(asked.out)
    assert [line.split("(")[0][2:] for line in lines] == list(APPLE_TOOLS), asked
    assert lines[0].startswith('→ get_ticker(company_name="Apple")  completed · ')
    assert all(line.endswith(" · demo") for line in lines), lines
    assert "Apple Inc. (AAPL)" in asked.out and "not financial advice" in asked.out
    assert asked.err.count("demo mode") == 1  # announced once, on stderr
    assert not ESCAPE.search(asked.out + asked.err)  # piped: no colours, no escapes

    thread_id = only_thread_id(cli)
    follow = cli("ask", "and its balance sheet?", "--thread", thread_id)
    assert follow.code == 0, follow
    assert [line.split("(")[0][2:] for line in tool_lines(follow.out)] == ["get_balance_sheet"]
    assert only_thread_id(cli) == thread_id

    listed = cli("threads", "list", "--filter", "Apple")
    assert listed.code == 0 and thread_id in listed.out and "4 msgs" in listed.out, listed
    assert cli("threads", "list", "--filter", "zebra-not-there").out == ""

    shown = cli("threads", "show", thread_id)
    assert shown.code == 0, shown
    assert shown.out.count("── you") == 2 and shown.out.count("── assistant") == 2
    assert '→ get_ticker(company_name="Apple")' in shown.out

    runs = cli("runs", "list", "--thread", thread_id)
    assert runs.code == 0 and len(runs.out.splitlines()) == 2, runs
    assert all(" completed " in line for line in runs.out.splitlines())
    assert re.search(r" \d{1,3}(?:,\d{3})+ tokens ", runs.out), runs.out  # grouped digits
    run_id = runs.out.split()[0]
    log = cli("runs", "show", run_id)
    assert log.code == 0, log
    for name in APPLE_TOOLS:
        assert f"  {name}(" in log.out
    assert log.out.count("source demo") == 5 and "step 1 · tool_calls · completed" in log.out
    assert "more characters; --full shows all" in log.out
    full = cli("runs", "show", run_id, "--full")
    assert "--full shows all" not in full.out and len(full.out) > len(log.out)

    # JSON export: every message, run, step and tool call, and it reads back equal.
    exported = cli("threads", "export", thread_id, "--format", "json")
    assert exported.code == 0, exported
    back = read_json_export(exported.out)
    store = Store(cli.db)
    try:
        assert back.thread == store.get_thread(thread_id)
        assert back.messages == store.list_messages(thread_id)
        assert back.runs == store.list_runs(thread_id)
        assert back.steps == [s for r in back.runs for s in store.list_steps(r.id)]
    finally:
        store.close()
    assert len(back.messages) == 4 and len(back.runs) == 2 and len(back.tool_calls()) == 6

    md_path = tmp_path / "apple.md"
    md = cli("threads", "export", thread_id, "-o", str(md_path))
    assert md.code == 0 and md.out == "" and str(md_path) in md.err, md
    assert stat.S_IMODE(md_path.stat().st_mode) == 0o600
    text = md_path.read_text()
    assert text.startswith("# Should I buy Apple?") and "## You ·" in text and "get_ticker" in text

    renamed = cli("threads", "rename", thread_id, "Apple [research]")
    assert renamed.code == 0 and "Apple [research]" in renamed.out, renamed
    assert "Apple [research]" in cli("threads", "list").out
    deleted = cli("threads", "delete", thread_id)
    assert deleted.code == 0 and thread_id in deleted.out, deleted
    gone = cli("threads", "show", thread_id)
    assert gone.code == 2 and f"no thread with id '{thread_id}'" in gone.err, gone


# The Assistants streaming order for a tool-calling run (DESIGN.md).
def check_event_order(names: list[str], events: list[dict]) -> None:
    assert names[0] == "thread.created"
    assert names[1:4] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert names[-2:] == ["thread.run.completed", "done"]
    open_steps: set[str] = set()
    message_open = False
    for name, event in zip(names, events):
        data = event["data"]
        if name == "thread.run.step.created":
            assert not open_steps, "a step opened while another is open"
            open_steps.add(data["id"])
        elif name == "thread.run.step.delta":
            assert data["id"] in open_steps
        elif name == "thread.run.step.completed":
            open_steps.remove(data["id"])
        elif name == "thread.message.created":
            assert open_steps and not message_open
            message_open = True
        elif name == "thread.message.delta":
            assert message_open
        elif name == "thread.message.completed":
            message_open = False
    assert not open_steps and not message_open
    tool_step = names.index("thread.run.step.created")
    assert events[tool_step]["data"]["type"] == "tool_calls"
    assert names.index("thread.message.created") > names.index("thread.run.step.completed")


def test_ask_json_lines_follow_the_assistants_event_order(cli: Cli) -> None:
    result = cli("ask", "--json", "-", input="How is Tesla's balance sheet?\n")
    assert result.code == 0, result
    assert not ESCAPE.search(result.out)
    events = [json.loads(line) for line in result.out.splitlines()]  # every line parses
    names = [e["event"] for e in events]
    check_event_order(names, events)
    deltas = "".join(
        part["text"]["value"]
        for e in events
        if e["event"] == "thread.message.delta"
        for part in e["data"]["delta"]["content"]
    )
    final = next(e for e in events if e["event"] == "thread.message.completed")["data"]
    assert deltas == final["content"][0]["text"]["value"] and "Tesla" in deltas
    calls = [
        c
        for e in events
        if e["event"] == "thread.run.step.completed"
        for c in e["data"]["step_details"].get("tool_calls", [])
    ]
    assert [c["function"]["name"] for c in calls] == ["get_ticker", "get_balance_sheet"]
    assert all(c["function"]["output"] for c in calls)
    assert events[-1] == {"event": "done", "data": "[DONE]"}


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_ask_cancels_the_run_and_keeps_the_thread(
    cli: Cli, sig: int, code: int
) -> None:
    # Slow the offline analyst down so the run is still streaming when the signal arrives.
    proc = cli.popen("ask", "Should I buy Apple?", env={"INVESTOR_ASSISTANT_DEMO_PACE": "0.05"})
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first finished tool call: the run is under way
    assert first.startswith("→ get_ticker"), first
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, (out, err)
    assert time.monotonic() - started < 5
    assert "Traceback" not in err and "cancelled" in err

    store = Store(cli.db)
    try:
        (thread,) = store.list_threads()
        (run,) = store.list_runs(thread.id)
        assert run.status == "cancelled"
        messages = store.list_messages(thread.id)
        assert next(m.role for m in messages) == "user"
        assert all(m.status != "in_progress" for m in messages)
    finally:
        store.close()
    shown = cli("threads", "show", thread.id)
    assert shown.code == 0 and "Should I buy Apple?" in shown.out, shown
    if sig == signal.SIGINT:  # the thread still takes new runs
        again = cli("ask", "and its balance sheet?", "--thread", thread.id)
        assert again.code == 0, again


def test_approval_ask_without_a_terminal_denies_with_a_note(cli: Cli) -> None:
    result = cli("--approval", "ask", "ask", "How is Tesla's balance sheet?")
    assert result.code == 0, result
    assert "denied get_ticker" in result.err and "--approval auto" in result.err
    assert tool_lines(result.out)[0].startswith('→ get_ticker(company_name="Tesla")  denied')


def test_config_show_and_set(cli: Cli, tmp_path: Path) -> None:
    key = "sk-test-abcdefghijklmnopqrstuvwxyz0123"
    # Demo mode has no model to set: a model belongs to a provider, named here.
    refused = cli("config", "set", "model", "gpt-4o")
    assert refused.code == 2 and "providers.openai.model" in refused.err, refused
    set_model = cli("config", "set", "providers.openai.model", "gpt-4o")
    assert set_model.code == 0 and 'providers.openai.model = "gpt-4o"' in set_model.out, set_model
    shown = cli("config", "show", "--approval", "ask", env={"OPENAI_API_KEY": key})
    assert shown.code == 0, shown
    rows = {line.split()[0]: line for line in shown.out.splitlines() if line.strip()}
    assert "openai" in rows["provider"] and "auto (an OpenAI API key is set)" in rows["provider"]
    assert "gpt-4o" in rows["model"] and "config file [providers.openai]" in rows["model"]
    assert "sk-…0123" in rows["api_key"] and "env OPENAI_API_KEY" in rows["api_key"]
    assert "flag --approval" in rows["approval"] and "yahoo" in rows["data"]
    assert "env INVESTOR_ASSISTANT_DB" in rows["db"]
    assert key not in shown.out + shown.err
    config_file = Path(os.environ["XDG_CONFIG_HOME"]) / "investor-assistant" / "config.toml"
    assert config_file.read_text() == '[providers.openai]\nmodel = "gpt-4o"\n'
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


def test_ask_against_a_compatible_server_replaying_a_recorded_stream(
    cli: Cli, replay_server, fixtures_dir: Path
) -> None:
    """Recorded gpt-4o Chat Completions turns: two parallel calls to a tool our registry does
    not have, then the answer. The unknown-tool errors go back to the model as outputs and the
    recorded second turn completes the run."""
    from tests.support.openai_replay import load_cassette

    recorded = load_cassette(
        fixtures_dir
        / "chat_completions/mirascope_call_with_tools_openai_gpt_4o_completions_stream.yaml"
    )
    replay_server.enqueue_interactions(recorded[:2])
    result = cli(
        "ask",
        "--provider",
        "compatible",
        "--base-url",
        replay_server.base_url,
        "--model",
        "gpt-4o",
        "Please retrieve the secrets associated with each of these passwords: mellon,radiance",
    )
    assert result.code == 0, result
    lines = tool_lines(result.out)
    assert [line.split("  ")[0] for line in lines] == [
        '→ secret_retrieval_tool(password="mellon")',
        '→ secret_retrieval_tool(password="radiance")',
    ], result
    assert all("error" in line and "unknown tool" in line for line in lines)
    assert "The secrets associated with the passwords are" in result.out
    assert "demo" not in result.err.lower()  # a real model: no demo notice
    replay_server.verify()
    second = replay_server.requests[1].json()
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [
        c["id"] for m in second["messages"] if m.get("tool_calls") for c in m["tool_calls"]
    ]
    assert all("unknown tool" in m["content"] for m in tool_messages)
    assert second["model"] == "gpt-4o" and second["stream"] is True


def test_compatible_server_model_is_listed_when_not_given(cli: Cli, replay_server) -> None:
    from tests.support.openai_replay import chat_stream, json_response

    replay_server.enqueue(
        json_response(
            {
                "object": "list",
                "data": [
                    {"id": "qwen3:8b", "object": "model", "created": 0, "owned_by": "library"},
                    {"id": "llama3.1:8b", "object": "model", "created": 0, "owned_by": "library"},
                ],
            }
        ),
        method="GET",
        path="/v1/models",
    )
    replay_server.enqueue(chat_stream("Hello from a local model.", usage=(5, 4)))
    result = cli("ask", "--base-url", replay_server.base_url, "hello")
    assert result.code == 0 and result.out.strip() == "Hello from a local model.", result
    replay_server.verify()
    assert replay_server.requests[1].json()["model"] == "llama3.1:8b"  # the first, sorted


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        ("unknown thread", ["no thread with id 'thread_nope'", "threads list"]),
        ("unknown run", ["no run with id 'run_nope'", "runs list --thread"]),
        ("ask unknown thread", ["no thread with id 'thread_nope'"]),
        ("malformed config", ["malformed TOML", "line 2", "fix or delete the file"]),
        ("unknown setting in file", ["unknown setting 'colour'", "known settings:"]),
        ("unknown setting", ["unknown setting 'colour'", "known settings:"]),
        ("bad value", ["bad value 'maybe' for approval", "use one of: auto, ask"]),
        (
            "unreachable base URL",
            ["cannot reach the model server at http://127.0.0.1:", "ollama serve"],
        ),
        (
            "unreachable, model given",
            ["cannot reach the model server at http://127.0.0.1:", "--base-url"],
        ),
        ("missing key", ["provider 'openai' needs an API key", "export OPENAI_API_KEY"]),
        ("not a database", ["not-a-db"]),
        ("empty question", ["empty"]),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(
    cli: Cli, tmp_path: Path, case: str, needles: list[str]
) -> None:
    from tests.support.openai_replay import unused_port

    url = f"http://127.0.0.1:{unused_port()}/v1"
    bad_toml = write(tmp_path / "bad.toml", 'model = "x"\nprovider = \n')
    unknown = write(tmp_path / "unknown.toml", 'colour = "blue"\n')
    junk_db = write(tmp_path / "not-a-db", "this is not SQLite\n" * 100)
    args = {
        "unknown thread": ["threads", "show", "thread_nope"],
        "unknown run": ["runs", "show", "run_nope"],
        "ask unknown thread": ["ask", "--thread", "thread_nope", "hi"],
        "malformed config": ["--config", str(bad_toml), "threads", "list"],
        "unknown setting in file": ["--config", str(unknown), "ask", "hi"],
        "unknown setting": ["config", "set", "colour", "blue"],
        "bad value": ["config", "set", "approval", "maybe"],
        "unreachable base URL": ["--base-url", url, "ask", "hi"],
        "unreachable, model given": ["ask", "hi", "--base-url", url, "--model", "llama3.1"],
        "missing key": ["--provider", "openai", "ask", "hi"],
        "not a database": ["--db", str(junk_db), "threads", "list"],
        "empty question": ["ask", "-"],
    }[case]
    result = cli(*args)
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err, result
    for needle in needles:
        assert needle in result.err, result
    if case.startswith("unreachable"):
        assert url in result.err
    assert result.out == ""
    assert junk_db.read_text() == "this is not SQLite\n" * 100  # never overwritten


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("--debug", "runs", "show", "run_nope")
    assert result.code == 2 and "Traceback" in result.err and "NotFoundError" in result.err


def test_threads_list_when_empty_and_group_without_action(cli: Cli) -> None:
    empty = cli("threads", "list")
    assert empty.code == 0 and empty.out == "" and "no threads yet" in empty.err
    group = cli("runs")
    assert group.code == 2 and "runs list --thread" in group.err


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["ask"],
        ["threads"],
        ["threads", "list"],
        ["threads", "show"],
        ["threads", "export"],
        ["threads", "rename"],
        ["threads", "delete"],
        ["runs"],
        ["runs", "list"],
        ["runs", "show"],
        ["config"],
        ["config", "show"],
        ["config", "set"],
    ],
)
def test_help_on_every_command_has_examples(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.cli import main

    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: investor-assistant" in out and "examples:" in out
    assert "investor-assistant " + " ".join(command[:1]) in out.split("examples:")[1]
