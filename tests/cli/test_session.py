"""build_session: the right backend per provider, labels, and start-up recovery that never
closes a run another live process is executing."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_core.config import load_settings
from assistant_core.errors import ConfigError
from assistant_core.objects import Run, new_id, now
from assistant_core.session import Session, build_session, check_reachable


def demo_settings(db: Path, **flags: str):
    return load_settings({"db": str(db), **flags}, {"INVESTOR_ASSISTANT_DEMO_PACE": "0"})


def strand_a_run(session: Session) -> str:
    """A run left in_progress, as a process killed mid-run leaves it."""
    store = session.store
    thread = store.create_thread("crashed")
    run = Run(
        id=new_id("run"),
        created_at=now(),
        thread_id=thread.id,
        assistant_id=store.default_assistant().id,
        model="m",
    )
    store.create_run(run)
    run.status = "in_progress"
    store.update_run(run)
    return run.id


async def test_sessions_per_provider(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    offline = build_session(demo_settings(db))
    assert offline.backend.name == "offline" and offline.is_demo
    assert offline.provider_label == "offline analyst (DEMO)"
    assert offline.runtime.model == "offline-analyst" and offline.runtime.approval == "auto"
    await offline.aclose()
    await offline.aclose()  # twice is harmless

    compatible = build_session(
        load_settings(
            {
                "db": str(db),
                "base_url": "http://127.0.0.1:9/v1",
                "model": "llama3.1",
                "approval": "ask",
            },
            {},
        )
    )
    assert compatible.backend.name == "chat-completions" and not compatible.is_demo
    assert compatible.provider_label == "compatible · llama3.1 @ http://127.0.0.1:9/v1"
    assert compatible.runtime.approval == "ask"
    await compatible.aclose()

    openai = build_session(load_settings({"db": str(db)}, {"OPENAI_API_KEY": "sk-test"}))
    assert openai.backend.name == "openai-responses" and openai.runtime.model == "gpt-5-mini"
    await openai.aclose()

    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_session(load_settings({"db": str(db), "provider": "openai"}, {}))


async def test_recovery_waits_until_no_other_session_is_live(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    first = build_session(demo_settings(db))
    stranded = strand_a_run(first)
    # Another process is live (this session holds the lease): its runs are left alone.
    second = build_session(demo_settings(db))
    assert second.recovered_runs == []
    assert second.store.get_run(stranded).status == "in_progress"
    await first.aclose()
    await second.aclose()
    # Nobody else is live now: the stranded run is closed as the crash it was.
    third = build_session(demo_settings(db))
    assert third.recovered_runs == [stranded]
    run = third.store.get_run(stranded)
    assert run.status == "failed" and run.last_error is not None
    await third.aclose()


def test_check_reachable_names_the_url() -> None:
    from tests.support.openai_replay import unused_port

    url = f"http://127.0.0.1:{unused_port()}/v1"
    with pytest.raises(ConfigError) as err:
        check_reachable(url)
    assert url in str(err.value) and "refused" in str(err.value).lower()
