"""`woken`: a run's wait for its wake-up event with a time limit, as `asyncio.wait_for` decided it."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ido.engine.wake import woken
from ido.simulation.clock import run_virtual


def test_a_wake_before_the_limit_returns_true_at_the_wake() -> None:
    """Set after 1 s of a 5 s limit: woken, at 1 s, and the timer is gone (no wake at 5 s)."""

    async def main() -> tuple[bool, float, int]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        loop.call_later(1.0, event.set)
        got = await woken(event, 5.0)
        at = loop.time()
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        return got, at, len(live)

    got, at, live = run_virtual(main)
    assert got is True
    assert at == pytest.approx(1.0)
    assert live == 0


def test_the_limit_passing_returns_false_with_the_event_set() -> None:
    """Nothing sets the event: False after exactly the limit; the event is left set for the caller to clear."""

    async def main() -> tuple[bool, float, bool]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        got = await woken(event, 2.5)
        return got, loop.time(), event.is_set()

    got, at, still_set = run_virtual(main)
    assert got is False
    assert at == pytest.approx(2.5)
    assert still_set


def test_no_limit_waits_for_the_event_alone() -> None:
    """A limit of None waits however long the event takes."""

    async def main() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        loop.call_later(7200.0, event.set)
        return await woken(event, None), loop.time()

    got, at = run_virtual(main)
    assert got is True
    assert at == pytest.approx(7200.0)


@pytest.mark.parametrize("timeout", [0.0, -3.0])
def test_a_limit_already_reached_is_an_expiry_even_with_the_event_set(timeout: float) -> None:
    """As with wait_for: a limit of zero or less expires, whether or not the event is set."""

    async def main() -> tuple[bool, bool]:
        event = asyncio.Event()
        expired_clear = await woken(event, timeout)
        event.set()
        expired_set = await woken(event, timeout)
        return expired_clear, expired_set

    assert run_virtual(main) == (False, False)


def test_an_event_already_set_wakes_at_once() -> None:
    """Set before the wait: True, no time passes."""

    async def main() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        event.set()
        return await woken(event, 3.0), loop.time()

    assert run_virtual(main) == (True, 0.0)


def test_a_wake_in_the_same_iteration_as_the_limit_goes_to_whichever_ran_first() -> None:
    """The event set by a timer due at the same moment as the limit, and scheduled before it, wins;
    scheduled after it, the expiry wins."""

    async def wait(set_first: bool) -> bool:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        if set_first:
            loop.call_at(loop.time() + 1.0, event.set)
            return await woken(event, 1.0)
        task = asyncio.ensure_future(woken(event, 1.0))
        await asyncio.sleep(0)  # the wait arms its timer first
        loop.call_at(loop.time() + 1.0, event.set)
        return await task

    assert run_virtual(lambda: wait(True)) is True
    assert run_virtual(lambda: wait(False)) is False


def test_cancelling_the_wait_drops_its_timer() -> None:
    """A cancelled waiter leaves no live timer behind and the event unset."""

    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        task = asyncio.ensure_future(woken(event, 60.0))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        return len(live), event.is_set()

    assert run_virtual(main) == (0, False)


@given(wake=st.one_of(st.none(), st.floats(0.001, 100.0)), limit=st.floats(0.001, 100.0))
def test_woken_decides_as_wait_for_does(wake: float | None, limit: float) -> None:
    """For any wake time and limit (distinct moments), `woken` says what `asyncio.wait_for` says, at the same time."""

    async def with_wait_for() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        if wake is not None:
            loop.call_later(wake, event.set)
        try:
            await asyncio.wait_for(event.wait(), limit)
            got = True
        except TimeoutError:
            got = False
        return got, loop.time()

    async def with_woken() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        if wake is not None:
            loop.call_later(wake, event.set)
        return await woken(event, limit), loop.time()

    assert run_virtual(with_woken) == run_virtual(with_wait_for)
