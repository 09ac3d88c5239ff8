"""Garbage collection for a long-running process (the app, the API server).

A full collection walks every object alive: after start-up (the model client, pandas, the
web framework) a pass takes ~100 ms on these machines, and allocation-heavy work (streamed
text, events, SQL rows) triggered one every few seconds — a stall the user sees as a frozen
stream, or a read the server answers 60–110 ms late (measured: bench/bench_tui_stream.py,
bench/bench_team.py). Once started, freeze what start-up allocated (it lives until exit
anyway) and collect the young generation less often.
"""

from __future__ import annotations

import gc


def settle_after_start() -> None:
    """Call once, when start-up is over. Process-wide: never from a library or a test."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    gc.enable()  # a launcher may have switched collection off for the start-up itself
