"""When to retry a failed model call, and how long to wait first.

Backends build their ``openai`` client with ``max_retries=0`` so that every retry happens
here, where it can be shown to the user (``run.retry``) and cancelled.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..backends.base import BackendError
from ..limits import GIVE_UP_AFTER_S, MAX_RETRIES


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = MAX_RETRIES
    base_delay: float = 0.5  # seconds before the first retry
    max_delay: float = 20.0
    jitter: float = 0.25  # ± fraction of the delay, so many clients don't retry in step
    max_retry_after: float = 60.0  # a server asking for more than this gets this
    # Seconds a model turn may wait for its first chunk, every attempt and every wait
    # between them together (None: no limit). Once an answer streams, it may take its time.
    give_up_after: float | None = GIVE_UP_AFTER_S

    def should_retry(self, error: BackendError, attempt: int) -> bool:
        """``attempt`` is the number of retries already made."""
        return error.retryable and attempt < self.max_retries

    def delay(self, error: BackendError, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if error.retry_after is not None and error.retry_after >= 0:
            return min(error.retry_after, self.max_retry_after)
        base = min(self.max_delay, self.base_delay * 2.0**attempt)
        spread = base * self.jitter
        return max(0.0, base + random.uniform(-spread, spread))
