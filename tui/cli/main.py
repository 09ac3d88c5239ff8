"""The ``investor-assistant`` command: the TUI with no subcommand, headless commands with one.

Exit codes: 0 success; 1 a run that did not complete, output that could not be written
(disk full) or an internal error; 2 bad input (unknown id, bad setting or config file,
unreachable server, missing key, damaged database); 130 interrupted by Ctrl+C (143 by
SIGTERM); 141 stdout closed by its reader (`| head`), quietly. Expected failures print
one line, no traceback, unless --debug.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from assistant_core.backends.base import BackendError
from assistant_core.config_file import setting_names
from assistant_core.errors import AssistantError, NotFoundError
from assistant_core.logs import configure_logging
from assistant_core.redact import redact, redact_log_handler
from assistant_core.settings_spec import DEFAULT_OPENAI_MODEL, ENV_NAMES, SETTINGS, is_true
from assistant_core.text import one_line

from .exit_codes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, EXIT_USAGE
from .output import WriteFailed

PROG = "investor-assistant"


MAIN_EPILOG = f"""\
examples:
  {PROG}                                   open the full-screen app
  {PROG} ask "Should I buy Apple?"         answer in the terminal, with tool calls
  {PROG} threads list                      saved conversations
  {PROG} runs show RUN_ID                  the tool-call log of one run
  {PROG} config show                       effective settings and where they came from
  {PROG} web                               the same app in a browser tab

providers (auto-detected when --provider is not given):
  OPENAI_API_KEY set              OpenAI (Responses API), model {DEFAULT_OPENAI_MODEL} by default
  OPENAI_BASE_URL / --base-url    an OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio)
  neither                         demo mode: offline analyst on demo data
"""

ASK_EPILOG = f"""\
examples:
  {PROG} ask "Should I buy Apple?"
  {PROG} ask "and its balance sheet?" --thread thread_abc123
  echo "How is Tesla's balance sheet?" | {PROG} ask -
  {PROG} ask --json "Show me MSFT's last 100 days" | jq -c .event
  {PROG} --base-url http://localhost:11434/v1 --model llama3.1 ask "Compare AAPL and MSFT"

The answer streams to stdout, one line per finished tool call (name(args) status duration
source). Exit code 0 when the run completed, 1 otherwise (the run's last_error on stderr),
130 after Ctrl+C (the run is cancelled and its partial answer kept). With --approval ask,
each tool call is confirmed on the terminal; without a terminal, calls are denied.
"""

THREADS_EPILOG = f"""\
examples:
  {PROG} threads list --filter apple
  {PROG} threads show thread_abc123
  {PROG} threads export thread_abc123 --format md -o apple.md
  {PROG} threads export thread_abc123 --format json > apple.json
  {PROG} threads rename thread_abc123 "Apple research"
  {PROG} threads delete thread_abc123
"""

RUNS_EPILOG = f"""\
examples:
  {PROG} runs list --thread thread_abc123
  {PROG} runs show run_abc123           steps and tool calls, outputs truncated
  {PROG} runs show run_abc123 --full    full tool outputs
"""

CONFIG_EPILOG = f"""\
examples:
  {PROG} config show
  {PROG} config set provider compatible
  {PROG} config set base_url http://localhost:11434/v1
  {PROG} --base-url http://localhost:11434/v1 config set model llama3.1
  {PROG} config set providers.openai.model gpt-4.1-mini
  {PROG} config set approval ask
  {PROG} config set context_windows.llama3.1 131072
  {PROG} config unset base_url

settings: {", ".join(setting_names())}.
A model belongs to a provider: `config set model NAME` saves it for the provider in use
(as [providers.NAME] model = …); --model applies to the provider in use.
The API key is never written by `config set`: export OPENAI_API_KEY.
Precedence: flags > environment > config file > defaults.
"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and example-preserving help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _settings_flags(top_level: bool) -> Parser:
    """The global flags, one per setting that declares one (``settings_spec.SETTINGS``).
    They are accepted before and after a subcommand; after it they must not reset what
    was given before, hence SUPPRESS as their default there."""
    default = None if top_level else argparse.SUPPRESS
    parser = Parser(add_help=False)
    group = parser.add_argument_group(
        "settings", "override the environment and the config file for this command"
    )
    for spec in SETTINGS:
        if spec.flag is None:
            continue
        plain = spec.example and not spec.choices and not spec.is_switch
        example = f", e.g. {spec.example}" if plain else ""
        help_text = f"{spec.help}{example} (env {spec.env})" if spec.env else spec.help
        if spec.is_switch:
            group.add_argument(
                spec.flag,
                dest=spec.name,
                action="store_true",
                default=False if top_level else default,
                help=help_text,
            )
        else:
            group.add_argument(
                spec.flag,
                dest=spec.name,
                metavar=spec.metavar,
                choices=spec.choices or None,
                default=default,
                help=help_text,
            )
    return parser


def app_parser() -> Parser:
    """The top level's settings flags alone: enough to open the app, which needs no command."""
    return Parser(prog=PROG, add_help=False, parents=[_settings_flags(top_level=True)])


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, read the quick way when it names no command (the full-screen app:
    a user waits for its first frame, so neither every subcommand's parser nor the modules
    behind them are built), else by the whole parser."""
    args, rest = app_parser().parse_known_args(argv)
    if not rest:
        args.command = None
        return args
    return build_parser().parse_args(argv)


def build_parser() -> Parser:
    # Imported here: their modules (and what they import) are not needed to open the app.
    from .actions import CommandActions
    from .db import add_db_parser
    from .keys import add_keys_parser
    from .serve import add_serve_parser
    from .web import add_web_parser

    parser = Parser(
        prog=PROG,
        description="Research public companies with an AI assistant in your terminal. "
        "With no command, opens the full-screen app.",
        epilog=MAIN_EPILOG,
        parents=[_settings_flags(top_level=True)],
    )
    flags = _settings_flags(top_level=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ask = commands.add_parser(
        "ask",
        parents=[flags],
        help="ask a question headless",
        description="Ask a question and stream the answer to stdout.",
        epilog=ASK_EPILOG,
    )
    ask.add_argument("question", help='the question, or "-" to read it from stdin')
    where = ask.add_mutually_exclusive_group()
    where.add_argument("--thread", metavar="ID", help="continue this thread")
    where.add_argument("--new", action="store_true", help="start a new thread (the default)")
    ask.add_argument(
        "--json", action="store_true", help="print the Assistants streaming events as JSON Lines"
    )

    threads = commands.add_parser(
        "threads",
        parents=[flags],
        help="list, show, export, rename, delete threads",
        description="Saved conversations.",
        epilog=THREADS_EPILOG,
    )
    thread_actions = CommandActions(threads, flags)
    threads_list = thread_actions.add("list", "threads, most recent first")
    threads_list.add_argument("--filter", metavar="TEXT", help="match titles and message text")
    threads_list.add_argument("--limit", type=int, metavar="N", help="at most N threads")
    threads_list.add_argument("--json", action="store_true", help="one JSON object per line")
    threads_show = thread_actions.add("show", "a thread's messages and tool calls")
    threads_show.add_argument("id", metavar="ID")
    threads_export = thread_actions.add("export", "export as Markdown or JSON")
    threads_export.add_argument("id", metavar="ID")
    threads_export.add_argument(
        "--format",
        choices=("md", "json"),
        help="md (default, or from -o's extension) or json (complete, re-readable)",
    )
    threads_export.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of stdout"
    )
    threads_rename = thread_actions.add("rename", "give a thread a title")
    threads_rename.add_argument("id", metavar="ID")
    threads_rename.add_argument("title", metavar="TITLE")
    threads_delete = thread_actions.add("delete", "delete a thread and its runs")
    threads_delete.add_argument("id", metavar="ID")

    runs = commands.add_parser(
        "runs",
        parents=[flags],
        help="the run and tool-call log",
        description="Runs, their steps and tool calls.",
        epilog=RUNS_EPILOG,
    )
    run_actions = CommandActions(runs, flags)
    runs_list = run_actions.add("list", "the runs of a thread")
    runs_list.add_argument("--thread", metavar="ID", required=True)
    runs_list.add_argument("--json", action="store_true", help="one JSON object per line")
    runs_show = run_actions.add("show", "a run's steps and tool calls")
    runs_show.add_argument("run_id", metavar="RUN_ID")
    runs_show.add_argument("--full", action="store_true", help="do not truncate tool outputs")

    config = commands.add_parser(
        "config",
        parents=[flags],
        help="show or change settings",
        description="Settings and where each came from.",
        epilog=CONFIG_EPILOG,
    )
    config_actions = CommandActions(config, flags)
    config_actions.add("show", "effective settings and their sources")
    config_set = config_actions.add("set", "save a setting to the config file")
    config_set.add_argument("key", metavar="KEY")
    config_set.add_argument("value", metavar="VALUE")
    config_unset = config_actions.add("unset", "remove a setting from the config file")
    config_unset.add_argument("key", metavar="KEY")

    add_web_parser(commands, flags)
    add_serve_parser(commands, flags)
    add_keys_parser(commands, flags)

    db = add_db_parser(commands, flags)

    # Which parser to show when a group is given without its action.
    parser.set_defaults(_groups={"threads": threads, "runs": runs, "config": config, "db": db})
    return parser


def setting_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, for ``load_settings`` (None: not given)."""
    flags: dict[str, Any] = {}
    for spec in SETTINGS:
        if spec.flag is not None:
            value = getattr(args, spec.name, None)
            flags[spec.name] = (True if value else None) if spec.is_switch else value
    return flags


def _debug_requested(args: argparse.Namespace | None) -> bool:
    if args is not None and getattr(args, "debug", False):
        return True
    return is_true(os.environ.get(ENV_NAMES["debug"], ""))


def user_message(exc: BaseException) -> str:
    """The one line a user sees for an expected failure, with a way forward."""
    if isinstance(exc, NotFoundError):
        hint = {
            "thread": f"list them with `{PROG} threads list`",
            "run": f"list a thread's runs with `{PROG} runs list --thread ID`",
        }.get(exc.kind, "")
        return f"{exc}; {hint}" if hint else str(exc)
    if isinstance(exc, BackendError):
        return redact(f"model API error ({exc.code}): {exc.message}")
    return redact(str(exc))


def print_traceback() -> None:
    """The current exception's traceback on stderr (--debug), secrets masked: an exception
    may quote the API key (e.g. a header value httpx refused)."""
    import traceback

    sys.stderr.write(redact(traceback.format_exc()))


def dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command is None:
        from .launch import open_app

        return open_app(setting_flags(args))
    run = getattr(args, "_run", None)  # commands that bring their own handler
    if run is not None:
        return int(run(args, setting_flags(args)))
    action = getattr(args, "action", None)
    if command in ("threads", "runs", "config", "db") and action is None:
        args._groups[command].print_help(sys.stderr)
        return EXIT_USAGE
    if command == "ask":
        from .ask import ask_command

        return ask_command(args, setting_flags(args))
    if command == "threads":
        from .threads import threads_command

        return threads_command(args, setting_flags(args))
    if command == "runs":
        from .runs import runs_command

        return runs_command(args, setting_flags(args))
    if command == "web":
        from .web import web_command

        return web_command(args, setting_flags(args))
    if command == "db":
        from .db import db_command

        return db_command(args, setting_flags(args))
    from .config_command import config_command

    return config_command(args, setting_flags(args))


def main(argv: Sequence[str] | None = None) -> int:
    # Warnings logged with no handler configured reach stderr through this one.
    redact_log_handler(logging.lastResort)
    args = parse_args(list(argv) if argv is not None else sys.argv[1:])
    debug = _debug_requested(args)
    # The log goes to a file; --debug copies it to stderr, except for the full-screen app,
    # which draws on the terminal stderr goes to.
    configure_logging(debug=debug, stderr=debug and args.command is not None)
    try:
        return dispatch(args)
    except (AssistantError, BackendError) as exc:
        if debug:
            print_traceback()
        print(f"{PROG}: error: {one_line(user_message(exc), None)}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as exc:  # damage met outside the store's own checks
        if debug:
            print_traceback()
        print(
            f"{PROG}: error: the database is damaged ({one_line(str(exc), 200)}); see "
            f"`{PROG} db check`, and save what can be read with `{PROG} db recover`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly (an ask's run is cancelled, its
        # partial answer kept), with the code a shell gives a command SIGPIPE ended, and
        # keep Python from complaining about the unflushable stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    except WriteFailed as exc:  # stdout on a full disk: an error, not a truncated file
        print(f"{PROG}: error: {one_line(str(exc), 300)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so in one line, the traceback with --debug
        if debug:
            print_traceback()
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {one_line(redact(str(exc)), 300)} "
            "(rerun with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
