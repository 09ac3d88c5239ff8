"""The API's error envelope: ``{"error": {"message", "type", "param", "code"}}``.

Every failure a client can cause or meet ends in one of these, with the hosted API's status
code; core errors map onto them here, and nothing else (no traceback, no key) reaches the
client.
"""

from __future__ import annotations

from typing import Any

from ..errors import ActiveRunError, AssistantError, ConfigError, NotFoundError, RunStateError
from ..objects import InvalidTransition


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, f"No {kind} found with id '{object_id}'.", code="not_found")


def unsupported(what: str, param: str | None = None) -> ApiError:
    return ApiError(
        400,
        f"{what} is not supported by this server: it implements the Assistants API with "
        "function tools (no file_search, code_interpreter, files or vector stores).",
        param=param,
        code="unsupported",
    )


def from_core(exc: Exception) -> ApiError:
    """The envelope for an expected error of the core."""
    if isinstance(exc, NotFoundError):
        return not_found(exc.kind, exc.object_id)
    if isinstance(exc, ActiveRunError):
        return ApiError(
            400,
            f"Thread {exc.thread_id} already has an active run {exc.run_id}.",
            code="thread_locked",
        )
    if isinstance(exc, (RunStateError, InvalidTransition, ConfigError)):
        return bad_request(str(exc))
    if isinstance(exc, AssistantError):
        return ApiError(503, str(exc), type="server_error", code="unavailable")
    return internal()


def internal() -> ApiError:
    return ApiError(
        500,
        "The server had an error while processing your request; it is logged on the server.",
        type="server_error",
        code="internal_error",
    )
