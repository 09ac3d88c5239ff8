"""A model belongs to its provider (issue 11, item 13): a model saved or given for one
provider never reaches another — demo runs never record it, and a compatible server is
still asked for its models. A top-level ``model`` from older config files is read for the
provider it was saved with and moved under ``[providers.NAME]`` by the next edit."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from assistant_core.config import DEFAULT_OPENAI_MODEL, OFFLINE_MODEL, load_settings
from assistant_core.config_file import set_value
from assistant_core.errors import ConfigError
from tests.support.openai_replay import chat_stream, json_response

from .conftest import Cli

KEY = {"OPENAI_API_KEY": "sk-test-0123456789abcdef"}
SERVER = {"base_url": "http://127.0.0.1:9/v1"}


def config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {"config": str(path)}


@pytest.mark.parametrize(
    ("file", "flags", "env", "provider", "model", "source"),
    [
        # A top-level model without a provider was saved for OpenAI (the old default).
        ('model = "gpt-4o-mini"\n', {}, {}, "offline", OFFLINE_MODEL, "auto"),
        ('model = "gpt-4o-mini"\n', {}, KEY, "openai", "gpt-4o-mini", "file"),
        ('model = "gpt-4o-mini"\n', SERVER, {}, "compatible", None, "auto"),
        # …with a base URL, for that server.
        (
            'model = "llama3.1"\nbase_url = "http://h:1/v1"\n',
            {},
            {},
            "compatible",
            "llama3.1",
            "file",
        ),
        (
            'model = "llama3.1"\nbase_url = "http://h:1/v1"\n',
            {"provider": "openai"},
            KEY,
            "openai",
            DEFAULT_OPENAI_MODEL,
            "default",
        ),
        # …with a provider, for that provider.
        ('provider = "compatible"\nmodel = "qwen3"\n', SERVER, {}, "compatible", "qwen3", "file"),
        (
            'provider = "compatible"\nmodel = "qwen3"\n',
            {"provider": "openai"},
            KEY,
            "openai",
            DEFAULT_OPENAI_MODEL,
            "default",
        ),
        (
            'provider = "offline"\nmodel = "gpt-4.1"\n',
            {"provider": "openai"},
            KEY,
            "openai",
            "gpt-4.1",
            "file",
        ),
        # One model per provider.
        (
            '[providers.openai]\nmodel = "gpt-4.1"\n[providers.compatible]\nmodel = "qwen3"\n',
            {},
            KEY,
            "openai",
            "gpt-4.1",
            "file",
        ),
        (
            '[providers.openai]\nmodel = "gpt-4.1"\n[providers.compatible]\nmodel = "qwen3"\n',
            SERVER,
            {},
            "compatible",
            "qwen3",
            "file",
        ),
        (
            '[providers.openai]\nmodel = "gpt-4.1"\n[providers.compatible]\nmodel = "qwen3"\n',
            {},
            {},
            "offline",
            OFFLINE_MODEL,
            "auto",
        ),
        ('[providers.openai]\nmodel = "gpt-4.1"\n', SERVER, {}, "compatible", None, "auto"),
        (
            '[providers.compatible]\nmodel = "qwen3"\n',
            {},
            KEY,
            "openai",
            DEFAULT_OPENAI_MODEL,
            "default",
        ),
        # [providers.NAME] wins over an old top-level model for the same provider.
        ('model = "old"\n[providers.openai]\nmodel = "new"\n', {}, KEY, "openai", "new", "file"),
        # --model / the environment apply to the provider in use, over the file.
        (
            '[providers.compatible]\nmodel = "qwen3"\n',
            {**SERVER, "model": "mistral"},
            {},
            "compatible",
            "mistral",
            "flag",
        ),
        (
            '[providers.openai]\nmodel = "gpt-4.1"\n',
            {},
            {**KEY, "INVESTOR_ASSISTANT_MODEL": "o4-mini"},
            "openai",
            "o4-mini",
            "env",
        ),
    ],
)
def test_which_model_applies(
    tmp_path: Path,
    file: str,
    flags: dict[str, Any],
    env: dict[str, str],
    provider: str,
    model: str | None,
    source: str,
) -> None:
    s = load_settings({**config(tmp_path, file), **flags}, env)
    assert (s.provider, s.model, s.source("model")) == (provider, model, source)
    assert s.notices == []


def test_a_top_level_model_says_how_it_is_read(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path, 'model = "gpt-4o-mini"\n'), KEY)
    assert "top-level 'model', read as the openai model" in s.reasons["model"]
    assert "[providers.openai]" in s.reasons["model"]
    assert s.provider_models == {"openai": "gpt-4o-mini"}


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"model": "gpt-4o-mini"}, {}, "--model gpt-4o-mini is ignored"),
        (
            {},
            {"INVESTOR_ASSISTANT_MODEL": "gpt-4o-mini"},
            "INVESTOR_ASSISTANT_MODEL=gpt-4o-mini is ignored",
        ),
        ({"model": "gpt-4o-mini", "provider": "offline"}, KEY, "--model gpt-4o-mini is ignored"),
    ],
)
def test_a_model_for_the_offline_analyst_is_ignored_with_a_notice(
    flags: dict[str, str], env: dict[str, str], needle: str
) -> None:
    s = load_settings(flags, env)
    assert (s.provider, s.model) == ("offline", OFFLINE_MODEL)
    assert len(s.notices) == 1 and needle in s.notices[0] and "no model" in s.notices[0]


def test_the_offline_analyst_has_no_provider_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'providers\.offline\.model'"):
        load_settings(config(tmp_path, '[providers.offline]\nmodel = "x"\n'), {})


@pytest.mark.parametrize(
    ("provider", "saved_under"),
    [("openai", "openai"), ("compatible", "compatible")],
)
def test_config_set_model_saves_it_for_the_provider_in_use(
    tmp_path: Path, provider: str, saved_under: str
) -> None:
    path = tmp_path / "config.toml"
    place, value, _ = set_value(path, "model", "m1", provider=provider)
    assert (place.name, value) == (f"providers.{saved_under}.model", "m1")
    assert tomllib.loads(path.read_text()) == {"providers": {saved_under: {"model": "m1"}}}


def test_the_next_edit_moves_a_top_level_model_under_its_provider(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\nbase_url = "http://h:1/v1"\nmodel = "llama3.1"  # pulled today\n')
    _, _, edit = set_value(path, "approval", "ask", provider="compatible")
    assert edit.notes == ["moved the top-level model = 'llama3.1' to [providers.compatible]"]
    assert tomllib.loads(path.read_text()) == {
        "base_url": "http://h:1/v1",
        "approval": "ask",
        "providers": {"compatible": {"model": "llama3.1"}},
    }
    assert path.read_text().startswith("# mine\n")
    s = load_settings({"config": str(path)}, {})
    assert (s.provider, s.model, s.reasons["model"]) == (
        "compatible",
        "llama3.1",
        "[providers.compatible]",
    )


def test_demo_runs_never_record_a_saved_model_and_a_server_is_asked_for_its_own(
    cli: Cli, replay_server: Any
) -> None:
    """The issue's example, end to end: `config set model gpt-4o-mini` as an older version
    wrote it (top-level), then a demo question, then a question to a local server."""
    from assistant_core.paths import default_config_path

    default_config_path().parent.mkdir(parents=True, exist_ok=True)
    default_config_path().write_text('model = "gpt-4o-mini"\n')
    demo = cli("ask", "Should I buy Apple?")
    assert demo.code == 0, demo
    assert "gpt-4o-mini" not in demo.out + demo.err
    thread = json.loads(cli("threads", "list", "--json").out.splitlines()[0])["id"]
    runs = cli("runs", "list", "--thread", thread, "--json")
    assert [json.loads(line)["model"] for line in runs.out.splitlines()] == [OFFLINE_MODEL]

    replay_server.enqueue(
        json_response({"object": "list", "data": [{"id": "qwen3:8b", "object": "model"}]}),
        method="GET",
        path="/v1/models",
    )
    replay_server.enqueue(chat_stream("Hello from a local model."))
    local = cli("--base-url", replay_server.base_url, "ask", "hello")
    assert local.code == 0, local
    replay_server.verify()
    assert [r.path for r in replay_server.requests] == ["/v1/models", "/v1/chat/completions"]
    assert replay_server.requests[1].json()["model"] == "qwen3:8b"

    shown = cli("--provider", "openai", "config", "show", env=KEY)
    model_row = next(line for line in shown.out.splitlines() if line.startswith("model "))
    assert "gpt-4o-mini" in model_row and "read as the openai model" in model_row, shown
