"""The virtual-time event loop: time jumps, order, no future, no real I/O."""

from __future__ import annotations

import asyncio
import random
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import call, capability

from ido.clock import Clock
from ido.errors import ExecutionError
from ido.simulation.clock import VirtualTimeError, VirtualTimeLoop, loop_clock, run_virtual
from ido.simulation.world import SimulatedWorld


def test_sleep_takes_virtual_not_wall_time() -> None:
    """An hour of sleeping advances the virtual clock by an hour in well under a second of wall time."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(60):
            await asyncio.sleep(60)
        return loop.time() - start

    wall = time.perf_counter()
    assert run_virtual(main) == pytest.approx(3600.0)
    assert time.perf_counter() - wall < 1.0


def test_clock_starts_where_asked() -> None:
    """`run_virtual(start=...)` sets the loop's initial time."""

    async def now() -> float:
        return asyncio.get_running_loop().time()

    assert run_virtual(now, start=1234.5) == 1234.5


def test_timeouts_fire_at_their_virtual_time() -> None:
    """`asyncio.wait_for` times out exactly when its timeout has elapsed in virtual time."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), timeout=5)
        return loop.time() - start

    assert run_virtual(main) == pytest.approx(5.0)


@given(st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=40))
def test_events_run_in_time_order_and_never_early(delays_us: list[int]) -> None:
    """Concurrent sleepers wake in order of their due times, never before them, and time never decreases.

    (Delays are whole microseconds: like every asyncio loop, timers due within the
    clock's 1 ns resolution of now count as due.)
    """
    delays = [d / 1e6 for d in delays_us]
    woke: list[tuple[float, float]] = []

    async def sleeper(delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        await asyncio.sleep(delay)
        woke.append((loop.time(), due))

    async def main() -> None:
        await asyncio.gather(*(sleeper(d) for d in delays))

    run_virtual(main)
    times = [t for t, _ in woke]
    assert times == sorted(times)
    assert all(t >= due for t, due in woke)
    assert [due for _, due in woke] == sorted(due for _, due in woke)


@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=20))
def test_an_outcome_is_never_visible_before_its_latency(latencies_ms: list[int]) -> None:
    """A simulated call's result arrives no earlier than its dispatch time plus the latency it reports."""

    async def main() -> list[tuple[float, float, float]]:
        loop = asyncio.get_running_loop()
        caps = [capability(f"c{i}", latency=ms / 1000, reliability=1.0) for i, ms in enumerate(latencies_ms)]
        world = SimulatedWorld(caps, rng=1)

        async def one(cap_index: int) -> tuple[float, float, float]:
            sent = loop.time()
            result = await world.execute(call(caps[cap_index], timeout=60))
            return sent, loop.time(), result.latency_s

        return list(await asyncio.gather(*(one(i) for i in range(len(caps)))))

    for sent, received, latency in run_virtual(main):
        assert received >= sent + latency - 1e-9
        assert received == pytest.approx(sent + latency)


def test_worker_threads_take_no_virtual_time() -> None:
    """Work handed to a thread completes while the virtual clock stands still."""

    async def main() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        total = await asyncio.to_thread(sum, range(1000))
        return total, loop.time() - start

    assert run_virtual(main) == (499500, 0.0)


def test_waiting_for_nothing_is_a_deadlock_error() -> None:
    """Awaiting a future nobody will ever resolve raises a clear deadlock error instead of hanging."""

    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualTimeError, match="deadlock"):
        run_virtual(main)


def test_real_sockets_are_refused() -> None:
    """Opening a real connection under virtual time fails with a message saying why."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        with socket.socket() as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", 9))

    with pytest.raises(VirtualTimeError, match="real I/O"):
        run_virtual(main)


def test_same_program_same_trace() -> None:
    """Two runs of the same seeded simulation observe identical times and outcomes."""

    def trace() -> list[tuple[float, str]]:
        async def main() -> list[tuple[float, str]]:
            loop = asyncio.get_running_loop()
            cap = capability(reliability=0.7)
            world = SimulatedWorld([cap], rng=42)
            seen: list[tuple[float, str]] = []

            async def one(run: int) -> None:
                await asyncio.sleep(run * 0.05)
                try:
                    await world.execute(call(cap, f"r{run}"))
                    seen.append((loop.time(), f"r{run} ok"))
                except ExecutionError as exc:
                    seen.append((loop.time(), f"r{run} {exc.kind}"))

            await asyncio.gather(*(one(i) for i in range(50)))
            return seen

        return run_virtual(main)

    first = trace()
    assert first == trace()
    assert {s.split()[1] for _, s in first} == {"ok", "server"}


def test_loop_is_a_selector_event_loop() -> None:
    """The virtual loop is a real asyncio selector loop, so asyncio code runs on it unmodified."""
    loop = VirtualTimeLoop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop.time() == 0.0
    finally:
        loop.close()


def _callback_trace(seed: int, *, debug: bool) -> list[tuple[int, float]]:
    """Return (callback number, loop time) of a seeded program of callbacks and timers, in the
    order the loop ran them; with `debug` the loop runs asyncio's own iterations unchanged."""
    rng = random.Random(seed)
    trace: list[tuple[int, float]] = []
    handles: list[asyncio.Handle] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_debug(debug)

        def callback(number: int) -> None:
            trace.append((number, loop.time()))
            if len(trace) >= 600:
                return
            for _ in range(rng.choice((0, 1, 2, 2, 3))):
                child = len(handles)
                how = rng.random()
                if how < 0.1:  # also writes a wake-up byte to the self-pipe, which the loop drains
                    handles.append(loop.call_soon_threadsafe(callback, child))
                elif how < 0.3:
                    handles.append(loop.call_soon(callback, child))
                else:
                    # ties (equal due times), timers due in the past, and far ones piling up in the heap
                    delay = rng.choice((0.0, -1.0, 0.25, 0.25, 1.0, 500.0))
                    handles.append(loop.call_at(loop.time() + delay, callback, child))
            for _ in range(rng.choice((0, 1, 2))) if len(handles) > 3 else ():
                handles[rng.randrange(3, len(handles))].cancel()  # cancelled timers: swept from the heap's head, or the heap rebuilt

        for number in range(3):
            handles.append(loop.call_soon(callback, number))
        await asyncio.sleep(10**7)  # past every timer the program can set (600 callbacks, 500 s apart at most)

    run_virtual(main)
    return trace


@given(st.integers(0, 10**6))
def test_callbacks_run_in_asyncio_order(seed: int) -> None:
    """The loop's lean iterations run callbacks and timers in exactly the order and at the times
    asyncio's own iterations do (debug mode takes asyncio's path): ties, past timers, cancellations,
    a heap rebuilt, wake-ups through the self-pipe."""
    lean = _callback_trace(seed, debug=False)
    assert lean == _callback_trace(seed, debug=True)
    assert len(lean) >= 3


def test_loop_clock_reads_the_virtual_loop() -> None:
    """The simulation's clock reads the virtual loop's time and dates it as `Clock` does; off a
    virtual loop it is a plain `Clock`."""

    async def main() -> list[tuple[float, float, float, float, str, str]]:
        loop = asyncio.get_running_loop()
        fast, plain = loop_clock(1000.0), Clock(epoch=1000.0)
        seen = []
        for delay in (0.0, 0.3, 7.25, 3600.0):
            await asyncio.sleep(delay)
            seen.append((fast.now(), loop.time(), fast.timestamp(), plain.timestamp(), fast.iso(), plain.iso()))
        return seen

    rows = run_virtual(main, start=5.0)
    assert [r[0] for r in rows] == [r[1] for r in rows]
    assert [r[2:4] for r in rows] == [(r[3], r[3]) for r in rows]
    assert rows[-1][2] == pytest.approx(1000.0 + 0.3 + 7.25 + 3600.0)
    assert all(r[4] == r[5] for r in rows)

    async def elsewhere() -> type:
        return type(loop_clock())

    assert asyncio.run(elsewhere()) is Clock
