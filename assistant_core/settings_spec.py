"""Every setting, declared once.

Each ``Setting`` says what a setting is called, its type and how a raw value (a flag, an
environment variable, a config-file value) is checked, its default (or the auto-detection
rule that stands in for one), its environment variable, command-line flag and config-file
key, its help text, whether ``config set`` may save it and whether it is a secret. The
command-line flags, the environment reading, the config file's keys, ``config show`` and
validation are all derived from ``SETTINGS``; nothing else lists them.

This module is imported before the app's first frame: it stays small and imports nothing
heavy (a pydantic model class costs ~250 ms to import and build here; this table, ~1 ms).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import limits, paths
from .errors import ConfigError

PROVIDERS = ("openai", "compatible", "offline")
#: Providers that run a model the user picks (the offline analyst has none).
MODEL_PROVIDERS = ("openai", "compatible")
APPROVALS = ("auto", "ask")
DATA_PROVIDERS = ("yahoo", "demo")
DEFAULT_OPENAI_MODEL = "gpt-5-mini"
OFFLINE_MODEL = "offline-analyst"
DEFAULT_DEMO_PACE = 0.01  # seconds between streamed pieces: lively, but readable live
#: Seconds a process's hold on the runs it executes lasts unless renewed (PostgreSQL): how
#: long runs of a replica that died wait before another one closes them.
DEFAULT_LEASE_S = 15.0
MIN_LEASE_S, MAX_LEASE_S = 1.0, 3600.0
POSTGRES_EXAMPLE = "postgresql://USER@HOST:5432/DBNAME"

#: The words a yes/no setting accepts (flags, environment, ``config set``).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})

#: Config-file tables that are not single settings: ``[context_windows]`` (model = tokens)
#: and ``[providers.NAME]`` (what belongs to one provider, e.g. its model).
CONTEXT_WINDOWS_TABLE = "context_windows"
PROVIDERS_TABLE = "providers"


def is_true(text: str) -> bool:
    return text.strip().lower() in TRUE_WORDS


@dataclass(frozen=True)
class Default:
    """A value nobody set: where it came from (``default`` or ``auto``) and, for an
    auto-detected one, a few words on why."""

    value: Any
    source: str = "default"
    reason: str = ""


#: ``(raw, where) -> value``: checks one raw value; ``where`` names its origin in errors.
Parse = Callable[["Setting", Any, str], Any]
#: The default from the values resolved so far (settings declared earlier, explicit ones).
DefaultRule = Callable[[Mapping[str, Any]], Default]


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    help: str
    parse: Parse
    default: DefaultRule
    env: str | None = None
    flag: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    #: The key in the config file (None: not read from the file). With ``per_provider``
    #: the key lives in the provider's table: ``[providers.openai] model = …``.
    file_key: str | None = None
    per_provider: bool = False
    #: ``config set`` may write it (the API key never: it belongs in the environment).
    saveable: bool = False
    #: Never shown or echoed (errors say "bad value for api_key", not the value).
    secret: bool = False
    #: A row in ``config show`` (internal knobs for tests are not).
    shown: bool = True
    #: The attribute on ``Settings`` when it differs from ``name``.
    attr: str | None = None
    #: A limit where 0 means "no limit" (``Settings`` then holds None).
    zero_means_none: bool = False
    example: str = ""

    @property
    def is_switch(self) -> bool:
        """A flag without a value (``--debug``)."""
        return self.type is bool

    @property
    def attribute(self) -> str:
        return self.attr or self.name

    def check(self, raw: Any, where: str) -> Any:
        return self.parse(self, raw, where)

    def bad_value(self, raw: Any, where: str, expected: str) -> ConfigError:
        shown = "" if self.secret else f" {raw!r}"
        return ConfigError(f"bad value{shown} for {self.name} ({where}); {expected}")


# -- parsers -------------------------------------------------------------------------------
def parse_text(spec: Setting, raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise spec.bad_value(raw, where, "expected a non-empty string")
    return raw.strip()


def parse_choice(spec: Setting, raw: Any, where: str) -> str:
    value = raw.strip().lower() if isinstance(raw, str) else raw
    if value not in spec.choices:
        raise spec.bad_value(raw, where, f"use one of: {', '.join(spec.choices)}")
    return str(value)


def parse_bool(spec: Setting, raw: Any, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise spec.bad_value(raw, where, "use true or false")


def parse_url(spec: Setting, raw: Any, where: str) -> str:
    value = parse_text(spec, raw, where)
    if not re.match(r"^https?://[^\s/]+", value):
        raise spec.bad_value(raw, where, f"expected a URL such as {spec.example}")
    return value.rstrip("/")


def parse_path(spec: Setting, raw: Any, where: str) -> Path:
    return Path(parse_text(spec, raw, where)).expanduser()


def parse_database(spec: Setting, raw: Any, where: str) -> Any:
    """A file path (SQLite), or a ``postgresql://`` URL (a ``DatabaseUrl``, shown masked)."""
    from .db_url import DatabaseUrl
    from .db_url import parse_database as parse

    value = parse(parse_text(spec, raw, where))
    if isinstance(value, DatabaseUrl):
        from urllib.parse import urlsplit

        try:
            urlsplit(value.url).port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise spec.bad_value(
                value, where, f"a PostgreSQL URL such as {POSTGRES_EXAMPLE} ({exc})"
            ) from None
    return value


def parse_lease(spec: Setting, raw: Any, where: str) -> float:
    seconds = parse_seconds(spec, raw, where)
    if not MIN_LEASE_S <= seconds <= MAX_LEASE_S:
        raise spec.bad_value(raw, where, f"expected {MIN_LEASE_S:g} to {MAX_LEASE_S:g} seconds")
    return seconds


def _whole_number(spec: Setting, raw: Any, where: str, lowest: int, hint: str = "") -> int:
    try:
        number = None if isinstance(raw, bool) else int(str(raw).strip())
    except ValueError:
        number = None
    if number is None or number < lowest:
        raise spec.bad_value(raw, where, f"expected a whole number of at least {lowest}{hint}")
    return number


def parse_count(spec: Setting, raw: Any, where: str) -> int | None:
    """A whole number, at least 1; for a limit where 0 means "no limit", 0 gives None."""
    if spec.zero_means_none:
        return _whole_number(spec, raw, where, 0, " (0: no limit)") or None
    return _whole_number(spec, raw, where, 1)


def parse_retries(spec: Setting, raw: Any, where: str) -> int:
    return _whole_number(spec, raw, where, 0)


def parse_timeout(spec: Setting, raw: Any, where: str) -> float | None:
    """Seconds, more than 0; for a limit where 0 means "no limit", 0 gives None."""
    seconds = parse_seconds(spec, raw, where)
    if seconds > 0:
        return seconds
    if spec.zero_means_none:
        return None
    raise spec.bad_value(raw, where, f"expected more than 0 seconds, e.g. {spec.example}")


def parse_seconds(spec: Setting, raw: Any, where: str) -> float:
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = float("nan")
    if seconds != seconds:  # not a number (or NaN itself)
        raise spec.bad_value(raw, where, f"expected a number of seconds, e.g. {spec.example}")
    return max(seconds, 0.0)


# -- defaults and auto-detection --------------------------------------------------------------
def _auto_provider(values: Mapping[str, Any]) -> Default:
    if values.get("base_url"):
        return Default("compatible", "auto", "a base URL is set")
    if values.get("api_key"):
        return Default("openai", "auto", "an OpenAI API key is set")
    return Default("offline", "auto", "no API key or base URL is set")


def default_model(provider: str) -> Default:
    """The model of ``provider`` when none is saved or given for it."""
    if provider == "openai":
        return Default(DEFAULT_OPENAI_MODEL, "default")
    if provider == "offline":
        return Default(OFFLINE_MODEL, "auto", "the offline analyst")
    # A compatible server's model: listed from the server when a session is built.
    return Default(None, "auto", "the first model the server lists")


def default_data(provider: str) -> Default:
    """A real model gets real data; demo data only in demo mode or when asked for."""
    if provider == "offline":
        return Default("demo", "auto", "demo mode")
    return Default("yahoo", "default")


def _constant(value: Any) -> DefaultRule:
    return lambda _values: Default(value)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "config",
        Path,
        "config file (TOML)",
        parse_path,
        lambda _values: Default(paths.default_config_path()),
        env="INVESTOR_ASSISTANT_CONFIG",
        flag="--config",
        metavar="PATH",
        attr="config_path",
        example="~/.config/investor-assistant/config.toml",
    ),
    Setting(
        "provider",
        str,
        "model provider (default: auto-detected)",
        parse_choice,
        _auto_provider,
        env="INVESTOR_ASSISTANT_PROVIDER",
        flag="--provider",
        choices=PROVIDERS,
        file_key="provider",
        saveable=True,
        example="compatible",
    ),
    Setting(
        "model",
        str,
        "model name, for the provider in use",
        parse_text,
        lambda values: default_model(values["provider"]),
        env="INVESTOR_ASSISTANT_MODEL",
        flag="--model",
        metavar="NAME",
        file_key="model",
        per_provider=True,
        saveable=True,
        example="llama3.1",
    ),
    Setting(
        "base_url",
        str,
        "OpenAI-compatible server",
        parse_url,
        _constant(None),
        env="OPENAI_BASE_URL",
        flag="--base-url",
        metavar="URL",
        file_key="base_url",
        saveable=True,
        example="http://localhost:11434/v1",
    ),
    Setting(
        "api_key",
        str,
        "API key (OpenAI, or the compatible server's)",
        parse_text,
        _constant(None),
        env="OPENAI_API_KEY",
        file_key="api_key",
        secret=True,
    ),
    Setting(
        "approval",
        str,
        "run tools automatically, or ask before each call",
        parse_choice,
        _constant("auto"),
        env="INVESTOR_ASSISTANT_APPROVAL",
        flag="--approval",
        choices=APPROVALS,
        file_key="approval",
        saveable=True,
        example="ask",
    ),
    Setting(
        "data",
        str,
        "market data: Yahoo Finance, or synthetic demo data",
        parse_choice,
        lambda values: default_data(values["provider"]),
        env="INVESTOR_ASSISTANT_DATA",
        flag="--data",
        choices=DATA_PROVIDERS,
        file_key="data",
        saveable=True,
        example="demo",
    ),
    Setting(
        "db",
        Path,
        f"thread database: a file (SQLite), or a PostgreSQL URL ({POSTGRES_EXAMPLE})",
        parse_database,
        lambda _values: Default(paths.default_db_path()),
        env="INVESTOR_ASSISTANT_DB",
        flag="--db",
        metavar="PATH|URL",
        file_key="db",
        saveable=True,
        example="~/research/threads.db",
    ),
    Setting(
        "max_turns",
        int,
        "model turns a run may take; then it ends incomplete",
        parse_count,
        _constant(limits.MAX_TURNS),
        env="INVESTOR_ASSISTANT_MAX_TURNS",
        file_key="max_turns",
        saveable=True,
        example="10",
    ),
    Setting(
        "max_tool_calls",
        int,
        "tool calls one model turn may make; past them the stream is stopped with a note "
        "(weak local models can list calls without end)",
        parse_count,
        _constant(limits.MAX_TOOL_CALLS_PER_STEP),
        env="INVESTOR_ASSISTANT_MAX_TOOL_CALLS",
        file_key="max_tool_calls",
        saveable=True,
        example="8",
    ),
    Setting(
        "max_turn_tokens",
        int,
        "completion tokens asked for per model request (0: no limit of ours)",
        parse_count,
        _constant(limits.MAX_TURN_TOKENS),
        env="INVESTOR_ASSISTANT_MAX_TURN_TOKENS",
        file_key="max_turn_tokens",
        saveable=True,
        zero_means_none=True,
        example="4096",
    ),
    Setting(
        "max_run_seconds",
        float,
        "working seconds a run may take, waiting for you not counted (0: no limit)",
        parse_timeout,
        _constant(limits.MAX_RUN_SECONDS),
        env="INVESTOR_ASSISTANT_MAX_RUN_SECONDS",
        file_key="max_run_seconds",
        saveable=True,
        zero_means_none=True,
        example="600",
    ),
    Setting(
        "max_retries",
        int,
        "retries of a failed model request (rate limits, server errors, timeouts)",
        parse_retries,
        _constant(limits.MAX_RETRIES),
        env="INVESTOR_ASSISTANT_MAX_RETRIES",
        file_key="max_retries",
        saveable=True,
        example="3",
    ),
    Setting(
        "give_up_after",
        float,
        "seconds a model turn may wait for its first event, retries included (0: no limit)",
        parse_timeout,
        _constant(limits.GIVE_UP_AFTER_S),
        env="INVESTOR_ASSISTANT_GIVE_UP_AFTER",
        file_key="give_up_after",
        saveable=True,
        zero_means_none=True,
        example="120",
    ),
    Setting(
        "connect_timeout",
        float,
        "seconds to open a connection to the model server",
        parse_timeout,
        _constant(limits.CONNECT_TIMEOUT_S),
        env="INVESTOR_ASSISTANT_CONNECT_TIMEOUT",
        file_key="connect_timeout",
        saveable=True,
        example="5",
    ),
    Setting(
        "first_byte_timeout",
        float,
        "seconds from a request to the model's first event",
        parse_timeout,
        _constant(limits.FIRST_BYTE_TIMEOUT_S),
        env="INVESTOR_ASSISTANT_FIRST_BYTE_TIMEOUT",
        file_key="first_byte_timeout",
        saveable=True,
        example="60",
    ),
    Setting(
        "read_timeout",
        float,
        "seconds of silence allowed between two events of a model's stream",
        parse_timeout,
        _constant(limits.READ_TIMEOUT_S),
        env="INVESTOR_ASSISTANT_READ_TIMEOUT",
        file_key="read_timeout",
        saveable=True,
        example="60",
    ),
    Setting(
        "lease",
        float,
        "seconds a process's hold on the runs it executes lasts unless renewed (PostgreSQL "
        "only): runs of a server replica that died are closed by another this long after",
        parse_lease,
        _constant(DEFAULT_LEASE_S),
        env="INVESTOR_ASSISTANT_LEASE",
        file_key="lease",
        saveable=True,
        example="15",
    ),
    Setting(
        "replica",
        str,
        "this process's name among the processes sharing a PostgreSQL database (default: "
        "host:pid:random); shown in the runs it closes for a replica that died",
        parse_text,
        _constant(None),
        env="INVESTOR_ASSISTANT_REPLICA",
        example="api-1",
    ),
    Setting(
        "debug",
        bool,
        "show tracebacks for errors, and the log on stderr (the log file is always written: "
        "see config show)",
        parse_bool,
        _constant(False),
        env="INVESTOR_ASSISTANT_DEBUG",
        flag="--debug",
        file_key="debug",
        saveable=True,
        example="true",
    ),
    Setting(
        "demo_pace",
        float,
        "seconds between the offline analyst's streamed pieces (tests slow it down)",
        parse_seconds,
        _constant(DEFAULT_DEMO_PACE),
        env="INVESTOR_ASSISTANT_DEMO_PACE",
        shown=False,
        example="0.01",
    ),
)

BY_NAME: dict[str, Setting] = {spec.name: spec for spec in SETTINGS}
ENV_NAMES: dict[str, str] = {spec.name: spec.env for spec in SETTINGS if spec.env}
FLAG_NAMES: dict[str, str] = {spec.name: spec.flag for spec in SETTINGS if spec.flag}
#: Top-level keys a config file may hold (``model`` there is the pre-``[providers]`` form).
FILE_KEYS: dict[str, Setting] = {spec.file_key: spec for spec in SETTINGS if spec.file_key}
#: Keys ``config set`` writes (``model`` goes to the provider in use: see config_file).
SETTABLE_KEYS = tuple(key for key, spec in FILE_KEYS.items() if spec.saveable)
#: Per-provider keys: ``providers.openai.model``, ``providers.compatible.model``.
PROVIDER_KEYS: dict[str, Setting] = {
    f"{PROVIDERS_TABLE}.{provider}.{spec.file_key}": spec
    for spec in SETTINGS
    if spec.per_provider and spec.file_key
    for provider in MODEL_PROVIDERS
}
#: Not a setting: set to "1" by `investor-assistant web` for the app process it starts per
#: browser tab (its stdin/stdout are pipes to the web server, not a terminal).
WEB_ENV = "INVESTOR_ASSISTANT_WEB"
#: Every environment variable the app reads (tests clear them all).
ALL_ENV_NAMES: tuple[str, ...] = (*ENV_NAMES.values(), WEB_ENV)


def known_keys() -> str:
    """The keys a user may name in the config file or ``config set``, for error messages."""
    return ", ".join([*SETTABLE_KEYS, *PROVIDER_KEYS, f"{CONTEXT_WINDOWS_TABLE}.MODEL"])


def check_context_window(model: str, raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(
            f"bad context window {raw!r} for model {model!r} ({where}); expected a positive "
            "number of tokens, e.g. 128000"
        )
    return raw
