"""First frame as a user sees it: from launching ``investor-assistant`` in a real terminal
(tmux, 120×40) until its title bar is on the screen, against a one-widget Textual app
measured the same way (``../shared/tools/firstframe.sh`` and ``hello_textual.py``).

For our app two moments are timed in the same run: the title bar with ``DEMO`` (the first
frame) and the prompt ready for typing (the main screen: threads, chat, prompt). Both are
the real command line's console script in demo mode, with the same interpreter as the
reference app, on a data directory made by one earlier start (so a normal start, not the
very first one). Runs alternate; the script prints medians (min–max) of ``--runs``, the
ratios to the reference app, and the load average before and after.

``--before DIR`` adds a third contender: the same console script running the code in DIR
(e.g. ``git archive <commit> | tar -x -C DIR``), for before/after figures side by side.

    python bench/bench_first_frame_terminal.py [--runs 5] [--before DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from tmux_screen import TmuxScreen, bench_env, figure, load_average, tmux_missing

ROOT = Path(__file__).resolve().parents[1]
HELLO = """\
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello world ready")
Hello().run()
"""
HELLO_MARK = r"hello world ready"
TITLE_MARK = r"Investor Assistant +DEMO"
PROMPT_MARK = r"Ask about a company"
SIZE = (120, 40)


def console_script() -> Path:
    script = Path(sys.executable).parent / "investor-assistant"
    if not script.exists():
        raise SystemExit(f"{script} is missing: pip install -e . in this interpreter's venv")
    return script


def time_hello(hello: Path, home: Path) -> dict[str, float]:
    with TmuxScreen([sys.executable, str(hello)], env=bench_env(home), size=SIZE) as screen:
        return {"first frame": screen.wait_for(HELLO_MARK)}


def time_app(home: Path, source: Path | None) -> dict[str, float]:
    env = bench_env(home)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with TmuxScreen([str(console_script())], env=env, size=SIZE, cwd=home) as screen:
        title = screen.wait_for(TITLE_MARK)
        prompt = screen.wait_for(PROMPT_MARK)
        return {"first frame": title, "prompt ready": prompt}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a tree of the code to compare with")
    args = parser.parse_args()
    missing = tmux_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    print(f"load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        hello = work / "hello_textual.py"
        hello.write_text(HELLO)
        contenders = {
            "one-widget Textual app": lambda: time_hello(hello, work / "hello"),
            "investor-assistant": lambda: time_app(work / "app", None),
        }
        if args.before is not None:
            before = args.before.resolve()
            contenders["investor-assistant (before)"] = lambda: time_app(work / "before", before)
        for run in contenders.values():  # warm-up: bytecode, the OS file cache, the data dir
            run()
        figures: dict[str, dict[str, list[float]]] = {name: {} for name in contenders}
        for _ in range(args.runs):
            for name, run in contenders.items():
                for what, seconds in run().items():
                    figures[name].setdefault(what, []).append(seconds)
    reference = statistics.median(figures["one-widget Textual app"]["first frame"])
    print(f"tmux {SIZE[0]}×{SIZE[1]}, launch → on screen; medians of {args.runs} (min–max)")
    for name, moments in figures.items():
        for what, values in moments.items():
            print(figure(f"{name:30} {what:13}", values, reference, "the reference"))
    print("target: first frame ≤ 1.5× the reference")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
