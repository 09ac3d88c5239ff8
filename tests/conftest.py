"""Shared test set-up: every test gets private data/config/cache dirs and no provider set-up
from the developer's environment, so nothing touches the real home directory or the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_core.config import ALL_ENV_NAMES
from tests.support.postgres import REQUIRE_ENV, PostgresCluster, find_bindir

# A copy of ../shared/fixtures/recorded (real recorded API responses, see its PROVENANCE.md),
# kept in the repo so a clean checkout tests on its own.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recorded"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in ALL_ENV_NAMES:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.exists():
        pytest.fail(f"recorded fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster for the session (started on first use, ~1 s). Tests
    that need it are skipped where PostgreSQL is not installed, unless
    INVESTOR_ASSISTANT_REQUIRE_POSTGRES=1 (CI) makes that a failure."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(
                "PostgreSQL is not installed (apt-get install postgresql postgresql-contrib)"
            )
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql postgresql-contrib)")
    cluster = PostgresCluster(bindir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A new, empty database of the session's cluster, dropped after the test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("INVESTOR_ASSISTANT_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set INVESTOR_ASSISTANT_LIVE=1")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
