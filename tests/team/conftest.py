"""Several ``investor-assistant serve`` replicas on one PostgreSQL database (the session's
throwaway cluster), and the command line against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import CLI, ServerProcess, cli_run

#: Short leases, so that a replica that dies is taken over within a test's patience.
LEASE_S = 2.0

__all__ = ["CLI", "LEASE_S", "cli_run"]


@pytest.fixture
def make_replica(tmp_path: Path, pg_url: str) -> Iterator[Any]:
    """``make_replica(name)``: a server replica (not yet started) on the test's database."""
    started: list[ServerProcess] = []

    def make(name: str, *args: str, pace: float = 0.0, **env: str) -> ServerProcess:
        proc = ServerProcess(
            tmp_path,
            pg_url,  # type: ignore[arg-type]  # INVESTOR_ASSISTANT_DB: a URL here
            *args,
            pace=pace,
            INVESTOR_ASSISTANT_REPLICA=name,
            INVESTOR_ASSISTANT_LEASE=str(LEASE_S),
            **env,
        )
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()
