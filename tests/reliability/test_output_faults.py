"""Standard output that cannot take what is written (issue 11, items 9 and 12).

``threads export ID > file-on-full-disk`` exited 1 with ``internal error: OSError`` — or,
with ``PYTHONUNBUFFERED=1``, exited 0 with a truncated file (an unbuffered text stream
drops the rest of a short write). Every write to stdout is now checked: a full disk is
exit 1 and one line. A reader that goes away (``| head``) ends the command quietly with
exit 141, as a shell reports a command SIGPIPE ended; an ``ask`` run is then cancelled with
its partial answer kept.

``/dev/full`` is the classic device that fails every write with ENOSPC.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assistant_core.store import Store
from tui.cli.output import Output, WriteFailed, checked_write

from .processes import CLI, REPO, cli_env, run_cli

DEV_FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full here")


def run_to(args: list[str], env: dict[str, str], stdout: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        env=env,
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
    )


@pytest.fixture
def answered(tmp_path: Path) -> tuple[dict[str, str], str]:
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    assert run_cli(["ask", "Should I buy Apple?"], env).returncode == 0
    with Store(tmp_path / "threads.db") as store:
        [thread] = store.list_threads()
    return env, thread.id


@needs_dev_full
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
@pytest.mark.parametrize(
    "command",
    [["threads", "export", "{id}", "--format", "json"], ["threads", "export", "{id}"],
     ["threads", "show", "{id}"], ["runs", "list", "--thread", "{id}"]],
    ids=["export-json", "export-md", "show", "runs-list"],
)  # fmt: skip
def test_a_full_disk_on_stdout_is_an_error_in_one_line(
    answered: tuple[dict[str, str], str], command: list[str], unbuffered: bool
) -> None:
    env, thread_id = answered
    if unbuffered:
        env = {**env, "PYTHONUNBUFFERED": "1"}
    with open(DEV_FULL, "w") as full:
        result = run_to([part.format(id=thread_id) for part in command], env, full)
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("investor-assistant: error: could not write to standard output: ")
    assert "the disk is full" in line
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@needs_dev_full
def test_an_answer_that_cannot_be_written_cancels_the_run_and_says_so(tmp_path: Path) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db")
    with open(DEV_FULL, "w") as full:
        result = run_to(["ask", "Should I buy Apple?"], env, full)
    assert result.returncode == 1
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "the disk is full" in errors[0], result.stderr
    with Store(tmp_path / "threads.db") as store:
        [thread] = store.list_threads()
        [run] = store.list_runs(thread.id)
        assert run.status == "cancelled"  # closed, not left running
        assert store.list_messages(thread.id)[0].text == "Should I buy Apple?"


def test_a_reader_that_goes_away_ends_ask_quietly_with_141(tmp_path: Path) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", pace=0.01)
    proc = subprocess.Popen(
        [str(CLI), "ask", "Should I buy Apple?"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    for _ in range(3):  # what `| head -3` reads, then it exits
        proc.stdout.readline()
    proc.stdout.close()
    code = proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert code == 141, stderr
    assert [ln for ln in stderr.splitlines() if not ln.startswith("note: ")] == []
    with Store(tmp_path / "threads.db") as store:
        [thread] = store.list_threads()
        [run] = store.list_runs(thread.id)
        assert run.status == "cancelled"


def test_export_to_a_closed_pipe_is_quiet_too(answered: tuple[dict[str, str], str]) -> None:
    env, thread_id = answered
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        result = run_to(["threads", "export", thread_id], env, closed)
    assert (result.returncode, result.stderr) == (141, "")


def test_checked_write_takes_every_byte_through_short_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # os.write may take part of the bytes (a pipe, a signal): the rest must follow.
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    path = tmp_path / "out.txt"
    text = "Apple 😀 " * 500
    with open(path, "w", encoding="utf-8") as f:
        checked_write(f, text)
    assert path.read_text(encoding="utf-8") == text


def test_checked_write_reports_a_write_that_takes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(os, "write", lambda fd, data: 0)
    with open(tmp_path / "out.txt", "w") as f, pytest.raises(WriteFailed, match="nothing"):
        checked_write(f, "text")


def test_output_without_a_file_descriptor_still_writes() -> None:
    out, err = io.StringIO(), io.StringIO()
    Output(out, err).write("lone half \ud83d end\n")
    assert out.getvalue() == "lone half \ufffd end\n"
