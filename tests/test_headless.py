"""The core is headless: importing it loads no Textual, and only ``tui`` imports Textual."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The core's modules every front end relies on; each must import on its own.
CORE_MODULES = [
    "assistant_core",
    "assistant_core.objects",
    "assistant_core.events",
    "assistant_core.errors",
    "assistant_core.paths",
    "assistant_core.store",
    "assistant_core.store_schema",
    "assistant_core.runtime",
    "assistant_core.tools.registry",
    "assistant_core.backends.base",
]

IMPORTS_TEXTUAL = re.compile(
    r"^\s*(?:import\s+textual\b|from\s+textual\b)"
    r"|import_module\(\s*['\"]textual|__import__\(\s*['\"]textual",
    re.MULTILINE,
)


def test_importing_the_core_loads_no_textual() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('textual'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_only_the_tui_package_imports_textual() -> None:
    packages = [p.parent for p in REPO.glob("*/__init__.py") if p.parent.name != "tests"]
    assert {p.name for p in packages} >= {"assistant_core", "tui"}
    offenders = [
        str(path.relative_to(REPO))
        for package in packages
        if package.name != "tui"
        for path in package.rglob("*.py")
        if IMPORTS_TEXTUAL.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_pattern_recognises_textual_imports() -> None:
    assert IMPORTS_TEXTUAL.search("from textual.app import App")
    assert IMPORTS_TEXTUAL.search("    import textual")
    assert IMPORTS_TEXTUAL.search("importlib.import_module('textual.widgets')")
    assert not IMPORTS_TEXTUAL.search("import textualize_helpers")
    assert not IMPORTS_TEXTUAL.search("# the TUI uses textual")
