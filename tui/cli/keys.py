"""``investor-assistant keys``: API keys of the Assistants API server, by project.

A key is printed once, when created; the database keeps only its hash.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .actions import CommandActions
from .common import open_store
from .exit_codes import EXIT_OK, EXIT_USAGE

KEYS_EPILOG = """\
examples:
  investor-assistant keys create --project research     prints sk-ia-… once
  investor-assistant keys create --project research --name "Ana's laptop"
  investor-assistant keys list
  investor-assistant keys revoke key_abc123

Every object a key creates belongs to its project and is invisible to other projects. The
app and the command line work in the project "default": a key of that project shares
their threads. Once any key exists, the server requires a valid key on every request.
"""


def add_keys_parser(commands: Any, flags: argparse.ArgumentParser) -> None:
    keys = commands.add_parser(
        "keys",
        parents=[flags],
        help="API keys of the Assistants API server",
        description="API keys and projects of `investor-assistant serve`.",
        epilog=KEYS_EPILOG,
    )
    key_actions = CommandActions(keys, flags)
    create = key_actions.add("create", "make a key (shown once)")
    create.add_argument("--project", required=True, metavar="NAME", help="the key's project")
    create.add_argument("--name", default="", metavar="TEXT", help="a label for the key")
    listing = key_actions.add("list", "keys and their projects")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = key_actions.add("revoke", "revoke a key at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    keys.set_defaults(_run=keys_command, _help=keys)


def _valid_project(name: str) -> bool:
    return 0 < len(name) <= 64 and name.isprintable() and name.strip() == name


def keys_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    if args.action is None:
        args._help.print_help(sys.stderr)
        return EXIT_USAGE
    from assistant_core.server.keys import create_key

    with open_store(flags) as store:
        if args.action == "create":
            if not _valid_project(args.project):
                print(
                    "investor-assistant keys: error: a project name is 1–64 printable characters",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            record, key = create_key(store, args.project, args.name)
            print(key)
            print(
                f"{record.id} for project {record.project!r}: keep the key now, it is not "
                "stored and cannot be shown again",
                file=sys.stderr,
            )
        elif args.action == "list":
            for record in store.list_api_keys():
                if args.json:
                    print(json.dumps(record.__dict__))
                    continue
                created = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created_at))
                state = "active" if record.active else "revoked"
                label = f"  {record.name}" if record.name else ""
                print(f"{record.id}  {record.project}  {state}  {created}{label}")
        else:
            record = store.revoke_api_key(args.key_id)
            print(f"{record.id} ({record.project}) revoked")
    return EXIT_OK
