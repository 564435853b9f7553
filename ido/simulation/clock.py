"""Virtual time: an asyncio event loop whose clock jumps to the next timer.

`VirtualTimeLoop` is a selector event loop whose `time()` is a virtual clock.
When no callback is ready, instead of waiting in `select()` until the next
timer is due, it advances the clock to that timer at once: `asyncio.sleep(60)`
and `asyncio.wait_for(..., 5)` cost no wall time, and events are processed in
strict time order (the loop's timer heap). Nothing else changes, so the
engine runs on it unmodified; it reads time only through `loop.time()`
(`ido.clock.Clock`; `VirtualClock` reads this loop's directly). The loop runs
asyncio's iterations itself, in asyncio's order, without polling its selector
when nothing can be waiting there: a simulation's thousands of iterations cost
a few method calls each.

Determinism: with no real I/O, the order of callbacks depends only on the
program and its seeds, so a simulation repeats exactly. Real I/O is what
would break that, so the loop refuses sockets and readers/writers (other than
its own wake-up pipe); work handed to a thread (`run_in_executor`,
`asyncio.to_thread`) is waited for in real time while the virtual clock stands
still, so it takes no virtual time and cannot reorder events.

Used by `ido.simulation.runner` and `ido.simulation.single` through
`run_virtual()`, and by `ido.testing`.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import selectors
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ido.clock import Clock

T = TypeVar("T")

#: How long (wall seconds) the loop waits for a worker thread before calling it a deadlock.
THREAD_WAIT_LIMIT = 300.0
#: asyncio's thresholds for rebuilding its timer heap (`asyncio.base_events`, Python 3.11-3.13).
_MIN_SCHEDULED_TIMER_HANDLES = 100
_MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5


class VirtualTimeError(RuntimeError):
    """Real I/O or a deadlock under virtual time: the simulation cannot go on."""


class _JumpingSelector:
    """Wraps the loop's real selector: polls without waiting, and jumps the clock instead."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Return ready I/O events; when none, advance virtual time to the next timer."""
        loop = self._loop
        if loop._threads_pending:
            # A worker thread will wake us through the self-pipe; the virtual clock waits.
            loop._poked = False
            events = self._inner.select(THREAD_WAIT_LIMIT if timeout != 0 else 0)
            if not events and timeout != 0:
                raise VirtualTimeError(
                    f"a worker thread did not finish within {THREAD_WAIT_LIMIT:g}s of wall time"
                )
            return events
        if loop._ready:  # type: ignore[attr-defined]
            # Callbacks are ready: the loop runs them without waiting, so there is nothing to
            # poll for. A thread's callback (call_soon_threadsafe) is in `_ready` already; its
            # wake-up byte in the self-pipe is drained by a later poll, before the clock moves.
            return []
        loop._poked = False  # cleared before the poll: a byte written after it sets it again
        events = self._inner.select(0)
        if events:
            return events
        if timeout is None:
            raise VirtualTimeError(
                "deadlock under virtual time: no callback is ready, no timer is scheduled "
                "and no worker thread is running, so nothing can ever happen again"
            )
        loop._advance(timeout)
        return events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop on a virtual clock that starts at `start` seconds."""

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        self._threads_pending = 0
        #: a byte may wait in the self-pipe since the selector was last polled (`_write_to_self`).
        self._poked = False
        self._allow_readers = True  # the base class registers its self-pipe while constructing
        real = selectors.DefaultSelector()
        super().__init__(real)
        self._clock_resolution = 0.0  # timers fire strictly after their time; see _advance
        self._selector = _JumpingSelector(real, self)
        self._allow_readers = False

    def time(self) -> float:
        """Return the virtual clock's seconds (never decreases)."""
        return self._virtual_now

    def _run_once(self) -> None:
        # asyncio's iteration (`BaseEventLoop._run_once`), done leaner, and followed in the same
        # call by the next ones for as long as `run_forever` would call again at once (not
        # stopping). Every step that orders callbacks is asyncio's own, in its order: the
        # cancelled-timer sweep (or heap rebuild), the clock's jump to the next timer when
        # nothing is ready, due timers appended after the ready callbacks, then exactly the
        # callbacks that were ready when the iteration began. What is left out cannot change
        # that order: polling the selector while callbacks are ready (`_JumpingSelector` does
        # not) or when no byte can be waiting in the self-pipe. A worker thread to wait for,
        # a byte to read, debug mode, a heap to rebuild or a deadlock take asyncio's path.
        if self._threads_pending or self._debug or self._stopping:  # type: ignore[attr-defined]
            super()._run_once()  # type: ignore[misc]
            return
        ready: Any = self._ready  # type: ignore[attr-defined]
        signals = getattr(self, "_signal_handlers", None)  # a signal's byte comes without _write_to_self
        while True:
            scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
            count = len(scheduled)
            if count > _MIN_SCHEDULED_TIMER_HANDLES and (
                self._timer_cancelled_count / count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION  # type: ignore[attr-defined]
            ):
                super()._run_once()  # type: ignore[misc]
                if self._threads_pending or self._debug or self._stopping:  # type: ignore[attr-defined]
                    return
                continue
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                heapq.heappop(scheduled)._scheduled = False
            if not ready:
                if self._poked or not scheduled or signals:
                    super()._run_once()  # type: ignore[misc]  # polls (and drains), or raises the deadlock
                    if self._threads_pending or self._debug or self._stopping:  # type: ignore[attr-defined]
                        return
                    continue
                self._virtual_now = max(self._virtual_now, math.nextafter(scheduled[0]._when, math.inf))
            now = self._virtual_now
            while scheduled and scheduled[0]._when < now:
                handle = heapq.heappop(scheduled)
                handle._scheduled = False
                ready.append(handle)
            for _ in range(len(ready)):
                handle = ready.popleft()
                if not handle._cancelled:
                    handle._run()
            handle = None  # breaks a cycle should a callback raise
            if self._threads_pending or self._debug or self._stopping:  # type: ignore[attr-defined]
                return

    def _write_to_self(self) -> None:
        # A byte for the self-pipe (call_soon_threadsafe): the next jump of the clock polls first.
        self._poked = True
        super()._write_to_self()  # type: ignore[misc]

    def _advance(self, timeout: float) -> None:
        # Jump to just past the earliest timer: with a clock resolution of 0 a timer fires
        # only once the clock has passed its time, so it never runs early (asyncio's usual
        # 1 ns tolerance would let a "sleep until t" wake a hair before t, again and again,
        # without time ever moving), and every wake-up moves the clock forward.
        scheduled = getattr(self, "_scheduled", None)
        target = scheduled[0]._when if scheduled else self._virtual_now + timeout
        self._virtual_now = max(self._virtual_now, math.nextafter(target, math.inf))

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        """Return the future of `func` run in a thread; virtual time stands still until it ends."""
        future = super().run_in_executor(executor, func, *args)
        self._threads_pending += 1

        def _done(_: asyncio.Future[T]) -> None:
            self._threads_pending -= 1

        future.add_done_callback(_done)
        return future

    async def shutdown_default_executor(self, *args: Any) -> None:
        """Join the default executor's threads; virtual time stands still meanwhile."""
        self._threads_pending += 1
        try:
            await super().shutdown_default_executor(*args)
        finally:
            self._threads_pending -= 1

    def _add_reader(self, fd: Any, callback: Any, *args: Any) -> Any:
        self._refuse_io("add a reader")
        return super()._add_reader(fd, callback, *args)  # type: ignore[misc]

    def _add_writer(self, fd: Any, callback: Any, *args: Any) -> Any:
        self._refuse_io("add a writer")
        return super()._add_writer(fd, callback, *args)  # type: ignore[misc]

    async def sock_connect(self, sock: Any, address: Any) -> None:
        """Refuse: a real connection's timing would make the simulation non-deterministic."""
        self._refuse_io(f"connect to {address!r}")

    def _refuse_io(self, what: str) -> None:
        if not self._allow_readers:
            raise VirtualTimeError(
                f"cannot {what} under virtual time: real I/O would make the simulation "
                "non-deterministic; route the capability through the simulated world "
                "(invoke: sim) or run it on a normal event loop"
            )


class VirtualClock(Clock):
    """An `ido.clock.Clock` that reads a `VirtualTimeLoop`'s clock directly.

    `now()` is the loop's `time()` (what `Clock` reads through the running loop),
    without looking the loop up on every read: the engine reads the clock some
    ninety times per simulated run. Made by the simulation runner and
    `ido.simulation.single` for the loop they run on.
    """

    def __init__(self, loop: VirtualTimeLoop, epoch: float | None = None) -> None:
        super().__init__(epoch)
        self._loop = loop

    def now(self) -> float:
        """Return the loop's virtual seconds."""
        return self._loop._virtual_now


def loop_clock(epoch: float | None = None) -> Clock:
    """Return a clock of the running loop: a `VirtualClock` on a `VirtualTimeLoop`, else a `Clock`.

    Called from within the loop by the simulation runner and `ido.simulation.single`.
    """
    loop = asyncio.get_running_loop()
    return VirtualClock(loop, epoch) if isinstance(loop, VirtualTimeLoop) else Clock(epoch)


def run_virtual(coro_factory: Callable[[], Awaitable[T]], *, start: float = 0.0) -> T:
    """Return the result of `coro_factory()` run to completion on a fresh `VirtualTimeLoop`.

    The loop's clock starts at `start`; async generators and the default
    executor are shut down and the loop is closed afterwards. Called by the
    simulation runner and `ido.testing`; must not be called from a running loop.
    """
    loop = VirtualTimeLoop(start=start)
    try:
        return loop.run_until_complete(_as_coroutine(coro_factory))
    finally:
        try:
            _cancel_remaining(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


async def _as_coroutine(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return await coro_factory()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    # Background tasks (probes, health loops) left behind by the code under test.
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
