"""``config show|set``: effective settings with their sources; save one to the file."""

from __future__ import annotations

import argparse
from typing import Any

from assistant_core.config import (
    CONTEXT_WINDOWS_TABLE,
    ENV_NAMES,
    FLAG_NAMES,
    Settings,
    load_settings,
    locate_config,
    save_setting,
    toml_value,
)
from assistant_core.errors import ConfigError
from assistant_core.session import provider_label
from assistant_core.text import one_line

from .output import Output

SHOWN = ("provider", "model", "base_url", "api_key", "approval", "data", "db", "debug")


def config_command(args: argparse.Namespace, flags: dict[str, Any]) -> int:
    out = Output()
    if args.action == "show":
        return show_config(load_settings(flags), out)
    path, _ = locate_config(flags)
    key, value = save_setting(path, args.key, args.value)
    out.line(f"set {key} = {toml_value(value)} in {path}")
    return 0


def describe_source(settings: Settings, name: str) -> str:
    source = settings.source(name)
    if source == "flag":
        return f"flag {FLAG_NAMES.get(name, name)}"
    if source == "env":
        return f"env {ENV_NAMES[name]}"
    if source == "file":
        return f"file {settings.config_path}" if name == "api_key" else "config file"
    reason = settings.reasons.get(name)
    return f"{source} ({reason})" if reason else source


def display_value(settings: Settings, name: str) -> str:
    if name == "api_key":
        return settings.masked_key
    if name == "model" and settings.model is None:
        return f"(first model listed by {settings.base_url}/models)"
    value = getattr(settings, name)
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def show_config(settings: Settings, out: Output) -> int:
    where = "" if settings.config_exists else " (not found; `config set` creates it)"
    rows = [("config", f"{settings.config_path}{where}", describe_source(settings, "config"))]
    rows += [
        (name, display_value(settings, name), describe_source(settings, name)) for name in SHOWN
    ]
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
    try:
        from assistant_core.config import check_provider

        check_provider(settings)
    except ConfigError as exc:
        out.note(f"warning: {one_line(exc, None)}")
    return 0
