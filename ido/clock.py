"""Time as the engine sees it: seconds on the running event loop's clock.

The engine never calls `time.time()` or `time.monotonic()` directly: it asks a
`Clock`, so the simulator's virtual-time event loop (`ido.simulation.clock`)
plugs in through the same door as real time. `Clock.now()` is the loop's
monotonic seconds; `Clock.timestamp()` maps it to wall-clock epoch seconds
for records (virtual in a simulation, starting at the scenario's epoch).
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime


class Clock:
    """Reads time from the running asyncio loop; `epoch` anchors it to the wall clock."""

    def __init__(self, epoch: float | None = None) -> None:
        self._anchor: tuple[float, float] | None = None
        self._epoch = epoch

    def now(self) -> float:
        """Return the running loop's monotonic time in seconds (virtual in simulations)."""
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def timestamp(self) -> float:
        """Return epoch seconds for `now()`: real wall time, or `epoch` + elapsed if given."""
        loop_now = self.now()
        if self._anchor is None:
            wall = time.time() if self._epoch is None else self._epoch
            self._anchor = (loop_now, wall)
        start_loop, start_wall = self._anchor
        return start_wall + (loop_now - start_loop)

    def iso(self) -> str:
        """Return `timestamp()` as an ISO 8601 UTC string with milliseconds."""
        return iso_utc(self.timestamp())


#: The last whole second `iso_utc` formatted, and its text up to the seconds.
_last_second: tuple[float, str] = (math.nan, "")


def iso_utc(ts: float) -> str:
    """Return epoch seconds `ts` as ISO 8601 UTC with milliseconds, the very text of
    `datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")`.

    Called by `Clock.iso` for every decision record. Consecutive times mostly fall in
    the same second, so the date and time of day are formatted once per second and
    only the milliseconds per call; they are found as `fromtimestamp` finds them
    (microseconds rounded half to even, then truncated to milliseconds).
    """
    global _last_second
    if not math.isfinite(ts):
        return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")  # raises as datetime does
    fraction, whole = math.modf(ts)
    micros = round(fraction * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1.0, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1.0, micros + 1_000_000
    second = _last_second
    if second[0] != whole:
        # one tuple, swapped whole: threads formatting at once never see a half-made pair
        second = _last_second = (whole, datetime.fromtimestamp(whole, tz=UTC).isoformat(timespec="seconds")[:-6])
    return f"{second[1]}.{micros // 1000:03d}+00:00"
