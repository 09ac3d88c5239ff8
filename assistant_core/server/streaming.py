"""A run's events as the API streamed them: ``event: thread.run.created`` … ``data: [DONE]``.

A stream ends when its run ends or stops in ``requires_action`` (the client answers with
``submit_tool_outputs``, which streams the rest), always with ``event: done`` and
``data: [DONE]``. A client that goes away only stops its own stream: the run goes on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sse_starlette import EventSourceResponse

from ..events import Done, Event, RunRequiresAction
from .wire import EventEncoder

PING_S = 15
# How long a stream may take to end by itself once the server is told to stop: the server
# cancels its runs first, so their streams end with thread.run.cancelled and done.
SHUTDOWN_GRACE_S = 10.0


async def sse_events(
    events: AsyncIterator[Event], prefix: Iterable[Event] = ()
) -> AsyncIterator[dict[str, Any]]:
    encoder = EventEncoder()
    for event in prefix:
        encoded = encoder.encode(event)
        if encoded is not None:
            yield {"event": encoded[0], "data": encoded[1]}
    try:
        async for event in events:
            if isinstance(event, Done):
                break
            encoded = encoder.encode(event)
            if encoded is not None:
                yield {"event": encoded[0], "data": encoded[1]}
            if isinstance(event, RunRequiresAction):
                break
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    yield {"event": "done", "data": "[DONE]"}


def sse_response(events: AsyncIterator[Event], prefix: Iterable[Event] = ()) -> EventSourceResponse:
    return EventSourceResponse(
        sse_events(events, prefix),
        ping=PING_S,
        shutdown_grace_period=SHUTDOWN_GRACE_S,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
