"""The full-screen app on the team's PostgreSQL database: it answers as on SQLite, and shows
threads another process (here the command line; a server replica alike) writes there."""

from __future__ import annotations

from pathlib import Path

from assistant_core.config import DEMO_PACE_ENV, load_settings
from assistant_core.session import build_session
from tests.reliability.processes import cli_env
from tests.server.conftest import cli_run
from tests.tui.app_helpers import _fixed_demo_day, ask_and_wait, latest_run, wait_for  # noqa: F401
from tests.tui.test_app_main import thread_rows
from tui.app import InvestorApp


async def test_the_app_works_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = load_settings({"provider": "offline", "db": pg_url}, env={DEMO_PACE_ENV: "0"})
    session = build_session(settings)
    assert session.store.engine == "postgresql"
    app = InvestorApp(session, first_run_hint=False)
    async with app.run_test(size=(140, 45)) as pilot:
        thread_id = await ask_and_wait(pilot, "Should I buy Apple?")
        assert latest_run(session, thread_id).status == "completed"
        assert "AAPL" in session.store.list_messages(thread_id)[-1].text
        # Another process writes a thread to the same database: the list shows it when it
        # reads the store next (as on SQLite: after the app's own changes, or every 30 s).
        env = cli_env(tmp_path, db=pg_url)  # type: ignore[arg-type]
        asked = cli_run(env, "ask", "How is Microsoft doing?")
        assert asked.returncode == 0, asked.stderr
        app.main.thread_list.reload()
        await wait_for(pilot, lambda: any("Microsoft" in row for row in thread_rows(app)))
        assert any("Apple" in row for row in thread_rows(app))
    await session.aclose()
