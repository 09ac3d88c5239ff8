"""The run panel's run selector across thread switches: a selection that arrives after the
thread it was made for is no longer shown (the selector's change message is handled after
the switch) must not put that thread's run in the panel of the thread shown now — it used
to, and then the next read of the thread's runs ended the app with a StopIteration."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Select

from assistant_core.session import Session
from tui.app import InvestorApp

from .app_helpers import (  # noqa: F401  (fixtures)
    _fixed_demo_day,
    make_demo_session,
    wait_for,
    wait_ready,
)
from .chat_helpers import ThreadBuilder


async def test_a_late_selection_from_another_thread_is_ignored(
    make_demo_session: Callable[..., Session],
) -> None:
    session = make_demo_session()
    apple, tesla = ThreadBuilder(session.store, "Apple"), ThreadBuilder(session.store, "Tesla")
    for n in range(2):
        apple.turn(f"Apple question {n}", f"Apple answer {n}")
        tesla.turn(f"Tesla question {n}", f"Tesla answer {n}")
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_ready(pilot)
        panel = app.main.run_panel
        await app.switch_thread(tesla.id)
        await wait_for(pilot, lambda: panel.loaded_thread == tesla.id)
        await pilot.pause()
        apple_run = session.store.list_runs(apple.id)[0]
        panel.post_message(Select.Changed(panel.query_one("#run-select", Select), apple_run.id))
        await pilot.pause()
        await pilot.pause()
        assert panel.run is not None and panel.run.thread_id == tesla.id
        # Choosing one of the thread's own runs still works.
        first = session.store.list_runs(tesla.id)[0]
        panel.post_message(Select.Changed(panel.query_one("#run-select", Select), first.id))
        await wait_for(pilot, lambda: panel.run is not None and panel.run.id == first.id)
