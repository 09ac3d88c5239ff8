"""Process start to first frame: the Investor Assistant app versus a one-widget Textual app.

All start the same way, as fresh Python processes running headless, and report the
wall-clock time at which their first frame has been painted (``call_after_refresh`` from
``on_mount``), then exit. Our app is started in demo mode on an empty temporary database,
as on a first start, two ways: through the real command line (``investor-assistant`` with
no subcommand: settings, session, then ``run_app(session)``), and with
``run_app(factory)``, where the session is built after the first frame. For our app the
time at which the main screen (threads, chat, prompt, first-run hint) is painted is
reported too. Runs alternate; the script prints medians, ratios to the minimal app
(target: first frame at most 1.5×) and which heavy modules (openai, pandas, yfinance,
plotext) were loaded by then (target: none).

    python bench/bench_tui_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "pandas", "yfinance", "plotext", "numpy", "psycopg")

CHILD = r"""
import json, sys, time
report_path, which = sys.argv[1], sys.argv[2]
HEAVY = {heavy!r}
marks = {{}}

def mark(name):
    marks[name] = time.time()
    marks["heavy_" + name] = [m for m in HEAVY if m in sys.modules]

def finish(app):
    with open(report_path, "w") as handle:
        json.dump(marks, handle)
    app.exit()

def hook(cls, ready_method=None):
    original_mount = getattr(cls, "on_mount", None)
    def on_mount(self):
        result = original_mount(self) if original_mount else None
        def first_frame():
            mark("first")
            if ready_method is None:
                finish(self)
        self.call_after_refresh(first_frame)
        return result
    cls.on_mount = on_mount
    if ready_method is not None:
        original_ready = getattr(cls, ready_method)
        async def ready(self, *args, **kwargs):
            await original_ready(self, *args, **kwargs)
            def main_frame():
                mark("ready")
                finish(self)
            self.call_after_refresh(main_frame)
        setattr(cls, ready_method, ready)
    original_run = cls.run
    def run(self, *args, **kwargs):
        kwargs["headless"] = True
        kwargs.setdefault("size", (120, 40))
        return original_run(self, *args, **kwargs)
    cls.run = run

if which == "minimal":
    from textual.app import App
    from textual.widgets import Static
    class Minimal(App):
        def compose(self):
            yield Static("Hello")
    hook(Minimal)
    Minimal().run()
elif which == "ours":
    import tui.app
    hook(tui.app.InvestorApp, "_start")
    from tui.cli import main
    sys.exit(main([]))
else:  # "factory": the session is built after the first frame, by run_app
    import tui.app
    hook(tui.app.InvestorApp, "_start")
    from assistant_core.config import load_settings
    settings = load_settings({{}})
    def build():
        from assistant_core.session import build_session
        return build_session(settings)
    sys.exit(tui.app.run_app(build))
"""


def one_run(which: str, workdir: Path) -> dict[str, object]:
    report = workdir / f"report-{which}.json"
    report.unlink(missing_ok=True)
    env = dict(os.environ)
    for var in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "INVESTOR_ASSISTANT_PROVIDER",
        "INVESTOR_ASSISTANT_MODEL",
    ):
        env.pop(var, None)
    home = workdir / f"home-{which}-{time.monotonic_ns()}"
    env.update(
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        PYTHONPATH=str(ROOT),
        # Its output goes to /dev/null, not a terminal: name the driver the runs use
        # (headless), as textual-serve names its own, so the app's terminal check allows it.
        TEXTUAL_DRIVER="textual.drivers.headless_driver:HeadlessDriver",
    )
    code = CHILD.format(heavy=HEAVY)
    start = time.time()
    subprocess.run(
        [sys.executable, "-c", code, str(report), which],
        env=env,
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
    )
    marks = json.loads(report.read_text())
    return {
        "first": marks["first"] - start,
        "ready": marks.get("ready", marks["first"]) - start,
        "heavy": sorted(set(marks["heavy_first"]) | set(marks.get("heavy_ready", []))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9, help="runs per app (at least 7)")
    args = parser.parse_args()
    runs = max(args.runs, 7)
    first: dict[str, list[float]] = {"minimal": [], "ours": [], "factory": []}
    ready: dict[str, list[float]] = {"ours": [], "factory": []}
    heavy: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        one_run("minimal", workdir)  # warm the OS file cache for both
        one_run("ours", workdir)
        for _ in range(runs):
            for which in first:
                result = one_run(which, workdir)
                first[which].append(result["first"])  # type: ignore[arg-type]
                if which in ready:
                    ready[which].append(result["ready"])  # type: ignore[arg-type]
                    heavy.update(result["heavy"])  # type: ignore[arg-type]

    def ms(values: list[float]) -> str:
        return (
            f"median {statistics.median(values) * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"
        )

    minimal = statistics.median(first["minimal"])
    print(f"runs per app: {runs} (alternating), headless 120x40, process start -> frame")
    print(f"minimal one-widget Textual app, first frame: {ms(first['minimal'])}")
    for which, label in (
        ("ours", "investor-assistant via the CLI (session built before run_app)"),
        ("factory", "investor-assistant, run_app(factory) (session built after the first frame)"),
    ):
        print(f"{label}:")
        print(
            f"    first frame: {ms(first[which])}"
            f" -> ratio {statistics.median(first[which]) / minimal:.2f}x (target <= 1.5x)"
        )
        print(
            f"    main screen painted (threads, chat, prompt, first-run hint): {ms(ready[which])}"
            f" -> ratio {statistics.median(ready[which]) / minimal:.2f}x"
        )
    print(f"heavy modules loaded by the main screen: {', '.join(sorted(heavy)) or 'none'}")


if __name__ == "__main__":
    main()
