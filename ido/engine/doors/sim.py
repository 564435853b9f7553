"""The sim door: any capability executed as a simulation (its reliability, a lognormal latency).

`SimExecutor` implements `ido.engine.doors.Executor` for `invoke: sim` (and is
what a local run uses for it); the simulator replaces it with its degraded
world (`ido.simulation.world`).
"""

from __future__ import annotations

import asyncio
import math
import random

from ido.engine.doors import Call, Result
from ido.errors import ExecutionError


class SimExecutor:
    """Executes any capability as a simulation: reliability and a lognormal latency.

    The latency's median is the declared latency and its log-spread the sim
    door's `latency_jitter` (0.25 for http/python doors). Deterministic given
    `rng` and the order of calls. Only `asyncio.sleep` is used, so it runs on
    the simulator's virtual clock.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(0)

    async def execute(self, call: Call) -> Result:
        """Return the declared effects' success after a sampled latency; or raise a failure."""
        cap = call.capability
        jitter = cap.invoke.sim.latency_jitter if cap.invoke.sim is not None else 0.25
        latency = cap.latency * math.exp(self._rng.gauss(0.0, jitter)) if cap.latency > 0 else 0.0
        ok = self._rng.random() < cap.reliability
        if latency > call.timeout:
            await asyncio.sleep(call.timeout)
            raise ExecutionError(
                f"{cap.name}: no answer within {call.timeout:g}s (simulated)",
                kind="timeout", capability=cap.name,
            )
        await asyncio.sleep(latency)
        if not ok:
            raise ExecutionError(
                f"{cap.name}: simulated failure (reliability {cap.reliability:g})",
                kind="server", capability=cap.name, status=503,
            )
        return Result(cost=None, latency_s=latency)
