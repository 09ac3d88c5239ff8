"""Which models an OpenAI-compatible server offers (``GET /v1/models``), to pick a default
model for a local server (Ollama, llama.cpp, LM Studio…) when the user named none."""

from __future__ import annotations

from assistant_core.backends.base import BackendError
from assistant_core.backends.openai_common import (
    is_openai,
    make_async_client,
    make_sync_client,
    mask_key,
    to_backend_error,
)


def listing_failed(base_url: str, exc: BaseException) -> str:
    """The one line for a model listing that failed. A server that cannot be reached gets
    "start it"; one that answered with an error (a rejected key, a wrong base URL) or whose
    name does not resolve gets the advice of its own error, not that."""
    if isinstance(exc, BackendError) and exc.code != "connection_error":
        return exc.message
    from assistant_core.config import unreachable_message

    return unreachable_message(base_url, exc)


def list_models(base_url: str | None, api_key: str | None, *, timeout: float = 5.0) -> list[str]:
    """Model ids, sorted. Raises BackendError (e.g. ``connection_error`` when nothing listens
    at ``base_url``). Blocking: call it from a worker thread in an event loop."""
    client = make_sync_client(base_url, api_key, timeout=timeout)
    try:
        return sorted(m.id for m in client.models.list())
    except Exception as exc:
        raise _error(exc, base_url, api_key, timeout) from None
    finally:
        client.close()


async def alist_models(
    base_url: str | None, api_key: str | None, *, timeout: float = 5.0
) -> list[str]:
    """``list_models`` for async callers."""
    client = make_async_client(base_url, api_key, timeout=timeout)
    try:
        return sorted([m.id async for m in client.models.list()])
    except Exception as exc:
        raise _error(exc, base_url, api_key, timeout) from None
    finally:
        await client.close()


def _error(
    exc: Exception, base_url: str | None, api_key: str | None, timeout: float
) -> BackendError:
    keyless = not api_key and not is_openai(base_url)
    err = mask_key(
        to_backend_error(exc, base_url=base_url, timeout=timeout, keyless=keyless), api_key
    )
    return BackendError(
        err.code,
        f"cannot list models: {err.message}",
        retryable=err.retryable,
        retry_after=err.retry_after,
        status=err.status,
    )
