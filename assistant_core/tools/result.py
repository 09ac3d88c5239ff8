"""What a tool returns: data for the model, a richer form for the UI, and provenance.

Errors are results too (``ToolResult.failure``): the model reads them and carries on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolResult:
    #: Compact, JSON-able form sent to the model (never a whole DataFrame dump).
    data: Any = None
    #: Richer form for display, or None. ``{"kind": ..., ...}`` with kinds:
    #:   "prices":  {"series": [{"symbol", "dates": [...], "close": [...], "volume": [...],
    #:               "high": [...], "low": [...]}], "stats": {...}}
    #:   "table":   {"title", "columns": [period labels], "rows": [[label, v1, v2, …]], "unit"}
    #:              (unit: the currency of a statement's amounts, or a word such as "analysts")
    #:   "list":    {"title", "items": [{"title", "subtitle", "url"?}]}
    #:   "kv":      {"title", "items": [[key, value, kind?], …], "currency"?} — kind says how
    #:              to write the value (a numfmt kind: "price", "amount", "change", …)
    display: dict[str, Any] | None = None
    source: str | None = None  # yahoo | cache | demo | web | builtin
    symbol: str | None = None
    currency: str | None = None
    as_of: float | None = None  # Unix seconds the data is from (fetch time)
    error: str | None = None
    cache_hit: bool = False
    stale: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, message: str, **kw: Any) -> ToolResult:
        return cls(error=message, **kw)

    @property
    def is_error(self) -> bool:
        return self.error is not None

    def to_model(self) -> str:
        """The string the model reads as the tool's output."""
        if self.error is not None:
            body: dict[str, Any] = {"error": self.error}
        else:
            body = {"data": self.data}
        meta = {
            k: v
            for k, v in (
                ("symbol", self.symbol),
                ("currency", self.currency),
                ("source", self.source),
                ("as_of", _iso(self.as_of)),
                ("stale", True if self.stale else None),
            )
            if v is not None
        }
        body.update(meta)
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
