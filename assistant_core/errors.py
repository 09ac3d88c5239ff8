"""Errors the core raises for bad input. Each message is one line a user can act on."""

from __future__ import annotations

from .objects import InvalidTransition

__all__ = [
    "ActiveRunError",
    "AssistantError",
    "ConfigError",
    "DatabaseDamaged",
    "InvalidTransition",
    "NotFoundError",
    "RunStateError",
    "StoreError",
]


class AssistantError(Exception):
    """Base class: an expected failure with a one-line, user-facing message."""


class NotFoundError(AssistantError, LookupError):
    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"no {kind} with id {object_id!r}")
        self.kind = kind
        self.object_id = object_id


class ActiveRunError(AssistantError):
    def __init__(self, thread_id: str, run_id: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"thread {thread_id} already has an active run ({run_id}); "
            "wait for it to finish or cancel it"
        )
        self.thread_id = thread_id
        self.run_id = run_id


class RunStateError(AssistantError):
    """An operation that does not fit the run's state (e.g. approving a completed run)."""


class StoreError(AssistantError):
    """The database file cannot be used (not SQLite, newer schema, unreadable), or a write
    to it failed (disk full, I/O error)."""


class DatabaseDamaged(StoreError):
    """SQLite found the database file damaged (at open or at any read or write after)."""


class ConfigError(AssistantError):
    """A bad setting, config file or provider set-up."""
