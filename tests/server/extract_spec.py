"""Extract the Assistants part of OpenAI's published OpenAPI spec (unmodified) for the
conformance test: its paths under /assistants and /threads, and every component they
reference, transitively.

    python tests/server/extract_spec.py ../shared/specs/openai-openapi.yaml \
        tests/fixtures/specs/openai-assistants-openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

PREFIXES = ("/assistants", "/threads")


def subset(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {p: v for p, v in spec["paths"].items() if p.startswith(PREFIXES)}
    seen: set[str] = set()

    def resolve(ref: str) -> Any:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                walk(resolve(ref))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(paths)
    components: dict[str, dict[str, Any]] = {}
    for ref in sorted(seen):
        _, _, kind, name = ref.split("/", 3)
        components.setdefault(kind, {})[name] = resolve(ref)
    return {
        "openapi": spec["openapi"],
        "info": {**spec["info"], "title": spec["info"]["title"] + " (Assistants subset)"},
        "servers": spec.get("servers", []),
        "paths": paths,
        "components": components,
    }


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(source.read_text(encoding="utf-8"), Loader=loader)
    target.write_text(
        json.dumps(subset(spec), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
