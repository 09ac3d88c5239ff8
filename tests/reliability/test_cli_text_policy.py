"""The real command line, as a subprocess, shows text from outside by the one text policy
(issue 11, item 4; issue 13, item 1): invisible and direction-changing characters
(U+200F, U+061C, U+200B, U+FEFF, U+2028, …), escape sequences and control characters never
reach the terminal from ``ask``, ``threads show/list``, ``runs show/list``, ``config show``
or the exports; Korean, emoji and Rich markup come out as written."""

from __future__ import annotations

import json
from pathlib import Path

from assistant_core.export import read_json_export
from assistant_core.store import Store
from tests.support.text_policy import (
    BIDI,
    CONTROLS,
    ESCAPES,
    INVISIBLE,
    ORDINARY,
    SEPARATORS,
    assert_survivors,
    assert_terminal_safe,
    hostile_export,
    store_thread,
    with_survivors,
)

from .processes import cli_env, run_cli

# Every class of the policy, once (no lone surrogate: the store cannot hold one).
EVERY_CLASS = with_survivors(
    " ".join([*ESCAPES[:-3], *CONTROLS, *BIDI, *INVISIBLE, *SEPARATORS, "\ufdd0", *ORDINARY])
)
REPORTED = "Apple\u200f\u061c\u200b\ufeff\u2028 stock? \u202eevil"  # issue 11, item 4


def test_threads_and_runs_commands_show_every_class_inert(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"
    export = hostile_export(EVERY_CLASS)
    export.runs[0].model = EVERY_CLASS  # a server's model list is outside text too
    with Store(db) as store:
        thread_id = store_thread(store, export)
    run_id = export.runs[0].id
    env = cli_env(tmp_path, db=db)
    outputs = {}
    for name, args in {
        "threads show": ["threads", "show", thread_id],
        "threads list": ["threads", "list"],
        "threads list --json": ["threads", "list", "--json"],
        "runs show --full": ["runs", "show", run_id, "--full"],
        "runs list": ["runs", "list", "--thread", thread_id],
        "export md": ["threads", "export", thread_id, "--format", "md"],
        "export json": ["threads", "export", thread_id, "--format", "json"],
    }.items():
        result = run_cli(args, env)
        assert result.returncode == 0, (name, result.stderr)
        assert_terminal_safe(result.stdout, f"stdout of {name}")
        assert_terminal_safe(result.stderr, f"stderr of {name}")
        outputs[name] = result.stdout
    assert_survivors(outputs["threads show"], "threads show")
    assert_survivors(outputs["runs show --full"], "runs show --full")
    assert "삼성전자 주가 어때? 테슬라 재무상태표 👨\u200d👩\u200d👧" in outputs["threads list"]
    back = read_json_export(outputs["export json"])
    assert back.messages[0].text == EVERY_CLASS  # the JSON export is exact
    assert back.runs[0].model == EVERY_CLASS


def test_ask_and_config_show_keep_invisible_characters_off_the_terminal(tmp_path: Path) -> None:
    env = cli_env(tmp_path, db=tmp_path / "threads.db", INVESTOR_ASSISTANT_MODEL=REPORTED)
    for args in (
        ["ask", f"Should I buy {REPORTED}"],
        ["ask", "--json", f"and {REPORTED}"],
        ["config", "show"],
        ["threads", "list"],
    ):
        result = run_cli(args, env)
        assert "Traceback" not in result.stderr, result.stderr
        assert_terminal_safe(result.stdout, f"stdout of {args[:2]}")
        assert_terminal_safe(result.stderr, f"stderr of {args[:2]}")
        if args[1] == "--json":
            for line in result.stdout.splitlines():
                json.loads(line)  # still one JSON event per line
    with Store(tmp_path / "threads.db") as store:
        first = store.list_threads()[-1]
        assert store.list_messages(first.id)[0].text == f"Should I buy {REPORTED}"  # stored exactly
        assert first.title == "Should I buy Apple"  # the first line (U+2028 ends it), clean
