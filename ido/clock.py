"""Time as the engine sees it: seconds on the running event loop's clock.

The engine never calls `time.time()` or `time.monotonic()` directly: it asks a
`Clock`, so the simulator's virtual-time event loop (`ido.simulation.clock`)
plugs in through the same door as real time. `Clock.now()` is the loop's
monotonic seconds; `Clock.timestamp()` maps it to wall-clock epoch seconds
for records (virtual in a simulation, starting at the scenario's epoch).
"""

from __future__ import annotations

import asyncio
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
        return datetime.fromtimestamp(self.timestamp(), tz=UTC).isoformat(timespec="milliseconds")
