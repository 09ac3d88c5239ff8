"""Settings: one precedence for the TUI and the CLI, with where each value came from.

Precedence: command-line flags > environment > config file (TOML) > defaults, then
auto-detection fills what nobody set: an API key means OpenAI, a base URL means an
OpenAI-compatible server, neither means demo mode (offline analyst on demo data). What the
settings are — names, types, flags, environment variables, file keys, defaults, checks —
is declared once, in ``settings_spec``; this module applies the precedence.

A model belongs to a provider: ``--model`` / ``INVESTOR_ASSISTANT_MODEL`` apply to the
provider in use (and are ignored, with a notice, by the offline analyst, which has none);
the config file keeps one model per provider (``[providers.openai] model = …``).

``load_settings`` does no network I/O. The one setting that may need it — the model of a
compatible server when none is given — is left ``None`` here and resolved by
``resolve_model`` (which lists the server's models) when a session is built.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from . import limits
from .config_file import ConfigFile, read_config_file
from .db_url import DatabaseUrl
from .errors import ConfigError
from .objects import ApprovalPolicy
from .redact import api_key_problem, masked_form, register_secret
from .settings_spec import (
    ALL_ENV_NAMES,
    APPROVALS,
    BY_NAME,
    CONTEXT_WINDOWS_TABLE,
    DATA_PROVIDERS,
    DEFAULT_DEMO_PACE,
    DEFAULT_LEASE_S,
    DEFAULT_OPENAI_MODEL,
    ENV_NAMES,
    FLAG_NAMES,
    MODEL_PROVIDERS,
    OFFLINE_MODEL,
    PROVIDERS,
    SETTINGS,
    WEB_ENV,
    Setting,
    default_data,
    default_model,
)

__all__ = [
    "ALL_ENV_NAMES",
    "APPROVALS",
    "CONTEXT_WINDOWS_TABLE",
    "DATA_PROVIDERS",
    "DEFAULT_DEMO_PACE",
    "DEFAULT_OPENAI_MODEL",
    "DEMO_PACE_ENV",
    "ENV_NAMES",
    "FLAG_NAMES",
    "OFFLINE_MODEL",
    "PROVIDERS",
    "WEB_ENV",
    "Settings",
    "check_provider",
    "load_settings",
    "locate_config",
    "mask_secret",
    "provider_label",
    "resolve_model",
    "unreachable_message",
    "with_provider",
]

#: How fast the offline analyst streams: not a user setting (tests slow it down to Ctrl+C it).
DEMO_PACE_ENV = ENV_NAMES["demo_pace"]

#: flag | env | file | default | auto, or app (chosen in the app's model dialog).
Source = Literal["flag", "env", "file", "default", "auto", "app"]


@dataclass
class Settings:
    """Every setting's value for this process, with where each came from (``sources``) and,
    for auto-detected ones, why (``reasons``). Built by ``load_settings``; the session and
    both user interfaces read it, and ``with_provider`` derives the settings of a switch.

    Values only: it opens nothing and holds no connection. What each field means (its
    flag, environment variable, config-file key, default and check) is declared once in
    ``settings_spec``."""

    provider: str
    model: str | None  # None: a compatible server's model, to be listed by resolve_model
    base_url: str | None
    approval: ApprovalPolicy
    data: str
    db: Path | DatabaseUrl  # a file (SQLite) or a PostgreSQL URL
    config_path: Path
    context_windows: dict[str, int] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    debug: bool = False
    demo_pace: float = DEFAULT_DEMO_PACE
    lease: float = DEFAULT_LEASE_S
    # Limits that keep a run finite (defaults and meaning: assistant_core/limits.py; None:
    # no limit of ours).
    max_turns: int = limits.MAX_TURNS
    max_tool_calls: int = limits.MAX_TOOL_CALLS_PER_STEP
    max_turn_tokens: int | None = limits.MAX_TURN_TOKENS
    max_run_seconds: float | None = limits.MAX_RUN_SECONDS
    max_retries: int = limits.MAX_RETRIES
    give_up_after: float | None = limits.GIVE_UP_AFTER_S
    connect_timeout: float = limits.CONNECT_TIMEOUT_S
    first_byte_timeout: float = limits.FIRST_BYTE_TIMEOUT_S
    read_timeout: float = limits.READ_TIMEOUT_S
    replica: str | None = None
    #: setting name → flag | env | file | default | auto | app
    sources: dict[str, str] = field(default_factory=dict)
    #: setting name → a few words on why auto-detection chose it (or which file table)
    reasons: dict[str, str] = field(default_factory=dict)
    config_exists: bool = False
    #: The model saved for each provider in the config file (``[providers.NAME] model``).
    provider_models: dict[str, str] = field(default_factory=dict)
    #: One-line things to tell the user once: a setting ignored, a config file others can
    #: read. The CLI prints them on stderr, the app shows them as notifications.
    notices: list[str] = field(default_factory=list)

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
    return masked_form(value)


# -- loading -------------------------------------------------------------------------------
def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting. ``flags`` holds the command-line values (None = not given);
    ``env`` defaults to ``os.environ``. Raises ConfigError for a bad value or file."""
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if env is None else env
    # The config file's location comes first: it is itself a setting (flag > env > default).
    config_path, config_source = locate_config(given, environ)
    file = read_config_file(config_path)
    values: dict[str, Any] = {"config": config_path}
    sources: dict[str, str] = {"config": config_source}
    reasons: dict[str, str] = {}
    notices: list[str] = []

    # Explicit values first, so that a rule below may use any of them…
    for spec in SETTINGS:
        if spec.name != "config" and not spec.per_provider:
            found = _explicit(spec, given, environ, file)
            if found is not None:
                values[spec.name], sources[spec.name] = found
    # …then, in declaration order, per-provider values and the defaults.
    for spec in SETTINGS:
        if spec.name in values:
            continue
        found = None
        if spec.per_provider:
            provider = values["provider"]
            found = _explicit(spec, given, environ, file, provider=provider)
            if found is not None and provider not in MODEL_PROVIDERS:
                value, source = found
                origin = f"{spec.flag} {value}" if source == "flag" else f"{spec.env}={value}"
                notices.append(
                    f"{origin} is ignored: the {provider} provider has no {spec.name} "
                    f"(it applies to {' and '.join(MODEL_PROVIDERS)})"
                )
                found = None
            elif found is not None and found[1] == "file":
                reasons[spec.name] = _file_reason(file, provider, spec)
        if found is not None:
            values[spec.name], sources[spec.name] = found
            continue
        default = spec.default(values)
        values[spec.name], sources[spec.name] = default.value, default.source
        if default.reason:
            reasons[spec.name] = default.reason

    for model in file.context_windows:
        sources[f"{CONTEXT_WINDOWS_TABLE}.{model}"] = "file"
    register_secret(values["api_key"])  # masked in every error from now on
    if isinstance(values["db"], DatabaseUrl):
        register_secret(values["db"].password)
    warning = file.permission_warning()
    if warning:
        notices.append(f"warning: {warning}")

    return Settings(
        **{spec.attribute: values[spec.name] for spec in SETTINGS},
        context_windows=dict(file.context_windows),
        sources=sources,
        reasons=reasons,
        config_exists=file.exists,
        provider_models={
            p: m for p in MODEL_PROVIDERS if (m := file.provider_value(p, "model")) is not None
        },
        notices=notices,
    )


def _explicit(
    spec: Setting,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    file: ConfigFile,
    *,
    provider: str | None = None,
) -> tuple[Any, str] | None:
    """The value someone set, checked, and where: flag > environment > config file."""
    if spec.name in flags:
        return spec.check(flags[spec.name], f"flag {spec.flag}"), "flag"
    if spec.env and env.get(spec.env) not in (None, ""):
        return spec.check(env[spec.env], f"environment variable {spec.env}"), "env"
    if spec.per_provider:
        value = file.provider_value(provider, spec.name) if provider else None
        return None if value is None else (value, "file")
    if spec.name in file.values:
        return file.values[spec.name], "file"
    return None


def _file_reason(file: ConfigFile, provider: str, spec: Setting) -> str:
    if file.is_legacy_model(provider):
        return (
            f"top-level {spec.file_key!r}, read as the {provider} model; the next "
            f"`config set` moves it to [providers.{provider}]"
        )
    return f"[providers.{provider}]"


def locate_config(
    flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path, Source]:
    """Where the config file is, and which setting said so."""
    env = os.environ if env is None else env
    spec = BY_NAME["config"]
    if flags and flags.get("config"):
        return spec.check(flags["config"], f"flag {spec.flag}"), "flag"
    if spec.env and env.get(spec.env):
        return spec.check(env[spec.env], f"environment variable {spec.env}"), "env"
    return spec.default({}).value, "default"


# -- providers -----------------------------------------------------------------------------
def provider_label(settings: Settings, *, badge: bool = False) -> str:
    """Who answers, in a few words: "OpenAI · gpt-5-mini", "offline analyst (DEMO)"… (A
    compatible server's model may still be unknown: it is listed when the session opens.)
    ``badge``: demo mode is shown beside it as a badge, so the words leave it out."""
    if settings.provider == "offline":
        return "offline analyst" if badge or settings.data != "demo" else "offline analyst (DEMO)"
    if settings.provider == "openai":
        label = f"OpenAI · {settings.model}"
        if settings.base_url:
            label += f" @ {settings.base_url}"
    else:
        label = f"compatible · {settings.model or '…'} @ {settings.base_url}"
    if settings.data == "demo" and not badge:
        label += " · DEMO data"
    return label


def check_provider(settings: Settings) -> None:
    """Refuse a provider set-up that cannot work, with the fix in the message — before
    anything is sent: a key that cannot go into an HTTP header would otherwise end up,
    quoted, in an error message."""
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
    if settings.provider in MODEL_PROVIDERS and settings.api_key:
        problem = api_key_problem(settings.api_key)
        if problem is not None:
            raise ConfigError(
                f"the API key ({key_origin(settings)}) {problem}, so it cannot be sent in an "
                "HTTP header; copy the key again without spaces or line breaks"
            )


def key_origin(settings: Settings) -> str:
    spec = BY_NAME["api_key"]
    if settings.source("api_key") == "file":
        return f"in {settings.config_path}"
    return f"from {spec.env}"


def with_provider(
    current: Settings,
    provider: str,
    *,
    base_url: str | None = None,
    model: str | None = None,
) -> Settings:
    """The settings after switching to ``provider`` (in the app), by the start-up rules: a
    model given here, else the one saved for that provider, else its default; data follows
    the provider unless it was chosen; the same checks. No network I/O: a compatible
    server's model may still be None (``resolve_model``)."""
    where = "the model dialog"
    provider = BY_NAME["provider"].check(provider, where)
    if provider not in MODEL_PROVIDERS:
        base_url = model = None  # the offline analyst has neither server nor model
    settings = replace(
        current,
        provider=provider,
        base_url=BY_NAME["base_url"].check(base_url, where) if base_url else None,
        sources=dict(current.sources),
        reasons=dict(current.reasons),
        provider_models=dict(current.provider_models),
        notices=[],
    )
    settings.sources.update(provider="app", base_url="app")
    settings.reasons.pop("model", None)
    if model:
        settings.model, settings.sources["model"] = BY_NAME["model"].check(model, where), "app"
    elif provider in settings.provider_models:
        settings.model, settings.sources["model"] = settings.provider_models[provider], "file"
        settings.reasons["model"] = f"[providers.{provider}]"
    else:
        chosen = default_model(provider)
        settings.model, settings.sources["model"] = chosen.value, chosen.source
        if chosen.reason:
            settings.reasons["model"] = chosen.reason
    if current.source("data") in ("auto", "default"):
        chosen = default_data(provider)
        settings.data, settings.sources["data"] = chosen.value, chosen.source
    check_provider(settings)
    return settings


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
