"""A streamed answer as a user sees it: from pressing Enter until the answer's last line is on
a real terminal screen (tmux), for the first question of a freshly started app and for the
questions after it, against the bare ``openai`` client timed the same way.

The answer is a ~1,900-token Markdown report (headings, paragraphs, lists, tables, code
blocks; ~4 characters a token) streamed at full speed by a local OpenAI-compatible server
(``tests/support/openai_replay.py`` in a child process, Chat Completions). Our app runs its
console script with ``--provider compatible --base-url … --model …`` on a fresh data
directory; the person "types" the question (``--typing`` seconds after the prompt shows,
default 1 s) and presses Enter. The bare client is a small script with the same interpreter
that prints each delta as it arrives to a pane of the same size, waiting for Enter before
each request. Each answer ends with a line of its own (``End of answer N.``): the time is
Enter → that line on the screen. Runs alternate; medians (min–max) of ``--runs``, the
ratios app / bare client, and the load average are printed.

    python bench/bench_stream_terminal.py [--runs 5] [--questions 3] [--before DIR]

``--before DIR``: also time the app from the code in DIR (e.g. ``git archive <commit> |
tar -x -C DIR``), side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_screen import TmuxScreen, bench_env, figure, load_average, tmux_missing

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from markdown_answer import report_tokens

from tests.support.openai_replay import ReplayProcess, chat_stream, json_response

SIZE = (120, 40)
MODEL = "replay-model"
TOKENS = 1900
BARE = """\
import sys
import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="not-needed")
for number in range(1, int(sys.argv[2]) + 1):
    input(f"ready {number}> ")
    stream = client.chat.completions.create(
        model=sys.argv[3], messages=[{"role": "user", "content": "question"}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            sys.stdout.write(chunk.choices[0].delta.content)
            sys.stdout.flush()
    print()
"""


def answer_tokens(number: int, count: int = TOKENS) -> list[str]:
    """The benchmarks' research-report answer (``markdown_answer``), its last line saying
    which answer it is."""
    return [*report_tokens(count), f"\n\nEnd of answer {number}."]


def start_server(questions: int) -> ReplayProcess:
    server = ReplayProcess()
    # A 32k context, as vLLM lists it: three 1,900-token answers fit, so no question waits
    # for the older turns to be summarised (with the 8k assumed for a model that does not
    # say, the third would, and the summary would take the next queued answer).
    model = {"id": MODEL, "object": "model", "created": 0, "max_model_len": 32768}
    models = {"object": "list", "data": [model]}
    server.enqueue(json_response(models), method="GET", path="/v1/models", times=None)
    for number in range(1, questions + 1):
        server.enqueue(chat_stream(answer_tokens(number), model=MODEL))
    return server.start()


def marker(number: int) -> str:
    return rf"End of answer {number}\."


def time_app(home: Path, questions: int, typing: float, source: Path | None) -> list[float]:
    server = start_server(questions)
    env = bench_env(home)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    script = Path(sys.executable).parent / "investor-assistant"
    command = [str(script), "--provider", "compatible", "--base-url", server.base_url]
    command += ["--model", MODEL]
    times: list[float] = []
    try:
        with TmuxScreen(command, env=env, size=SIZE, cwd=home) as screen:
            screen.wait_for(r"Ask about a company", timeout=60)
            for number in range(1, questions + 1):
                screen.send_keys(f"Question {number} about Apple")
                time.sleep(typing)
                enter = screen.send_keys("Enter", literal=False)
                times.append(screen.wait_for(marker(number), since=enter, timeout=60))
                time.sleep(0.3)
    finally:
        server.close()
    return times


def time_bare(home: Path, script: Path, questions: int, typing: float) -> list[float]:
    server = start_server(questions)
    command = [sys.executable, str(script), server.base_url, str(questions), MODEL]
    times: list[float] = []
    try:
        with TmuxScreen(command, env=bench_env(home), size=SIZE) as screen:
            for number in range(1, questions + 1):
                screen.wait_for(rf"ready {number}>", timeout=60)
                time.sleep(typing)
                enter = screen.send_keys("Enter", literal=False)
                times.append(screen.wait_for(marker(number), since=enter, timeout=60))
    finally:
        server.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--questions", type=int, default=3, help="asked in a row (at least 2)")
    parser.add_argument("--typing", type=float, default=1.0, help="seconds spent typing")
    parser.add_argument("--before", type=Path, help="a tree of the code to compare with")
    args = parser.parse_args()
    missing = tmux_missing()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    questions = max(args.questions, 2)
    print(f"load average before: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare = work / "bare_client.py"
        bare.write_text(BARE)
        contenders = {
            "bare openai client": lambda run: time_bare(
                work / f"b{run}", bare, questions, args.typing
            ),
            "investor-assistant": lambda run: time_app(
                work / f"a{run}", questions, args.typing, None
            ),
        }
        if args.before is not None:
            before = args.before.resolve()
            contenders["investor-assistant (before)"] = lambda run: time_app(
                work / f"p{run}", questions, args.typing, before
            )
        for name, run in contenders.items():  # warm-up: bytecode, the OS file cache
            run(f"warm-{name[:4]}")
        first: dict[str, list[float]] = {name: [] for name in contenders}
        later: dict[str, list[float]] = {name: [] for name in contenders}
        for index in range(args.runs):
            for name, run in contenders.items():
                times = run(str(index))
                first[name].append(times[0])
                later[name].extend(times[1:])
    print(
        f"tmux {SIZE[0]}×{SIZE[1]}; a {TOKENS}-token Markdown answer at full speed; "
        f"Enter → its last line on screen; medians of {args.runs} runs (min–max)"
    )
    bare_first = statistics.median(first["bare openai client"])
    bare_later = statistics.median(later["bare openai client"])
    for name in contenders:
        for what, values, reference in (
            ("first question", first[name], bare_first),
            ("later questions", later[name], bare_later),
        ):
            print(figure(f"{name:28} {what:16}", values, reference, "the bare client"))
    print("targets: first question ≤ 0.6 s; later questions ≤ 1.5× the bare client")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
