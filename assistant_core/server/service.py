"""The endpoints' work: the Assistants API's operations on the store and runtime, each scoped
to the caller's project. Returns objects in the API's shapes (``wire``); raises ``ApiError``
or the core's errors (mapped by the app).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..backends.base import json_format
from ..errors import NotFoundError
from ..objects import ACTIVE_RUN_STATUSES, Assistant, Run, Thread, TruncationStrategy
from ..runtime import RunOptions, Runtime
from ..store_api import Order
from ..store_interface import ThreadStore
from . import wire
from .errors import ApiError, bad_request
from .params import MAX_INSTRUCTIONS, Params

#: How long a run waits in requires_action for client tool outputs (the hosted API's 10 min).
EXPIRES_IN_S = 600
#: Metadata key on an assistant (or a run) naming built-in tools that run on this server:
#: a comma-separated list of tool names, or "*" for all of them.
SERVER_TOOLS_KEY = "server_tools"
ListKind = Literal["assistants", "messages", "runs", "steps"]


@dataclass
class Limits:
    max_active_runs: int = 100  # runs executing at once on this server (429 beyond)
    expires_in: int = EXPIRES_IN_S  # seconds a run may wait for client tool outputs


@dataclass
class Models:
    """What the configured backend offers, and which model a run is served by."""

    provider: str
    default: str
    listed: list[str] = field(default_factory=list)

    def offered(self) -> list[str]:
        return list(dict.fromkeys([self.default, *self.listed]))

    def served(self, requested: str) -> str:
        """The model the backend runs for a request naming ``requested``: an OpenAI
        model as asked; on a compatible server one it lists; else the configured one."""
        if self.provider == "openai" or requested in self.listed:
            return requested
        return self.default


def list_params(query: Mapping[str, str]) -> dict[str, Any]:
    """``limit`` (1–100, default 20), ``order`` (asc/desc, default desc), ``after``, ``before``."""
    p = Params(dict(query))
    raw_limit = query.get("limit")
    limit = 20
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise bad_request(
                f"Invalid 'limit': expected an integer, got {raw_limit!r}.", "limit", "invalid_type"
            ) from None
        if not 1 <= limit <= 100:
            raise bad_request(
                f"Invalid 'limit': {limit} is outside the allowed range 1–100.", "limit"
            )
    order = p.choice("order", ("asc", "desc")) or "desc"
    return {
        "limit": limit,
        "order": order,
        "after": query.get("after") or None,
        "before": query.get("before") or None,
    }


class Service:
    def __init__(
        self, store: ThreadStore, runtime: Runtime, models: Models, limits: Limits | None = None
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.models = models
        self.limits = limits or Limits()

    # -- assistants ------------------------------------------------------------------------
    def builtin(self) -> Assistant:
        return self.store.default_assistant()

    def _present(self, assistant: Assistant) -> dict[str, Any]:
        """The wire form; the built-in assistant shows the tools it runs (all of ours)."""
        data = wire.assistant(assistant)
        if not assistant.tools and assistant.id == self.builtin().id:
            data["tools"] = self.runtime.tools.specs()
        return data

    def _assistant_fields(self, p: Params, *, creating: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        model = p.string("model", required=creating)
        if model is not None:
            fields["model"] = model
        for name, limit in (
            ("name", 256),
            ("description", 512),
            ("instructions", MAX_INSTRUCTIONS),
        ):
            if p.has(name):
                fields[name] = p.string(name, max_len=limit)
        tools = p.tools()
        if tools is not None:
            fields["tools"] = tools
        metadata = p.metadata()
        if metadata is not None:
            fields["metadata"] = metadata
        if p.has("temperature"):
            fields["temperature"] = p.number("temperature", minimum=0, maximum=2)
        if p.has("top_p"):
            fields["top_p"] = p.number("top_p", minimum=0, maximum=1)
        if p.has("response_format"):
            fields["response_format"] = p.response_format() or "auto"
        if p.obj("tool_resources") is not None and any(p.data["tool_resources"].values()):
            raise bad_request(
                "tool_resources (files for code_interpreter or file_search) are not supported "
                "by this server.",
                "tool_resources",
                "unsupported",
            )
        return fields

    def create_assistant(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        fields = self._assistant_fields(Params(body), creating=True)
        assistant = self.store.create_assistant(
            fields.pop("model"),
            name=fields.pop("name", None),
            instructions=fields.pop("instructions", None),
            description=fields.pop("description", None),
            tools=fields.pop("tools", None),
            metadata=fields.pop("metadata", None),
            project=project,
        )
        if fields:
            for name, value in fields.items():
                setattr(assistant, name, value)
            self.store.update_assistant(assistant)
        return wire.assistant(assistant)

    def get_assistant(self, project: str, assistant_id: str) -> dict[str, Any]:
        return self._present(self.store.owned_assistant(project, assistant_id))

    def _own_assistant(self, project: str, assistant_id: str, verb: str) -> Assistant:
        assistant = self.store.owned_assistant(project, assistant_id)
        if assistant.id == self.builtin().id:
            raise bad_request(
                f"The built-in Investor Assistant ({assistant_id}) is shared and cannot be "
                f"{verb}; create your own assistant (POST /v1/assistants).",
                "assistant_id",
            )
        return assistant

    def modify_assistant(
        self, project: str, assistant_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        fields = self._assistant_fields(Params(body), creating=False)
        assistant = self._own_assistant(project, assistant_id, "modified")
        for name, value in fields.items():
            setattr(assistant, name, value)
        self.store.update_assistant(assistant)
        return wire.assistant(assistant)

    def delete_assistant(self, project: str, assistant_id: str) -> dict[str, Any]:
        self._own_assistant(project, assistant_id, "deleted")
        self.store.delete_assistant(assistant_id)
        return wire.deleted("assistant", assistant_id)

    def list_assistants(self, project: str, query: Mapping[str, str]) -> dict[str, Any]:
        page = self.store.page(
            "assistants", project, also_id=self.builtin().id, **list_params(query)
        )
        return wire.page([self._present(a) for a in page.data], page.has_more)

    # -- threads ---------------------------------------------------------------------------
    def create_thread(self, project: str, body: dict[str, Any]) -> Thread:
        p = Params(body)
        messages = p.messages()
        metadata = p.metadata()
        resources = p.obj("tool_resources")
        if resources is not None and any(resources.data.values()):
            raise bad_request(
                "tool_resources are not supported by this server.", "tool_resources", "unsupported"
            )
        thread = self.store.create_thread(metadata=metadata, origin="api", project=project)
        for role, text, meta in messages:
            self.store.add_message(thread.id, role, text, metadata=meta)
        return self.store.get_thread(thread.id)

    def get_thread(self, project: str, thread_id: str) -> dict[str, Any]:
        return wire.thread(self.store.owned_thread(project, thread_id))

    def modify_thread(self, project: str, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
        p = Params(body)
        metadata = p.metadata()
        self.store.owned_thread(project, thread_id)
        if metadata is not None:
            self.store.set_metadata("thread", thread_id, metadata)
        return wire.thread(self.store.get_thread(thread_id))

    async def delete_thread(self, project: str, thread_id: str) -> dict[str, Any]:
        self.store.owned_thread(project, thread_id)
        active = self.store.active_run(thread_id)
        if active is not None:  # its run goes first, so it ends recorded
            await self.runtime.cancel_run(active.id)
        self.store.delete_thread(thread_id)
        return wire.deleted("thread", thread_id)

    # -- messages --------------------------------------------------------------------------
    def _message_in(self, project: str, thread_id: str, message_id: str) -> Any:
        self.store.owned_thread(project, thread_id)
        message = self.store.get_message(message_id)
        if message.thread_id != thread_id:
            raise NotFoundError("message", message_id)
        return message

    def _refuse_if_active(self, thread_id: str) -> None:
        active = self.store.active_run(thread_id)
        if active is not None:
            raise bad_request(
                f"Can't add messages to {thread_id} while a run {active.id} is active.",
                code="thread_locked",
            )

    def create_message(self, project: str, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
        role, text, metadata = Params(body).message()
        self.store.owned_thread(project, thread_id)
        self._refuse_if_active(thread_id)
        return wire.message(self.store.add_message(thread_id, role, text, metadata=metadata))

    def get_message(self, project: str, thread_id: str, message_id: str) -> dict[str, Any]:
        return wire.message(self._message_in(project, thread_id, message_id))

    def modify_message(
        self, project: str, thread_id: str, message_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        metadata = Params(body).metadata()
        self._message_in(project, thread_id, message_id)
        if metadata is not None:
            self.store.set_metadata("message", message_id, metadata)
        return wire.message(self.store.get_message(message_id))

    def delete_message(self, project: str, thread_id: str, message_id: str) -> dict[str, Any]:
        message = self._message_in(project, thread_id, message_id)
        if message.status == "in_progress":
            raise bad_request(f"Message {message_id} is being written by a run; wait for it.")
        self.store.delete_message(message_id)
        return wire.deleted("thread.message", message_id)

    def list_messages(
        self, project: str, thread_id: str, query: Mapping[str, str]
    ) -> dict[str, Any]:
        self.store.owned_thread(project, thread_id)
        page = self.store.page(
            "messages",
            thread_id,
            run_id=query.get("run_id") or None,
            **list_params(query),
            raw=True,
        )
        return wire.page([wire.message(m) for m in page.data], page.has_more)

    # -- runs ------------------------------------------------------------------------------
    def _run_in(self, project: str, thread_id: str, run_id: str) -> Run:
        self.store.owned_thread(project, thread_id)
        run = self.store.get_run(run_id)
        if run.thread_id != thread_id:
            raise NotFoundError("run", run_id)
        return run

    def _run_options(
        self, project: str, p: Params
    ) -> tuple[RunOptions, list[tuple[str, str, dict[str, str] | None]]]:
        assistant_id = p.string("assistant_id", required=True)
        assert assistant_id is not None
        tools = p.tools()
        options: RunOptions = {
            "approval": "client",
            "expires_in": self.limits.expires_in,
            "instructions": p.string("instructions", max_len=MAX_INSTRUCTIONS),
            "additional_instructions": p.string(
                "additional_instructions", max_len=MAX_INSTRUCTIONS
            ),
            "temperature": p.number("temperature", minimum=0, maximum=2),
            "top_p": p.number("top_p", minimum=0, maximum=1),
            "max_prompt_tokens": p.integer("max_prompt_tokens", minimum=256),
            "max_completion_tokens": p.integer("max_completion_tokens", minimum=16),
            "tool_choice": p.tool_choice(),
            "response_format": p.response_format(),
            "metadata": p.metadata(),
        }
        strategy = p.truncation_strategy()
        if strategy is not None:
            options["truncation_strategy"] = TruncationStrategy(**strategy)
        parallel = p.boolean("parallel_tool_calls")
        if parallel is not None:
            options["parallel_tool_calls"] = parallel
        additional = p.messages("additional_messages")
        assistant = self.store.owned_assistant(project, assistant_id)
        requested = p.string("model") or assistant.model
        options["assistant_id"] = assistant.id
        options["model"] = requested
        options["served_model"] = self.models.served(requested)
        if options["temperature"] is None:
            options["temperature"] = assistant.temperature
        if options["top_p"] is None:
            options["top_p"] = assistant.top_p
        if options["response_format"] is None:
            options["response_format"] = assistant.response_format
        self._check_json_answers(options["response_format"])
        run_tools, server_tools = self._tools_for(assistant, tools, options.get("metadata"))
        options["tools"] = run_tools
        options["server_tools"] = server_tools
        return options, additional

    def _check_json_answers(self, response_format: Any) -> None:
        """JSON answers need a language model: the offline analyst writes its report."""
        form = json_format(response_format)
        if form is not None and not self.runtime.backend.is_llm:
            raise bad_request(
                f"response_format {form['type']!r} needs a language model; this "
                "server answers with the offline analyst, which writes prose. Start it with "
                "a model (--provider openai or --base-url).",
                "response_format",
                "unsupported",
            )

    def _tools_for(
        self,
        assistant: Assistant,
        override: list[dict[str, Any]] | None,
        metadata: dict[str, str] | None,
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """(the run's tools, the names that run on this server). The built-in assistant's
        own tools run here; an assistant (or run) names others in ``metadata.server_tools``;
        every other function tool is the client's."""
        registry = {spec["function"]["name"]: spec for spec in self.runtime.tools.specs()}
        tools = list(override if override is not None else assistant.tools)
        here: list[str] = []
        if assistant.id == self.builtin().id and override is None:
            tools = tools or list(registry.values())
            here = [t["function"]["name"] for t in tools if t["function"]["name"] in registry]
        wanted = (metadata or {}).get(SERVER_TOOLS_KEY) or assistant.metadata.get(SERVER_TOOLS_KEY)
        if wanted:
            names = (
                list(registry) if wanted.strip() == "*" else [n.strip() for n in wanted.split(",")]
            )
            unknown = [n for n in names if n and n not in registry]
            if unknown:
                raise bad_request(
                    f"metadata.{SERVER_TOOLS_KEY} names tools this server does not have: "
                    f"{', '.join(unknown)} (it has {', '.join(registry)}).",
                    f"metadata.{SERVER_TOOLS_KEY}",
                )
            declared = {t["function"]["name"] for t in tools}
            for name in names:
                if name and name not in declared:
                    tools.append(registry[name])
                if name and name not in here:
                    here.append(name)
        return tools, here

    def _check_capacity(self) -> None:
        if len(self.runtime.executing_ids()) >= self.limits.max_active_runs:
            raise ApiError(
                429,
                f"This server is executing its limit of {self.limits.max_active_runs} runs; "
                "retry when one has finished.",
                type="requests",
                code="rate_limit_exceeded",
            )

    def create_run(self, project: str, thread_id: str, body: dict[str, Any]) -> Run:
        p = Params(body)
        options, additional = self._run_options(project, p)
        self.store.owned_thread(project, thread_id)
        self._check_capacity()
        if additional:
            self._refuse_if_active(thread_id)
            for role, text, metadata in additional:
                self.store.add_message(thread_id, role, text, metadata=metadata)
        return self.runtime.start_run(thread_id, **options)

    def create_thread_and_run(self, project: str, body: dict[str, Any]) -> tuple[Thread, Run]:
        p = Params(body)
        options, _ = self._run_options(project, p)
        self._check_capacity()
        thread_params = p.obj("thread")
        thread = self.create_thread(project, thread_params.data if thread_params else {})
        return thread, self.runtime.start_run(thread.id, **options)

    def get_run(self, project: str, thread_id: str, run_id: str) -> dict[str, Any]:
        return wire.run(self._run_in(project, thread_id, run_id))

    def list_runs(self, project: str, thread_id: str, query: Mapping[str, str]) -> dict[str, Any]:
        self.store.owned_thread(project, thread_id)
        page = self.store.page("runs", thread_id, **list_params(query), raw=True)
        return wire.page([wire.run(r) for r in page.data], page.has_more)

    def modify_run(
        self, project: str, thread_id: str, run_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        metadata = Params(body).metadata()
        self._run_in(project, thread_id, run_id)
        if metadata is not None:
            self.runtime.set_run_metadata(run_id, metadata)
        return wire.run(self.store.get_run(run_id))

    async def cancel_run(self, project: str, thread_id: str, run_id: str) -> dict[str, Any]:
        run = self._run_in(project, thread_id, run_id)
        if run.status not in ACTIVE_RUN_STATUSES:
            raise bad_request(f"Cannot cancel run with status '{run.status}'.")
        return wire.run(await self.runtime.cancel_run(run_id))

    def check_outputs(
        self, project: str, thread_id: str, run_id: str, body: dict[str, Any]
    ) -> list[dict[str, str]]:
        """The tool outputs of a submission, checked against the run (400 otherwise)."""
        p = Params(body)
        items = p.array("tool_outputs")
        if items is None:
            p.required("tool_outputs")
        assert items is not None
        outputs = []
        for index in range(len(items)):
            item = p.item("tool_outputs", index)
            call_id = item.string("tool_call_id", required=True)
            output = item.string("output") or ""
            outputs.append({"tool_call_id": call_id or "", "output": output})
        run = self._run_in(project, thread_id, run_id)
        if run.status != "requires_action":
            raise bad_request(
                f'Runs in status "{run.status}" do not accept tool outputs.', "tool_outputs"
            )
        return outputs

    async def submit_tool_outputs(
        self, run_id: str, outputs: list[dict[str, str]]
    ) -> dict[str, Any]:
        await self.runtime.submit_tool_outputs(run_id, outputs)
        # The run's task takes the outputs on its next turn of the event loop; answer once
        # it has left requires_action, so a client that polls next (the SDK's
        # submit_tool_outputs_and_poll) never sees it still waiting.
        run = self.store.get_run(run_id)
        for _ in range(50):
            if run.status != "requires_action":
                break
            await asyncio.sleep(0)
            run = self.store.get_run(run_id)
        return wire.run(run)

    # -- steps -----------------------------------------------------------------------------
    def list_steps(
        self, project: str, thread_id: str, run_id: str, query: Mapping[str, str]
    ) -> dict[str, Any]:
        self._run_in(project, thread_id, run_id)
        page = self.store.page("steps", run_id, **list_params(query), raw=True)
        return wire.page([wire.step(s) for s in page.data], page.has_more)

    def get_step(self, project: str, thread_id: str, run_id: str, step_id: str) -> dict[str, Any]:
        self._run_in(project, thread_id, run_id)
        step = self.store.get_step(step_id)
        if step.run_id != run_id:
            raise NotFoundError("run step", step_id)
        return wire.step(step)

    # -- models ----------------------------------------------------------------------------
    def list_models(self) -> dict[str, Any]:
        return {"object": "list", "data": [self._model(m) for m in self.models.offered()]}

    def get_model(self, model_id: str) -> dict[str, Any]:
        if model_id not in self.models.offered():
            raise ApiError(
                404,
                f"The model '{model_id}' does not exist on this server.",
                code="model_not_found",
            )
        return self._model(model_id)

    def _model(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 0, "owned_by": self.models.provider}

    # -- housekeeping ----------------------------------------------------------------------
    async def expire_runs_forever(self, interval: float = 5.0) -> None:
        """Runs waiting for client outputs past ``expires_at`` with no task here (left by
        an earlier process) become expired; live ones expire by themselves."""
        while True:
            self.store.expire_runs(skip=set(self.runtime.executing_ids()))
            await asyncio.sleep(interval)


__all__ = ["EXPIRES_IN_S", "Limits", "Models", "Order", "Service", "list_params"]
