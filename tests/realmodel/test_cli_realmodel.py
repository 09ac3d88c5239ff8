"""``investor-assistant ask`` against llama-server and Qwen2.5-Coder-0.5B: a research question
in English (``--json``: the documented event order) and in Korean (text output) ends with a
final message after a real tool call, never with a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .llama_server import LlamaServer
from .protocol import assert_documented_order, executed_calls, final_message, message_text

CLI = Path(sys.executable).parent / "investor-assistant"
ENGLISH = "Should I buy Apple stock? Look at its income statement."
KOREAN = "애플 주식을 사도 될까요? 손익계산서를 확인해 주세요."


def ask(
    server: LlamaServer, tmp_path: Path, question: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVESTOR_ASSISTANT_DB": str(tmp_path / "threads.db")}
    return subprocess.run(
        [
            str(CLI),
            "--provider",
            "compatible",
            "--base-url",
            server.base_url,
            "--model",
            server.model,
            "--data",
            "demo",
            "--approval",
            "auto",
            "ask",
            *extra,
            question,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )


def test_english_question_json_events(llama: LlamaServer, tmp_path: Path) -> None:
    result = ask(llama, tmp_path, ENGLISH, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert_documented_order(events)
    run = events[-2]["data"]
    assert run["status"] in ("completed", "incomplete"), run
    assert result.returncode == (0 if run["status"] == "completed" else 1), result.stderr
    calls = executed_calls(events)
    assert calls, "no tool call was made and executed"
    assert all(c["function"]["name"] for c in calls)
    message = final_message(events)
    assert message is not None and message_text(message).strip(), "no final message"
    assert run["model"] == llama.model and run["memory"]["context_window_source"] == "server"


def test_korean_question_text_output(llama: LlamaServer, tmp_path: Path) -> None:
    result = ask(llama, tmp_path, KOREAN)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result
    status_line = next(line for line in result.stderr.splitlines() if line.startswith("thread "))
    assert " · completed " in status_line or " · incomplete " in status_line, result.stderr
    lines = result.stdout.splitlines()
    calls = [line for line in lines if line.startswith("→ ")]
    assert any("  completed" in line or "  error" in line for line in calls), result.stdout
    answer = [line for line in lines if line.strip() and not line.startswith(("→ ", "! "))]
    assert answer, f"no final message: {result.stdout}"
