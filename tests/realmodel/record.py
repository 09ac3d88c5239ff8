#!/usr/bin/env python
"""Record real llama-server responses into tests/fixtures/recorded/llama_cpp/ (see its
PROVENANCE.md section): ``/props`` and ``/v1/models`` of the 0.5B model served with
``--ctx-size 2048``, and the raw SSE body of a streamed chat completion in which the model
calls one of the app's tools.

Run: python -m tests.realmodel.record   (after scripts/local-model.sh prepare 0.5b)
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from assistant_core.market import create_market
from assistant_core.store import DEFAULT_INSTRUCTIONS
from assistant_core.tools.investor import build_investor_tools
from tests.realmodel.llama_server import LlamaServer

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "llama_cpp"


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with LlamaServer("0.5b", context=2048) as server:
        (OUT / "props_ctx2048.json").write_bytes(get(f"{server.root_url}/props"))
        (OUT / "models.json").write_bytes(get(f"{server.base_url}/models"))
        tools = build_investor_tools(create_market("demo")).specs()
        body = {
            "model": server.model,
            "messages": [
                {"role": "system", "content": DEFAULT_INSTRUCTIONS},
                {
                    "role": "user",
                    "content": "Should I buy Apple stock? Look at its income statement.",
                },
            ],
            "tools": tools,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 128,
            "temperature": 0,
            "seed": 1,
        }
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            (OUT / "chat_tool_call_stream.sse.bin").write_bytes(response.read())
        (OUT / "chat_tool_call_request.json").write_text(json.dumps(body, indent=1) + "\n")
    print(f"recorded into {OUT}")


if __name__ == "__main__":
    main()
