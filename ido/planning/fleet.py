"""Fleet allocation: many runs each needing a role now, few provider slots, OR-Tools CP-SAT.

Called by the engine when runs compete for providers with `max_concurrency`
or rate quotas. `allocate` assigns each demand (one run needing one role) at
most one provider so as to maximise the expected number of successes, then,
among allocations with that many, minimise total cost (lexicographic: two
solves). A pair is admissible only when the provider serves the role, the
run's policies allow it (`Demand.allowed`) and its cost fits the run's
remaining budget; each provider takes at most `capacity` runs.

Runs with the same role, budget and allow-list are interchangeable, so the
model has one integer variable per (class of runs, provider) rather than one
boolean per (run, provider); runs are then dealt to providers in run-id order.
Solving is deterministic: one worker, a fixed seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # OR-Tools (with numpy and pandas) loads only when a fleet is allocated
    from ortools.sat.python import cp_model

#: Success probabilities and costs are scaled to integers for CP-SAT.
SUCCESS_SCALE = 10_000
COST_SCALE = 10_000
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Demand:
    """One run needing `role` now; `allowed` (None: any) are the providers its policies admit."""

    run_id: str
    role: str
    budget: float | None = None
    allowed: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """A capability serving `role`, with free slots now (`capacity`), cost and success estimate."""

    name: str
    role: str
    capacity: int
    cost: float
    success: float


@dataclass(frozen=True, slots=True)
class Allocation:
    """The assignment run_id -> provider, why the others got none, and the objective values."""

    assignments: dict[str, str]
    unassigned: dict[str, str]
    expected_successes: float
    cost: float
    optimal: bool
    milliseconds: float
    per_provider: dict[str, int] = field(default_factory=dict)


def warm() -> None:
    """Import the CP-SAT solver `allocate` uses (imported lazily: most commands never allocate).

    Called by `ido.engine.fleet.Fleet` when its capabilities have concurrency limits.
    """
    from ortools.sat.python import cp_model  # noqa: F401 - the import is the point


def _admissible(d: Demand, p: Provider) -> bool:
    return (
        p.role == d.role
        and (d.allowed is None or p.name in d.allowed)
        and (d.budget is None or p.cost <= d.budget + EPS)
    )


def allocate(
    demands: Sequence[Demand],
    providers: Sequence[Provider],
    *,
    time_limit_s: float = 10.0,
) -> Allocation:
    """Return the allocation maximising expected successes, then minimising cost.

    Never raises for scarcity: runs that get no provider are in `unassigned`
    with the reason (no provider of the role, none allowed by policy, all over
    the run's budget, or every admissible provider full).
    """
    started = time.perf_counter()
    ordered = sorted(providers, key=lambda p: p.name)
    classes: dict[tuple[str, float | None, frozenset[str] | None], list[str]] = {}
    for d in sorted(demands, key=lambda d: d.run_id):
        classes.setdefault((d.role, d.budget, d.allowed), []).append(d.run_id)
    keys = sorted(classes, key=lambda k: (k[0], -1.0 if k[1] is None else k[1], sorted(k[2] or ())))

    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    y: dict[tuple[int, int], cp_model.IntVar] = {}
    for ci, key in enumerate(keys):
        probe = Demand("", key[0], key[1], key[2])
        for pi, p in enumerate(ordered):
            if p.capacity > 0 and _admissible(probe, p):
                y[ci, pi] = model.new_int_var(0, min(len(classes[key]), p.capacity), f"y{ci}_{pi}")
    for ci, key in enumerate(keys):
        row = [v for (c, _), v in y.items() if c == ci]
        if row:
            model.add(sum(row) <= len(classes[key]))
    for pi, p in enumerate(ordered):
        col = [v for (_, q), v in y.items() if q == pi]
        if col:
            model.add(sum(col) <= p.capacity)
    success = {pi: round(p.success * SUCCESS_SCALE) for pi, p in enumerate(ordered)}
    cost = {pi: round(p.cost * COST_SCALE) for pi, p in enumerate(ordered)}
    successes = sum(success[pi] * v for (_, pi), v in y.items())
    spend = sum(cost[pi] * v for (_, pi), v in y.items())

    counts: dict[tuple[int, int], int] = {}
    optimal = True
    if y:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = 0
        solver.parameters.max_time_in_seconds = time_limit_s
        model.maximize(successes)
        status = solver.solve(model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            optimal = status == cp_model.OPTIMAL
            best = round(solver.objective_value)
            model.add(successes >= best)
            model.minimize(spend)
            status = solver.solve(model)
            optimal = optimal and status == cp_model.OPTIMAL
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                counts = {k: solver.value(v) for k, v in y.items()}
        else:
            optimal = False

    assignments: dict[str, str] = {}
    per_provider: dict[str, int] = {}
    for ci, key in enumerate(keys):
        runs = classes[key]
        i = 0
        for pi, p in enumerate(ordered):
            n = counts.get((ci, pi), 0)
            for run_id in runs[i:i + n]:
                assignments[run_id] = p.name
            if n:
                per_provider[p.name] = per_provider.get(p.name, 0) + n
            i += n
    unassigned = {
        d.run_id: _why_unassigned(d, ordered)
        for d in sorted(demands, key=lambda d: d.run_id)
        if d.run_id not in assignments
    }
    by_name = {p.name: p for p in ordered}
    return Allocation(
        assignments=assignments,
        unassigned=unassigned,
        expected_successes=sum(by_name[n].success for n in assignments.values()),
        cost=sum(by_name[n].cost for n in assignments.values()),
        optimal=optimal,
        milliseconds=round((time.perf_counter() - started) * 1000, 3),
        per_provider=per_provider,
    )


def _why_unassigned(d: Demand, providers: Sequence[Provider]) -> str:
    """Return why demand `d` got no provider, in words."""
    of_role = [p for p in providers if p.role == d.role]
    if not of_role:
        return f"no provider serves {d.role}"
    allowed = [p for p in of_role if d.allowed is None or p.name in d.allowed]
    if not allowed:
        return f"no provider of {d.role} is allowed by the run's policies"
    affordable = [p for p in allowed if d.budget is None or p.cost <= d.budget + EPS]
    if not affordable:
        return f"every allowed provider of {d.role} costs more than the remaining budget {d.budget:g}"
    names = ", ".join(p.name for p in affordable)
    if all(p.success <= 0 for p in affordable):
        return f"every admissible provider ({names}) has an expected success of 0"
    return f"capacity: every admissible provider ({names}) is full"
