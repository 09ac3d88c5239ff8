"""End-to-end tests against a real model: llama.cpp's llama-server and Qwen2.5-Coder-0.5B,
prepared by ``scripts/local-model.sh prepare 0.5b`` (CI's ``.ci/run`` does it first).

Every test here is marked ``realmodel``. Without the prepared server and model they are
skipped, with the command that prepares them as the reason — unless
``INVESTOR_ASSISTANT_REALMODEL=require`` (set by CI), where a missing model is a failure.

The server is started once per session on a free port (and once more with a 2,048-token
context for the context test), greedy (``--temp 0``) so a run takes the same path each time,
and with at most 160 tokens per reply (``--n-predict``): a reply cut there is handled like
the app's own per-turn limit.
Assertions are about the protocol and the app's handling, never about what the model says.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .llama_server import REQUIRE_ENV, LlamaServer, prepared, required

SIZE = "0.5b"
CONTEXT = 4096
# Deterministic sampling (the same run path on every machine and every run), and at most 160
# tokens per reply, so a test's time stays bounded on a busy machine.
SERVER_OPTIONS = ("--temp", "0", "--seed", "1", "--n-predict", "160")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.realmodel)


def _server(context: int, name: str) -> Iterator[LlamaServer]:
    if prepared(SIZE) is None:
        reason = f"the {SIZE} model is not prepared: run scripts/local-model.sh prepare {SIZE}"
        if required():
            pytest.fail(f"{reason} ({REQUIRE_ENV} requires the real-model tests)")
        pytest.skip(reason)
    log = Path(tempfile.gettempdir()) / f"realmodel-{name}.log"
    with LlamaServer(SIZE, context=context, log_path=log, extra=SERVER_OPTIONS) as server:
        yield server


@pytest.fixture(scope="session")
def llama() -> Iterator[LlamaServer]:
    """llama-server with the 0.5B model and a 4,096-token context."""
    yield from _server(CONTEXT, "4096")


@pytest.fixture(scope="session")
def llama_2048() -> Iterator[LlamaServer]:
    """The same model served with a 2,048-token context."""
    yield from _server(2048, "2048")
