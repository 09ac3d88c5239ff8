"""The HTTP application: the Assistants v2 routes under ``/v1``, authentication, body limits
and the API's error envelope for every failure."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AssistantError
from ..events import ThreadCreated
from ..store_interface import ThreadStore
from ..store_schema import DEFAULT_PROJECT
from .errors import ApiError, from_core, internal
from .keys import bearer_token, key_hash
from .params import parse_json_body
from .service import Service
from .streaming import sse_response

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 4 * 1024 * 1024
#: Sent with runs so the SDK's ``*_and_poll`` helpers poll briskly (the hosted API sent it too).
POLL_AFTER_MS = "100"


class Auth:
    """Which project a request acts for. Once any key exists every request needs a valid
    one; before that, any bearer (or none) is the default project — on loopback only."""

    def __init__(self, store: ThreadStore, *, open_allowed: bool) -> None:
        self.store = store
        self.open_allowed = open_allowed

    def project(self, authorization: str | None) -> str:
        token = bearer_token(authorization)
        if token is not None:
            project, any_keys = self.store.key_project(key_hash(token))
            if project is not None:
                return project
        else:
            any_keys = self.store.has_keys()
        if not any_keys:
            if self.open_allowed:
                return DEFAULT_PROJECT
            raise ApiError(
                401,
                "This server has no API keys; create one with `investor-assistant keys create "
                "--project NAME`.",
                code="invalid_api_key",
            )
        if token is None:
            raise ApiError(
                401,
                "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY' "
                "(the SDKs do this from OPENAI_API_KEY).",
                code="missing_api_key",
            )
        # Never echo the key, not even masked.
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


@dataclass
class Ctx:
    request: Request
    project: str
    body: dict[str, Any]

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    @property
    def query(self) -> Any:
        return self.request.query_params

    @property
    def stream(self) -> bool:
        value = self.body.get("stream")
        if value is not None and not isinstance(value, bool):
            raise ApiError(
                400,
                "Invalid type for 'stream': expected a boolean.",
                param="stream",
                code="invalid_type",
            )
        return bool(value)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


Handler = Callable[[Ctx], Any]


class Api:
    def __init__(self, service: Service, auth: Auth, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.service = service
        self.auth = auth
        self.max_body = max_body
        self.draining = False

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise self._too_large()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"The request body is larger than this server's limit of {self.max_body} bytes.",
            code="request_too_large",
        )

    def endpoint(
        self, handler: Handler, *, body: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                if self.draining:
                    raise ApiError(
                        503, "The server is shutting down.", type="server_error", code="unavailable"
                    )
                project = self.auth.project(request.headers.get("authorization"))
                data = parse_json_body(await self._body(request)) if body else {}
                result = handler(Ctx(request, project, data))
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, Response):
                    return result
                return json_response(result)
            except ApiError as error:
                return error_response(error)
            except AssistantError as exc:
                return error_response(from_core(exc))
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return error_response(internal())

        return run

    # -- endpoints that need more than one service call --------------------------------
    def create_run(self, ctx: Ctx) -> Response:
        stream = ctx.stream
        run = self.service.create_run(ctx.project, ctx.path("thread_id"), ctx.body)
        if stream:
            return sse_response(self.service.runtime.subscribe(run.id, coalesce=True))
        return self._run_response(self.service.store.get_run(run.id))

    def create_thread_and_run(self, ctx: Ctx) -> Response:
        stream = ctx.stream
        thread, run = self.service.create_thread_and_run(ctx.project, ctx.body)
        if stream:
            events = self.service.runtime.subscribe(run.id, coalesce=True)
            return sse_response(events, prefix=[ThreadCreated(thread)])
        return self._run_response(self.service.store.get_run(run.id))

    async def submit_tool_outputs(self, ctx: Ctx) -> Response:
        stream = ctx.stream
        thread_id, run_id = ctx.path("thread_id"), ctx.path("run_id")
        outputs = self.service.check_outputs(ctx.project, thread_id, run_id, ctx.body)
        runtime = self.service.runtime
        if not stream:
            return self._run_response(await self.service.submit_tool_outputs(run_id, outputs))
        # Listen first: nothing after the submission is missed. A run another process
        # executes is followed from the store (the outputs were forwarded to it)…
        events = runtime.subscribe(run_id, replay=False, coalesce=True)
        executing = runtime.executing(run_id)
        try:
            await self.service.submit_tool_outputs(run_id, outputs)
        except BaseException:
            await events.aclose()
            raise
        if not executing and runtime.executing(run_id):
            # …unless it was taken up here from the store: its new execution's events.
            await events.aclose()
            events = runtime.subscribe(run_id, replay=True, coalesce=True)
        return sse_response(events)

    def get_run(self, ctx: Ctx) -> Response:
        return self._run_response(
            self.service.get_run(ctx.project, ctx.path("thread_id"), ctx.path("run_id"))
        )

    @staticmethod
    def _run_response(run: Any) -> Response:
        from . import wire

        data = run if isinstance(run, dict) else wire.run(run)
        return json_response(data, headers={"openai-poll-after-ms": POLL_AFTER_MS})

    def not_served(self, ctx: Ctx) -> Response:
        path = ctx.request.url.path
        raise ApiError(
            404,
            f"{ctx.request.method} {path} is not served here: this server implements the "
            "Assistants API (assistants, threads, messages, runs, run steps) and /v1/models. "
            "Files, vector stores, file_search and code_interpreter are not supported.",
            code="unsupported",
        )

    def routes(self) -> list[Route]:
        s = self.service
        e = self.endpoint

        def r(path: str, method: str, handler: Handler, body: bool = False) -> Route:
            return Route("/v1" + path, e(handler, body=body), methods=[method])

        T = "/threads/{thread_id}"
        M = T + "/messages/{message_id}"
        R = T + "/runs/{run_id}"
        return [
            r("/models", "GET", lambda c: s.list_models()),
            r("/models/{model_id:path}", "GET", lambda c: s.get_model(c.path("model_id"))),
            r("/assistants", "GET", lambda c: s.list_assistants(c.project, c.query)),
            r("/assistants", "POST", lambda c: s.create_assistant(c.project, c.body), True),
            r(
                "/assistants/{assistant_id}",
                "GET",
                lambda c: s.get_assistant(c.project, c.path("assistant_id")),
            ),
            r(
                "/assistants/{assistant_id}",
                "POST",
                lambda c: s.modify_assistant(c.project, c.path("assistant_id"), c.body),
                True,
            ),
            r(
                "/assistants/{assistant_id}",
                "DELETE",
                lambda c: s.delete_assistant(c.project, c.path("assistant_id")),
            ),
            r("/threads", "POST", lambda c: _thread(s, c), True),
            r("/threads/runs", "POST", self.create_thread_and_run, True),
            r(T, "GET", lambda c: s.get_thread(c.project, c.path("thread_id"))),
            r(T, "POST", lambda c: s.modify_thread(c.project, c.path("thread_id"), c.body), True),
            r(T, "DELETE", lambda c: s.delete_thread(c.project, c.path("thread_id"))),
            r(
                T + "/messages",
                "GET",
                lambda c: s.list_messages(c.project, c.path("thread_id"), c.query),
            ),
            r(
                T + "/messages",
                "POST",
                lambda c: s.create_message(c.project, c.path("thread_id"), c.body),
                True,
            ),
            r(
                M,
                "GET",
                lambda c: s.get_message(c.project, c.path("thread_id"), c.path("message_id")),
            ),
            r(
                M,
                "POST",
                lambda c: s.modify_message(
                    c.project, c.path("thread_id"), c.path("message_id"), c.body
                ),
                True,
            ),
            r(
                M,
                "DELETE",
                lambda c: s.delete_message(c.project, c.path("thread_id"), c.path("message_id")),
            ),
            r(T + "/runs", "GET", lambda c: s.list_runs(c.project, c.path("thread_id"), c.query)),
            r(T + "/runs", "POST", self.create_run, True),
            r(R, "GET", self.get_run),
            r(
                R,
                "POST",
                lambda c: s.modify_run(c.project, c.path("thread_id"), c.path("run_id"), c.body),
                True,
            ),
            r(
                R + "/cancel",
                "POST",
                lambda c: s.cancel_run(c.project, c.path("thread_id"), c.path("run_id")),
                True,
            ),
            r(R + "/submit_tool_outputs", "POST", self.submit_tool_outputs, True),
            r(
                R + "/steps",
                "GET",
                lambda c: s.list_steps(c.project, c.path("thread_id"), c.path("run_id"), c.query),
            ),
            r(
                R + "/steps/{step_id}",
                "GET",
                lambda c: s.get_step(
                    c.project, c.path("thread_id"), c.path("run_id"), c.path("step_id")
                ),
            ),
            *(
                Route("/v1/{rest:path}", e(self.not_served), methods=[method])
                for method in ("GET", "POST", "DELETE", "PUT", "PATCH")
            ),
        ]


def _thread(service: Service, ctx: Ctx) -> dict[str, Any]:
    from . import wire

    return wire.thread(service.create_thread(ctx.project, ctx.body))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        return error_response(
            ApiError(
                405,
                f"{request.method} is not allowed on {request.url.path}.",
                code="method_not_allowed",
            )
        )
    if status == 404:
        return error_response(
            ApiError(
                404,
                f"No such endpoint: {request.url.path}; the API is under /v1.",
                code="unknown_url",
            )
        )
    return error_response(ApiError(status, str(getattr(exc, "detail", "error")), code=None))


def create_app(api: Api, *, sweep_interval: float = 5.0) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(api.service.expire_runs_forever(sweep_interval))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    return Starlette(
        routes=api.routes(),
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
