"""How long a cached answer stays fresh: prices for minutes while the US market trades,
longer when it is closed; statements and lookups for a day."""

from __future__ import annotations

import datetime as dt

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# function → (TTL while the US market is open, TTL while it is closed)
_TTL: dict[str, tuple[float, float]] = {
    "history": (5 * MINUTE, HOUR),
    "quote": (2 * MINUTE, HOUR),
    "news": (30 * MINUTE, 2 * HOUR),
    "recommendations": (12 * HOUR, 12 * HOUR),
    "statement": (DAY, DAY),
    "lookup": (DAY, DAY),
}
_DEFAULT = (5 * MINUTE, HOUR)


def _new_york() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/New_York")
    except Exception:  # no tz database: EST is close enough to decide "market hours"
        return dt.timezone(dt.timedelta(hours=-5))


def us_market_open(now: float) -> bool:
    """Regular session, Mon–Fri 09:30–16:00 New York time (holidays count as open: harmless)."""
    local = dt.datetime.fromtimestamp(now, tz=_new_york())
    if local.weekday() >= 5:
        return False
    minutes = local.hour * 60 + local.minute
    return 9 * 60 + 30 <= minutes < 16 * 60


def ttl_seconds(function: str, now: float) -> float:
    open_ttl, closed_ttl = _TTL.get(function, _DEFAULT)
    return open_ttl if us_market_open(now) else closed_ttl
