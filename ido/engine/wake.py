"""Waiting for a run's wake-up event with a time limit, without a task per wait.

`asyncio.wait_for(event.wait(), timeout)` (Python 3.11) wraps the wait in a
task of its own, adds a waiter future and a timer, and takes three loop
iterations to hand back a wake-up; the engine waits like that once per step.
`woken` waits on the event directly and arms one timer that sets the event
when the time is up, so a wake-up costs one iteration and no task.

It keeps `wait_for`'s verdicts where the engine reads them: the timer is due
at the same loop time (`loop.time() + timeout`), a wake and an expiry in the
same loop iteration go to whichever ran first, and a timeout of zero or less
is an expiry even if the event is set. Called by `Engine._sleep`.
"""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, timeout: float | None) -> bool:
    """Return True once `event` is set, or False when `timeout` seconds pass first.

    A `timeout` of None waits for the event alone; zero or less yields to the
    loop once and returns False. On expiry the event is left set (the caller
    clears it before its next wait); on cancellation the timer is dropped.
    """
    if timeout is None:
        await event.wait()
        return True
    if timeout <= 0:
        await asyncio.sleep(0)
        return False
    if event.is_set():
        return True
    loop = asyncio.get_running_loop()
    expired: list[bool] = []
    timer = loop.call_at(loop.time() + timeout, _expire, event, expired)
    try:
        await event.wait()
    finally:
        timer.cancel()
    return not expired


def _expire(event: asyncio.Event, expired: list[bool]) -> None:
    # a wake-up that landed earlier in this loop iteration wins, as with wait_for
    if not event.is_set():
        expired.append(True)
        event.set()
