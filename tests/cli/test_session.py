"""build_session: the right backend per provider, labels, and start-up recovery that never
closes a run another live process is executing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assistant_core.config import load_settings
from assistant_core.errors import ConfigError, RunStateError
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


# -- switching provider (Session.switch_provider) -----------------------------------------
def settings_with_file(
    tmp_path: Path, text: str = "", env: dict[str, str] | None = None, **flags: str
):
    cfg = tmp_path / "config.toml"
    if text:
        cfg.write_text(text)
    return load_settings(
        {"db": str(tmp_path / "t.db"), "config": str(cfg), **flags},
        {"INVESTOR_ASSISTANT_DEMO_PACE": "0", **(env or {})},
    )


def saved(tmp_path: Path) -> dict:
    return tomllib.loads((tmp_path / "config.toml").read_text())


async def test_switch_from_demo_to_a_compatible_server_and_back(tmp_path: Path) -> None:
    session = build_session(settings_with_file(tmp_path))
    runtime, store = session.runtime, session.store
    demo_market = session.market
    switch = await session.switch_provider(
        "compatible", base_url="http://127.0.0.1:9/v1/", model="llama3.1"
    )
    # The runtime and store stay (threads and runs are the same objects); the rest follows.
    assert session.runtime is runtime and session.store is store
    assert (runtime.backend.name, runtime.model) == ("chat-completions", "llama3.1")
    assert session.backend is runtime.backend
    assert session.settings.data == "yahoo" and not session.is_demo  # real model, real data
    assert session.market is not demo_market
    assert switch.label == "compatible · llama3.1 @ http://127.0.0.1:9/v1"
    assert switch.saved_to == tmp_path / "config.toml" and switch.save_error is None
    assert saved(tmp_path) == {
        "provider": "compatible",
        "base_url": "http://127.0.0.1:9/v1",
        "providers": {"compatible": {"model": "llama3.1"}},
    }
    # Back to the demo: the base URL is removed from the file (it would make the next
    # start pick the server again); the compatible model stays with its provider.
    back = await session.switch_provider("offline")
    assert (runtime.backend.name, runtime.model) == ("offline", "offline-analyst")
    assert session.is_demo and back.label == "offline analyst (DEMO)"
    assert saved(tmp_path) == {
        "provider": "offline",
        "providers": {"compatible": {"model": "llama3.1"}},
    }
    # And to the server again without a model: the one saved for it.
    again = await session.switch_provider("compatible", base_url="http://127.0.0.1:9/v1")
    assert runtime.model == "llama3.1" and again.settings.source("model") == "file"
    await session.aclose()


async def test_switch_lists_the_models_of_a_server_when_none_is_given(tmp_path: Path) -> None:
    from tests.support.openai_replay import ReplayServer, json_response

    session = build_session(settings_with_file(tmp_path))
    with ReplayServer() as server:
        server.enqueue(
            json_response({"object": "list", "data": [{"id": "qwen3:8b", "object": "model"}]}),
            method="GET",
            path="/v1/models",
        )
        switch = await session.switch_provider("compatible", base_url=server.base_url)
        server.verify()
    assert session.runtime.model == "qwen3:8b" and "qwen3:8b" in switch.label
    # A model the server listed is not pinned in the file: the next start lists again.
    assert "providers" not in saved(tmp_path)
    await session.aclose()


@pytest.mark.parametrize(
    ("choice", "env", "needle"),
    [
        ({"provider": "openai"}, {}, "OPENAI_API_KEY"),
        ({"provider": "compatible"}, {}, "needs a base URL"),
        ({"provider": "compatible", "base_url": "localhost:11434"}, {}, "expected a URL"),
        ({"provider": "anthropic"}, {}, "use one of: openai, compatible, offline"),
        (
            {"provider": "compatible", "base_url": "http://127.0.0.1:9/v1"},
            {"OPENAI_API_KEY": "sk-te\nst-0123456789"},
            "cannot be sent in an HTTP header",
        ),
    ],
)
async def test_a_bad_switch_changes_nothing(
    tmp_path: Path, choice: dict, env: dict, needle: str
) -> None:
    settings = settings_with_file(tmp_path, env=env, provider="offline")
    session = build_session(settings)
    backend = session.backend
    with pytest.raises(ConfigError, match=needle):
        await session.switch_provider(**choice)
    assert session.backend is backend and session.runtime.backend is backend
    assert session.settings is settings and session.runtime.model == "offline-analyst"
    assert not (tmp_path / "config.toml").exists()
    await session.aclose()


async def test_switch_is_refused_while_a_run_streams(tmp_path: Path) -> None:
    from tests.support.scripted_backend import Pause, ScriptedBackend, text_turn

    session = build_session(settings_with_file(tmp_path))
    slow = ScriptedBackend([[Pause(0.5), *text_turn("Done.")]])
    session.runtime.backend = slow
    thread = session.runtime.create_thread()
    events = session.runtime.ask(thread.id, "hello")
    await anext(events)  # the run exists and executes
    with pytest.raises(RunStateError, match="a run is in progress"):
        await session.switch_provider("compatible", base_url="http://127.0.0.1:9/v1", model="m")
    assert session.runtime.backend is slow
    async for _ in events:
        pass
    switch = await session.switch_provider(
        "compatible", base_url="http://127.0.0.1:9/v1", model="m"
    )
    assert session.runtime.model == "m" and switch.settings.provider == "compatible"
    await session.aclose()


async def test_switch_keeps_demo_data_that_was_asked_for_and_can_skip_saving(
    tmp_path: Path,
) -> None:
    session = build_session(settings_with_file(tmp_path, data="demo"))
    switch = await session.switch_provider(
        "compatible", base_url="http://127.0.0.1:9/v1", model="m", save=False
    )
    assert switch.settings.data == "demo" and "DEMO data" in switch.label
    assert switch.saved_to is None and not (tmp_path / "config.toml").exists()
    await session.aclose()


async def test_a_switch_that_cannot_be_saved_still_switches_and_says_why(tmp_path: Path) -> None:
    settings = settings_with_file(tmp_path, 'provider = "offline"\n')
    session = build_session(settings)
    (tmp_path / "config.toml").write_text("provider = \n")  # broken since start-up
    switch = await session.switch_provider(
        "compatible", base_url="http://127.0.0.1:9/v1", model="m"
    )
    assert session.runtime.model == "m"
    assert switch.saved_to is None and "malformed TOML" in (switch.save_error or "")
    assert (tmp_path / "config.toml").read_text() == "provider = \n"  # never overwritten
    await session.aclose()


async def test_the_limits_a_user_sets_reach_the_runtime_and_the_backend(tmp_path: Path) -> None:
    # One declaration (settings_spec) → Settings → the runtime, its retry policy and the
    # backend's timeouts; 0 means "no limit" where a limit allows it.
    env = {
        "INVESTOR_ASSISTANT_MAX_TURNS": "4",
        "INVESTOR_ASSISTANT_MAX_TOOL_CALLS": "8",
        "INVESTOR_ASSISTANT_MAX_TURN_TOKENS": "0",
        "INVESTOR_ASSISTANT_MAX_RUN_SECONDS": "90",
        "INVESTOR_ASSISTANT_MAX_RETRIES": "0",
        "INVESTOR_ASSISTANT_GIVE_UP_AFTER": "0",
        "INVESTOR_ASSISTANT_CONNECT_TIMEOUT": "2.5",
        "INVESTOR_ASSISTANT_FIRST_BYTE_TIMEOUT": "30",
        "INVESTOR_ASSISTANT_READ_TIMEOUT": "45",
    }
    flags = {"db": str(tmp_path / "t.db"), "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    session = build_session(load_settings(flags, env))
    try:
        runtime = session.runtime
        assert (runtime.max_turns, runtime.max_tool_calls_per_step) == (4, 8)
        assert runtime.max_turn_tokens is None and runtime.max_run_seconds == 90
        assert runtime.retry_policy.max_retries == 0
        assert runtime.retry_policy.give_up_after is None
        backend = session.backend
        assert (backend.connect_timeout, backend.first_byte_timeout, backend.timeout) == (
            2.5,
            30,
            45,
        )
    finally:
        await session.aclose()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("INVESTOR_ASSISTANT_MAX_TURNS", "0"),
        ("INVESTOR_ASSISTANT_MAX_TOOL_CALLS", "-1"),
        ("INVESTOR_ASSISTANT_MAX_RETRIES", "three"),
        ("INVESTOR_ASSISTANT_CONNECT_TIMEOUT", "0"),
        ("INVESTOR_ASSISTANT_READ_TIMEOUT", "soon"),
    ],
)
def test_a_bad_limit_is_one_clear_error(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match="bad value"):
        load_settings({"db": str(tmp_path / "t.db")}, {name: raw})
