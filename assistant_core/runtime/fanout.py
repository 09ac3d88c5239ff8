"""One run's events, delivered to any number of listeners.

A run executes in its own task and publishes each event once; every listener (the CLI's
stream, an API client's SSE response, a second client watching the same run) reads its own
queue. A listener that joins late first gets the run's history so far, compacted (the text
deltas of one message joined into one delta), so it can render the run as it stands and
then follow it live. Listeners come and go without touching the run: only the caller of
``Runtime.stream_run`` ties the run's life to its reading.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TypeAlias

from ..events import Done, Event, MessageDelta, MessageDeltaData


@dataclass
class _Text:
    """Consecutive deltas of one message's text, kept as parts (joined once, on replay)."""

    first: MessageDeltaData
    parts: list[str] = field(default_factory=list)

    def event(self) -> MessageDelta:
        d = self.first
        return MessageDelta(
            MessageDeltaData(d.id, d.run_id, d.thread_id, "".join(self.parts), d.index)
        )


_Entry: TypeAlias = Event | _Text


class RunEvents:
    def __init__(self) -> None:
        self._history: list[_Entry] = []
        self._listeners: list[asyncio.Queue[Event]] = []
        self.done = False

    def publish(self, event: Event) -> None:
        self._remember(event)
        if isinstance(event, Done):
            self.done = True
        for queue in self._listeners:
            queue.put_nowait(event)

    def _remember(self, event: Event) -> None:
        if isinstance(event, MessageDelta):
            last = self._history[-1] if self._history else None
            data = event.data
            if isinstance(last, _Text) and (last.first.id, last.first.index) == (
                data.id,
                data.index,
            ):
                last.parts.append(data.value)
            else:
                self._history.append(_Text(data, [data.value]))
            return
        self._history.append(event)

    def listen(self, *, replay: bool = True) -> asyncio.Queue[Event]:
        """A queue of this run's events: its history first (``replay``), then live ones,
        ending with ``done``. Call ``unlisten`` when no longer reading."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        if replay:
            for entry in self._history:
                queue.put_nowait(entry.event() if isinstance(entry, _Text) else entry)
        elif self.done:
            queue.put_nowait(Done())
        if not self.done:
            self._listeners.append(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Event]) -> None:
        if queue in self._listeners:
            self._listeners.remove(queue)

    @property
    def listeners(self) -> int:
        return len(self._listeners)
