"""Run the installed ``investor-assistant`` console script as a subprocess against a
temporary database (the autouse fixture in tests/conftest.py already points the XDG dirs
at a temporary home and clears provider variables from the environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "investor-assistant"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __repr__(self) -> str:  # shown by pytest when an assertion on a result fails
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.env = dict(os.environ)
        self.env.update(
            INVESTOR_ASSISTANT_DB=str(db),
            INVESTOR_ASSISTANT_DEMO_PACE="0",
            PYTHONWARNINGS="ignore",
        )

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        proc = subprocess.run(
            [str(CLI), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(CLI), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**self.env, **(env or {})},
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    if not CLI.exists():
        pytest.fail(f"console script not installed at {CLI}; run pip install -e .")
    return Cli(tmp_path / "threads.db")


@pytest.fixture
def replay_server() -> Iterator[object]:
    from tests.support.openai_replay import ReplayServer

    with ReplayServer() as server:
        yield server
