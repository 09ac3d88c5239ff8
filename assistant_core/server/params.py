"""Request validation: the Assistants API's parameters, with its 400 messages.

Unknown fields are ignored, as the hosted API did; a known field with a bad type or value is
a 400 naming the parameter (``param`` in the envelope, with its path: ``tools[0].type``).
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from .errors import bad_request, unsupported

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_TOOLS = 128
MAX_TEXT = 256_000  # characters of one message (the hosted API's limit)
MAX_INSTRUCTIONS = 256_000
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
UNSUPPORTED_TOOLS = ("code_interpreter", "file_search")

_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "We could not parse the JSON body of your request. The body must be a JSON "
            "object; check that it is valid JSON (e.g. no trailing commas, quoted keys).",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise bad_request(
            f"The request body must be a JSON object, not {_type_name(data)}.", code="invalid_json"
        )
    return data


class Params:
    """Typed access to one object of a request, reporting paths like ``tools[0].type``."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def has(self, name: str) -> bool:
        return name in self.data

    def fail_type(self, name: str, expected: str) -> NoReturn:
        value = self.data.get(name)
        raise bad_request(
            f"Invalid type for '{self.path(name)}': expected {expected}, but got "
            f"{_type_name(value)} instead.",
            self.path(name),
            "invalid_type",
        )

    def required(self, name: str) -> Any:
        if self.data.get(name) is None:
            raise bad_request(
                f"Missing required parameter: '{self.path(name)}'.",
                self.path(name),
                "missing_required_parameter",
            )
        return self.data[name]

    def string(
        self, name: str, *, required: bool = False, max_len: int | None = None
    ) -> str | None:
        value = self.required(name) if required else self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail_type(name, "a string")
        self._check_length(name, "string", "a string", len(value), max_len)
        return value

    def integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail_type(name, "an integer")
        self._range(name, value, minimum, maximum)
        return value

    def number(self, name: str, *, minimum: float, maximum: float) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail_type(name, "a number")
        self._range(name, value, minimum, maximum)
        return float(value)

    def _range(self, name: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise bad_request(
                f"Invalid '{self.path(name)}': {value} is below the minimum value {minimum}.",
                self.path(name),
            )
        if maximum is not None and value > maximum:
            raise bad_request(
                f"Invalid '{self.path(name)}': {value} is above the maximum value {maximum}.",
                self.path(name),
            )

    def boolean(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail_type(name, "a boolean")
        return value

    def choice(self, name: str, values: tuple[str, ...], *, required: bool = False) -> str | None:
        value = self.string(name, required=required)
        if value is not None and value not in values:
            raise bad_request(
                f"Invalid value for '{self.path(name)}': expected one of "
                f"{', '.join(repr(v) for v in values)}, got {value!r}.",
                self.path(name),
            )
        return value

    def obj(self, name: str) -> Params | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail_type(name, "an object")
        return Params(value, self.path(name))

    def required_obj(self, name: str) -> Params:
        found = self.obj(name)
        if found is None:
            self.required(name)
            raise AssertionError  # required() raised
        return found

    def identifier(self, name: str = "name") -> str:
        """A required name as function and schema names are written (``FUNCTION_NAME``)."""
        value = self.string(name, required=True)
        assert value is not None
        if not FUNCTION_NAME.match(value):
            raise bad_request(
                f"Invalid '{self.path(name)}': {value!r} does not match '^[a-zA-Z0-9_-]{{1,64}}$'.",
                self.path(name),
            )
        return value

    def named_schema(self, schema: str, *, description_max: int | None = None) -> dict[str, Any]:
        """A named JSON schema as a function's and a ``json_schema`` answer format write it:
        ``name`` (required, an identifier), ``description``, the schema object under
        ``schema`` (``parameters``, ``schema``) and ``strict``, those given."""
        spec: dict[str, Any] = {"name": self.identifier()}
        description = self.string("description", max_len=description_max)
        if description is not None:
            spec["description"] = description
        found = self.obj(schema)
        if found is not None:
            spec[schema] = found.data
        strict = self.boolean("strict")
        if strict is not None:
            spec["strict"] = strict
        return spec

    def array(self, name: str, *, max_items: int | None = None) -> list[Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail_type(name, "an array")
        self._check_length(name, "array", "an array", len(value), max_items)
        return value

    def _check_length(
        self, name: str, kind: str, a_kind: str, length: int, limit: int | None
    ) -> None:
        # The hosted API's message and code for a string or array over its limit.
        if limit is not None and length > limit:
            raise bad_request(
                f"Invalid '{self.path(name)}': {kind} too long. Expected {a_kind} with maximum "
                f"length {limit}, but got {a_kind} with length {length} instead.",
                self.path(name),
                f"{kind}_above_max_length",
            )

    def item(self, name: str, index: int) -> Params:
        value = self.data[name][index]
        path = f"{self.path(name)}[{index}]"
        if not isinstance(value, dict):
            raise bad_request(
                f"Invalid type for '{path}': expected an object, but got {_type_name(value)} instead.",
                path,
                "invalid_type",
            )
        return Params(value, path)

    # -- the API's compound parameters --------------------------------------------------
    def metadata(self, name: str = "metadata") -> dict[str, str] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail_type(name, "an object")
        if len(value) > MAX_METADATA_PAIRS:
            raise bad_request(
                f"Invalid '{self.path(name)}': at most {MAX_METADATA_PAIRS} key-value pairs.",
                self.path(name),
            )
        for key, item in value.items():
            if len(key) > MAX_METADATA_KEY:
                raise bad_request(
                    f"Invalid '{self.path(name)}': keys are at most {MAX_METADATA_KEY} characters.",
                    self.path(name),
                )
            if not isinstance(item, str):
                raise bad_request(
                    f"Invalid type for '{self.path(name)}.{key}': expected a string, but got "
                    f"{_type_name(item)} instead.",
                    f"{self.path(name)}.{key}",
                    "invalid_type",
                )
            if len(item) > MAX_METADATA_VALUE:
                raise bad_request(
                    f"Invalid '{self.path(name)}.{key}': values are at most "
                    f"{MAX_METADATA_VALUE} characters.",
                    f"{self.path(name)}.{key}",
                )
        return dict(value)

    def tools(self, name: str = "tools") -> list[dict[str, Any]] | None:
        """Function tools, checked; code_interpreter and file_search are refused (400)."""
        items = self.array(name, max_items=MAX_TOOLS)
        if items is None:
            return None
        tools = []
        for index in range(len(items)):
            tool = self.item(name, index)
            kind = tool.choice("type", ("function", *UNSUPPORTED_TOOLS), required=True)
            if kind in UNSUPPORTED_TOOLS:
                raise unsupported(f"The {kind} tool", tool.path("type"))
            spec = tool.required_obj("function").named_schema("parameters")
            tools.append({"type": "function", "function": spec})
        return tools

    def tool_choice(self, name: str = "tool_choice") -> Any:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return self.choice(name, ("none", "auto", "required"))
        choice = self.obj(name)
        assert choice is not None
        kind = choice.choice("type", ("function", *UNSUPPORTED_TOOLS), required=True)
        if kind != "function":
            raise unsupported(f"tool_choice {kind!r}", choice.path("type"))
        function = choice.required_obj("function")
        return {"type": "function", "function": {"name": function.string("name", required=True)}}

    def truncation_strategy(self, name: str = "truncation_strategy") -> dict[str, Any] | None:
        strategy = self.obj(name)
        if strategy is None:
            return None
        kind = strategy.choice("type", ("auto", "last_messages"), required=True)
        last = strategy.integer("last_messages", minimum=1)
        if kind == "last_messages" and last is None:
            strategy.required("last_messages")
        return {"type": kind, "last_messages": last}

    def response_format(self, name: str = "response_format") -> Any:
        """ "auto", ``{"type": "text"}``, ``{"type": "json_object"}`` or ``{"type":
        "json_schema", "json_schema": {"name", "schema"?, "strict"?, "description"?}}``."""
        value = self.data.get(name)
        if value is None or value == "auto":
            return value
        if isinstance(value, str):
            raise bad_request(
                f"Invalid value for '{self.path(name)}': expected 'auto' or an object, "
                f"got {value[:40]!r}.",
                self.path(name),
            )
        form = self.obj(name)
        if form is None:
            self.fail_type(name, "'auto' or an object")
        kind = form.choice("type", ("text", "json_object", "json_schema"), required=True)
        if kind != "json_schema":
            return {"type": kind}
        spec = form.required_obj("json_schema")
        described = spec.named_schema("schema", description_max=MAX_INSTRUCTIONS)
        return {"type": "json_schema", "json_schema": described}

    def message_text(self) -> str:
        """A message's ``content``: a string, or text parts joined (images are refused)."""
        content = self.required("content")
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            parts = []
            for index in range(len(content)):
                part = self.item("content", index)
                kind = part.string("type", required=True)
                if kind != "text":
                    raise unsupported(f"Message content of type {kind!r}", part.path("type"))
                parts.append(part.string("text", required=True) or "")
            text = "\n\n".join(parts)
        else:
            self.fail_type("content", "a string or an array of content parts")
        if len(text) > MAX_TEXT:
            raise bad_request(
                f"Invalid '{self.path('content')}': at most {MAX_TEXT} characters.",
                self.path("content"),
                "string_above_max_length",
            )
        return text

    def message(self) -> tuple[str, str, dict[str, str] | None]:
        """A message to add: (role, text, metadata)."""
        role = self.choice("role", ("user", "assistant"), required=True)
        assert role is not None
        text = self.message_text()
        attachments = self.array("attachments")
        if attachments:
            raise unsupported("Message attachments (files)", self.path("attachments"))
        return role, text, self.metadata()

    def messages(self, name: str = "messages") -> list[tuple[str, str, dict[str, str] | None]]:
        items = self.array(name) or []
        return [self.item(name, i).message() for i in range(len(items))]
