"""The simulated world: every capability, probe and observer, degraded by a scenario's faults.

`SimulatedWorld` is an `Executor`, a `Prober` and a `FactReader` (the
engine's doors, `ido.engine.doors`), for every door (`sim`, `http`,
`python`): the engine is handed the world as its executor for each door and
runs unmodified. A call takes a latency drawn from a mean-preserving
lognormal around the capability's declared latency (sigma
`invoke.sim.latency_jitter`, 0.25 by default) and succeeds with the declared
reliability, both changed by the faults in force at the call's start
(`ido.simulation.faults`). Time comes from the running loop (virtual under
`ido.simulation.clock`).

Luck is reproducible and comparable across strategies: every random draw of
a call comes from a hash of (seed, run key, capability, how many calls that
run made to that capability before), so run 17's third call to
`payment.adyen-eu` sees the same luck whichever strategy made it. The runner
binds each engine run id to its strategy-independent arrival index with
`bind_run`.

Observers read the world's simulated state: the scenario's `facts`, overlaid
per run with the effects its successful calls had on facts an observer
watches (a restarted service is healthy for the incident that restarted it,
not for every incident). The observer door does not say which run asks, so
the runner sets `CURRENT_RUN` (a context variable, inherited by the run's
asyncio task) when it starts a run; outside any run observers see the shared
facts only. A fault targeting an observer by name makes it fail while it is
down, hangs or flaps down (kind `connection`/`timeout`); a capability that is down
refuses the connection (kind `unreachable`: the call did not act).

Quota throttling (HTTP 429) is raised as `ExecutionError(kind="client",
status=429)` with "throttled" in the message: the engine should read a 429
as transient (back off and retry later, or switch), unlike other 4xx.
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import hashlib
import math
import random
import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ido.clock import Clock
from ido.engine.doors import Call, Result
from ido.errors import ExecutionError
from ido.model import Capability, Observer, Scalar
from ido.simulation.faults import FAST_FAILURE_S, FaultEffect, FaultSchedule, fault_label

DEFAULT_JITTER = 0.25

#: The run key (the runner's arrival index) of the run whose task is executing, if any.
CURRENT_RUN: contextvars.ContextVar[str | None] = contextvars.ContextVar("ido_sim_run", default=None)


_FOUR_WORDS = struct.Struct("<4Q")
_SCALE = 2.0**-64


def _uniforms(digest: bytes) -> tuple[float, float, float, float]:
    """Return the four uniforms in [0, 1) of a 32-byte digest (its four little-endian words)."""
    a, b, c, d = _FOUR_WORDS.unpack(digest)
    return a * _SCALE, b * _SCALE, c * _SCALE, d * _SCALE


class Draws:
    """Four uniforms in [0, 1) derived from a hash; the luck of one call."""

    __slots__ = ("fail", "u1", "u2", "u3")

    def __init__(self, seed: int, *key: object) -> None:
        digest = hashlib.blake2b("|".join(map(str, (seed, *key))).encode(), digest_size=32).digest()
        self.fail, self.u1, self.u2, self.u3 = _uniforms(digest)

    @classmethod
    def of_digest(cls, digest: bytes) -> Draws:
        """Return the draws of a 32-byte blake2b digest (`Draws(seed, *key)` hashes "seed|key...")."""
        draws = cls.__new__(cls)
        draws.fail, draws.u1, draws.u2, draws.u3 = _uniforms(digest)
        return draws

    def normal(self) -> float:
        """Return a standard normal variate (Box-Muller on u1, u2)."""
        return math.sqrt(-2.0 * math.log(1.0 - self.u1)) * math.cos(2.0 * math.pi * self.u2)

    def normal2(self) -> float:
        """Return a second standard normal variate, independent of `normal()`."""
        return math.sqrt(-2.0 * math.log(1.0 - self.u3)) * math.sin(2.0 * math.pi * self.u2)


def lognormal_factor(sigma: float, z: float) -> float:
    """Return a mean-one lognormal factor with shape `sigma` for the standard normal `z`."""
    if sigma <= 0:
        return 1.0
    return math.exp(sigma * z - sigma * sigma / 2.0)


class _Known:
    """What `SimulatedWorld.execute` reads of a capability on every call, read once."""

    __slots__ = ("capability", "cost", "effects", "jitter", "latency", "reliability", "reports", "timeout")

    def __init__(self, cap: Capability, watched: set[str]) -> None:
        self.capability = cap
        self.latency = cap.latency
        self.jitter = DEFAULT_JITTER if cap.invoke.sim is None else cap.invoke.sim.latency_jitter
        self.timeout = cap.effective_timeout
        self.reliability = cap.reliability
        self.cost = cap.cost
        #: the effects a successful call has on facts some observer watches (run_facts).
        self.effects = tuple((fact, value) for fact, value in cap.effects.items() if fact in watched)
        self.reports = tuple(cap.reports)


class SimulatedWorld:
    """Executor, Prober and FactReader for the simulated capabilities and observers.

    `rng` seeds the luck (a `random.Random` or an int); `clock` reads time
    (`ido.clock.Clock`, the running loop's); `start` is the engine-clock
    time at which the scenario's time is 0 (its faults' `at` count from there).
    """

    def __init__(
        self,
        capabilities: Iterable[Capability],
        observers: Iterable[Observer] = (),
        faults: Sequence[Any] | FaultSchedule = (),
        rng: random.Random | int | None = None,
        clock: Clock | None = None,
        *,
        start: float = 0.0,
        facts: Mapping[str, Scalar] | None = None,
    ) -> None:
        self.capabilities = {c.name: c for c in capabilities}
        self.observers = {o.name: o for o in observers}
        self.schedule = faults if isinstance(faults, FaultSchedule) else FaultSchedule(faults)
        if isinstance(rng, random.Random):
            self.seed = rng.getrandbits(64)
        else:
            self.seed = 0 if rng is None else int(rng)
        self.clock = clock or Clock()
        self.start = start
        self.facts: dict[str, Scalar] = dict(facts or {})
        self._watched = {f for o in self.observers.values() for f in o.facts}
        #: run key -> watched facts its successful calls set (overlaying `facts`).
        self.run_facts: dict[str, dict[str, Scalar]] = defaultdict(dict)
        self._run_keys: dict[str, str] = {}
        self._pending_key: str | None = None
        #: run key -> capability -> calls that run made to it so far (the next call's ordinal).
        self._ordinals: dict[str, dict[str, int]] = defaultdict(dict)
        self._probe_ordinals: dict[str, int] = defaultdict(int)
        #: calls that reached the world, per capability (for tests and reports).
        self.calls: dict[str, int] = defaultdict(int)
        #: run id -> labels of every fault that touched one of its calls.
        self.touched: dict[str, set[str]] = defaultdict(set)
        #: (fault index, label, capability) of every fault aimed at some capability, and the
        #: scenario times at which one of them comes into or out of force (`faults_in_force`).
        self._aimed: list[tuple[int, str, str]] | None = None
        self._changes: list[float] = []
        #: faults_in_force's last answer and the scenario times [from, until) it holds for.
        self._in_force: tuple[float, float, list[tuple[str, str]]] = (math.inf, -math.inf, [])
        #: capability name -> what execute reads of it (`_Known`).
        self._known: dict[str, _Known] = {}
        # A call's luck hashes "seed|run key|capability|ordinal": the seed's part is hashed once.
        self._luck = hashlib.blake2b(f"{self.seed}|".encode(), digest_size=32)

    # -- time and runs ------------------------------------------------------------------

    def scenario_time(self, now: float | None = None) -> float:
        """Return seconds since the scenario's start for engine-clock `now` (default: now)."""
        return (self.clock.now() if now is None else now) - self.start

    def bind_run(self, run_id: str, key: object) -> None:
        """Make the run `run_id` draw its luck as run `key` (the runner's arrival index)."""
        self._run_keys[run_id] = str(key)

    def release_run(self, run_id: str) -> None:
        """Forget what the world keeps per run for `run_id`, which has ended and been counted:
        its luck key, call ordinals, facts and touched faults. Called by the runner; memory
        then stays flat in the number of runs."""
        key = self._run_keys.pop(run_id, None)
        self.touched.pop(run_id, None)
        if key is None:
            return
        self.run_facts.pop(key, None)
        self._ordinals.pop(key, None)

    def enter_run(self, key: object) -> contextvars.Token[str | None]:
        """Mark the current context as run `key`'s (observers read its state); call before starting it."""
        return CURRENT_RUN.set(str(key))

    def expect_run(self, key: object) -> None:
        """Give `key` to the next run id the world has not seen (a run about to start)."""
        self._pending_key = str(key)

    def _run_key(self, run_id: str) -> str:
        key = self._run_keys.get(run_id)
        if key is None:
            key = self._pending_key if self._pending_key is not None else run_id
            self._pending_key = None
            self._run_keys[run_id] = key
        return key

    def effect(self, capability: Capability, now: float | None = None) -> FaultEffect:
        """Return the combined effect of the faults in force on `capability` at `now`."""
        return self.schedule.effect(
            capability.name, self.scenario_time(now), provides=capability.provides, tags=capability.tags
        )

    def active_faults(self, capability: str, now: float | None = None) -> list[str]:
        """Return labels of the injected faults in force on `capability` at engine-clock `now`.

        The engine calls this to stamp decision records (`DecisionRecord.faults`).
        """
        cap = self.capabilities.get(capability)
        t = self.scenario_time(now)
        if cap is None:
            return self.schedule.labels(capability, t)
        return self.schedule.labels(cap.name, t, provides=cap.provides, tags=cap.tags)

    def faults_in_force(self, now: float | None = None) -> list[tuple[str, str]]:
        """Return (label, capability) of every injected fault in force at engine-clock `now`.

        The engine calls this before each decision to stamp decision records
        (`DecisionRecord.faults`, `ido.engine.fold.note_active_faults`). Only
        capabilities some fault targets are looked at (found once), so it costs
        next to nothing per decision.
        """
        t = self.scenario_time(now)
        since, until, found = self._in_force
        if not since <= t < until:
            # The faults in force change only at the faults' starts and ends: between two such
            # times the answer is the same, so decisions in between reuse it.
            aimed = self._aimed if self._aimed is not None else self._aim()
            changes = self._changes
            k = bisect.bisect_right(changes, t)
            since = changes[k - 1] if k > 0 else -math.inf
            until = changes[k] if k < len(changes) else math.inf
            faults = self.schedule.faults
            found = [(label, name) for i, label, name in aimed if faults[i].active(t)]
            self._in_force = (since, until, found)
        return list(found)

    def _aim(self) -> list[tuple[int, str, str]]:
        # Which faults aim at which capability, worked out on first use (faults_in_force).
        faults = self.schedule.faults
        self._aimed = [
            (i, fault_label(i, faults[i], c.name), c.name)
            for c in self.capabilities.values()
            for i in self.schedule.for_target(c.name, c.provides, c.tags)
        ]
        times = {faults[i].at for i, _, _ in self._aimed}
        times.update(faults[i].at + faults[i].for_ for i, _, _ in self._aimed if faults[i].for_ is not None)
        self._changes = sorted(times)
        return self._aimed

    # -- the doors --------------------------------------------------------------------------

    async def execute(self, call: Call) -> Result:
        """Return the result of one simulated call after its latency; raise ExecutionError on failure."""
        cap = call.capability
        name = cap.name
        known = self._known.get(name)
        if known is None or known.capability is not cap:
            known = self._known[name] = _Known(cap, self._watched)
        effect = self.schedule.effect(name, self.clock.now() - self.start, provides=cap.provides, tags=cap.tags)
        key = self._run_key(call.run_id)
        ordinals = self._ordinals[key]
        ordinal = ordinals.get(name, 0)
        ordinals[name] = ordinal + 1
        self.calls[name] += 1
        luck = self._luck.copy()
        luck.update(f"{key}|{name}|{ordinal}".encode())
        draws = Draws.of_digest(luck.digest())  # the same as Draws(self.seed, key, name, ordinal)
        labels = effect.labels
        if labels:
            self.touched[call.run_id].update(labels)
        injected = f" (injected: {'; '.join(labels)})" if labels else ""
        timeout = call.timeout if call.timeout > 0 else known.timeout

        if effect.down:
            await asyncio.sleep(min(FAST_FAILURE_S, timeout))
            raise self._error(labels, cap, "unreachable", f"{name}: connection refused{injected}")
        if effect.hang:
            await asyncio.sleep(timeout)
            raise self._error(labels, cap, "timeout", f"{name}: no answer within {timeout:g}s{injected}")
        if effect.quotas and not self.schedule.admit(effect.quotas, self.scenario_time()):
            await asyncio.sleep(min(FAST_FAILURE_S, timeout))
            raise self._error(labels, cap, "client", f"{name}: HTTP 429 throttled, quota exhausted{injected}", 429)
        base = known.latency * lognormal_factor(known.jitter, draws.normal())
        # the fault's own jitter factor is drawn only when a fault has jitter (else it is unused)
        latency = effect.latency(
            base, lognormal_factor(effect.latency_jitter, draws.normal2()) if effect.latency_jitter > 0 else 1.0
        )
        if latency > timeout:
            await asyncio.sleep(timeout)
            raise self._error(
                labels, cap, "timeout", f"{name}: timed out after {timeout:g}s (needed {latency:.3g}s){injected}"
            )
        await asyncio.sleep(latency)
        if effect.client_status is not None:
            raise self._error(
                labels, cap, "client", f"{name}: HTTP {effect.client_status} (API changed){injected}",
                effect.client_status,
            )
        if draws.fail >= known.reliability * (1.0 - effect.error_p):
            raise self._error(labels, cap, "server", f"{name}: HTTP 503 server error{injected}", 503)
        if known.effects:
            facts = self.run_facts[key]
            for fact, value in known.effects:
                facts[fact] = value
        reported: dict[str, Scalar] = dict.fromkeys(known.reports, f"{name}:{key}:{ordinal}") if known.reports else {}
        detail: dict[str, Any] = {"simulated": True, "latency_s": round(latency, 6)}
        if labels:
            detail["faults"] = list(labels)
        return Result(facts=reported, cost=effect.cost(known.cost), latency_s=latency, detail=detail)

    async def probe(self, capability: Capability) -> bool:
        """Return whether the simulated probe of `capability` says up now."""
        effect = self.effect(capability)
        if effect.hang:
            timeout = capability.probe.timeout if capability.probe is not None else 1.0
            await asyncio.sleep(timeout)
            return False
        if effect.probe_down:
            return False
        if effect.probe_down_p > 0:
            ordinal = self._probe_ordinals[capability.name]
            self._probe_ordinals[capability.name] = ordinal + 1
            return bool(Draws(self.seed, "probe", capability.name, ordinal).fail >= effect.probe_down_p)
        return True

    async def observe(self, observer: Observer) -> dict[str, Scalar]:
        """Return the facts `observer` reports from the simulated state; raise when a fault downs it."""
        effect = self.schedule.effect(observer.name, self.scenario_time())
        if effect.hang:
            await asyncio.sleep(observer.timeout)
            raise ExecutionError(
                f"observer {observer.name}: no answer within {observer.timeout:g}s", kind="timeout"
            )
        if effect.down:
            raise ExecutionError(f"observer {observer.name}: connection refused", kind="connection")
        key = CURRENT_RUN.get()
        state = self.facts if key is None else {**self.facts, **self.run_facts.get(key, {})}
        return {f: state[f] for f in observer.facts if f in state}

    def executors(self) -> dict[str, SimulatedWorld]:
        """Return the world as the executor of every door, the mapping `Engine(executors=...)` takes."""
        return {"sim": self, "http": self, "python": self}

    @staticmethod
    def _error(
        labels: tuple[str, ...], cap: Capability, kind: Any, message: str, status: int | None = None,
    ) -> ExecutionError:
        error = ExecutionError(message, kind=kind, capability=cap.name, status=status)
        # the engine stamps these on the run's next decision records (`ido.engine.fold.note_faults`)
        error.faults = list(labels)  # type: ignore[attr-defined]
        return error
