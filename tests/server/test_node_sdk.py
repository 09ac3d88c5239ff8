"""The official Node SDK (npm ``openai``, pinned to a version that still has
``beta.threads``) for one create → stream → submit tool outputs → completed flow.

Needs Node; ``.ci/run`` installs the package into ``.node-sdk/`` (git-ignored), and this
test installs it there too when missing. Run alone with
``python -m pytest tests/server/test_node_sdk.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.conftest import ServerProcess

REPO = Path(__file__).resolve().parents[2]
NODE_SDK_VERSION = "4.104.0"  # the last 4.x: beta.threads, runs.stream, submitToolOutputsStream
PREFIX = REPO / ".node-sdk"
PACKAGE = PREFIX / "node_modules" / "openai"
FLOW = Path(__file__).parent / "node" / "assistants_flow.cjs"


def node_sdk() -> Path:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    installed = PACKAGE / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == NODE_SDK_VERSION:
        return PACKAGE
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (needed once, to install the openai package)")
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PREFIX),
            "--no-audit",
            "--no-fund",
            "--silent",
            f"openai@{NODE_SDK_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(
            f"could not install openai@{NODE_SDK_VERSION} from npm: {result.stderr.strip()[:200]}"
        )
    return PACKAGE


def test_node_sdk_streams_a_run_with_client_tool_outputs(server: ServerProcess) -> None:
    package = node_sdk()
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "any-key"}
    result = subprocess.run(
        ["node", str(FLOW), str(package)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == "completed"
    assert seen["asked"] == ["get_ticker"]
    assert seen["events"][0] == "thread.run.created"
    assert "thread.run.requires_action" in seen["events"]
    assert seen["events"][-1] == "thread.run.completed"
    assert seen["text"] == seen["stored"] and seen["text"]
