"""The actions of a command (``threads list``, ``db copy``, ``keys create``…) as argparse
subparsers that all take the settings flags and show the command's epilog, so that no
action forgets either."""

from __future__ import annotations

import argparse
from typing import Any


class CommandActions:
    def __init__(self, command: argparse.ArgumentParser, flags: argparse.ArgumentParser) -> None:
        self._actions = command.add_subparsers(dest="action", metavar="ACTION")
        self._flags = flags
        self._epilog = command.epilog

    def add(self, name: str, help: str, **options: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._actions.add_parser(
            name, parents=[self._flags], help=help, epilog=self._epilog, **options
        )
        return parser
