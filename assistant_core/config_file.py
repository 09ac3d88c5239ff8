"""The config file (TOML): read it safely, and edit it keeping the user's layout.

Reading refuses anything but a regular file (after following symlinks: a FIFO, a device or
a directory would hang or flood the app) and anything over 1 MiB; every key is checked
against the declaration in ``settings_spec``. Writing goes through ``tomlkit``, which keeps
comments, order and formatting, and can remove a key (``config unset``).

Layout::

    provider = "compatible"          # top-level: the settings of settings_spec
    base_url = "http://localhost:11434/v1"

    [providers.openai]               # what belongs to one provider: its model
    model = "gpt-4o-mini"

    [providers.compatible]
    model = "llama3.1"

    [context_windows]                # model = tokens
    "llama3.1" = 131072

A top-level ``model`` (written before models belonged to a provider) is read as the model
of the provider it was saved with — the file's ``provider``, else ``compatible`` when the
file sets a ``base_url``, else ``openai`` — and moved under ``[providers.NAME]`` by the
next edit.
"""

from __future__ import annotations

import os
import shlex
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .db_url import DatabaseUrl
from .errors import ConfigError
from .settings_spec import (
    BY_NAME,
    CONTEXT_WINDOWS_TABLE,
    FILE_KEYS,
    MODEL_PROVIDERS,
    PROVIDER_KEYS,
    PROVIDERS_TABLE,
    SETTABLE_KEYS,
    check_context_window,
    known_keys,
)

if TYPE_CHECKING:
    from tomlkit import TOMLDocument
    from tomlkit.container import Container
    from tomlkit.items import Table

MAX_CONFIG_BYTES = 1 << 20  # a config file is a few lines; more is a mistake (or /dev/zero)
LEGACY_MODEL_KEY = "model"


@dataclass
class ConfigFile:
    """What a config file holds, checked."""

    path: Path
    exists: bool = False
    #: Top-level settings (name → checked value); a top-level ``model`` is not here.
    values: dict[str, Any] = field(default_factory=dict)
    #: ``[providers.NAME]`` tables: provider → setting name → checked value.
    provider_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    context_windows: dict[str, int] = field(default_factory=dict)
    #: A top-level ``model`` and the provider it is read for (see the module docstring).
    legacy_model: str | None = None
    legacy_model_provider: str | None = None
    mode: int = 0o600

    def provider_value(self, provider: str, name: str) -> Any:
        """``[providers.PROVIDER] name``, or the top-level ``model`` read for it."""
        value = self.provider_values.get(provider, {}).get(name)
        if value is None and name == LEGACY_MODEL_KEY and provider == self.legacy_model_provider:
            return self.legacy_model
        return value

    def is_legacy_model(self, provider: str) -> bool:
        return (
            self.legacy_model is not None
            and provider == self.legacy_model_provider
            and "model" not in self.provider_values.get(provider, {})
        )

    def permission_warning(self) -> str | None:
        """The file holds an API key that others may read: the exact command to fix it."""
        if "api_key" not in self.values or not self.mode & 0o077:
            return None
        return (
            f"{self.path} holds an API key and other users can read it (mode "
            f"{stat.S_IMODE(self.mode):o}); run: chmod 600 {shlex.quote(str(self.path))}"
        )


# -- reading -------------------------------------------------------------------------------
def read_config_file(path: Path) -> ConfigFile:
    """The file's settings, checked; an empty ``ConfigFile`` when it does not exist.
    Raises ConfigError (one line naming the file) for anything else that is wrong."""
    raw = _read_text(path)
    if raw is None:
        return ConfigFile(path)
    text, mode = raw
    config = parse_config_text(path, text)
    config.mode = mode
    return config


def _read_text(path: Path) -> tuple[str, int] | None:
    """The file's text and mode, or None when there is no file. O_NONBLOCK: opening a FIFO
    must not wait for a writer (the check that refuses it comes right after)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"config file {path} is {paths.file_kind(info.st_mode)}, not a regular file; "
                "pass --config FILE (a TOML file)"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(fd, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES // (1 << 20)} MiB; "
            "a config file is a few lines of TOML — pass --config FILE"
        )
    try:
        return b"".join(chunks).decode("utf-8"), info.st_mode
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; fix or delete the file") from None


def parse_config_text(path: Path, text: str) -> ConfigFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}; fix or delete the file") from None
    where = f"in {path}"
    config = ConfigFile(path, exists=True)
    for key, value in data.items():
        if key == CONTEXT_WINDOWS_TABLE:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: [{CONTEXT_WINDOWS_TABLE}] must be a table of model = tokens"
                )
            for model, tokens in value.items():
                config.context_windows[model] = check_context_window(model, tokens, where)
        elif key == PROVIDERS_TABLE:
            config.provider_values = _provider_tables(path, value)
        elif key == LEGACY_MODEL_KEY:
            config.legacy_model = BY_NAME["model"].check(value, where)
        elif key in FILE_KEYS and not FILE_KEYS[key].per_provider:
            spec = FILE_KEYS[key]
            config.values[spec.name] = spec.check(value, where)
        else:
            raise ConfigError(unknown_key_message(key, where=where))
    if config.legacy_model is not None:
        config.legacy_model_provider = legacy_model_provider(config.values)
    return config


def _provider_tables(path: Path, value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(
            f"{path}: [{PROVIDERS_TABLE}] must hold tables such as [providers.openai]"
        )
    tables: dict[str, dict[str, Any]] = {}
    for provider, table in value.items():
        for key, raw in table.items():
            spec = PROVIDER_KEYS.get(f"{PROVIDERS_TABLE}.{provider}.{key}")
            if spec is None:
                raise ConfigError(
                    unknown_key_message(f"{PROVIDERS_TABLE}.{provider}.{key}", where=f"in {path}")
                )
            tables.setdefault(provider, {})[spec.name] = spec.check(raw, f"in {path}")
    return tables


def legacy_model_provider(values: Mapping[str, Any]) -> str:
    """The provider a top-level ``model`` was saved for, from the file's other settings."""
    provider = values.get("provider")
    if provider in MODEL_PROVIDERS:
        return str(provider)
    return "compatible" if values.get("base_url") else "openai"


def unknown_key_message(key: str, *, where: str = "") -> str:
    place = f" {where}" if where else ""
    return f"unknown setting {key!r}{place}; known settings: {known_keys()}"


# -- keys ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileKey:
    """Where a setting lives in the file: ``("approval",)``, ``("providers", "openai",
    "model")`` or ``("context_windows", "llama3.1")``."""

    parts: tuple[str, ...]

    @classmethod
    def named(cls, name: str) -> FileKey:
        """From a canonical name: ``approval``, ``providers.openai.model``,
        ``context_windows.llama3.1:8b`` (a model name may hold dots)."""
        head, _, rest = name.partition(".")
        if not rest:
            return cls((head,))
        if head == PROVIDERS_TABLE:
            return cls((head, *rest.rsplit(".", 1)))
        return cls((head, rest))

    @property
    def name(self) -> str:
        return ".".join(self.parts)

    def parse(self, raw: str) -> Any:
        """A value given as text (``config set``), checked and typed for the file."""
        if self.parts[0] == CONTEXT_WINDOWS_TABLE:
            model = self.parts[1]
            try:
                tokens = int(raw.replace("_", "").replace(",", ""))
            except ValueError:
                raise ConfigError(
                    f"bad context window {raw!r} for model {model!r}; expected a number of "
                    "tokens, e.g. 128000"
                ) from None
            return check_context_window(model, tokens, "config set")
        spec = PROVIDER_KEYS.get(self.name) or FILE_KEYS[self.parts[0]]
        value = spec.check(raw, "config set")
        if isinstance(value, DatabaseUrl):
            return value.url  # as given (a password in it is the user's choice: masked when shown)
        return str(value) if isinstance(value, Path) else value


def file_key(key: str, *, provider: str, for_unset: bool = False) -> FileKey:
    """The place ``key`` (as a user types it) names, for ``provider`` (the provider in use:
    ``model`` is that provider's). Raises ConfigError for an unknown or unsettable key."""
    head, _, rest = key.strip().partition(".")
    head = head.replace("-", "_")
    if head == CONTEXT_WINDOWS_TABLE and rest:
        return FileKey((CONTEXT_WINDOWS_TABLE, rest))
    if head == PROVIDERS_TABLE and rest:
        name, _, setting = rest.rpartition(".")
        dotted = f"{PROVIDERS_TABLE}.{name}.{setting.replace('-', '_')}"
        if dotted in PROVIDER_KEYS:
            return FileKey.named(dotted)
        raise ConfigError(unknown_key_message(key))
    if head == LEGACY_MODEL_KEY and not rest:
        if provider not in MODEL_PROVIDERS:
            choices = " or ".join(f"`{k}`" for k in PROVIDER_KEYS)
            raise ConfigError(
                f"the provider in use ({provider}) has no model to choose; name the provider's "
                f"model: {choices}"
            )
        return FileKey((PROVIDERS_TABLE, provider, LEGACY_MODEL_KEY))
    if not rest and head in FILE_KEYS:
        spec = FILE_KEYS[head]
        if for_unset or spec.saveable:
            return FileKey((head,))
        if spec.secret:
            raise ConfigError(
                f"the {spec.name} is not saved by `config set`; export {spec.env} instead "
                "(or add it to the config file yourself)"
            )
    raise ConfigError(unknown_key_message(key))


# -- writing -------------------------------------------------------------------------------
@dataclass
class Edit:
    """What an edit did, for the message the user sees."""

    changed: list[str] = field(default_factory=list)
    #: e.g. "moved the top-level model to [providers.openai]"
    notes: list[str] = field(default_factory=list)


def set_value(path: Path, key: str, raw: str, *, provider: str) -> tuple[FileKey, Any, Edit]:
    """``config set KEY VALUE``: the key's place, its checked value and what changed."""
    place = file_key(key, provider=provider)
    value = place.parse(raw)
    return place, value, edit_config(path, {place: value})


def unset_value(path: Path, key: str, *, provider: str) -> tuple[FileKey, Edit]:
    """``config unset KEY``: remove the key (``model``: the provider's, after moving a
    top-level one there)."""
    place = file_key(key, provider=provider, for_unset=True)
    changes: dict[FileKey, Any] = {place: None}
    return place, edit_config(path, changes)


def save_settings(path: Path, values: Mapping[str, Any]) -> Edit:
    """Save settings by file-key name (``"approval"``, ``"providers.openai.model"``); None
    removes a key. Used by the app (approval mode, provider switch)."""
    return edit_config(path, {FileKey.named(name): value for name, value in values.items()})


def edit_config(path: Path, changes: Mapping[FileKey, Any]) -> Edit:
    """Apply ``changes`` (None: remove) to the file, keeping everything else as written.
    The file is created (0600) when missing — with its directory only when it is the
    default config file. A broken file is refused, not overwritten."""
    import tomlkit

    raw = _read_text(path)
    text = raw[0] if raw is not None else ""
    before = parse_config_text(path, text) if raw is not None else ConfigFile(path)
    doc = tomlkit.parse(text)
    edit = Edit()
    _migrate_legacy_model(doc, before, edit)
    for place, value in changes.items():
        if value is None:
            if _remove(doc, place.parts):
                edit.changed.append(place.name)
        elif _lookup(doc, place.parts) != value:
            _put(doc, place.parts, value)
            edit.changed.append(place.name)
    if not edit.changed and not edit.notes:
        return edit
    # A removed table leaves the blank line that preceded it: end the file with one newline.
    new_text = tomlkit.dumps(doc).rstrip("\n") + "\n" if doc else ""
    _check_result(path, new_text, changes)
    create_parent = path == paths.default_config_path()
    if not create_parent and (problem := paths.missing_parent(path)):
        raise ConfigError(f"cannot write config file {path}: {problem}; pass --config FILE")
    try:
        paths.write_private_text(path, new_text, create_parent=create_parent)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from None
    return edit


def _migrate_legacy_model(doc: TOMLDocument, before: ConfigFile, edit: Edit) -> None:
    provider = before.legacy_model_provider
    if before.legacy_model is None or provider is None:
        return
    _remove(doc, (LEGACY_MODEL_KEY,))
    if _lookup(doc, (PROVIDERS_TABLE, provider, LEGACY_MODEL_KEY)) is None:
        _put(doc, (PROVIDERS_TABLE, provider, LEGACY_MODEL_KEY), before.legacy_model)
        edit.notes.append(
            f"moved the top-level model = {before.legacy_model!r} to [providers.{provider}]"
        )
    else:
        edit.notes.append(
            f"removed the top-level model = {before.legacy_model!r} "
            f"([providers.{provider}] has its own)"
        )


def _check_result(path: Path, text: str, changes: Mapping[FileKey, Any]) -> None:
    """The edited text must parse, pass the checks and hold exactly what was asked."""
    try:
        data = tomllib.loads(text)
        parse_config_text(path, text)
    except (tomllib.TOMLDecodeError, ConfigError):
        data = None
    for place, value in changes.items():
        got = _lookup_plain(data, place.parts) if data is not None else object()
        if data is None or got != value or (value is not None and type(got) is not type(value)):
            raise ConfigError(f"could not update {place.name} in {path}; edit the file by hand")


def _lookup_plain(data: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _lookup(doc: Container | Table, parts: tuple[str, ...]) -> Any:
    node: Any = doc
    for part in parts:
        if not hasattr(node, "get") or part not in node:
            return None
        node = node[part]
    return node.unwrap() if hasattr(node, "unwrap") else node


def _put(doc: TOMLDocument, parts: tuple[str, ...], value: Any) -> None:
    """Set the key at ``parts``, creating the tables it needs. A new table goes at the end
    of the file and a new key after the last key of its table: tomlkit counts the comment
    that introduces a table as part of the table before it, so appending there would put
    the key, or the new table, between a comment and what it describes."""
    import tomlkit
    from tomlkit.items import InlineTable

    node: Any = doc
    for depth, part in enumerate(parts[:-1]):
        if part in node:
            node = node[part]
            continue
        new: Any = value
        for name in reversed(parts[depth + 1 :]):
            table = tomlkit.inline_table() if isinstance(node, InlineTable) else tomlkit.table()
            table[name] = new
            new = table
        if isinstance(node, InlineTable) or node is doc:
            node.append(part, new)
            return
        # e.g. [providers.openai] while [providers.compatible] exists: [providers] only
        # groups its tables, so the new one is added at the end (an out-of-order table).
        for name in reversed(parts[:depth]):
            wrapper = tomlkit.table(is_super_table=True)
            wrapper.append(part, new)
            new, part = wrapper, name
        doc.append(part, new)
        return
    _put_key(node, parts[-1], value)


def _put_key(owner: Any, key: str, value: Any) -> None:
    """Replace ``key`` in ``owner`` (the document or a table) in place, or add it after the
    owner's last key — or, when it has none, above the comment that introduces its first
    table."""
    from tomlkit.container import Container
    from tomlkit.items import AoT, Comment, InlineTable, Table, Whitespace

    if key in owner or isinstance(owner, InlineTable):
        owner[key] = value
        return
    container: Container = owner if isinstance(owner, Container) else owner.value
    body = container.body
    last_key = None
    first_table = len(body)
    for index, (item_key, item) in enumerate(body):
        if isinstance(item, (Table, AoT)):
            first_table = index
            break
        if item_key is not None:
            last_key = item_key
    if last_key is not None:
        container._insert_after(last_key, key, value)
    elif first_table < len(body):
        at = first_table
        while at > 0 and isinstance(body[at - 1][1], Comment):
            at -= 1
        if at > 0 and isinstance(body[at - 1][1], Whitespace):
            at -= 1  # keep the blank line between the new key and that comment
        container._insert_at(at, key, value)
    else:
        owner[key] = value
        return
    if owner is not container:  # a Table mirrors its container's keys as a dict
        dict.__setitem__(owner, key, container[key])


def _remove(doc: TOMLDocument, parts: tuple[str, ...]) -> bool:
    """Remove a key; a [providers.NAME] or [context_windows] table left empty (and without
    comments) goes too."""
    chain: list[Any] = [doc]
    for part in parts[:-1]:
        node = chain[-1]
        if not hasattr(node, "get") or part not in node:
            return False
        chain.append(node[part])
    if not hasattr(chain[-1], "get") or parts[-1] not in chain[-1]:
        return False
    del chain[-1][parts[-1]]
    for depth in range(len(parts) - 1, 0, -1):
        table = chain[depth]
        if len(table) or "#" in table.as_string():
            break
        del chain[depth - 1][parts[depth - 1]]
    return True


def setting_names() -> tuple[str, ...]:
    """What ``config set`` accepts, for help texts."""
    return (*SETTABLE_KEYS, *PROVIDER_KEYS, f"{CONTEXT_WINDOWS_TABLE}.MODEL")
