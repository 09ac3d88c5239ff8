"""A thread database damaged after it was created (issue 11, item 7).

Random bytes inside one data page used to give ``internal error: DatabaseError`` (exit 1)
in the CLI and a traceback in the app, and ``ask`` went on writing. Now damage found at
any point is one clear line and exit 2, nothing more is written once it is found, and
``db check`` / ``db recover`` are the documented way out. Each test damages a copy of a
real database (threads, runs, tool calls, 600 extra messages) in one of four ways.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from assistant_core.errors import DatabaseDamaged
from assistant_core.objects import Message, new_id, text_content
from assistant_core.store import Store, _dumps
from assistant_core.store_repair import check_database, recover_database

from .damage import damage, leaf_pages, scribble_page
from .processes import cli_env, run_cli

WAYS = ["data-page", "index-page", "header", "truncated"]
QUESTIONS = ("Should I buy Apple?", "How is Tesla's balance sheet?", "Show me MSFT's last 100 days")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A real database: three threads answered by the offline analyst through the runtime
    (runs, steps, tool calls), the first one padded with 600 messages."""
    from assistant_core.backends.offline import OfflineAnalyst
    from assistant_core.market import create_market
    from assistant_core.runtime import Runtime
    from assistant_core.tools.investor import build_investor_tools

    path = tmp_path_factory.mktemp("pristine") / "threads.db"

    async def build() -> list[str]:
        with Store(path) as store:
            runtime = Runtime(
                store,
                OfflineAnalyst(),
                build_investor_tools(create_market("demo")),
                model="offline-analyst",
            )
            ids = []
            for question in QUESTIONS:
                thread = runtime.create_thread()
                ids.append(thread.id)
                async for _ in runtime.ask(thread.id, question):
                    pass
            rows = []
            for i in range(600):
                m = Message(
                    id=new_id("message"),
                    created_at=1_700_000_000 + i,
                    thread_id=ids[0],
                    role="user" if i % 2 == 0 else "assistant",
                    content=text_content(f"Earlier note {i}: " + "revenue and margins " * 20),
                )
                rows.append(
                    (m.id, ids[0], None, m.role, "completed", m.created_at, m.text,
                     _dumps(m.to_dict()))
                )  # fmt: skip
            with store._write() as db:
                db.executemany(
                    "INSERT INTO messages (id, thread_id, run_id, role, status, created_at, "
                    "text, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            await runtime.aclose()
        return ids

    return path, asyncio.run(build())


def damaged_copy(pristine: tuple[Path, list[str]], tmp_path: Path, how: str) -> Path:
    path = tmp_path / "threads.db"
    shutil.copy(pristine[0], path)
    damage(path, how)
    return path


def scribbled_copy(
    pristine: tuple[Path, list[str]], tmp_path: Path, name: str, pages: slice
) -> Path:
    """A copy with random bytes over the ``pages`` slice of the leaf pages of ``name``."""
    path = tmp_path / "threads.db"
    shutil.copy(pristine[0], path)
    for page in leaf_pages(path, name)[pages]:
        scribble_page(path, page)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clear_refusal(result: Any) -> None:
    """Exit 2 with one line that says the file is damaged and what to do."""
    assert result.returncode == 2, result
    lines = [ln for ln in result.stderr.strip().splitlines() if not ln.startswith("note: ")]
    [line] = lines  # ask's note on demo mode aside
    assert line.startswith("investor-assistant: error: the database ")
    assert "damaged" in line and "db check" in line and "db recover" in line, line


@pytest.mark.parametrize("how", WAYS)
def test_the_cli_says_the_database_is_damaged_and_never_fails_otherwise(
    pristine: tuple[Path, list[str]], tmp_path: Path, how: str
) -> None:
    path = damaged_copy(pristine, tmp_path, how)
    env = cli_env(tmp_path, db=path)
    long_thread = pristine[1][0]
    for args in (
        ["threads", "list"],
        ["threads", "show", long_thread],
        ["threads", "export", long_thread, "--format", "json"],
        ["runs", "list", "--thread", long_thread],
    ):
        result = run_cli(args, env)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        if result.returncode != 0:  # commands that never touch the damage just work
            assert_clear_refusal(result)
    ask = run_cli(["ask", "--thread", long_thread, "and its balance sheet?"], env)
    assert_clear_refusal(ask)  # the long thread's history crosses the damage
    assert "Traceback" not in ask.stderr


@pytest.mark.parametrize("how", ["data-page", "index-page", "truncated"])
def test_db_check_reports_and_db_recover_saves_what_can_be_read(
    pristine: tuple[Path, list[str]], tmp_path: Path, how: str
) -> None:
    path = damaged_copy(pristine, tmp_path, how)
    env = cli_env(tmp_path, db=path)
    before = digest(path)
    check = run_cli(["db", "check"], env)
    assert check.returncode == 2, check
    assert f"{path}: DAMAGED" in check.stdout and "db recover" in check.stdout
    recovered = tmp_path / "recovered.db"
    result = run_cli(["db", "recover", "-o", str(recovered)], env)
    assert result.returncode == 0, result
    assert f"recovered into {recovered}" in result.stdout
    assert "integrity_check of the new file: ok" in result.stdout
    assert digest(path) == before  # the damaged original is never changed
    with Store(recovered) as store:
        threads = {t.id for t in store.list_threads()}
        assert set(pristine[1][1:]) <= threads  # undamaged threads are all there
        total = sum(store.count_messages(t) for t in threads)
        assert total >= 300  # most of the 606 messages
        assert not any(store.active_run(t) for t in threads)
    # The copy is a working database: the CLI uses it as it is.
    ok = run_cli(["--db", str(recovered), "db", "check"], env)
    assert ok.returncode == 0 and ": ok" in ok.stdout, ok
    follow_up = run_cli(
        ["--db", str(recovered), "ask", "--thread", pristine[1][1], "and its cash flow?"], env
    )
    assert follow_up.returncode == 0, follow_up


def test_a_file_whose_header_is_damaged_cannot_be_read_at_all(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path = damaged_copy(pristine, tmp_path, "header")
    env = cli_env(tmp_path, db=path)
    before = digest(path)
    for args in (["db", "check"], ["db", "recover"]):
        result = run_cli(args, env)
        assert result.returncode == 2, result
        [line] = result.stderr.strip().splitlines()
        assert "cannot read" in line and ".recover" in line, line
    assert digest(path) == before


def test_recovery_keeps_every_row_of_an_undamaged_file(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    report = recover_database(pristine[0], tmp_path / "copy.db")
    assert report.lost == 0 and report.integrity == "ok"
    with Store(pristine[0]) as a, Store(tmp_path / "copy.db") as b:
        for thread in a.list_threads():
            assert [m.to_dict() for m in a.list_messages(thread.id)] == [
                m.to_dict() for m in b.list_messages(thread.id)
            ]
            assert [r.to_dict() for r in a.list_runs(thread.id)] == [
                r.to_dict() for r in b.list_runs(thread.id)
            ]
        assert len(a.list_tool_calls()) == len(b.list_tool_calls()) > 0
        assert b.list_threads("balance")  # the full-text index was rebuilt


def test_messages_of_a_lost_thread_are_kept_under_a_stand_in(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path = scribbled_copy(pristine, tmp_path, "threads", slice(None))  # three threads: a page
    report = recover_database(path, tmp_path / "copy.db")
    assert report.stand_in_threads == 3
    with Store(tmp_path / "copy.db") as store:
        threads = store.list_threads()
        assert {t.id for t in threads} == set(pristine[1])
        assert all(t.title.startswith("Recovered") for t in threads)
        assert store.count_messages(pristine[1][0]) == 602


def test_once_damage_is_found_nothing_more_is_written(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path = damaged_copy(pristine, tmp_path, "data-page")
    with Store(path) as store:
        with pytest.raises(DatabaseDamaged, match="db recover"):
            store.list_messages(pristine[1][0])
        before = digest(path)
        with pytest.raises(DatabaseDamaged):  # a write that would have worked is refused
            store.create_thread("after the damage")
        store.list_threads()  # reading what is intact still works
    assert digest(path) == before
    assert not check_database(path).ok


# -- in the full-screen app ----------------------------------------------------------------
def _app_session(path: Path) -> Any:
    from assistant_core.config import DEMO_PACE_ENV, load_settings
    from assistant_core.session import build_session

    settings = load_settings({"provider": "offline", "db": str(path)}, env={DEMO_PACE_ENV: "0"})
    return build_session(settings)


async def _shows_the_failure(app: Any, pilot: Any) -> None:
    from tests.tui.chat_helpers import screen_text, wait_for
    from tui.screens.failure import FailureScreen

    await wait_for(pilot, lambda: isinstance(app.screen, FailureScreen), timeout=10)
    await wait_for(pilot, lambda: "Press q to quit" in screen_text(app), timeout=10)
    text = " ".join(screen_text(app).split())
    assert "The thread database cannot be used" in text
    assert "damaged" in text and "db recover" in text
    await pilot.press("q")
    await pilot.pause()
    assert app.return_code == 2
    assert isinstance(app.start_error, DatabaseDamaged)  # printed again by the CLI


async def test_the_app_shows_damage_found_at_start_on_a_screen(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pytest.importorskip("tui.widgets")
    from tui.app import InvestorApp

    # The thread list cannot be read: MainScreen.on_mount.
    path = scribbled_copy(pristine, tmp_path, "threads", slice(None))
    app = InvestorApp(_app_session(path), first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await _shows_the_failure(app, pilot)


async def test_the_app_shows_damage_found_later_on_a_screen(
    pristine: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pytest.importorskip("tui.widgets")
    from tests.tui.chat_helpers import wait_for
    from tui.app import InvestorApp

    # The long thread's earlier messages.
    path = scribbled_copy(pristine, tmp_path, "messages", slice(None, -2))
    app = InvestorApp(_app_session(path), first_run_hint=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, app.ready.is_set, timeout=10)
        # Choosing the long thread in the list: the chat reads the damaged pages.
        from tui.panels.thread_list import ThreadList

        app.main.thread_list.post_message(ThreadList.Selected(pristine[1][0]))
        await _shows_the_failure(app, pilot)


def test_a_schema_1_file_is_recovered_into_the_current_schema(tmp_path: Path) -> None:
    from tests.test_store_recovery import _make_v1_database

    ids = _make_v1_database(tmp_path / "old.db")
    report = recover_database(tmp_path / "old.db", tmp_path / "copy.db")
    assert report.lost == 0 and report.integrity == "ok"
    with Store(tmp_path / "copy.db") as store:
        assert [r.call.id for r in store.list_tool_calls(run_id=ids["run"])] == [
            "call_old0",
            "call_old1",
        ]
        assert store.list_threads("배당")  # searchable in the new file
