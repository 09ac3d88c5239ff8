"""What the two ``openai``-package backends share: building the client, turning ``openai``
exceptions into ``BackendError``, and guarding a stream so that it always ends with a ``Finish``
chunk or a ``BackendError``.

``openai`` is imported inside functions: it costs ~0.45 s and the app's first frame must not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import socket
import ssl
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant_core.backends.base import (
    BackendError,
    Chunk,
    Finish,
    ModelRequest,
    TextDelta,
    ToolCallDelta,
)
from assistant_core.limits import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from assistant_core.redact import redact
from assistant_core.surrogates import SurrogateJoiner, scrub
from assistant_core.text import one_line

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Ollama, llama.cpp server, LM Studio… ignore the key, but the client insists on one.
PLACEHOLDER_API_KEY = "no-key-needed"


def is_openai(base_url: str | None) -> bool:
    return base_url is None or "api.openai.com" in base_url


def resolve_api_key(base_url: str | None, api_key: str | None) -> str:
    """The key to send. An explicit one wins; OpenAI itself needs one; other servers get a
    placeholder (the environment's OPENAI_API_KEY is never sent to a third-party URL by us)."""
    if api_key:
        return api_key
    if is_openai(base_url):
        raise BackendError(
            "auth_error",
            "no OpenAI API key — set OPENAI_API_KEY, or pass --base-url for a local OpenAI-compatible server",
        )
    return PLACEHOLDER_API_KEY


def http_timeout(read: float, connect: float = CONNECT_TIMEOUT_S) -> Any:
    """The HTTP client's timeouts: connecting has its own, short one; reading is bounded
    by ``read`` (the stream's own first-byte and between-events limits are kept by the
    backend, a little inside this, so that its messages are the ones the user sees)."""
    import openai

    return openai.Timeout(read, connect=min(connect, read))


def _client_options(
    base_url: str | None, api_key: str | None, timeout: float, connect: float
) -> dict[str, Any]:
    return {
        "base_url": base_url or OPENAI_BASE_URL,
        "api_key": resolve_api_key(base_url, api_key),
        "timeout": http_timeout(timeout, connect),
        "max_retries": 0,  # the runtime owns retries (and shows them as events)
    }


def make_async_client(
    base_url: str | None,
    api_key: str | None,
    *,
    timeout: float,
    connect_timeout: float = CONNECT_TIMEOUT_S,
    http_client: Any = None,
) -> AsyncOpenAI:
    from openai import AsyncOpenAI

    options = _client_options(base_url, api_key, timeout, connect_timeout)
    return AsyncOpenAI(**options, http_client=http_client)


def make_sync_client(
    base_url: str | None,
    api_key: str | None,
    *,
    timeout: float,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> OpenAI:
    from openai import OpenAI

    return OpenAI(**_client_options(base_url, api_key, timeout, connect_timeout))


# -- errors --------------------------------------------------------------------------------
def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if name == "retry-after" else None
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if seconds != seconds or seconds == float("inf"):  # NaN / inf: no usable hint
            continue
        return max(seconds, 0.0)
    return None


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, Mapping) else inner
        if msg:
            return one_line(msg)
    if isinstance(body, str) and body.strip():
        return one_line(body)
    return one_line(getattr(exc, "message", None) or exc)


def _api_code(exc: Any) -> str:
    code = getattr(exc, "code", None)
    return str(code) if code is not None else ""


def _looks_like_missing_model(code: str, message: str) -> bool:
    m = message.lower()
    return code == "model_not_found" or (
        "model" in m and ("not found" in m or "does not exist" in m)
    )


def where(base_url: str | None) -> str:
    return "OpenAI" if is_openai(base_url) else (base_url or OPENAI_BASE_URL)


def to_backend_error(
    exc: BaseException,
    *,
    base_url: str | None,
    model: str | None = None,
    timeout: float | None = None,
    keyless: bool = False,
) -> BackendError:
    """Classify an exception raised by the ``openai`` client (opening a stream, listing
    models), with advice that fits the cause. ``keyless``: no API key was sent (a local
    server's placeholder went instead)."""
    import openai

    if isinstance(exc, BackendError):
        return exc
    url = base_url or OPENAI_BASE_URL
    label = where(base_url)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        msg, code = _api_message(exc), _api_code(exc)
        retry_after = retry_after_seconds(exc.response.headers)
        if model and status in (400, 403, 404) and _looks_like_missing_model(code, msg):
            return BackendError(
                "model_not_found",
                f"model {model!r} not found on {url} — pick one with --model",
                status=status,
            )
        if status == 401:
            if is_openai(base_url):
                text = "OpenAI rejected the API key — check OPENAI_API_KEY"
            elif keyless:
                text = (
                    f"{url} wants an API key ({msg}) — export OPENAI_API_KEY=… (it is sent "
                    "to the configured server)"
                )
            else:
                text = f"{url} rejected the API key ({msg}) — check the key for that server"
            return BackendError("auth_error", text, status=status)
        if status == 403:
            return BackendError(
                "auth_error",
                f"{label} refused the request: {msg} — check the key's permissions",
                status=status,
            )
        if status == 429:
            if code == "insufficient_quota":
                # Billing, not load: waiting will not help.
                return BackendError(
                    "rate_limit_exceeded",
                    f"{label}: out of quota ({msg}) — check the account's billing",
                    status=status,
                )
            return BackendError(
                "rate_limit_exceeded",
                f"{label} rate limit: {msg}",
                retryable=True,
                retry_after=retry_after,
                status=status,
            )
        if status >= 500 or status == 409:
            return BackendError(
                "server_error",
                f"{label} server error {status}: {msg}",
                retryable=True,
                retry_after=retry_after,
                status=status,
            )
        if status == 408:
            return BackendError(
                "timeout", f"{label} timed out the request: {msg}", retryable=True, status=status
            )
        if status == 404:
            return BackendError(
                "bad_request",
                f"{url} answered 404 for {exc.request.url.path} ({msg}) — check the base URL",
                status=status,
            )
        if code == "context_length_exceeded":
            return BackendError(
                "context_length_exceeded",
                f"the prompt is too long for model {model!r}: {msg}",
                status=status,
            )
        return BackendError(
            "bad_request", f"{label} rejected the request ({status}): {msg}", status=status
        )
    if isinstance(exc, openai.APIConnectionError):
        failure = connection_failure(exc, base_url)
        if failure is not None:
            return failure
    if isinstance(exc, openai.APITimeoutError):  # before APIConnectionError: it is a subclass
        after = f" within {timeout:g} s" if timeout else ""
        return BackendError(
            "timeout",
            f"no response from {label}{after} — the server is slow or stuck",
            retryable=True,
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = one_line(exc.__cause__ or exc, 120)
        return BackendError(
            "connection_error",
            f"cannot reach {url} ({cause}) — {_reach_hint(base_url)}",
            retryable=True,
        )
    if isinstance(exc, openai.APIError):  # an error object inside a 200 stream
        msg, code = _api_message(exc), _api_code(exc)
        if "rate" in code or code == "429":
            return BackendError("rate_limit_exceeded", f"{label} rate limit: {msg}", retryable=True)
        return BackendError("server_error", f"{label} reported an error: {msg}", retryable=True)
    if isinstance(exc, openai.OpenAIError):
        return BackendError("bad_request", f"OpenAI client error: {one_line(exc)}")
    return BackendError(
        "server_error", f"unexpected {type(exc).__name__} talking to {label}: {one_line(exc)}"
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (the openai client wraps the HTTP client's error, which
    wraps the socket's), outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not c for c in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_local(base_url: str | None) -> bool:
    host = urlsplit(base_url or OPENAI_BASE_URL).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".local")


def _reach_hint(base_url: str | None) -> str:
    if is_openai(base_url):
        return "check your network connection"
    if _is_local(base_url):
        return "is the server running?"
    return "check the URL and port, and that the server is up"


def connection_failure(exc: BaseException, base_url: str | None) -> BackendError | None:
    """What kept a request from reaching the server, from the socket-level cause: the
    host name does not resolve (``dns_error``), TLS failed (``tls_error``), nothing
    listens there or the connection could not be made in time (``connection_error``).
    None when the cause is none of these."""
    url = base_url or OPENAI_BASE_URL
    host = urlsplit(url).hostname or url
    for cause in _causes(exc):
        detail = one_line(cause, 120)
        if isinstance(cause, socket.gaierror):
            # EAI_AGAIN is a resolver that did not answer in time: that may pass.
            temporary = cause.errno == getattr(socket, "EAI_AGAIN", None)
            hint = (
                "check your network connection"
                if temporary or is_openai(base_url)
                else (f"check the host name in {url}")
            )
            return BackendError(
                "dns_error",
                f"cannot find the server {host}: its name does not resolve ({detail}) — {hint}",
                retryable=temporary,
            )
        if isinstance(cause, ssl.SSLCertVerificationError):
            return BackendError(
                "tls_error",
                f"the TLS certificate of {host} is not trusted ({detail}) — check the URL, or "
                "make the server's certificate authority trusted (SSL_CERT_FILE)",
            )
        if isinstance(cause, ssl.SSLError):
            if "WRONG_VERSION_NUMBER" in str(cause).upper().replace(" ", "_"):
                return BackendError(
                    "tls_error",
                    f"{host} does not speak TLS on that port ({detail}) — "
                    f"should {url} start with http:// rather than https://?",
                )
            return BackendError(
                "tls_error", f"TLS with {host} failed ({detail}) — check the URL and the server"
            )
        if isinstance(cause, ConnectionRefusedError):
            return BackendError(
                "connection_error",
                f"cannot reach {url} (connection refused) — {_reach_hint(base_url)}",
                retryable=True,
            )
        name = type(cause).__name__
        if name == "ConnectTimeout":
            return BackendError(
                "connection_error",
                f"could not connect to {url} in time ({detail or 'connect timeout'}) — "
                f"{_reach_hint(base_url)}",
                retryable=True,
            )
        # A reset is a hang-up too: a server that closes with the request still unread (it
        # came in more than one piece) resets the connection instead of closing it cleanly.
        if name == "RemoteProtocolError" or isinstance(
            cause, ConnectionResetError | BrokenPipeError | ConnectionAbortedError
        ):
            return BackendError(
                "connection_error",
                f"{url} closed the connection without an answer ({detail}) — check the "
                "server's log",
                retryable=True,
            )
    return None


def mask_key(error: BackendError, api_key: str | None) -> BackendError:
    """``error`` with the API key masked in its message, in any spelling (see
    ``assistant_core.redact``). Some proxies and self-hosted servers echo the key they
    rejected, and the message goes to the screen and the run's last_error."""
    if not api_key or api_key == PLACEHOLDER_API_KEY:
        return error
    text = redact(error.message, api_key)
    if text == error.message:
        return error
    return BackendError(
        error.code,
        text,
        retryable=error.retryable,
        retry_after=error.retry_after,
        status=error.status,
    )


def broken_stream_error(
    exc: BaseException | None, *, base_url: str | None, started: bool, timeout: float | None = None
) -> BackendError:
    """A stream that failed or ended early. Safe to retry only if nothing was delivered yet."""
    import openai

    if exc is None:
        reason = "ended without a finish reason"
    elif isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        reason = f"contained a malformed event ({one_line(exc, 120)})"
    elif isinstance(exc, (openai.APITimeoutError, NoData)):
        reason = f"stalled (no data for {timeout:g} s)" if timeout else "stalled"
    elif isinstance(exc, openai.APIConnectionError):
        reason = f"was cut off ({one_line(exc.__cause__ or exc, 120)})"
    elif isinstance(exc, openai.APIError):
        reason = f"reported an error mid-stream ({_api_message(exc)})"
    else:
        reason = f"could not be read ({type(exc).__name__}: {one_line(exc, 120)})"
    return BackendError(
        "stream_broken",
        f"the reply from {where(base_url)} {reason} — the message is incomplete",
        retryable=not started,
    )


# -- reading streamed JSON objects ----------------------------------------------------------
# Servers differ in what they leave out or set to null: every field is read as optional.
def objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects of a JSON array (anything else: none)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ""


def count_of(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# -- text that can be stored ---------------------------------------------------------------
async def encodable(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """``chunks`` with text that UTF-8 can encode: an emoji whose two JSON-escaped surrogate
    halves arrive in separate chunks is joined again (in answer text and in each call's
    arguments); a lone half becomes U+FFFD. Held halves are let out before ``Finish``."""
    text = SurrogateJoiner()
    arguments: dict[int, SurrogateJoiner] = {}
    async for chunk in chunks:
        if isinstance(chunk, TextDelta):
            chunk = TextDelta(text.feed(chunk.text))
            if not chunk.text:
                continue
        elif isinstance(chunk, ToolCallDelta):
            joiner = arguments.setdefault(chunk.index, SurrogateJoiner())
            chunk = ToolCallDelta(
                index=chunk.index,
                id=scrub(chunk.id) if chunk.id else chunk.id,
                name=scrub(chunk.name) if chunk.name else chunk.name,
                arguments=joiner.feed(chunk.arguments),
            )
            if not (chunk.id or chunk.name or chunk.arguments):
                continue
        elif isinstance(chunk, Finish):
            rest = text.flush()
            if rest:
                yield TextDelta(rest)
            for index, joiner in arguments.items():
                rest = joiner.flush()
                if rest:
                    yield ToolCallDelta(index=index, arguments=rest)
        yield chunk


# -- timeouts of a stream --------------------------------------------------------------------
class NoData(Exception):
    """No event within the time allowed: the first one (``first``) or the next one."""

    def __init__(self, seconds: float, *, first: bool) -> None:
        super().__init__(f"no data for {seconds:g} s")
        self.seconds = seconds
        self.first = first


class TimedEvents:
    """An API event stream held to two limits: its first event by ``first_deadline`` (a
    loop time, counted from when the request went out) and every later one within
    ``read_timeout`` of the one before. A server that accepts the request and then says
    nothing, or stops halfway, is found out in those times, not after the HTTP client's."""

    def __init__(self, events: Any, first_deadline: float, read_timeout: float) -> None:
        self._events = events
        self._iterator = events.__aiter__()
        self._deadline = first_deadline
        self._first_budget = max(first_deadline - asyncio.get_running_loop().time(), 0.0)
        self._read_timeout = read_timeout
        self._first = True

    def __aiter__(self) -> TimedEvents:
        return self

    async def __anext__(self) -> Any:
        loop = asyncio.get_running_loop()
        when = self._deadline if self._first else loop.time() + self._read_timeout
        try:
            async with asyncio.timeout_at(when):
                event = await self._iterator.__anext__()
        except TimeoutError:
            seconds = self._first_budget if self._first else self._read_timeout
            raise NoData(seconds, first=self._first) from None
        self._first = False
        return event

    async def close(self) -> None:
        await self._events.close()


# -- the shared backend shell ---------------------------------------------------------------
def _warm_first_request() -> None:
    """What the first request would otherwise import on the event loop (~30 ms): the SDK's
    stream reader, the JSON parser of the stream and anyio's asyncio backend. Best effort:
    a missing module only costs that time later."""
    with contextlib.suppress(ImportError):
        import anyio._backends._asyncio  # noqa: F401
        import jiter  # noqa: F401
        import openai._streaming  # noqa: F401


class OpenAIBackend:
    """Client lifecycle, error mapping and the stream guard; subclasses convert the request
    (``_open``) and translate the API's events into chunks (``_translate``)."""

    name = "openai"
    is_llm = True

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float = READ_TIMEOUT_S,
        first_byte_timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        http_client: Any = None,
    ) -> None:
        """``timeout``: the longest silence between two events of a stream;
        ``first_byte_timeout`` (default: ``timeout``): from sending a request to its first
        event; ``connect_timeout``: to open the connection. A turn's total wait, retries
        included, is the runtime's (``RetryPolicy.give_up_after``)."""
        self.base_url = base_url.rstrip("/") if base_url else None
        self._api_key = resolve_api_key(self.base_url, api_key)  # fail early on a missing key
        self.timeout = timeout
        self.first_byte_timeout = timeout if first_byte_timeout is None else first_byte_timeout
        self.connect_timeout = connect_timeout
        self._http_client = http_client  # owned by the caller when given
        self._client: AsyncOpenAI | None = None
        self._client_lock = threading.Lock()

    def warm(self) -> None:
        """Build the client now: importing ``openai`` (with httpx and pydantic) takes
        0.5–1 s cold, which must not fall on an event loop. Blocking, so the app calls it
        in a thread once its screen is up; a stream that finds no client builds it in a
        thread too. Safe to call more than once, from any thread."""
        with self._client_lock:
            if self._client is None:
                # The HTTP client's own read limit sits just outside ours (see TimedEvents).
                read = max(self.timeout, self.first_byte_timeout) + 1.0
                client = make_async_client(
                    self.base_url,
                    self._api_key,
                    timeout=read,
                    connect_timeout=self.connect_timeout,
                    http_client=self._http_client,
                )
                _warm_first_request()
                self._client = client

    @property
    def client(self) -> AsyncOpenAI:
        if self._client is None:
            self.warm()
        assert self._client is not None
        return self._client

    def _no_response(self) -> BackendError:
        return BackendError(
            "timeout",
            f"no response from {where(self.base_url)} within {self.first_byte_timeout:g} s "
            "— the server is slow or stuck",
            retryable=True,
        )

    async def _open(self, request: ModelRequest) -> Any:
        raise NotImplementedError

    def _translate(self, events: Any) -> AsyncIterator[Chunk]:
        raise NotImplementedError

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """One model turn as chunks, ending with ``Finish``; otherwise a ``BackendError``
        (whose message never contains the API key).

        ``retryable`` is only ever True while nothing has been yielded: once part of the reply
        is out, a failure is final for this turn (the runtime keeps the partial message)."""
        try:
            async with contextlib.aclosing(self._stream(request)) as chunks:
                async for chunk in chunks:
                    yield chunk
        except BackendError as error:
            masked = mask_key(error, self._api_key)
            if masked is error:
                raise
            raise masked from None  # the cause's message has the key too

    async def _post_stream(self, path: str, body: dict[str, Any]) -> Any:
        """A streamed request through the SDK's own path (headers, retries, SSE parsing,
        mid-stream error events) with each event left as the JSON object it is: building a
        typed model per token was the largest cost of a fast stream (~50 µs each)."""
        from openai import AsyncStream

        return await self.client.post(
            path, body=body, cast_to=object, stream=True, stream_cls=AsyncStream[object]
        )

    async def ready_client(self) -> AsyncOpenAI:
        """The client, built off the event loop when it was not warmed yet (its imports and
        construction take a cold process most of a second)."""
        if self._client is None:
            await asyncio.to_thread(self.warm)
        return self.client

    async def _stream(self, request: ModelRequest) -> AsyncGenerator[Chunk, None]:
        await self.ready_client()
        first_deadline = asyncio.get_running_loop().time() + self.first_byte_timeout
        try:
            async with asyncio.timeout_at(first_deadline):
                opened = await self._open(request)
        except TimeoutError:
            raise self._no_response() from None
        except Exception as exc:
            raise to_backend_error(
                exc,
                base_url=self.base_url,
                model=request.model,
                timeout=self.timeout,
                keyless=self._api_key == PLACEHOLDER_API_KEY,
            ) from exc
        events = TimedEvents(opened, first_deadline, self.timeout)
        started = finished = False
        try:
            async for chunk in encodable(self._translate(events)):
                if isinstance(chunk, Finish):
                    finished = True
                started = True
                yield chunk
        except BackendError as exc:
            if started:
                exc.retryable = False  # part of the reply is already out: a retry would repeat it
            raise
        except NoData as exc:
            if exc.first and not started:  # headers came, then nothing: as good as no answer
                raise self._no_response() from None
            raise broken_stream_error(
                exc, base_url=self.base_url, started=started, timeout=exc.seconds
            ) from None
        except Exception as exc:
            raise broken_stream_error(
                exc, base_url=self.base_url, started=started, timeout=self.timeout
            ) from exc
        finally:
            await events.close()
        if not finished:
            # The openai client ends quietly when the connection closes early: check it here.
            raise broken_stream_error(None, base_url=self.base_url, started=started)

    async def complete(self, request: ModelRequest) -> str:
        """The model's text answer, without tools (used for memory summaries)."""
        plain = ModelRequest(
            model=request.model,
            instructions=request.instructions,
            input=request.input,
            max_output_tokens=request.max_output_tokens,
            temperature=request.temperature,
        )
        parts = [c.text async for c in self.stream(plain) if isinstance(c, TextDelta)]
        return "".join(parts)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._http_client is None:
            await client.close()


def generation_params(
    request: ModelRequest, tools: list[dict[str, Any]], *, max_tokens_key: str
) -> dict[str, Any]:
    """The request parameters both APIs share: tools, ``parallel_tool_calls`` (only valid
    alongside tools: OpenAI rejects it otherwise), the output limit, temperature."""
    params: dict[str, Any] = {}
    if tools:
        params["tools"] = tools
        params["parallel_tool_calls"] = request.parallel_tool_calls
        if request.tool_choice is not None:
            params["tool_choice"] = request.tool_choice
    if request.max_output_tokens is not None:
        params[max_tokens_key] = request.max_output_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    return params


def function_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``function`` definitions of Assistants-format tools (``{"type": "function",
    "function": {...}}``); already-flat definitions are accepted too. Other tool types are
    hosted tools this app does not run, so they are left out."""
    out = []
    for tool in tools:
        if tool.get("type", "function") != "function":
            continue
        fn = tool.get("function", tool)
        out.append({k: v for k, v in fn.items() if k != "type"})
    return out
