"""``config show|set|unset``: effective settings with their sources; edit the file."""

from __future__ import annotations

import argparse
from typing import Any

from assistant_core.config import Settings, check_provider
from assistant_core.config_file import Edit, FileKey, set_value, unset_value
from assistant_core.db_url import is_database_url, masked_url
from assistant_core.errors import ConfigError
from assistant_core.logs import log_path
from assistant_core.session import provider_label
from assistant_core.settings_spec import (
    BY_NAME,
    CONTEXT_WINDOWS_TABLE,
    MODEL_PROVIDERS,
    PROVIDERS_TABLE,
    SETTINGS,
)
from assistant_core.text import one_line

from .common import load_cli_settings
from .output import Output


def config_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    out = Output()
    settings = load_cli_settings(flags)  # a broken file is refused here: edit it by hand
    if args.action == "show":
        return show_config(settings, out)
    path = settings.config_path  # the provider in use decides where `model` goes
    if args.action == "set":
        place, value, edit = set_value(path, args.key, args.value, provider=settings.provider)
        report(out, edit)
        shown = masked_url(value) if is_database_url(str(value)) else value
        out.line(f"set {place.name} = {toml_text(shown)} in {path}")
        return 0
    place, edit = unset_value(path, args.key, provider=settings.provider)
    report(out, edit)
    if place.name in edit.changed:
        out.line(f"removed {place.name} from {path}")
    else:
        out.note(f"{place.name} is not set in {path}; nothing to remove")
    return 0


def report(out: Output, edit: Edit) -> None:
    for note in edit.notes:
        out.note(note)


def toml_text(value: Any) -> str:
    """A value as the file shows it."""
    import tomlkit

    return str(tomlkit.item(value).as_string())


def describe_source(settings: Settings, name: str) -> str:
    source = settings.source(name)
    spec = BY_NAME.get(name)
    if source == "flag" and spec is not None:
        return f"flag {spec.flag}"
    if source == "env" and spec is not None:
        return f"env {spec.env}"
    reason = settings.reasons.get(name)
    if source == "file":
        source = (
            f"file {settings.config_path}" if spec is not None and spec.secret else "config file"
        )
        if reason and reason.startswith("["):  # the table it is in: [providers.openai]
            return f"{source} {reason}"
    return f"{source} ({reason})" if reason else source


def display_value(settings: Settings, name: str) -> str:
    spec = BY_NAME[name]
    if spec.secret:
        return settings.masked_key
    if name == "model" and settings.model is None:
        return f"(first model listed by {settings.base_url}/models)"
    value = getattr(settings, spec.attribute)
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def show_config(settings: Settings, out: Output) -> int:
    rows: list[tuple[str, str, str]] = []
    for spec in SETTINGS:
        if not spec.shown:
            continue
        value = display_value(settings, spec.name)
        if spec.name == "config" and not settings.config_exists:
            value += " (not found; `config set` creates it)"
        rows.append((spec.name, value, describe_source(settings, spec.name)))
    for provider in MODEL_PROVIDERS:
        model = settings.provider_models.get(provider)
        if model is not None and provider != settings.provider:
            key = FileKey((PROVIDERS_TABLE, provider, "model")).name
            rows.append((key, one_line(model), f"config file (used with provider {provider})"))
    for model, tokens in sorted(settings.context_windows.items()):
        rows.append((f"{CONTEXT_WINDOWS_TABLE}.{model}", str(tokens), "config file"))
    # Paths, URLs and model names come from the user's files and environment: labels.
    rows = [(one_line(n, None), one_line(v, None), one_line(s, None)) for n, v, s in rows]
    width = max(len(name) for name, _, _ in rows)
    value_width = min(max(len(value) for _, value, _ in rows), 60)
    for name, value, source in rows:
        out.line(f"{name:<{width}}  {value:<{value_width}}  {out.style(source, 'dim')}")
    out.line()
    label = provider_label(settings) if settings.model else f"compatible @ {settings.base_url}"
    out.line(f"answers come from: {one_line(label, None)}")
    out.line(f"log file: {log_path()}")
    try:
        check_provider(settings)
    except ConfigError as exc:
        out.note(f"warning: {one_line(exc, None)}")
    return 0
