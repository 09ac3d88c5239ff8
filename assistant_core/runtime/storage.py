"""A run whose writes fail: the disk is full, the file is damaged, the thread was deleted.

The runner stops such a run at the first failed write (nothing more is streamed that could
not be saved) and closes it ``failed`` with one of these errors; when even that cannot be
written, the error goes out in the event stream and the next start closes the run.
"""

from __future__ import annotations

import sqlite3

from ..errors import DatabaseDamaged, NotFoundError, StoreError
from ..objects import LastError
from ..store_interface import ThreadStore
from ..text import one_line

STORAGE_FAILURES = (StoreError, NotFoundError, sqlite3.Error)
STORAGE_ERROR = "storage_error"
DATABASE_DAMAGED = "database_damaged"
STORAGE_CODES = frozenset({STORAGE_ERROR, DATABASE_DAMAGED})


def is_storage_failure(exc: BaseException) -> bool:
    return isinstance(exc, STORAGE_FAILURES)


def storage_error(
    exc: BaseException, store: ThreadStore, thread_id: str, *, shown: int, saved: int
) -> LastError:
    """The run's ``last_error`` for a failed write. ``shown`` / ``saved``: characters of
    the current answer streamed to the user / written to the database."""
    unsaved = ""
    if shown > saved:
        unsaved = (
            f" — of the {shown:,} characters of the answer shown, only the first {saved:,} "
            "are saved"
            if saved
            else f" — none of the {shown:,} characters of the answer shown is saved"
        )
    if isinstance(exc, DatabaseDamaged):
        return LastError(DATABASE_DAMAGED, f"{one_line(exc, 600)}{unsaved}")
    reason = one_line(exc, 200)
    if isinstance(exc, NotFoundError) and _deleted(store, thread_id):
        reason = "its thread was deleted meanwhile"
    return LastError(
        STORAGE_ERROR,
        f"could not save this run to the database ({reason}); it was stopped{unsaved}",
    )


def _deleted(store: ThreadStore, thread_id: str) -> bool:
    try:
        store.get_thread(thread_id)
    except NotFoundError:
        return True
    except Exception:  # the store fails for another reason too: say what the write said
        return False
    return False
