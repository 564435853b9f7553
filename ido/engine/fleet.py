"""Fleet allocation across runs: who gets a scarce provider when several runs want it at once.

The engine asks `Fleet.admit(run, capability)` after a decision chose to
dispatch `capability` and before it dispatches it. When the capability has
no `max_concurrency` or a free slot beyond the demands already waiting for
it, the answer is immediate and no solver runs (the uncontended path costs a
dict lookup). Otherwise the demand joins a batch for its role; the batch is
settled one event-loop tick later (so every run deciding in that tick
competes together) by `ido.planning.fleet.allocate` (CP-SAT: expected
successes, then cost), over every provider of the role with its free slots,
each run's remaining budget and the providers its policies allow. Each run
then gets one of two answers (`Admission`):

- `go`: dispatch as decided (it was assigned the provider it wanted, or no
  admissible provider had room: it waits at the capability's semaphore, FIFO);
- `reroute`: another provider was assigned to it: the run decides again with
  the scarce one excluded for that decision, and the reason recorded.

The answer depends only on the demands of the batch, the slots in use and
health, never on wall time, so a simulation on the virtual clock stays
deterministic. `load` counts, per capability, the steps in flight plus those
waiting for a slot: a `go` takes one (`occupy`), the engine gives it back with
`release` when the step ends.

`admit_decision` is the engine's side of this: called by the engine's loop
(`ido.engine.engine.Engine`) with a `dispatch` decision, it asks the fleet
about each chosen capability and, on a reroute, notes on the run what to
leave out of its next decision and why.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ido.decisions import DecisionRecord
from ido.engine.run import RunState
from ido.health import Circuit, HealthSnapshot
from ido.model import Capability
from ido.planning import fleet as planning_fleet
from ido.planning.fleet import Demand, Provider


@dataclass(frozen=True, slots=True)
class Admission:
    """The fleet's answer for one run wanting one capability now."""

    action: str  # "go" or "reroute"
    capability: str
    #: for reroute: the provider the allocation assigned instead (a slot is held for it).
    assigned: str | None = None
    reason: str = ""
    #: for reroute: the role's providers without room, to leave out of the run's next decision.
    exclude: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Want:
    run_id: str
    capability: Capability
    budget: float | None
    allowed: frozenset[str]
    answer: asyncio.Future[Admission]


class Fleet:
    """Slots in use per capability and the batches of runs competing for full ones."""

    def __init__(
        self, capabilities: Mapping[str, Capability], health: Callable[[], HealthSnapshot],
        now: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.capabilities = capabilities
        self.health = health
        self.now = now
        #: capability with a quota -> engine-clock times of the calls admitted (its rate window).
        self._admitted: dict[str, deque[float]] = {}
        self.by_role: dict[str, list[Capability]] = {}
        for cap in sorted(capabilities.values(), key=lambda c: c.name):
            self.by_role.setdefault(cap.provides, []).append(cap)
        if any(cap.max_concurrency for cap in capabilities.values()):
            # runs may compete for full providers: load the CP-SAT solver now, not inside a
            # run's first contention, where its import (seconds on a busy machine) would eat
            # into that run's deadline
            planning_fleet.warm()
        #: capability -> steps in flight or waiting for a slot.
        self.load: dict[str, int] = {}
        self._batches: dict[str, list[_Want]] = {}
        #: run id -> providers the allocation holds a slot of for that run's next decision.
        self._held: dict[str, list[str]] = {}
        #: the same, taken by the decision being admitted now (see `begin`/`end`).
        self._holding: dict[str, list[str]] = {}
        #: how many times the solver ran, and how many runs it sent elsewhere (benchmarks read these).
        self.solves = 0
        self.rerouted = 0

    # -- slots ------------------------------------------------------------------------------
    def occupy(self, name: str) -> None:
        """Note a step of `name` dispatched (in flight or queued for its slot)."""
        self.load[name] = self.load.get(name, 0) + 1
        cap = self.capabilities.get(name)
        if cap is not None and cap.quota is not None:
            self._admitted.setdefault(name, deque()).append(self.now())

    def release(self, name: str) -> None:
        """Note a step of `name` ended."""
        left = self.load.get(name, 0) - 1
        if left > 0:
            self.load[name] = left
        else:
            self.load.pop(name, None)

    def free(self, cap: Capability) -> int | None:
        """Return the free slots of `cap` now (None: unlimited): concurrency and quota left."""
        free = None if cap.max_concurrency is None else max(0, cap.max_concurrency - self.load.get(cap.name, 0))
        if cap.quota is not None:
            window = self._admitted.get(cap.name)
            now = self.now()
            while window and window[0] <= now - cap.quota.per:
                window.popleft()
            left = cap.quota.calls - len(window or ())
            free = max(0, left) if free is None else max(0, min(free, left))
        return free

    # -- admission --------------------------------------------------------------------------
    def contended(self, cap: Capability) -> bool:
        """Return whether one more step of `cap` would wait for a slot (or join a batch)."""
        free = self.free(cap)
        if free is None:
            return False
        waiting = sum(1 for w in self._batches.get(cap.provides, ()) if w.capability.name == cap.name)
        return free <= waiting

    async def admit(
        self, run_id: str, cap: Capability, demand: Callable[[], tuple[float | None, frozenset[str]]],
    ) -> Admission:
        """Return whether the run may dispatch `cap` now or should take another provider.

        `demand()` returns what is left of the run's budget (None: unbounded) and
        the providers of the role its policies admit and it has not ruled out;
        it is only called when the run has to compete.
        """
        held = self._holding.get(run_id)
        if held and cap.name in held:
            held.remove(cap.name)  # the allocation assigned it to this run: its slot is counted
            return Admission("go", cap.name)
        if not self.contended(cap):
            self.occupy(cap.name)
            return Admission("go", cap.name)
        budget, allowed = demand()
        loop = asyncio.get_running_loop()
        batch = self._batches.setdefault(cap.provides, [])
        if not batch:
            loop.call_soon(self._settle, cap.provides)
        want = _Want(run_id, cap, budget, allowed, loop.create_future())
        batch.append(want)
        return await want.answer

    def _settle(self, role: str) -> None:
        """Allocate the role's batch with CP-SAT and answer every run in it."""
        # a run cancelled while waiting (engine closing) competes for nothing
        batch = [w for w in self._batches.pop(role, []) if not w.answer.done()]
        if not batch:
            return
        snapshot = self.health()
        # every provider of the role with its free slots now (an unlimited one can take the whole batch)
        providers = []
        for cap in self.by_role.get(role, []):
            h = snapshot.of(cap.name)
            if h.circuit is Circuit.OPEN or h.probe_up is False:
                continue
            free = self.free(cap)
            providers.append(Provider(
                name=cap.name, role=role, capacity=len(batch) if free is None else free,
                cost=h.cost if h.cost is not None else cap.cost,
                success=h.success_rate if h.success_rate is not None else cap.reliability,
            ))
        demands = [Demand(w.run_id, role, w.budget, w.allowed) for w in batch]
        self.solves += 1
        allocation = planning_fleet.allocate(demands, providers)
        answers: list[tuple[_Want, str | None]] = []
        for want in batch:
            name = want.capability.name
            got = allocation.assignments.get(want.run_id)
            if got is None or got == name:
                # assigned its choice, or nothing admissible has room: it takes (or queues for)
                # its slot now, so demands later in this tick see the slot taken
                self.occupy(name)
                answers.append((want, None))
            else:
                self.rerouted += 1
                self.occupy(got)  # held for the run's next decision
                self._held.setdefault(want.run_id, []).append(got)
                answers.append((want, got))
        # once every slot of the batch is counted: the providers now full, left out of the next decisions
        full = frozenset(c.name for c in self.by_role.get(role, []) if self.free(c) == 0)
        for want, got in answers:
            name = want.capability.name
            if got is None:
                answer = Admission("go", name)
            else:
                answer = Admission("reroute", name, got, (
                    f"{name} at capacity ({_limits(want.capability)}); fleet allocation assigned {got}"
                ), (full - {got}) | {name})
            if not want.answer.done():
                want.answer.set_result(answer)

    def begin(self, run_id: str) -> None:
        """Start admitting a decision of `run_id`: the slots held for it become usable by it."""
        self._holding[run_id] = self._held.pop(run_id, [])

    def end(self, run_id: str) -> None:
        """Finish admitting `run_id`'s decision: give back held slots it did not use."""
        for name in self._holding.pop(run_id, ()):
            self.release(name)

    def drop_held(self, run_id: str) -> None:
        """Give back every slot held for `run_id` (its decision dispatches nothing)."""
        for name in self._held.pop(run_id, ()):
            self.release(name)


def _limits(cap: Capability) -> str:
    parts = []
    if cap.max_concurrency is not None:
        parts.append(f"max_concurrency {cap.max_concurrency}")
    if cap.quota is not None:
        parts.append(f"quota {cap.quota.calls} per {cap.quota.per:g}s")
    return ", ".join(parts)


def allowed_providers(
    fleet: Fleet, cap: Capability, judge: Callable[[Capability], Any], excluded: set[str],
) -> frozenset[str]:
    """Return the providers of `cap`'s role a run's policies allow and it has not ruled out."""
    return frozenset(
        c.name for c in fleet.by_role.get(cap.provides, [])
        if c.name not in excluded and not judge(c).denied_by
    )


async def admit_decision(
    fleet: Fleet, run: RunState, record: DecisionRecord, capabilities: Mapping[str, Capability], policies: Any,
) -> bool:
    """Return whether the fleet lets `record`'s steps go now; else note the reroute on the run.

    Every admitted step holds a slot (`Fleet.occupy`) until it ends. When the
    allocation assigns another provider for one of them, the slots taken for
    the others are given back, the scarce capability is excluded from the
    run's next decision (only that one), and the reason becomes its cause.
    `policies` is the engine's policy set (`judge`, and `limits` if it has one).
    """
    admissions: list[Admission] = []
    fleet.begin(run.run_id)
    for name in record.chosen:
        cap = capabilities[name]

        def demand(cap: Capability = cap) -> tuple[float | None, frozenset[str]]:
            if run.strategy != "adaptive":  # a fixed path never switches: it may only wait
                return budget_left(run, policies), frozenset({cap.name})
            return budget_left(run, policies), allowed_providers(
                fleet, cap, lambda c: policies.judge(c, run.intent, run.public_inputs),
                run.excluded,
            )

        admissions.append(await fleet.admit(run.run_id, cap, demand))
    fleet.end(run.run_id)
    rerouted = [a for a in admissions if a.action == "reroute"]
    if not rerouted:
        return True
    for a in admissions:
        if a.action == "go":
            fleet.release(a.capability)
    run.fleet_excluded = set().union(*(a.exclude for a in rerouted))
    why = "; ".join(a.reason for a in rerouted)
    run.notes.append(why)
    run.cause = why
    run.reusable = None
    return False


def budget_left(run: RunState, policies: Any) -> float | None:
    """Return what is left of the run's budget (and cost_per_run limit) after steps in flight."""
    c = run.intent.constraints
    limits = getattr(policies, "limits", None)
    limit = limits(run.intent, run.public_inputs).cost_per_run if limits is not None else None
    caps = [x for x in (c.budget, limit) if x is not None]
    if not caps:
        return None
    used = run.spent + sum(h.cost for h in run.in_flight.values())
    return max(0.0, min(caps) - used)
