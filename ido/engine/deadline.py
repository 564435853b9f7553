"""A run's time limits, and abandoning its steps in flight when time is up or the run ends.

`run_deadline` gives the engine-clock time by which a run must be done (from its
intent's `constraints.deadline`); `MAX_BLOCKED_S` bounds how long a run
without one may stay blocked. `abandon` stops the steps a run still has in
flight and records those that never answered as failed, outcome unknown.
Called by the engine's loop (`ido.engine.engine.Engine`): when the deadline
passes with steps in flight, and when a run succeeds or fails while some are
still running.
"""

from __future__ import annotations

import asyncio
import contextlib

from ido.clock import Clock
from ido.engine.run import Finished, RunState
from ido.errors import ExecutionError

#: how long a run without a deadline stays blocked before it gives up (seconds).
MAX_BLOCKED_S = 300.0


def run_deadline(run: RunState) -> float | None:
    """Return the engine-clock time by which `run` must be done, or None if its intent sets none."""
    d = run.intent.constraints.deadline
    return None if d is None else run.started + d


async def abandon(run: RunState, why: str, clock: Clock, *, settle: bool = False) -> None:
    """Stop every step in flight; record those that never answered as failed (outcome unknown).

    Returns once every step's task has ended; the failures are appended to
    `run.finished` (kind `timeout`, "abandoned, {why}") for the next fold.
    With `settle` (the run is about to undo its steps), requests that already
    left through their door are not cancelled but awaited, up to their call
    timeout: a provider may act on a request whatever the run does next, and
    compensation can only undo what the run knows took effect. Steps still
    queued for a concurrency slot or a quota were never sent and are cancelled.
    """
    handles = list(run.in_flight.values())
    if settle:
        sent = [h.task for h in handles if h.sent and h.task is not None and not h.task.done()]
        if sent:
            bound = max(h.capability.effective_timeout for h in handles if h.sent) + 1.0
            await asyncio.wait(sent, timeout=bound)
    for handle in handles:
        if handle.task is not None and not handle.task.done():
            handle.task.cancel()
    for handle in handles:
        if handle.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await handle.task
    done = {f.handle.step for f in run.finished}
    for handle in handles:
        if handle.step not in done:
            run.finished.append(Finished(handle, None, ExecutionError(
                f"{handle.capability.name}: abandoned, {why}", kind="timeout", capability=handle.capability.name,
            ), clock.now() - handle.started))
