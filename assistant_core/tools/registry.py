"""Tool registry: schemas in the Assistants ``tools`` format, validation, timeouts.

``execute()`` never raises for anything the model or the tool did wrong: invalid JSON,
schema violations, unknown names, exceptions, timeouts all come back as a
``ToolResult`` with ``error`` set, which the model reads as the tool's output.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .result import ToolResult

DEFAULT_TIMEOUT_S = 30.0


class ToolSpecError(ValueError):
    """A tool definition that is not in the Assistants ``function`` tool format."""


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    func: Callable[..., Any]
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.func)

    def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _parse_spec(spec: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    if spec.get("type") != "function" or not isinstance(spec.get("function"), dict):
        raise ToolSpecError('a tool must be {"type": "function", "function": {...}}')
    fn = spec["function"]
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ToolSpecError("a function tool needs a name")
    parameters = fn.get("parameters") or {"type": "object", "properties": {}}
    return name, fn.get("description", ""), parameters


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    # -- registration --------------------------------------------------------------------
    def register(
        self,
        spec: dict[str, Any],
        func: Callable[..., Any],
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> Tool:
        """Register ``func`` under an Assistants-format spec (accepted as is)."""
        name, description, parameters = _parse_spec(spec)
        tool = Tool(name, description, parameters, func, timeout)
        self._tools[name] = tool
        return tool

    def tool(
        self, spec: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``register``."""

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            self.register(spec, func, timeout=timeout)
            return func

        return decorate

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self._tools.values()]

    # -- execution -----------------------------------------------------------------------
    def parse_arguments(self, name: str, raw: str) -> tuple[Tool, dict[str, Any]] | ToolResult:
        """Look the tool up and validate the model's raw arguments against its schema."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolResult.failure(f"unknown tool {name!r}; available tools: {known}")
        try:
            args = json.loads(raw) if raw and raw.strip() else {}
        except json.JSONDecodeError as exc:
            return ToolResult.failure(
                f"arguments are not valid JSON ({exc.msg} at position {exc.pos}); "
                "send a JSON object matching the tool's parameters"
            )
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, absurd nesting
            return ToolResult.failure(
                f"arguments could not be read ({type(exc).__name__}: {str(exc)[:120]}); "
                "send a small JSON object matching the tool's parameters"
            )
        if not isinstance(args, dict):
            return ToolResult.failure("arguments must be a JSON object")
        try:
            problem = validate(args, tool.parameters)
        except Exception as exc:  # a broken schema, or arguments that trip the validator
            return ToolResult.failure(
                f"could not check the arguments of {name} ({type(exc).__name__}: {str(exc)[:120]})"
            )
        if problem:
            return ToolResult.failure(f"invalid arguments for {name}: {problem}")
        return tool, args

    async def execute(self, name: str, raw_arguments: str) -> ToolResult:
        parsed = self.parse_arguments(name, raw_arguments)
        if isinstance(parsed, ToolResult):
            return parsed
        tool, args = parsed
        # asyncio.timeout, not wait_for: in 3.11 wait_for returns a result that was ready
        # when a cancel arrived, swallowing the cancel of the run.
        deadline = asyncio.timeout(tool.timeout)
        try:
            async with deadline:
                if tool.is_async:
                    value = await tool.func(**args)
                else:
                    # Blocking tools run in a worker thread so one step's calls overlap. A
                    # thread cannot be killed: on timeout its late result is simply dropped.
                    value = await asyncio.to_thread(tool.func, **args)
        except TimeoutError as exc:
            if deadline.expired():
                return ToolResult.failure(f"{name} timed out after {tool.timeout:g} s")
            return ToolResult.failure(f"{name} failed: {type(exc).__name__}: {exc}")
        except Exception as exc:  # a tool never crashes a run
            return ToolResult.failure(f"{name} failed: {type(exc).__name__}: {exc}")
        result = value if isinstance(value, ToolResult) else ToolResult(data=value)
        try:
            result.to_model()
        except (TypeError, ValueError) as exc:  # e.g. a dict keyed by tuples, a cycle
            return ToolResult.failure(
                f"{name} returned data that cannot be sent to the model ({exc})"
            )
        return result


def warm_validator() -> None:
    """Import the argument validator (jsonschema, ~0.1–0.3 s cold) ahead of the first tool
    call, which checks arguments on the event loop. Blocking: call it from a thread."""
    validate({}, {"type": "object"})


def validate(instance: Any, schema: dict[str, Any]) -> str | None:
    """The first schema violation as a short sentence, or None."""
    import jsonschema  # lazy: only needed once a model calls a tool

    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
