"""`simulate()`: run a scenario's arrivals under every strategy and compare them.

For each strategy the runner builds a fresh simulated world (same seed, same
fault timeline), a fresh in-memory journal (`SimStore`) and an `Engine` with that
strategy, and starts the scenario's runs at identical arrival times on a
virtual clock (`ido.simulation.clock`): a minute-long outage with a thousand
runs takes seconds of wall time. Each run is bound to its arrival index so it
draws the same luck under every strategy (`SimulatedWorld.bind_run`).

Per run it tallies (`ido.simulation.tally`) the status, cost, latency (arrival
to end), replans (decisions triggered by a failure or a health change that
changed the path), and checks independently of the engine: policy violations (a dispatched
capability the policy set denies for the intent), budget violations (spent
more than the budget or a `limit` policy's cost cap) and deadline violations
(a step other than a compensation dispatched after the deadline). Then the run
is dropped: its events from the journal (`SimStore.finish`), its state from the
engine and the world, so memory stays flat in the number of runs. Called by `ido simulate`,
`benchmarks/adaptivity.py` and `ido.testing.simulate_intent`.
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ido.clock import Clock
from ido.decisions import DecisionRecord
from ido.errors import UsageError
from ido.gc_tuning import fewer_gc_passes
from ido.journal import Store
from ido.model import Capability, Intent, Scenario
from ido.policy import PolicySet
from ido.simulation.clock import loop_clock, run_virtual
from ido.simulation.report import FaultWindow, Report, rounded
from ido.simulation.store import SimStore
from ido.simulation.tally import RunOutcome, Tally
from ido.simulation.world import CURRENT_RUN, SimulatedWorld

if TYPE_CHECKING:  # ido.workspace imports ido.loading, which imports it back
    from ido.workspace import Workspace

#: Epoch (2026-01-01T00:00:00Z) the records of simulated runs are dated from: reports stay byte-stable.
SIM_EPOCH = 1767225600.0
#: Triggers after which a change of path counts as a replan.
REPLAN_TRIGGERS = frozenset({"step_failed", "health_changed"})
#: Money below this is rounding noise.
EPSILON = 1e-9
#: Buckets of the time series drawn by `--plot`.
SERIES_BUCKETS = 40
#: The events a run is judged by (`_run_outcome`).
_OUTCOME_KINDS = ("run_started", "dispatched")

Progress = Callable[[str, int, int], None]


def arrival_times(scenario: Scenario, runs: int, seed: int) -> list[float]:
    """Return the scenario-time arrival of each run: every `every`, or Poisson at `rate` (seeded)."""
    if scenario.arrivals.every is not None:
        return [i * scenario.arrivals.every for i in range(runs)]
    rate = scenario.arrivals.rate or 1.0
    rng = random.Random(f"arrivals:{seed}")
    times, t = [], 0.0
    for _ in range(runs):
        times.append(t)
        t += rng.expovariate(rate)
    return times


def simulate(
    workspace: Workspace,
    scenario: Scenario | str,
    *,
    runs: int | None = None,
    seed: int | None = None,
    strategies: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Return the report of `scenario` run under each strategy on identical arrivals, faults and luck.

    `runs`, `seed` and `strategies` override the scenario's; `progress(strategy,
    done, total)` is called as runs finish. Raises UsageError for an unknown
    intent or strategy.
    """
    scn = scenario if isinstance(scenario, Scenario) else workspace.scenario(scenario)
    count = scn.runs if runs is None else runs
    if count <= 0:
        raise UsageError(f"--runs must be a positive number of runs, not {count}")
    the_seed = scn.seed if seed is None else seed
    names = list(scn.strategies if strategies is None else strategies)
    known = ("adaptive", "static", "static-fallback")
    for name in names:
        if name not in known:
            raise UsageError(f"unknown strategy {name!r}; use one of {', '.join(known)}")
    intent = workspace.intent(scn.intent)
    arrivals = arrival_times(scn, count, the_seed)
    per_strategy: dict[str, Tally] = {}
    with fewer_gc_passes():
        for name in names:
            per_strategy[name] = run_virtual(
                functools.partial(_simulate_strategy, workspace, scn, intent, name, arrivals, the_seed, progress)
            )
    return _report(scn, intent, count, the_seed, per_strategy, arrivals)


def run_horizon(intent: Intent) -> float:
    """Return how long (simulated seconds) a run may take before the runner gives up on it."""
    deadline = intent.constraints.deadline
    return 3600.0 if deadline is None else deadline * 3 + 120.0


def build_world(workspace: Workspace, scn: Scenario, seed: int, clock: Clock, start: float = 0.0) -> SimulatedWorld:
    """Return the scenario's simulated world over the workspace's capabilities and observers."""
    return SimulatedWorld(
        workspace.capabilities.values(),
        workspace.observers.values(),
        scn.faults,
        rng=seed,
        clock=clock,
        start=start,
        facts=scn.set_,
    )


def make_engine(workspace: Workspace, store: Store, world: SimulatedWorld, clock: Clock, strategy: str,
                listeners: Sequence[Any] = ()) -> Any:
    """Return an Engine whose every door is the simulated world (the engine is not modified)."""
    from ido.engine import Engine

    return Engine(
        workspace, store, executors=world.executors(), prober=world, fact_reader=world,
        clock=clock, strategy=strategy, listeners=tuple(listeners), fault_reporter=world,
    )


async def _simulate_strategy(
    workspace: Workspace, scn: Scenario, intent: Intent, strategy: str, arrivals: list[float], seed: int,
    progress: Progress | None,
) -> Tally:
    loop = asyncio.get_running_loop()
    clock = loop_clock(SIM_EPOCH)
    start = loop.time()
    world = build_world(workspace, scn, seed, clock, start)
    store = SimStore()
    engine = make_engine(workspace, store, world, clock, strategy)
    policies = PolicySet(list(workspace.policies.values()))
    caps = workspace.capabilities
    horizon = run_horizon(intent)
    tally = Tally(len(arrivals))
    judge = _Judge(policies, intent, scn.inputs)
    done = 0
    # Runs still going (their tasks) and what went wrong in counting one: a finished run is let go
    # at once, since a list of every run would grow with the number of runs.
    pending: set[asyncio.Task[Any]] = set()
    errors: list[BaseException] = []
    #: resolved once every run has arrived and been counted, or counting one failed.
    settled: asyncio.Future[None] = loop.create_future()
    arrived_all = False

    def expire(task: asyncio.Task[Any], ends: list[float]) -> None:
        # the horizon passed: stop the run; it is counted unfinished once its task has wound down
        ends.append(loop.time())
        task.cancel()

    def count(index: int, run_id: str, arrived: float, timer: asyncio.TimerHandle, ends: list[float],
              task: asyncio.Task[Any]) -> None:
        # Called (as the run task's done callback) once per run, in the iteration its task ends:
        # counts the run, then keeps nothing of it. No task of its own and no wait_for per run.
        nonlocal done
        pending.discard(task)
        timer.cancel()
        try:
            if task.cancelled() and ends:
                status, records, cost, steps = "unfinished", [], 0.0, 0
            else:
                result = task.result()  # a run that crashed (or was cancelled otherwise) raises
                status, records = str(result.status), list(result.records)
                cost, steps = float(result.cost), int(result.steps_executed)
            ended = ends[0] if ends else loop.time()
            tally.add(_run_outcome(
                index, arrived - start, status, cost, ended - arrived, steps, records,
                store, run_id, intent, judge, caps, world,
            ))
            del records
            # Counted: keep nothing of the run (an unfinished one was stopped: its state is kept).
            if status != "unfinished":
                engine.runs.pop(run_id, None)
                store.finish(run_id)
                world.release_run(run_id)
            done += 1
            if progress is not None:
                progress(strategy, done, len(arrivals))
        except BaseException as exc:  # handed to the simulation's task, which raises it
            errors.append(exc)
        if (errors or (arrived_all and not pending)) and not settled.done():
            settled.set_result(None)

    try:
        for index, at in enumerate(arrivals):
            delay = start + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            run_id = f"sim-{strategy}-{index:06d}"
            world.bind_run(run_id, index)
            token = world.enter_run(index)  # the run's task inherits it: its observers read its state
            try:
                run_id = await engine.start(intent, inputs=dict(scn.inputs), set_facts=dict(scn.set_), options={
                    "strategy": strategy, "simulate": scn.scenario, "run_id": run_id,
                })
            finally:
                CURRENT_RUN.reset(token)
            world.bind_run(run_id, index)
            task = engine.runs[run_id].task
            assert task is not None  # `start` launched it
            ends: list[float] = []
            timer = loop.call_at(loop.time() + horizon, expire, task, ends)
            pending.add(task)
            task.add_done_callback(functools.partial(count, index, run_id, start + at, timer, ends))
            if errors:
                raise errors[0]
        arrived_all = True
        if pending and not errors:
            await settled
        if errors:
            raise errors[0]
    finally:
        await engine.close()
    return tally


class _Judge:
    """What the runner checks every run against, worked out once per strategy: which
    capabilities the policy set denies for the intent, and the run's cost bound."""

    def __init__(self, policies: PolicySet, intent: Intent, inputs: dict[str, Any]) -> None:
        self._policies, self._intent, self._inputs = policies, intent, inputs
        self._denied: dict[str, bool] = {}
        limits = policies.limits(intent, inputs)
        #: spending above this (budget or a `limit` policy's cost cap) is a budget violation.
        self.bound = min(
            (b for b in (intent.constraints.budget, limits.cost_per_run) if b is not None), default=math.inf
        )

    def denied(self, cap: Capability) -> bool:
        """Return whether the policy set denies `cap` for the intent (judged once per capability)."""
        verdict = self._denied.get(cap.name)
        if verdict is None:
            verdict = self._denied[cap.name] = bool(self._policies.judge(cap, self._intent, self._inputs).denied)
        return verdict


def _run_outcome(
    index: int, arrival: float, status: str, cost: float, latency: float, steps: int,
    records: list[DecisionRecord], store: Store, run_id: str, intent: Intent, judge: _Judge,
    caps: dict[str, Capability], world: SimulatedWorld,
) -> RunOutcome:
    violations = 0
    late = False
    deadline = intent.constraints.deadline
    started_at = None
    dispatched = []
    for event in store.events(run_id=run_id, kinds=_OUTCOME_KINDS):  # one pass over the run's events
        if event.kind == "dispatched":
            dispatched.append(event)
        elif started_at is None:
            started_at = event.at
    if status == "unfinished":
        dispatched = []
    for event in dispatched:
        cap = caps.get(str(event.data.get("capability")))
        if cap is not None and judge.denied(cap):
            violations += 1
        undoing = "compensates" in event.data  # compensation rightly runs after a failed deadline
        if deadline is not None and started_at is not None and not undoing \
                and event.at - started_at > deadline + EPSILON:
            late = True
    return RunOutcome(
        index=index, arrival=arrival, status=status, cost=cost, latency_s=latency,
        replans=count_replans(records), steps=steps, decisions=len(records),
        policy_violations=violations, budget_violation=cost > judge.bound + EPSILON,
        deadline_violation=late, faults=set(world.touched.get(run_id, ())),
    )


def _roles(record: DecisionRecord) -> dict[str, str] | None:
    """Return role -> provider of the path a decision committed to (static substitutes applied)."""
    pinned = record.pinned
    if pinned is not None:
        return {
            s.provides: pinned.substitutes.get(i, s.capability) for i, s in enumerate(pinned.plan.steps)
        }
    if record.plan is None or not record.plan.feasible:
        return None
    roles: dict[str, str] = {}
    for step in record.plan.steps:
        roles.setdefault(step.provides, step.capability)
    return roles


def count_replans(records: Sequence[DecisionRecord]) -> int:
    """Return how many decisions after a failure or health change switched some role's provider."""
    replans = 0
    previous: dict[str, str] = {}
    for record in records:
        roles = _roles(record)
        if roles is None:
            continue
        if str(record.trigger) in REPLAN_TRIGGERS and any(
            previous.get(role, cap) != cap for role, cap in roles.items()
        ):
            replans += 1
        previous.update(roles)
    return replans


def _report(
    scn: Scenario, intent: Intent, runs: int, seed: int, per_strategy: dict[str, Tally],
    arrivals: list[float],
) -> Report:
    stats = {name: tally.stats() for name, tally in per_strategy.items()}
    last = max((tally.last_end() for tally in per_strategy.values()), default=0.0)
    span = max(arrivals[-1] if arrivals else 0.0, 1e-9)
    width = max(span / SERIES_BUCKETS, 0.001)
    series = {name: tally.series(width) for name, tally in per_strategy.items()}
    windows = [
        FaultWindow(
            label=f"{f.kind} on {_target_text(f.target)}", kind=f.kind, target=_target_text(f.target),
            start=rounded(f.at), end=None if f.for_ is None else rounded(f.at + f.for_),
        )
        for f in scn.faults
    ]
    return Report(
        scenario=scn.scenario, intent=intent.intent, runs=runs, seed=seed, strategies=stats,
        series=series, faults=windows, horizon_s=rounded(last),
    )


def _target_text(target: Any) -> str:
    if isinstance(target, str):
        return target
    parts = [f"provides={target.provides}"] if target.provides else []
    parts += [f"{k}={v}" for k, v in sorted(target.tags.items())]
    return ",".join(parts)
