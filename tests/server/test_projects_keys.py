"""API keys and projects: keys shown once and stored as hashes, 401 without a valid key,
objects invisible (404) across projects, one store shared with the app and the CLI."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

from tests.server.conftest import DEPRECATIONS, ServerProcess, cli_run

pytestmark = DEPRECATIONS
KEY = re.compile(r"^sk-ia-[A-Za-z0-9_-]{40,}$")


def make_key(server: ServerProcess, project: str) -> str:
    result = cli_run(
        server.env, "keys", "create", "--project", project, "--name", f"{project} laptop"
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert KEY.match(key), result.stdout
    assert key not in result.stderr and "cannot be shown again" in result.stderr
    return key


def test_keys_are_shown_once_stored_as_hashes_and_required(make_server: Any) -> None:
    server = make_server()
    alpha = make_key(server, "alpha")
    listing = cli_run(server.env, "keys", "list")
    assert listing.returncode == 0 and "alpha" in listing.stdout and "active" in listing.stdout
    assert alpha not in listing.stdout
    server.start()
    assert "API keys required" in server.output

    assert server.client(alpha).beta.assistants.list().data  # the built-in one
    with pytest.raises(openai.AuthenticationError) as missing_or_wrong:
        server.client("sk-ia-not-a-key-at-all-but-long-enough-to-look-real").beta.assistants.list()
    body = missing_or_wrong.value.body
    assert body["code"] == "invalid_api_key" and "sk-ia" not in json.dumps(body)

    import httpx2

    anonymous = httpx2.get(f"{server.base_url}/assistants")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "missing_api_key"

    key_id = next(
        line.split()[0]
        for line in cli_run(server.env, "keys", "list").stdout.splitlines()
        if "alpha" in line
    )
    revoked = cli_run(server.env, "keys", "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    with pytest.raises(openai.AuthenticationError):
        server.client(alpha).beta.assistants.list()
    unknown = cli_run(server.env, "keys", "revoke", "key_nope")
    assert unknown.returncode == 2 and "no API key with id" in unknown.stderr

    server.stop()
    stored = b"".join(
        p.read_bytes() for p in server.db.parent.glob(server.db.name + "*") if p.is_file()
    )
    assert alpha.encode() not in stored
    assert "sk-ia-" not in server.output  # never in the log


def test_projects_do_not_see_each_other(make_server: Any) -> None:
    server = make_server()
    alpha_key, beta_key = make_key(server, "alpha"), make_key(server, "beta")
    server.start()
    alpha, beta = server.client(alpha_key), server.client(beta_key)

    builtin = next(a for a in alpha.beta.assistants.list() if a.name == "Investor Assistant")
    mine = alpha.beta.assistants.create(model="gpt-4o", name="alpha's")
    thread = alpha.beta.threads.create(
        messages=[{"role": "user", "content": "Should I buy Apple?"}]
    )
    run = alpha.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=builtin.id, poll_interval_ms=50
    )
    message = alpha.beta.threads.messages.list(thread.id).data[0]
    step = alpha.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0]

    for attempt in (
        lambda: beta.beta.assistants.retrieve(mine.id),
        lambda: beta.beta.assistants.update(mine.id, name="taken"),
        lambda: beta.beta.assistants.delete(mine.id),
        lambda: beta.beta.threads.retrieve(thread.id),
        lambda: beta.beta.threads.update(thread.id, metadata={"x": "y"}),
        lambda: beta.beta.threads.delete(thread.id),
        lambda: beta.beta.threads.messages.list(thread.id),
        lambda: beta.beta.threads.messages.retrieve(message.id, thread_id=thread.id),
        lambda: beta.beta.threads.messages.create(thread.id, role="user", content="hi"),
        lambda: beta.beta.threads.runs.list(thread.id),
        lambda: beta.beta.threads.runs.retrieve(run.id, thread_id=thread.id),
        lambda: beta.beta.threads.runs.create(thread_id=thread.id, assistant_id=builtin.id),
        lambda: beta.beta.threads.runs.steps.retrieve(step.id, thread_id=thread.id, run_id=run.id),
        lambda: beta.beta.threads.runs.create(
            thread_id=beta.beta.threads.create().id, assistant_id=mine.id
        ),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    beta_names = [a.name for a in beta.beta.assistants.list()]
    assert beta_names == ["Investor Assistant"]  # the shared built-in only
    assert alpha.beta.threads.retrieve(thread.id).id == thread.id  # untouched


def test_one_store_with_the_app_and_the_cli(server: ServerProcess) -> None:
    client = server.client()
    api_thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "From the API about Tesla"}]
    )
    listed = cli_run(server.env, "threads", "list", "--json")
    threads = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(t for t in threads if t["id"] == api_thread.id)
    assert mine["origin"] == "api" and "Tesla" in mine["title"]

    asked = cli_run(server.env, "ask", "Should I buy Apple?")
    assert asked.returncode == 0, asked.stderr
    newest = json.loads(cli_run(server.env, "threads", "list", "--json", "--limit", "1").stdout)
    assert newest["origin"] == "cli"
    messages = client.beta.threads.messages.list(newest["id"], order="asc").data
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content[0].text.value == "Should I buy Apple?"


def test_a_public_address_without_keys_is_refused(make_server: Any) -> None:
    server = make_server("--host", "0.0.0.0")
    result = cli_run(server.env, "serve", "--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 with no API keys" in result.stderr
    assert "Traceback" not in result.stderr
