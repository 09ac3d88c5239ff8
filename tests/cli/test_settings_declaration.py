"""Settings come from one declaration (``settings_spec.SETTINGS``): every declared setting
has its flag, environment variable, config-file key and ``config show`` row, and nothing
else lists them. ``config set``/``unset`` edit the file keeping its comments and the keys
they do not touch."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from assistant_core.config import ALL_ENV_NAMES, load_settings
from assistant_core.config_file import set_value, unset_value
from assistant_core.errors import ConfigError
from assistant_core.settings_spec import PROVIDER_KEYS, SETTINGS, Setting
from tui.cli.config_command import show_config
from tui.cli.main import build_parser, setting_flags
from tui.cli.output import Output

from .conftest import Cli


def sample(spec: Setting, tmp_path: Path) -> str:
    """A valid raw value for ``spec`` that is not its default."""
    if spec.type is bool:
        return "true"
    if spec.type is Path:
        return str(tmp_path / f"{spec.name}.file")
    if spec.choices:
        return spec.example
    return spec.example or "sk-test-0123456789abcdef"


def resolved(settings: Any, spec: Setting) -> Any:
    value = getattr(settings, spec.attribute)
    return str(value) if isinstance(value, Path) else value


def expected(spec: Setting, raw: str) -> Any:
    value = spec.check(raw, "test")
    return str(value) if isinstance(value, Path) else value


def provider_for(spec: Setting) -> dict[str, str]:
    """The model applies to a provider that has one."""
    return (
        {"provider": "compatible", "base_url": "http://127.0.0.1:9/v1"} if spec.per_provider else {}
    )


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda spec: spec.name)
def test_every_setting_is_read_from_its_flag_env_and_file(spec: Setting, tmp_path: Path) -> None:
    raw = sample(spec, tmp_path)
    want = expected(spec, raw)
    assert isinstance(spec.check(raw, "test"), spec.type)
    extra = provider_for(spec)
    if spec.flag:
        # The parser has the flag, and setting_flags hands it to load_settings.
        argv = [spec.flag] if spec.is_switch else [spec.flag, raw]
        args = build_parser().parse_args([*argv, "config", "show"])
        flags = setting_flags(args)
        s = load_settings({**flags, **extra}, {})
        assert (resolved(s, spec), s.source(spec.name)) == (want, "flag")
        # After the subcommand too.
        args = build_parser().parse_args(["config", "show", *argv])
        assert setting_flags(args)[spec.name] == (True if spec.is_switch else raw)
    if spec.env:
        assert spec.env in ALL_ENV_NAMES
        s = load_settings(extra, {spec.env: raw})
        assert (resolved(s, spec), s.source(spec.name)) == (want, "env")
    if spec.file_key:
        cfg = tmp_path / "config.toml"
        value = want if not isinstance(want, str) else raw
        if spec.per_provider:
            cfg.write_text(f'[providers.compatible]\n{spec.file_key} = "{raw}"\n')
        else:
            cfg.write_text(f"{spec.file_key} = {value!r}\n".replace("True", "true"))
        s = load_settings({"config": str(cfg), **extra}, {})
        assert (resolved(s, spec), s.source(spec.name)) == (want, "file")


@pytest.mark.parametrize("spec", [s for s in SETTINGS if s.shown], ids=lambda spec: spec.name)
def test_every_shown_setting_has_a_config_show_row_with_its_source(
    spec: Setting, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {spec.env: sample(spec, tmp_path)} if spec.env else {}
    flags = {"config": sample(spec, tmp_path)} if spec.name == "config" else {}
    show_config(load_settings({**flags, **provider_for(spec)}, env), Output())
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert spec.name in rows
    if spec.env and spec.name != "config":
        assert f"env {spec.env}" in rows[spec.name]
    if spec.secret:
        assert sample(spec, tmp_path) not in rows[spec.name]


def test_only_declared_settings_are_shown_and_internal_ones_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show_config(load_settings({}, {}), Output())
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    shown = [spec.name for spec in SETTINGS if spec.shown]
    assert names[: len(shown)] == shown
    assert "demo_pace" not in names


@pytest.mark.parametrize("spec", [s for s in SETTINGS if s.file_key], ids=lambda s: s.name)
def test_config_set_saves_exactly_the_saveable_settings(spec: Setting, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    raw = sample(spec, tmp_path)
    if not spec.saveable:
        with pytest.raises(ConfigError):
            set_value(cfg, spec.file_key or spec.name, raw, provider="openai")
        assert not cfg.exists()
        return
    place, _, _ = set_value(cfg, spec.file_key or spec.name, raw, provider="openai")
    data = tomllib.loads(cfg.read_text())
    if spec.per_provider:
        assert place.name == f"providers.openai.{spec.file_key}"
        assert data["providers"]["openai"][spec.file_key] == expected(spec, raw)
    else:
        assert data[spec.file_key or spec.name] == expected(spec, raw)


RICH_FILE = """\
# Investor Assistant settings — edited by hand and by `config set`.
approval = 'ask'   # I like to confirm tool calls
data = "yahoo"

# Local server for experiments.
[providers.compatible]
model = "qwen3:8b"  # fast enough

# Larger windows than the built-in table.
[context_windows]
"qwen3:8b" = 40_960
'llama3.1' = 131072   # from the model card
"""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("provider", "compatible"),
        ("base_url", "http://localhost:11434/v1"),
        ("debug", "on"),
        ("db", "~/research/threads.db"),
        ("providers.openai.model", "gpt-4.1-mini"),
        ("context_windows.gpt-4.1-mini", "1047576"),
    ],
)
def test_set_then_unset_gives_back_the_file_byte_for_byte(
    key: str, value: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(RICH_FILE)
    set_value(cfg, key, value, provider="openai")
    text = cfg.read_text()
    for line in RICH_FILE.splitlines():
        assert line in text  # every comment and unrelated key, as written
    unset_value(cfg, key, provider="openai")
    assert cfg.read_text() == RICH_FILE


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("approval", "ask", "auto"),
        ("providers.compatible.model", "qwen3:8b", "llama3.1"),
        ("context_windows.qwen3:8b", "40960", "32768"),
    ],
)
def test_changing_a_key_keeps_its_comment_and_changing_it_back_restores_the_file(
    key: str, old: str, new: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(RICH_FILE)
    set_value(cfg, key, new, provider="compatible")
    text = cfg.read_text()
    assert text.count("#") == RICH_FILE.count("#")
    assert tomllib.loads(text) | {} != tomllib.loads(RICH_FILE)
    set_value(cfg, key, old, provider="compatible")
    assert tomllib.loads(cfg.read_text()) == tomllib.loads(RICH_FILE)
    assert cfg.read_text().count("#") == RICH_FILE.count("#")


def test_unset_removes_a_table_it_empties_but_not_one_with_comments(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('approval = "ask"\n\n[providers.openai]\nmodel = "gpt-4.1"\n')
    unset_value(cfg, "providers.openai.model", provider="offline")
    assert cfg.read_text() == 'approval = "ask"\n'
    # Here the emptied table holds the comment that introduces the next one (TOML has no
    # notion of which table a comment belongs to): the table stays, empty, and the comment.
    cfg.write_text(RICH_FILE)
    unset_value(cfg, "providers.compatible.model", provider="offline")
    text = cfg.read_text()
    assert "# Larger windows than the built-in table.\n[context_windows]" in text
    assert tomllib.loads(text)["providers"] == {"compatible": {}}


def test_unset_of_a_key_that_is_not_there_changes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(RICH_FILE)
    before = os.stat(cfg).st_mtime_ns
    _, edit = unset_value(cfg, "base_url", provider="openai")
    assert edit.changed == [] and cfg.read_text() == RICH_FILE
    assert os.stat(cfg).st_mtime_ns == before


def test_unset_may_remove_the_api_key_that_set_never_writes(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('api_key = "sk-file-0123456789abcdef"  # oops\napproval = "ask"\n')
    unset_value(cfg, "api_key", provider="openai")
    assert cfg.read_text() == 'approval = "ask"\n'


def test_per_provider_keys_are_declared_for_each_model_provider() -> None:
    assert set(PROVIDER_KEYS) == {"providers.openai.model", "providers.compatible.model"}


def test_config_unset_on_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(RICH_FILE)
    os.chmod(cfg, 0o600)
    config = ["--config", str(cfg)]
    removed = cli(*config, "config", "unset", "context_windows.qwen3:8b")
    assert removed.code == 0 and "removed context_windows.qwen3:8b" in removed.out, removed
    assert "qwen3:8b" not in tomllib.loads(cfg.read_text())["context_windows"]
    again = cli(*config, "config", "unset", "context_windows.qwen3:8b")
    assert again.code == 0 and "nothing to remove" in again.err, again
    model = cli(*config, "--provider", "compatible", "config", "unset", "model")
    assert model.code == 0 and "removed providers.compatible.model" in model.out, model
    unknown = cli(*config, "config", "unset", "colour")
    assert unknown.code == 2 and "unknown setting 'colour'" in unknown.err
    assert "\n" not in unknown.err.strip()
    assert "# Larger windows than the built-in table." in cfg.read_text()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_the_app_saves_by_canonical_names_even_with_dots_in_model_names(tmp_path: Path) -> None:
    from assistant_core.config_file import save_settings

    cfg = tmp_path / "config.toml"
    save_settings(
        cfg,
        {"approval": "ask", "providers.openai.model": "gpt-4.1", "context_windows.llama3.1:8b": 5},
    )
    assert tomllib.loads(cfg.read_text()) == {
        "approval": "ask",
        "providers": {"openai": {"model": "gpt-4.1"}},
        "context_windows": {"llama3.1:8b": 5},
    }
    save_settings(cfg, {"providers.openai.model": None, "base_url": None})
    assert tomllib.loads(cfg.read_text()) == {
        "approval": "ask",
        "context_windows": {"llama3.1:8b": 5},
    }


@pytest.mark.parametrize(
    "layout",
    [
        'providers.openai.model = "x"\napproval = "ask"\n',
        'providers = { openai = { model = "x" } }\n',
        'context_windows = { a = 1 }\n[providers.openai]\nmodel = "x"\n',
        '[providers]\n[providers.openai]\nmodel = "x"\n[context_windows]\nq = 1\n',
    ],
    ids=["dotted keys", "inline tables", "inline context windows", "explicit [providers]"],
)
def test_other_ways_to_write_the_same_tables_are_edited_too(layout: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(layout)
    before = tomllib.loads(layout)
    set_value(cfg, "providers.compatible.model", "m", provider="openai")
    set_value(cfg, "context_windows.b", "5", provider="openai")
    after = tomllib.loads(cfg.read_text())
    assert after["providers"] == {**before["providers"], "compatible": {"model": "m"}}
    assert after["context_windows"]["b"] == 5
    unset_value(cfg, "providers.compatible.model", provider="openai")
    unset_value(cfg, "context_windows.b", provider="openai")
    assert tomllib.loads(cfg.read_text()) == before
