"""Settings: one precedence for the TUI and the CLI, with where each value came from.

Precedence: command-line flags > environment > config file (TOML) > defaults, then
auto-detection fills what nobody set: an API key means OpenAI, a base URL means an
OpenAI-compatible server, neither means demo mode (offline analyst on demo data).

``load_settings`` does no network I/O. The one setting that may need it — the model of a
compatible server when none is given — is left ``None`` here and resolved by
``resolve_model`` (which lists the server's models) when a session is built.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import paths
from .errors import ConfigError

PROVIDERS = ("openai", "compatible", "offline")
APPROVALS = ("auto", "ask")
DATA_PROVIDERS = ("yahoo", "demo")
DEFAULT_OPENAI_MODEL = "gpt-5-mini"
OFFLINE_MODEL = "offline-analyst"
DEFAULT_DEMO_PACE = 0.01  # seconds between streamed pieces: lively, but readable live

Source = Literal["flag", "env", "file", "default", "auto"]

ENV_NAMES: dict[str, str] = {
    "api_key": "OPENAI_API_KEY",
    "base_url": "OPENAI_BASE_URL",
    "provider": "INVESTOR_ASSISTANT_PROVIDER",
    "model": "INVESTOR_ASSISTANT_MODEL",
    "approval": "INVESTOR_ASSISTANT_APPROVAL",
    "data": "INVESTOR_ASSISTANT_DATA",
    "db": "INVESTOR_ASSISTANT_DB",
    "config": "INVESTOR_ASSISTANT_CONFIG",
    "debug": "INVESTOR_ASSISTANT_DEBUG",
}
# Not a user setting: how fast the offline analyst streams (tests slow it down to Ctrl+C it).
DEMO_PACE_ENV = "INVESTOR_ASSISTANT_DEMO_PACE"
#: Every environment variable the app reads (tests clear them all).
ALL_ENV_NAMES: tuple[str, ...] = (*ENV_NAMES.values(), DEMO_PACE_ENV)

FLAG_NAMES: dict[str, str] = {
    "provider": "--provider",
    "base_url": "--base-url",
    "model": "--model",
    "approval": "--approval",
    "data": "--data",
    "db": "--db",
    "config": "--config",
    "debug": "--debug",
}

# Keys a config file may hold. ``api_key`` is read when the user put it there, but never
# written by ``save_setting``.
FILE_KEYS = ("provider", "base_url", "model", "approval", "data", "db", "debug", "api_key")
CONTEXT_WINDOWS_TABLE = "context_windows"
SETTABLE_KEYS = tuple(k for k in FILE_KEYS if k != "api_key")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass
class Settings:
    provider: str
    model: str | None  # None: a compatible server's model, to be listed by resolve_model
    base_url: str | None
    approval: str
    data: str
    db: Path
    config_path: Path
    context_windows: dict[str, int] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    debug: bool = False
    demo_pace: float = DEFAULT_DEMO_PACE
    #: setting name → flag | env | file | default | auto
    sources: dict[str, str] = field(default_factory=dict)
    #: setting name → a few words on why auto-detection chose it
    reasons: dict[str, str] = field(default_factory=dict)
    config_exists: bool = False

    @property
    def is_demo(self) -> bool:
        """Nothing here is a real model on real data: label it DEMO everywhere."""
        return self.provider == "offline" or self.data == "demo"

    @property
    def masked_key(self) -> str:
        return mask_secret(self.api_key)

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    def demo_notice(self) -> str | None:
        """The one line that tells the user they are not talking to a real model/data."""
        if self.provider == "offline" and self.data == "demo":
            return (
                "demo mode: offline analyst (rule-based, no LLM) on DEMO data; "
                "set OPENAI_API_KEY or --base-url to use a real model"
            )
        if self.provider == "offline":
            return (
                "offline analyst (rule-based, no LLM); "
                "set OPENAI_API_KEY or --base-url to use a real model"
            )
        if self.data == "demo":
            return "DEMO market data (synthetic numbers), as requested with data=demo"
        return None


def mask_secret(value: str | None) -> str:
    if not value:
        return "(not set)"
    if len(value) <= 10:
        return "****"
    return f"{value[:3]}…{value[-4:]}"


# -- loading -------------------------------------------------------------------------------
def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting. ``flags`` holds the command-line values (None = not given);
    ``env`` defaults to ``os.environ``. Raises ConfigError for a bad value or file."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    sources: dict[str, str] = {}
    reasons: dict[str, str] = {}

    def env_value(name: str) -> str | None:
        value = env.get(ENV_NAMES[name])
        return value if value not in (None, "") else None

    # The config file's location comes first: it is itself a setting (flag > env > default).
    config_path, sources["config"] = locate_config(flags, env)
    file_values, context_windows = read_config_file(config_path)

    def pick(name: str) -> tuple[Any, str] | None:
        if name in flags:
            return _check(name, flags[name], f"flag {FLAG_NAMES.get(name, name)}"), "flag"
        if name in ENV_NAMES and env_value(name) is not None:
            return _check(name, env_value(name), f"environment variable {ENV_NAMES[name]}"), "env"
        if name in file_values:
            return file_values[name], "file"
        return None

    values: dict[str, Any] = {}
    for name in ("provider", "base_url", "model", "approval", "data", "db", "debug", "api_key"):
        found = pick(name)
        if found is not None:
            values[name], sources[name] = found

    # -- auto-detection -----------------------------------------------------------------
    if "provider" not in values:
        if values.get("base_url"):
            values["provider"] = "compatible"
            reasons["provider"] = "a base URL is set"
        elif values.get("api_key"):
            values["provider"] = "openai"
            reasons["provider"] = "an OpenAI API key is set"
        else:
            values["provider"] = "offline"
            reasons["provider"] = "no API key or base URL is set"
        sources["provider"] = "auto"
    provider = values["provider"]

    if "model" not in values:
        if provider == "openai":
            values["model"], sources["model"] = DEFAULT_OPENAI_MODEL, "default"
        elif provider == "offline":
            values["model"], sources["model"] = OFFLINE_MODEL, "auto"
        else:
            values["model"], sources["model"] = None, "auto"
            reasons["model"] = "the first model the server lists"

    if "data" not in values:
        # A real model gets real data; demo data only in demo mode or when asked for.
        if provider == "offline":
            values["data"], sources["data"] = "demo", "auto"
            reasons["data"] = "demo mode"
        else:
            values["data"], sources["data"] = "yahoo", "default"

    for name, default in (
        ("approval", "auto"),
        ("debug", False),
        ("base_url", None),
        ("api_key", None),
    ):
        if name not in values:
            values[name], sources[name] = default, "default"
    if "db" not in values:
        values["db"], sources["db"] = paths.default_db_path(), "default"

    for model in context_windows:
        sources[f"context_windows.{model}"] = "file"

    return Settings(
        provider=provider,
        model=values["model"],
        base_url=values["base_url"],
        approval=values["approval"],
        data=values["data"],
        db=Path(values["db"]).expanduser(),
        config_path=config_path,
        context_windows=context_windows,
        api_key=values["api_key"],
        debug=values["debug"],
        demo_pace=_demo_pace(env),
        sources=sources,
        reasons=reasons,
        config_exists=config_path.is_file(),
    )


def locate_config(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, Source]:
    """Where the config file is, and which setting said so."""
    env = os.environ if env is None else env
    if flags and flags.get("config"):
        return Path(flags["config"]).expanduser(), "flag"
    if env.get(ENV_NAMES["config"]):
        return Path(env[ENV_NAMES["config"]]).expanduser(), "env"
    return paths.default_config_path(), "default"


def _demo_pace(env: Mapping[str, str]) -> float:
    raw = env.get(DEMO_PACE_ENV)
    if not raw:
        return DEFAULT_DEMO_PACE
    try:
        pace = float(raw)
    except ValueError:
        raise ConfigError(
            f"{DEMO_PACE_ENV}={raw!r} is not a number of seconds; e.g. 0.01"
        ) from None
    return max(pace, 0.0)


def check_provider(settings: Settings) -> None:
    """Refuse a provider set-up that cannot work, with the fix in the message."""
    if settings.provider == "openai" and not settings.api_key:
        raise ConfigError(
            "provider 'openai' needs an API key: export OPENAI_API_KEY=sk-... "
            "(or use --provider offline for the demo)"
        )
    if settings.provider == "compatible" and not settings.base_url:
        raise ConfigError(
            "provider 'compatible' needs a base URL: pass --base-url http://localhost:11434/v1 "
            "or set OPENAI_BASE_URL"
        )


def resolve_model(
    settings: Settings,
    list_models: Callable[[str, str | None], list[str]] | None = None,
) -> Settings:
    """Fill a compatible server's model from its ``/v1/models`` list (the first one)."""
    if settings.model is not None:
        return settings
    if list_models is None:
        from .backends.models import list_models as _list_models

        list_models = _list_models
    assert settings.base_url is not None
    try:
        models = list_models(settings.base_url, settings.api_key)
    except ConfigError:
        raise
    except Exception as exc:  # BackendError or a transport error: say which URL and what to do
        from .backends.models import listing_failed

        raise ConfigError(listing_failed(settings.base_url, exc)) from exc
    if not models:
        raise ConfigError(
            f"the server at {settings.base_url} lists no models; pull or load one "
            "(e.g. `ollama pull llama3.1`) or pass --model NAME"
        )
    settings.model = models[0]
    settings.sources["model"] = "auto"
    settings.reasons["model"] = f"first of {len(models)} models listed by the server"
    return settings


def unreachable_message(base_url: str, exc: BaseException | None = None) -> str:
    detail = getattr(exc, "message", None) or (str(exc) if exc else "")
    detail = " ".join(str(detail).split())[:160]
    reason = f" ({detail})" if detail else ""
    return (
        f"cannot reach the model server at {base_url}{reason}; start it (e.g. `ollama serve`, "
        "`vllm serve MODEL`, `llama-server -m FILE`) or point --base-url / OPENAI_BASE_URL at it"
    )


# -- values --------------------------------------------------------------------------------
def _check(name: str, raw: Any, where: str) -> Any:
    """Validate one setting's value; ``where`` names its origin for the error message."""
    if name in ("provider", "approval", "data"):
        choices = {"provider": PROVIDERS, "approval": APPROVALS, "data": DATA_PROVIDERS}[name]
        value = str(raw).strip().lower() if isinstance(raw, str) else raw
        if value not in choices:
            raise ConfigError(
                f"bad value {raw!r} for {name} ({where}); use one of: {', '.join(choices)}"
            )
        return value
    if name == "debug":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"bad value {raw!r} for debug ({where}); use true or false")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(f"bad value {raw!r} for {name} ({where}); expected a non-empty string")
    value = raw.strip()
    if name == "base_url":
        if not re.match(r"^https?://[^\s/]+", value):
            raise ConfigError(
                f"bad value {raw!r} for base_url ({where}); expected a URL such as "
                "http://localhost:11434/v1"
            )
        return value.rstrip("/")
    if name == "db":
        return Path(value).expanduser()
    return value


def _check_window(model: str, raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(
            f"bad context window {raw!r} for model {model!r} ({where}); expected a positive "
            "number of tokens, e.g. 128000"
        )
    return raw


def read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The file's settings (validated) and its context-window table; empty when absent."""
    try:
        raw_text = path.read_bytes()
    except FileNotFoundError:
        return {}, {}
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file; pass --config FILE") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw_text.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; fix or delete the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}; fix or delete the file") from None
    values: dict[str, Any] = {}
    windows: dict[str, int] = {}
    for key, value in data.items():
        if key == CONTEXT_WINDOWS_TABLE:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: [{CONTEXT_WINDOWS_TABLE}] must be a table of model = tokens"
                )
            for model, tokens in value.items():
                windows[model] = _check_window(model, tokens, f"in {path}")
            continue
        if key not in FILE_KEYS:
            raise ConfigError(unknown_key_message(key, where=f"in {path}"))
        values[key] = _check(key, value, f"in {path}")
    return values, windows


def unknown_key_message(key: str, *, where: str = "") -> str:
    known = ", ".join([*SETTABLE_KEYS, f"{CONTEXT_WINDOWS_TABLE}.MODEL"])
    place = f" {where}" if where else ""
    return f"unknown setting {key!r}{place}; known settings: {known}"


# -- writing -------------------------------------------------------------------------------
def save_setting(path: Path, key: str, value: str) -> tuple[str, Any]:
    """Set ``key`` to ``value`` in the TOML file at ``path`` (created 0600), keeping the
    rest of the file — comments included — as it is. Returns the key and parsed value."""
    key = key.strip().replace("-", "_")
    if key == "api_key":
        raise ConfigError(
            "the API key is not saved by `config set`; export OPENAI_API_KEY instead "
            f"(or add api_key to {path} yourself)"
        )
    if key.startswith(f"{CONTEXT_WINDOWS_TABLE}."):
        model = key.split(".", 1)[1]
        if not model:
            raise ConfigError(unknown_key_message(key))
        try:
            tokens = int(value.replace("_", "").replace(",", ""))
        except ValueError:
            raise ConfigError(
                f"bad context window {value!r} for model {model!r}; expected a number of tokens, e.g. 128000"
            ) from None
        parsed: Any = _check_window(model, tokens, "config set")
        table, name = CONTEXT_WINDOWS_TABLE, model
    elif key in SETTABLE_KEYS:
        parsed = _check(key, value, "config set")
        if isinstance(parsed, Path):
            parsed = str(parsed)
        table, name = None, key
    else:
        raise ConfigError(unknown_key_message(key))

    read_config_file(path)  # refuse to edit a file that is already broken
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    new_text = _set_in_toml(text, table, name, parsed)
    try:
        check = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        check = {}
    got = check.get(table, {}).get(name) if table else check.get(name)
    # The line editor met a layout it does not handle (say, a dotted key): write nothing.
    if got != parsed or type(got) is not type(parsed):
        raise ConfigError(f"could not update {key} in {path}; edit the file by hand")
    paths.write_private_text(path, new_text)
    return key, parsed


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _line_key(line: str) -> str | None:
    """The (unquoted) key a ``key = value`` line sets, or None."""
    match = re.match(r'^\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*=', line)
    if not match:
        return None
    raw = match.group(1)
    if raw.startswith('"'):
        try:
            key: str = tomllib.loads(f"k = {raw}")["k"]
            return key
        except tomllib.TOMLDecodeError:
            return None
    return raw.strip("'")


def _set_in_toml(text: str, table: str | None, name: str, value: Any) -> str:
    lines = text.splitlines()
    new_line = f"{toml_key(name)} = {toml_value(value)}"
    current: str | None = None  # the table the scan is in (None: top level)
    start = 0 if table is None else None  # index where our table's body starts
    end = len(lines)
    for i, line in enumerate(lines):
        header = _TABLE_HEADER.match(line)
        if header:
            if current == table and start is not None:
                end = i
                break
            current = header.group(1).strip().strip('"')
            if current == table:
                start = i + 1
            continue
        if current == table and _line_key(line) == name:
            lines[i] = new_line
            return "\n".join(lines) + "\n"
    if table is None:
        # Top-level keys must come before the first table header.
        at = next((i for i, line in enumerate(lines) if _TABLE_HEADER.match(line)), len(lines))
        has_header = at < len(lines)
        while (
            has_header
            and at > 0
            and (not lines[at - 1].strip() or lines[at - 1].lstrip().startswith("#"))
        ):
            at -= 1  # keep a table's leading comment with its table
        lines.insert(at, new_line)
    elif start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{toml_key(table)}]", new_line]
    else:
        insert_at = end
        while insert_at > start and not lines[insert_at - 1].strip():
            insert_at -= 1
        lines.insert(insert_at, new_line)
    return "\n".join(lines) + "\n"
