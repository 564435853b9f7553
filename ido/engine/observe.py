"""What the engine learns about the world besides step outcomes: observers' facts and probes.

`Observations` reads the workspace's observers (through the engine's fact
reader) when their facts are older than the observer's interval, shares what
it read between the engine's runs, and applies changed facts to a run's
state; the engine's loop (`ido.engine.engine.Engine`) asks it when a run
starts and before each decision. `Probes` runs one background task per
capability with a probe, feeding up/down into the engine's `HealthTracker`;
the engine starts them with its first run and stops them in `Engine.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

from ido.clock import Clock
from ido.engine.fold import record
from ido.engine.health import HealthTracker
from ido.engine.run import RunState
from ido.engine.shared_health import ProbeChange
from ido.errors import ExecutionError, JournalError
from ido.journal.base import HealthChange
from ido.model import Capability, Observer, Scalar


class Observations:
    """Observers' latest facts, read at most once per interval and shared by every run of an engine."""

    def __init__(self, observers: Sequence[Observer], fact_reader: Any, clock: Clock) -> None:
        self.observers = observers
        self.fact_reader = fact_reader
        self.clock = clock
        #: observer name -> (engine-clock time read, its facts).
        self._read: dict[str, tuple[float, dict[str, Scalar]]] = {}

    async def observe(self, run: RunState, *, force: bool = False) -> None:
        """Read observers whose facts are stale (cached per engine by interval); apply changes.

        Returns nothing; facts that differ from the run's state are applied to it,
        its reusable plan is dropped and an `observation` event is buffered. With
        `force` (a run's start) every observer's facts are compared, even ones this
        run has already seen. An observer that cannot be read is skipped.
        """
        if not self.observers:
            return
        now = self.clock.now()
        changed: dict[str, Scalar] = {}
        for obs in self.observers:
            cached = self._read.get(obs.name)
            if cached is None or now - cached[0] >= obs.interval:
                try:
                    facts = await self.fact_reader.observe(obs)
                except ExecutionError:
                    continue
                cached = (now, dict(facts))
                self._read[obs.name] = cached
            if not force and run.observed_at.get(obs.name) == cached[0]:
                continue
            run.observed_at[obs.name] = cached[0]
            for fact, value in cached[1].items():
                if fact not in run.state or run.state[fact] != value or type(run.state[fact]) is not type(value):
                    changed[fact] = value
        if changed:
            run.reusable = None
            record(run, "observation", self.clock.timestamp(), {"facts": changed, "source": "observers"})


class ProbeRows(Protocol):
    """Where probes of many workers meet (a `Store`): one probe lease per capability, the health rows."""

    def claim_probe(self, capability: str, owner: str, *, lease_s: float, now: float | None = None) -> bool:
        """Return whether `owner` holds (or took) the probe lease of `capability`."""
        ...

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Fold probe answers into the health rows."""
        ...


class Probes:
    """The background probe tasks of one engine, each recording up/down into its health.

    With `shared` (the store of a shared journal) a capability is probed by one
    worker at a time: each round first takes or renews the capability's short
    probe lease (a bit longer than the probe interval), and the answer goes into
    the shared health row as well as this engine's tracker. A worker that does
    not hold the lease skips the round; it takes over once the holder stops.
    """

    def __init__(self, health: HealthTracker, clock: Clock, *, shared: ProbeRows | None = None,
                 owner: str = "") -> None:
        self.health = health
        self.clock = clock
        self.shared = shared
        self.owner = owner or f"probes-{id(self):x}"
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        self.started = False
        #: capability name -> (the declaration its loop probes, the loop)
        self._loops: dict[str, tuple[Capability, asyncio.Task[None]]] = {}
        #: rounds skipped because another worker held the probe lease (for tests and figures).
        self.skipped = 0

    def start(self, capabilities: Sequence[Capability], prober: Any) -> None:
        """Start one probe loop per capability with a probe `prober` supports (once; never after close)."""
        if self.started or self.closed:
            return
        self.started = True
        self.follow(capabilities, prober)

    def follow(self, capabilities: Sequence[Capability], prober: Any) -> None:
        """Probe exactly `capabilities` from now on: loops of ones removed or changed stop, new ones start.

        Called by `start` and, once probing started, by `Engine.adopt` when the registry changed.
        """
        if not self.started or self.closed:
            return
        supports = getattr(prober, "supports", None)
        wanted = {c.name: c for c in capabilities
                  if c.probe is not None and (supports is None or supports(c))}
        for name, (cap, task) in list(self._loops.items()):
            if wanted.get(name) != cap:
                task.cancel()
                self.tasks.remove(task)
                del self._loops[name]
        loop = asyncio.get_running_loop()
        for name, cap in wanted.items():
            if name not in self._loops:
                task = loop.create_task(self._loop(cap, prober), name=f"ido-probe-{name}")
                self.tasks.append(task)
                self._loops[name] = (cap, task)

    def close(self) -> None:
        """Stop for good: cancel every probe task (the caller awaits `tasks`, then clears them)."""
        self.closed = True
        for task in self.tasks:
            task.cancel()

    def _wanted(self, name: str) -> bool:
        """Return whether the running task is still the probe loop of `name` (not closed nor replaced)."""
        entry = self._loops.get(name)
        return not self.closed and entry is not None and entry[1] is asyncio.current_task()

    async def _loop(self, cap: Capability, prober: Any) -> None:
        assert cap.probe is not None
        # checked each round, not only cancelled: Python 3.11's wait_for drops a cancellation that
        # lands as the probe answers, and the loop would go on probing a capability no longer there
        while self._wanted(cap.name):
            if self.shared is not None and not await self._my_turn(cap):
                self.skipped += 1
                await asyncio.sleep(cap.probe.interval)
                continue
            try:
                up = bool(await asyncio.wait_for(prober.probe(cap), cap.probe.timeout))
            except asyncio.CancelledError:
                raise
            except Exception:  # a probe that cannot answer says the provider is down
                up = False
            self.health.record_probe(cap.name, up=up, now=self.clock.now())
            if self.shared is not None:
                change = ProbeChange(cap.name, up, self.clock.timestamp(), self.health.config)
                with contextlib.suppress(JournalError):  # the next round tries again
                    await asyncio.to_thread(self.shared.update_health, [change])
            await asyncio.sleep(cap.probe.interval)

    async def _my_turn(self, cap: Capability) -> bool:
        """Return whether this engine holds the probe lease of `cap` for the coming round."""
        assert cap.probe is not None and self.shared is not None
        lease_s = cap.probe.interval * 2 + cap.probe.timeout
        try:
            return await asyncio.to_thread(self.shared.claim_probe, cap.name, self.owner, lease_s=lease_s)
        except JournalError:
            return False
