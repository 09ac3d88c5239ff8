"""The constructor arguments every Textual widget takes, for widgets of ours that pass them
on: typed, so a misspelt or mistyped one is caught by the type checker, not at run time."""

from __future__ import annotations

from typing import TypedDict


class WidgetOptions(TypedDict, total=False):
    name: str | None
    id: str | None
    classes: str | None
    disabled: bool
