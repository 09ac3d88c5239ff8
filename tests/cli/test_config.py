"""Settings: precedence flags > env > file > defaults, provenance, auto-detection, the TOML
writer, and each bad input's one-line message."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from assistant_core import paths
from assistant_core.config import (
    DEFAULT_OPENAI_MODEL,
    check_provider,
    load_settings,
    mask_secret,
    resolve_model,
)
from assistant_core.config_file import set_value
from assistant_core.errors import ConfigError
from assistant_core.session import provider_label


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_anything_are_demo_mode() -> None:
    s = load_settings({}, {})
    assert (s.provider, s.data, s.approval) == ("offline", "demo", "auto")
    assert s.sources["provider"] == "auto" and s.sources["data"] == "auto"
    assert s.sources["approval"] == "default"
    assert s.db == paths.default_db_path()
    assert s.config_path == paths.default_config_path()
    assert s.is_demo and "demo mode" in (s.demo_notice() or "")
    assert provider_label(s) == "offline analyst (DEMO)"


def test_key_means_openai_with_default_model_and_real_data() -> None:
    s = load_settings({}, {"OPENAI_API_KEY": "sk-test-1234567890abcd"})
    assert (s.provider, s.model, s.data) == ("openai", DEFAULT_OPENAI_MODEL, "yahoo")
    assert s.sources["provider"] == "auto" and s.sources["api_key"] == "env"
    assert not s.is_demo and s.demo_notice() is None
    assert provider_label(s) == f"OpenAI · {DEFAULT_OPENAI_MODEL}"
    assert "1234567890" not in s.masked_key and s.masked_key.endswith("abcd")
    assert "sk-test" not in repr(s)  # the key never shows up in a repr/log line


def test_base_url_means_compatible_and_model_listed_from_server() -> None:
    s = load_settings({}, {"OPENAI_BASE_URL": "http://localhost:11434/v1/", "OPENAI_API_KEY": "k"})
    assert s.provider == "compatible" and s.base_url == "http://localhost:11434/v1"
    assert s.model is None and s.data == "yahoo"
    calls = []
    resolve_model(s, lambda url, key: calls.append((url, key)) or ["llama3.1:8b", "qwen3"])
    assert calls == [("http://localhost:11434/v1", "k")]
    assert s.model == "llama3.1:8b" and s.sources["model"] == "auto"
    assert provider_label(s) == "compatible · llama3.1:8b @ http://localhost:11434/v1"


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        'provider = "compatible"\nbase_url = "http://file:1/v1"\nmodel = "file-model"\n'
        'approval = "ask"\ndata = "demo"\ndb = "~/file.db"\n\n[context_windows]\n"my-model" = 32000\n',
    )
    env = {
        "INVESTOR_ASSISTANT_CONFIG": str(cfg),
        "INVESTOR_ASSISTANT_MODEL": "env-model",
        "OPENAI_BASE_URL": "http://env:2/v1",
    }
    s = load_settings({"model": "flag-model", "approval": None}, env)
    assert s.config_path == cfg and s.sources["config"] == "env"
    assert (s.model, s.sources["model"]) == ("flag-model", "flag")
    assert (s.base_url, s.sources["base_url"]) == ("http://env:2/v1", "env")
    assert (s.provider, s.sources["provider"]) == ("compatible", "file")
    assert (s.approval, s.sources["approval"]) == ("ask", "file")  # None flag = not given
    assert (s.data, s.sources["data"]) == ("demo", "file")  # explicitly asked for: allowed
    assert s.db == Path("~/file.db").expanduser()
    assert s.context_windows == {"my-model": 32000}
    assert s.sources["context_windows.my-model"] == "file"
    # Without the env var, the file's values show through; with a --config flag, the flag wins.
    s2 = load_settings({"config": str(cfg)}, {"INVESTOR_ASSISTANT_CONFIG": "/nonexistent.toml"})
    assert (s2.model, s2.sources["model"], s2.sources["config"]) == ("file-model", "file", "flag")


def test_real_model_is_never_silently_given_demo_data() -> None:
    for env in ({"OPENAI_API_KEY": "sk-x"}, {"OPENAI_BASE_URL": "http://h:1/v1"}):
        assert load_settings({}, env).data == "yahoo"
    s = load_settings({"data": "demo"}, {"OPENAI_API_KEY": "sk-x"})
    assert s.data == "demo" and s.is_demo and "DEMO" in provider_label(s)
    assert load_settings({"provider": "offline", "data": "yahoo"}, {}).data == "yahoo"


def test_empty_environment_values_count_as_unset() -> None:
    s = load_settings({}, {"OPENAI_API_KEY": "", "INVESTOR_ASSISTANT_PROVIDER": ""})
    assert s.provider == "offline"


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"provider": "openai"}, {}, "export OPENAI_API_KEY"),
        ({"provider": "compatible"}, {}, "--base-url"),
    ],
)
def test_provider_without_what_it_needs(flags: dict, env: dict, needle: str) -> None:
    s = load_settings(flags, env)  # loading is fine (config show must still work)
    with pytest.raises(ConfigError) as err:
        check_provider(s)
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('provider = "openai"\nmodle = "x"\n', "unknown setting 'modle'"),
        ('approval = "sometimes"\n', "bad value 'sometimes' for approval"),
        ('base_url = "localhost:11434"\n', "expected a URL"),
        ('debug = "perhaps"\n', "bad value 'perhaps' for debug"),
        ("[context_windows]\ngpt = -5\n", "bad context window -5"),
        ('model = "a"\nprovider = \n', "malformed TOML: Invalid value (at line 2"),
        ('model = "a"\n[model\n', "malformed TOML"),
    ],
)
def test_bad_config_file_one_line_naming_the_file(tmp_path: Path, text: str, needle: str) -> None:
    cfg = write_config(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings({"config": str(cfg)}, {})
    message = str(err.value)
    assert needle in message and str(cfg) in message and "\n" not in message


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="INVESTOR_ASSISTANT_APPROVAL"):
        load_settings({}, {"INVESTOR_ASSISTANT_APPROVAL": "never"})
    with pytest.raises(ConfigError, match="--base-url"):
        load_settings({"base_url": "ftp://x"}, {})


def save_setting(path: Path, key: str, value: str, provider: str = "openai") -> None:
    set_value(path, key, value, provider=provider)


def test_save_setting_creates_private_file_and_keeps_comments(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    save_setting(cfg, "model", "llama3.1")
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    cfg.write_text(
        "# my settings\nmodel = 'old'  # the one I like\n\n# windows\n[context_windows]\nx = 1\n"
    )
    save_setting(cfg, "model", 'new "quoted" \\ value')  # moves the top-level model first
    save_setting(cfg, "base-url", "http://localhost:8000/v1")
    save_setting(cfg, "context_windows.llama3.1:8b", "131_072")
    save_setting(cfg, "context_windows.x", "2")
    save_setting(cfg, "debug", "yes")
    text = cfg.read_text()
    data = tomllib.loads(text)
    assert data == {
        "base_url": "http://localhost:8000/v1",
        "debug": True,
        "context_windows": {"x": 2, "llama3.1:8b": 131072},
        "providers": {"openai": {"model": 'new "quoted" \\ value'}},
    }
    assert "# my settings" in text and "# windows\n[context_windows]" in text
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    s = load_settings({"config": str(cfg), "provider": "openai"}, {"OPENAI_API_KEY": "sk-test"})
    assert s.model == 'new "quoted" \\ value' and s.context_windows["llama3.1:8b"] == 131072


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("api_key", "sk-secret", "export OPENAI_API_KEY"),
        ("model", "llama3.1", "has no model to choose"),  # the provider in use is offline
        ("colour", "blue", "unknown setting 'colour'"),
        ("provider", "anthropic", "use one of: openai, compatible, offline"),
        ("context_windows.gpt-4o", "big", "expected a number of tokens"),
    ],
)
def test_save_setting_refuses(tmp_path: Path, key: str, value: str, needle: str) -> None:
    cfg = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match=needle):
        save_setting(cfg, key, value, provider="offline")
    assert not cfg.exists()  # nothing written, and the key never


def test_save_setting_refuses_to_edit_a_broken_file(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", "model = \n")
    with pytest.raises(ConfigError, match="malformed TOML"):
        save_setting(cfg, "model", "x")
    assert cfg.read_text() == "model = \n"


def test_user_written_api_key_in_file_is_read_and_kept(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "config.toml", 'api_key = "sk-from-file-0000"\n')
    s = load_settings({"config": str(cfg)}, {})
    assert (s.provider, s.sources["api_key"]) == ("openai", "file")
    save_setting(cfg, "model", "gpt-4o")
    assert tomllib.loads(cfg.read_text())["api_key"] == "sk-from-file-0000"


def test_resolve_model_unreachable_and_empty() -> None:
    s = load_settings({"base_url": "http://127.0.0.1:9/v1"}, {})

    def refused(url: str, key: str | None) -> list[str]:
        raise ConnectionError("connection refused")

    with pytest.raises(ConfigError) as err:
        resolve_model(s, refused)
    assert "http://127.0.0.1:9/v1" in str(err.value) and "ollama serve" in str(err.value)
    with pytest.raises(ConfigError, match="lists no models"):
        resolve_model(s, lambda url, key: [])


def test_mask_secret() -> None:
    assert mask_secret(None) == "(not set)"
    assert mask_secret("short") == "****"
    assert mask_secret("sk-proj-abcdefghijklmnop") == "sk-…mnop"
