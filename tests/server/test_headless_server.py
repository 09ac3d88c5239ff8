"""The server's web framework loads only for ``serve``: the command line's parser (which
knows ``serve`` and ``keys``) and the core import none of it, so the app's start-up is
untouched; and only ``assistant_core/server`` imports it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRAMEWORK = ("starlette", "uvicorn", "sse_starlette")
IMPORTS_FRAMEWORK = re.compile(
    r"^\s*(?:import|from)\s+(?:starlette|uvicorn|sse_starlette)\b", re.MULTILINE
)


def test_the_cli_and_the_core_load_no_web_framework() -> None:
    script = (
        "import json, sys\n"
        "from tui.cli.main import build_parser\n"
        "import assistant_core.runtime, assistant_core.store, assistant_core.session\n"
        "import assistant_core.server.keys\n"
        "build_parser()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORK!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_only_the_server_package_imports_the_framework() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in ("assistant_core", "tui")
        for path in (REPO / package).rglob("*.py")
        if IMPORTS_FRAMEWORK.search(path.read_text(encoding="utf-8"))
        and "assistant_core/server" not in path.as_posix()
    ]
    assert offenders == []
