"""Why: a verdict with a one-line reason for every alternative, and the blockers of a goal.

Called by `Planner.plan` after the search. Alternatives: every capability of
every role the plan uses gets a verdict (`chosen`; `denied`, `unhealthy`,
`over_limit`, `excluded` from the call's judgement; otherwise the best plan
forced to use it decides: `costlier` with the score difference, or, when no
plan within the constraints uses it, `over_budget` / `too_slow` / `too_risky`
/ `over_limit` (steps) from the best unconstrained plan that uses it, or
`precondition` with the fact that cannot hold). Relevant capabilities of roles
the plan does not use are `not_needed` unless unavailable.

Explaining a plan costs at most a fixed share of finding it, whatever the
number of alternatives (`_Budget`). Proofs are tried cheapest first: a swap
with a chosen step of the same preconditions and effects (exact); the delete
relaxation from the call's state (`ido.planning.reach`, one pass per metric for
all alternatives: never applicable, or every plan using it breaks a bound);
a forced re-plan while the call's budget lasts (exact); past the budget, the
verdict is still proven but its figure is a lower bound (`costlier` by at
least the relaxation's bound, at least 0 since the chosen plan is optimal),
and `Alternative.lower_bound` and the reason ("a bound") say so.

Blockers say which goal facts cannot be reached and why (no producer; every
producer denied, unhealthy, excluded or over a limit; a producer's
precondition that can never hold), or which constraint binds: the cheapest
plan against the budget, the fastest against the deadline, the most reliable
against min_success, the shortest against max_steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

from ido.construct import construct
from ido.model.conditions import describe_matcher
from ido.planning.call import Call, Candidate
from ido.planning.compile import Compiled
from ido.planning.heuristics import weight
from ido.planning.reach import reach_costs
from ido.planning.search import (
    EPS,
    INF,
    Bounds,
    Failed,
    Found,
    Task,
    measure,
    relaxed_reachable,
    within,
)
from ido.planning.slack import VARYING, breaks
from ido.planning.types import Alternative, Blocker, BlockerKind, PlanStep, Verdict


class Planner(Protocol):
    """What the verdicts and blockers ask of the planner (`ido.planning.planner.Planner` is one):
    its compiled registry, searches on a call's task, and the steps and totals of a found plan."""

    @property
    def compiled(self) -> Compiled: ...

    def search(
        self, call: Call, *, bounds: Bounds | None = None, metric: str = "score",
        force: int | None = None, max_nodes: int | None = None, max_work: int | None = None,
    ) -> tuple[Found | Failed, Task]: ...

    def task(self, call: Call) -> tuple[Task, dict[int, int]]: ...

    def init_of(self, call: Call, local: dict[int, int]) -> tuple[int, ...]: ...

    def steps(self, call: Call, task: Task, positions: Sequence[int]) -> tuple[list[PlanStep], dict[str, Any]]: ...

_UNAVAILABLE_VERDICT = {
    "excluded": Verdict.EXCLUDED,
    "denied": Verdict.DENIED,
    "unhealthy": Verdict.UNHEALTHY,
    "over_limit": Verdict.OVER_LIMIT,
}

#: The share of the main search's work (expansions and evaluations) the forced re-plans of one call may spend.
_BUDGET_SHARE = 0.25
#: The least budget of a call, in nodes.
_MIN_BUDGET = 16
#: What a forced re-plan costs to set up besides its nodes, in nodes (`_Budget.spend`).
_FORCED_OVERHEAD = 8

#: How many forced re-plans an infeasible call may spend on its candidates' verdicts.
_MAX_DIAGNOSED = 12

#: The verdict of every candidate when a constraint of this blocker kind alone rules out every plan.
_CONSTRAINT_VERDICTS = {
    "budget": Verdict.OVER_BUDGET,
    "deadline": Verdict.TOO_SLOW,
    "min_success": Verdict.TOO_RISKY,
    "max_steps": Verdict.OVER_LIMIT,
    "limit": Verdict.OVER_LIMIT,
}

#: How a message qualifies a constraint blocker that binds only together with the other
#: constraints (`Blocker.joint`).
_JOINT = " meeting the other constraints"


def alternatives(
    planner: Planner, call: Call, steps: Sequence[PlanStep], totals: dict[str, Any], task: Task, found: Found,
) -> list[Alternative]:
    """Return a verdict for every capability of the roles the plan uses and every relevant one."""
    chosen = {s.capability for s in steps}
    used_roles = sorted({s.provides for s in steps})
    by_index = {c.op.index: c for c in call.relevant}
    swaps = _Swaps(task, found)
    _, local = planner.task(call)
    relaxed = _Relaxed(task, planner.init_of(call, local), swaps.positions)
    budget = _Budget(found)
    out: list[Alternative] = []
    for role in used_roles:
        for op_index in planner.compiled.roles[role]:
            c = by_index.get(op_index)
            if c is None:
                cap = planner.compiled.operators[op_index].capability
                out.append(Alternative(
                    capability=cap.name,
                    provides=role,
                    verdict=Verdict.NOT_NEEDED,
                    reason="not needed: its effects do not bear on this goal",
                    numbers={"cost": cap.cost, "latency_s": cap.latency, "success_probability": cap.reliability},
                ))
            elif c.op.name in chosen:
                out.append(_alt(c, Verdict.CHOSEN, f"chosen: {_numbers_text(c)}"))
            elif c.status != "ok":
                out.append(_unavailable(c))
            else:
                out.append(_forced(planner, call, c, totals["score"], task, found, swaps, relaxed, budget))
    used = set(used_roles)
    idle = [c for c in call.relevant if c.op.capability.provides not in used]
    for c in sorted(idle, key=lambda c: (c.op.capability.provides, c.op.name)):
        if c.status != "ok":
            out.append(_unavailable(c))
        else:
            out.append(_alt(c, Verdict.NOT_NEEDED, "not needed: the best plan does not use its role"))
    return out


def unavailable_alternatives(
    planner: Planner, call: Call, found_blockers: Sequence[Blocker], failed: Failed | None = None,
) -> list[Alternative]:
    """Return verdicts for the relevant capabilities of an infeasible call.

    When one constraint alone rules out every plan (a blocker that is not
    `joint`), it rules out every plan using each candidate too, so each gets
    that verdict without a search; when a goal fact cannot be reached, no plan
    uses any candidate. When constraints bind together, the relaxation's lower
    bounds judge a candidate first (`_ruled_out`); the others are diagnosed by
    a forced re-plan, at most `_MAX_DIAGNOSED` of them, each within as much
    work as the main search did (at least `_MIN_BUDGET`); past those, the
    verdict is the first joint constraint's.
    """
    alone = next(
        (b for b in found_blockers if b.fact is None and b.kind in _CONSTRAINT_VERDICTS and not b.joint),
        None,
    )
    joint = next((b for b in found_blockers if b.fact is None and b.kind in _CONSTRAINT_VERDICTS), None)
    goal_blocked = next((b for b in found_blockers if b.fact is not None), None)
    out = []
    diagnosed = 0
    work = failed.expanded + failed.evaluated if failed is not None else 0
    relaxed: _Relaxed | None = None
    for c in sorted(call.relevant, key=lambda c: (c.op.capability.provides, c.op.name)):
        if c.status != "ok":
            out.append(_unavailable(c))
            continue
        if alone is not None:
            out.append(_alt(c, _CONSTRAINT_VERDICTS[alone.kind], f"no plan can use it: {alone.message}",
                            policies=list(alone.policies)))
            continue
        if call.missing_goal_facts or goal_blocked is not None or joint is None:
            why = goal_blocked.message if goal_blocked is not None else "the goal cannot be reached"
            out.append(_alt(c, Verdict.PRECONDITION, f"no admissible plan reaches the goal: {why}",
                            unmet_fact=goal_blocked.fact if goal_blocked is not None else None))
            continue
        if relaxed is None:
            task, local = planner.task(call)
            relaxed = _Relaxed(task, planner.init_of(call, local), {o.index: pos for pos, o in enumerate(task.ops)})
        ruled = _ruled_out(call, c, relaxed.positions[c.op.index], relaxed)
        if ruled is not None:
            out.append(ruled)
        elif diagnosed < _MAX_DIAGNOSED:
            diagnosed += 1
            out.append(_diagnose(planner, call, c, _Budget(work, share=1.0)))
        else:
            out.append(_alt(c, _CONSTRAINT_VERDICTS[joint.kind], f"no plan can use it: {joint.message}",
                            policies=list(joint.policies)))
    return out


#: Alternatives already built, by content: a replan after a small health change gives most
#: capabilities the very same verdict, reason and numbers, and sharing the (immutable) objects
#: spares building thousands again, and the garbage collector from tracing them.
_BUILT: dict[tuple[Any, ...], Alternative] = {}
_BUILT_MAX = 50_000


def _alt(c: Candidate, verdict: Verdict, reason: str, **extra: Any) -> Alternative:
    more = extra.get("numbers")
    policies = tuple(extra.get("policies", ()))
    key: tuple[Any, ...] = (
        c.op.name, c.op.capability.provides, verdict, reason, policies, extra.get("score_delta"), extra.get("unmet_fact"),
        c.cost, c.latency, c.probability, c.score, c.circuit, tuple(more.items()) if more else (),
        bool(extra.get("lower_bound")),
    )
    try:
        hit = _BUILT.get(key)
    except TypeError:  # an unhashable number (never in practice): build it fresh
        hit, key = None, ()
    if hit is not None:
        return hit
    numbers = c.numbers()
    if more:
        numbers.update(more)
    # Built from already-typed values, every field given (pydantic resolves missing defaults
    # slowly): validating thousands of alternatives per plan would cost more than the search.
    alt = construct(
        Alternative, capability=c.op.name,
        provides=c.op.capability.provides,
        verdict=verdict,
        reason=reason,
        policies=list(policies),
        score_delta=extra.get("score_delta"),
        unmet_fact=extra.get("unmet_fact"),
        numbers=numbers,
        lower_bound=bool(extra.get("lower_bound")),
    )
    if key:
        if len(_BUILT) >= _BUILT_MAX:
            _BUILT.clear()
        _BUILT[key] = alt
    return alt


def _numbers_text(c: Candidate) -> str:
    return (
        f"cost {c.cost:.4g}, {c.latency:.4g}s, p={c.probability:.4g}, step score {c.score:.4g}"
        + (f", preferred by {', '.join(c.judgement.preferred_by)}" if c.judgement.preferred_by else "")
    )


def _unavailable(c: Candidate) -> Alternative:
    verdict = _UNAVAILABLE_VERDICT[c.status]
    policies: list[str] = []
    if c.status == "denied":
        policies = list(c.judgement.denied_by)
        reason = c.detail
    elif c.status == "over_limit":
        policies = [p for p in [c.judgement.limits.attempts_by] if p]
        reason = f"over limit: {c.detail}"
    else:
        reason = f"{c.status}: {c.detail}"
    return _alt(c, verdict, reason, policies=policies)


class _Swaps:
    """What the swap argument needs about one plan, indexed once per `alternatives` call.

    Looking positions and same-signature chosen steps up in dicts keeps the
    verdicts of n alternatives O(n) (a scan per alternative made them O(n^2)).
    """

    __slots__ = ("cost", "found", "makespan", "positions", "risk", "signatures", "task")

    def __init__(self, task: Task, found: Found) -> None:
        self.task = task
        self.found = found
        self.positions = {op.index: i for i, op in enumerate(task.ops)}
        used = measure(task, found.ops)
        self.cost, self.risk, self.makespan = used.cost or 0.0, used.risk or 0.0, used.makespan or 0.0
        self.signatures: dict[tuple[Any, Any], list[int]] = {}
        for k, pos in enumerate(found.ops):
            op = task.ops[pos]
            self.signatures.setdefault((op.pre, op.eff), []).append(k)


def _swapped(call: Call, c: Candidate, task: Task, found: Found, swaps: _Swaps | None = None) -> float | None:
    """Return the best score of a plan using `c` when a swap proves it, else None.

    When the chosen plan is the unconstrained optimum and `c` has exactly the
    preconditions and effects of a chosen step, any plan using `c` can swap it
    back for that step, so no plan using `c` scores below the chosen plan with
    that one step swapped; if the swapped plan is within the bounds, it is the
    best plan using `c` (no re-plan needed). A swapped-in step no dearer, riskier
    or slower than the one it replaces keeps the plan within the bounds the
    chosen plan meets, so only the others are measured.
    """
    if not found.unbounded:
        return None
    if swaps is None or swaps.task is not task or swaps.found is not found:
        swaps = _Swaps(task, found)
    pos = swaps.positions.get(c.op.index)
    if pos is None:
        return None
    mine = task.ops[pos]
    for k in swaps.signatures.get((mine.pre, mine.eff), ()):
        other = task.ops[found.ops[k]]
        if _fits(call, swaps, mine.cost - other.cost, mine.risk - other.risk, mine.latency - other.latency):
            return found.value - other.score + mine.score
        path = [*found.ops[:k], pos, *found.ops[k + 1:]]
        if _within(call, measure(task, path)):
            return found.value - other.score + mine.score
    return None


def _fits(call: Call, swaps: _Swaps, d_cost: float, d_risk: float, d_latency: float) -> bool:
    """Return True when a one-step swap changing the plan's numbers by these deltas surely stays in bounds.

    Cost and risk add up; lengthening one step by d lengthens the critical path by
    at most d. False means "measure it" (the path may still fit). Comparisons with
    the varying caps are recorded in the call's `slack`.
    """
    bounds = call.bounds
    if bounds.cost is not None and d_cost > 0 and breaks(call.slack, "cost", swaps.cost + d_cost, bounds.cost):
        return False
    if bounds.risk is not None and d_risk > 0 and swaps.risk + d_risk > bounds.risk + EPS:
        return False
    return not (
        bounds.makespan is not None and d_latency > 0
        and breaks(call.slack, "makespan", swaps.makespan + d_latency, bounds.makespan)
    )


def _within(call: Call, used: Bounds) -> bool:
    """Return `within(used, call.bounds)`, every comparison with a varying cap recorded in the
    call's `slack` (all of them are made, so the recorded answer is complete)."""
    b = call.bounds
    ok = True
    for name in VARYING:
        cap = getattr(b, name)
        if cap is not None and breaks(call.slack, name, getattr(used, name), cap):
            ok = False
    return ok and within(used, Bounds(risk=b.risk, steps=b.steps, uses=b.uses))


class _Budget:
    """The search work the verdicts of one call may still spend on forced re-plans.

    Work is node expansions plus heuristic evaluations (LM-cut's evaluations are most
    of a search's time, and a forced re-plan starts cold, with its own task and
    heuristic cache, so it evaluates more per expansion than the main search).
    A call may spend `_BUDGET_SHARE` of its main search's work, at least `_MIN_BUDGET`
    (a small search is cheap next to the rest of a call; below it, most verdicts of a
    small workspace stay exact): explaining a plan costs at most about as much as
    finding it, whatever the number of alternatives. Each re-plan is also charged
    for building its task and heuristic (`_FORCED_OVERHEAD`, plus one per 8 operators).
    What the budget cannot pay for is judged by the relaxation's lower bounds
    (`_Relaxed`) and says so (`lower_bound`).
    """

    __slots__ = ("left",)

    def __init__(self, main: Found | Failed | int, share: float = _BUDGET_SHARE) -> None:
        work = main if isinstance(main, int) else main.expanded + main.evaluated
        self.left = max(_MIN_BUDGET, int(work * share))

    def spend(self, result: Found | Failed, task: Task) -> None:
        """Charge a re-plan: its expansions, its evaluations and its set-up."""
        self.left -= result.expanded + result.evaluated + _FORCED_OVERHEAD + len(task.ops) // 8


class _Relaxed:
    """Lower bounds on any plan using a candidate, from one h_max pass per metric over the call's
    task (`ido.planning.reach`), computed when first asked for and shared by every alternative."""

    __slots__ = ("init", "positions", "reached", "task")

    def __init__(self, task: Task, init: tuple[int, ...], positions: dict[int, int]) -> None:
        self.task = task
        self.init = init
        self.positions = positions  # registry operator index -> position in `task.ops`
        self.reached: dict[str, list[float]] = {}

    def at_least(self, pos: int, metric: str) -> float:
        """Return the least `metric` value of any plan using the operator at `pos` (INF: none can)."""
        reach = self.reached.get(metric)
        if reach is None:
            reach = self.reached[metric] = reach_costs(self.task, self.init, metric)
        return reach[pos] + weight(self.task.ops[pos], metric)


def _ruled_out(call: Call, c: Candidate, pos: int, relaxed: _Relaxed) -> Alternative | None:
    """Return the verdict of a candidate every plan using which breaks a bound by the relaxation's
    lower bounds alone (the figures are bounds: "at least"), or None when none is proven so."""
    b = call.bounds
    if b.cost is not None and breaks(call.slack, "cost", cost := relaxed.at_least(pos, "cost"), b.cost):
        call.slack.exact = True  # the reason may show the spend and what is left
        name, value, policy = call.bound_sources["cost"]
        numbers = {"plan_cost": cost}
        if name == "cost_per_run":
            return _alt(
                c, Verdict.OVER_LIMIT,
                f"over limit: any plan with it costs at least {cost:.4g}, over the cost_per_run "
                f"limit {value:g} of {policy} ({call.request.spent:g} spent)",
                policies=[policy] if policy else [], numbers=numbers, lower_bound=True,
            )
        left = f" ({b.cost:.4g} left after {call.request.spent:g} spent)" if call.request.spent else ""
        return _alt(
            c, Verdict.OVER_BUDGET,
            f"over budget: any plan with it costs at least {cost:.4g}, over the budget of {value:g}{left}",
            numbers=numbers, lower_bound=True,
        )
    if b.makespan is not None and breaks(call.slack, "makespan", latency := relaxed.at_least(pos, "latency"), b.makespan):
        call.slack.exact = True  # the reason may show the time left
        return _alt(
            c, Verdict.TOO_SLOW,
            f"too slow: any plan with it takes at least {latency:.4g}s, over the deadline of "
            f"{call.bound_sources['makespan'][1]:g}s"
            + (f" ({b.makespan:.4g}s left)" if call.request.elapsed_s else ""),
            numbers={"plan_latency_s": latency}, lower_bound=True,
        )
    if b.risk is not None and (risk := relaxed.at_least(pos, "risk")) > b.risk + EPS:
        p = math.exp(-risk)
        return _alt(
            c, Verdict.TOO_RISKY,
            f"too risky: any plan with it succeeds with p at most {p:.4g}, "
            f"below min_success {call.bound_sources['risk'][1]:g}",
            numbers={"plan_success_probability": p}, lower_bound=True,
        )
    if b.steps is not None and (steps := relaxed.at_least(pos, "steps")) > b.steps:
        name, value, policy = call.bound_sources["steps"]
        return _alt(
            c, Verdict.OVER_LIMIT,
            f"over limit: any plan with it needs at least {steps:g} steps, over {name} {value:g} "
            f"({call.request.steps_taken} taken)",
            policies=[policy] if policy else [], numbers={"plan_steps": int(steps)}, lower_bound=True,
        )
    return None


def _forced(
    planner: Planner, call: Call, c: Candidate, chosen_score: float, task: Task, found: Found,
    swaps: _Swaps, relaxed: _Relaxed, budget: _Budget,
) -> Alternative:
    """Return the verdict of an available candidate the plan does not use, cheapest proof first:
    a swap with a chosen step (exact), the relaxation (no plan can use it, or every plan using it
    breaks a bound), a forced re-plan while the call's budget lasts (exact), else a lower bound."""
    swapped = _swapped(call, c, task, found, swaps)
    if swapped is not None:
        return _costlier(c, swapped, chosen_score)
    pos = swaps.positions[c.op.index]
    at_least = relaxed.at_least(pos, "score")
    if at_least == INF:
        return _never_applicable(planner, call, c)
    ruled = _ruled_out(call, c, pos, relaxed)
    if ruled is not None:
        return ruled
    if budget.left > 0:
        result, forced_task = planner.search(call, force=c.op.index, max_work=budget.left)
        budget.spend(result, forced_task)
        if isinstance(result, Found):
            return _costlier(c, result.value, chosen_score)
        if result.exhausted:
            return _diagnose(planner, call, c, budget)
    # Unsearched (or the search stopped): the chosen plan is optimal within the bounds, and the
    # relaxation bounds any plan using `c` from below; the larger of the two is what is known.
    best = max(chosen_score, at_least)
    delta = best - chosen_score
    if delta <= EPS:
        reason = (f"costlier: no plan with it beats the chosen one (score {chosen_score:.4g}); "
                  "a bound, its best plan was not searched for")
        delta = 0.0
    else:
        reason = (f"costlier: any plan with it scores at least {best:.4g}, at least {delta:+.4g} "
                  "against the chosen plan (a bound, its best plan was not searched for)")
    return _alt(c, Verdict.COSTLIER, reason, score_delta=delta, numbers={"plan_score": best}, lower_bound=True)


def _costlier(c: Candidate, value: float, chosen_score: float) -> Alternative:
    """Return the exact `costlier` verdict of a candidate whose best plan scores `value`."""
    delta = value - chosen_score
    if abs(delta) <= EPS:
        reason = f"costlier: ties with the chosen plan (score {value:.4g}); lost on name order"
        delta = 0.0
    else:
        reason = f"costlier: the best plan with it scores {value:.4g}, {delta:+.4g} against the chosen plan"
    return _alt(c, Verdict.COSTLIER, reason, score_delta=delta, numbers={"plan_score": value})


def _never_applicable(planner: Planner, call: Call, c: Candidate) -> Alternative:
    """Return the `precondition` verdict of a candidate no sequence from the call's state can apply."""
    fact = unmet_fact(planner, call, c)
    what = f"its requirement on {fact} cannot hold" if fact else "no sequence reaches the goal with it"
    return _alt(c, Verdict.PRECONDITION, f"precondition: {what} when the role is needed", unmet_fact=fact)


def _diagnose(planner: Planner, call: Call, c: Candidate, budget: _Budget | None = None) -> Alternative:
    """Return why no plan within the constraints uses `c`: which bound the best one breaks.

    With `budget`, the search may spend what is left of it (at least a node)."""
    unbounded = Bounds(uses=call.bounds.uses)
    max_work = None if budget is None else max(1, budget.left)
    result, task = planner.search(call, bounds=unbounded, force=c.op.index, max_work=max_work)
    if budget is not None:
        budget.spend(result, task)
    if isinstance(result, Failed):
        if not result.exhausted:
            return _alt(c, Verdict.PRECONDITION, "not usable: no plan within the constraints uses it "
                        "(which constraint binds was not searched for)")
        return _never_applicable(planner, call, c)
    _, totals = planner.steps(call, task, result.ops)
    b = call.bounds
    numbers = {
        "plan_cost": totals["cost"],
        "plan_latency_s": totals["latency_s"],
        "plan_success_probability": totals["success_probability"],
        "plan_steps": totals["steps"],
    }
    if b.cost is not None and breaks(call.slack, "cost", totals["cost"], b.cost):
        call.slack.exact = True  # the reason may show the spend and what is left
        name, value, policy = call.bound_sources["cost"]
        if name == "cost_per_run":
            return _alt(
                c, Verdict.OVER_LIMIT,
                f"over limit: the best plan with it costs {totals['cost']:.4g}, over the cost_per_run "
                f"limit {value:g} of {policy} ({call.request.spent:g} spent)",
                policies=[policy] if policy else [], numbers=numbers,
            )
        left = f" ({b.cost:.4g} left after {call.request.spent:g} spent)" if call.request.spent else ""
        return _alt(
            c, Verdict.OVER_BUDGET,
            f"over budget: the best plan with it costs {totals['cost']:.4g}, over the budget of {value:g}{left}",
            numbers=numbers,
        )
    if b.makespan is not None and breaks(call.slack, "makespan", totals["latency_s"], b.makespan):
        call.slack.exact = True  # the reason may show the time left
        return _alt(
            c, Verdict.TOO_SLOW,
            f"too slow: the best plan with it takes {totals['latency_s']:.4g}s, over the deadline of "
            f"{call.bound_sources['makespan'][1]:g}s"
            + (f" ({b.makespan:.4g}s left)" if call.request.elapsed_s else ""),
            numbers=numbers,
        )
    if b.risk is not None and totals["risk"] > b.risk + EPS:
        return _alt(
            c, Verdict.TOO_RISKY,
            f"too risky: the best plan with it succeeds with p={totals['success_probability']:.4g}, "
            f"below min_success {call.bound_sources['risk'][1]:g}",
            numbers=numbers,
        )
    steps = totals["steps"]
    name, value, policy = call.bound_sources.get("steps", ("max_steps", 0, None))
    return _alt(
        c, Verdict.OVER_LIMIT,
        f"over limit: the best plan with it needs {steps} steps, over {name} {value:g} "
        f"({call.request.steps_taken} taken)",
        policies=[policy] if policy else [], numbers=numbers,
    )


def unmet_fact(planner: Planner, call: Call, c: Candidate) -> str | None:
    """Return the first fact `c` requires that cannot become true from the call's state."""
    task, local = planner.task(call)
    init = planner.init_of(call, local)
    reached = relaxed_reachable(task, init)
    names = {i: planner.compiled.variables[var].name for var, i in local.items()}
    op = next((o for o in task.ops if o.index == c.op.index), None)
    if op is None:
        return None
    for var, admits in op.pre:
        if not reached[var] & admits:
            return names[var]
    for var, admits in op.pre:
        if init[var] not in admits:
            return names[var]
    return None


def blockers(planner: Planner, call: Call, failed: Failed | None) -> list[Blocker]:
    """Return what blocks the goal of an infeasible call, most specific first."""
    compiled = planner.compiled
    out: list[Blocker] = []
    goal_text = dict(call.intent.goal)
    for fact in call.missing_goal_facts:
        out.append(Blocker(
            kind="no_producer", fact=fact,
            message=f"no capability produces {fact} (the goal needs it {describe_matcher(goal_text[fact])})",
        ))
    if failed is None:
        return out
    if not failed.exhausted:
        return [*out, Blocker(
            kind="search_limit",
            message=f"the search gave up after {failed.expanded} nodes; narrow the goal or raise the limit",
        )]
    by_index = {c.op.index: c for c in call.relevant}
    task, local = planner.task(call)
    init = planner.init_of(call, local)
    reached = relaxed_reachable(task, init)
    derived: list[Blocker] = []  # goal facts blocked further down their chain of requirements
    for var, admits in call.goal:
        if call.init_global[var] in admits:
            continue
        fact = compiled.variables[var].name
        producers = [
            by_index[i] for i in compiled.writers[var]
            if i in by_index and any(v == var and val in admits for v, val in compiled.operators[i].eff)
        ]
        if not producers:
            out.append(Blocker(
                kind="no_producer", fact=fact,
                message=f"no capability produces {fact} {describe_matcher(goal_text[fact])}",
            ))
            continue
        usable = [p for p in producers if p.status == "ok"]
        if not usable:
            out.append(_producers_blocked(fact, producers))
        elif not reached[local[var]] & admits:
            needs = []
            missing_facts = []
            for p in usable:
                missing = unmet_fact(planner, call, p)
                if missing:
                    needs.append(f"{p.op.name} needs {missing}")
                    missing_facts.append(missing)
            root = _root_cause(planner, call, missing_facts, by_index)
            derived.append(Blocker(
                kind=root[2], fact=fact,
                capabilities=[p.op.name for p in usable],
                policies=root[1],
                message=f"{fact} cannot be reached: " + ("; ".join(needs) or "its producers never apply")
                + ", which cannot become true" + (f" ({root[0]})" if root[0] else ""),
            ))
    if out or derived:
        # direct causes (no producer, denied, unhealthy, ...) before their consequences
        return out + derived
    return _constraint_blockers(planner, call)


def _root_cause(
    planner: Planner, call: Call, facts: Sequence[str], by_index: dict[int, Candidate], depth: int = 8,
) -> tuple[str, list[str], BlockerKind]:
    """Return the first fact down the chain of unmet requirements whose producers are all
    unavailable: in words, the denying policies and the blocker kind (`denied`, `unhealthy`,
    ...); ("", [], "precondition") when none is found."""
    compiled = planner.compiled
    seen: set[str] = set()
    frontier = list(dict.fromkeys(facts))
    for _ in range(depth):
        following: list[str] = []
        for fact in frontier:
            if fact in seen:
                continue
            seen.add(fact)
            var = compiled.var_index.get(fact)
            producers = [by_index[i] for i in compiled.writers[var] if i in by_index] if var is not None else []
            if not producers:
                return f"nothing usable produces {fact}", [], "no_producer"
            if all(p.status != "ok" for p in producers):
                blocked = _producers_blocked(fact, producers)
                return blocked.message, list(blocked.policies), blocked.kind
            for p in producers:
                if p.status == "ok":
                    missing = unmet_fact(planner, call, p)
                    if missing:
                        following.append(missing)
        frontier = following
        if not frontier:
            break
    return "", [], "precondition"


def _producers_blocked(fact: str, producers: Sequence[Candidate]) -> Blocker:
    kinds = [p.status for p in producers]
    kind = max(set(kinds), key=lambda k: (kinds.count(k), k))
    policies = sorted({n for p in producers for n in p.judgement.denied_by})
    parts = [f"{p.op.name}: {p.detail}" for p in producers]
    kinds_of: dict[str, BlockerKind] = {"denied": "denied", "unhealthy": "unhealthy", "excluded": "excluded"}
    blocker_kind = kinds_of.get(kind, "limit")
    return Blocker(
        kind=blocker_kind,
        fact=fact,
        policies=policies,
        capabilities=[p.op.name for p in producers],
        message=f"every producer of {fact} is unavailable: " + "; ".join(parts),
    )


_CHECKS = (("cost", "cost"), ("makespan", "latency"), ("risk", "risk"), ("steps", "steps"))


def _constraint_blockers(planner: Planner, call: Call) -> list[Blocker]:
    base = Bounds(uses=call.bounds.uses)
    free, _ = planner.search(call, bounds=base)
    if isinstance(free, Failed):
        if not free.exhausted:
            return [Blocker(kind="search_limit", message="the search gave up before proving the goal reachable")]
        return [Blocker(
            kind="precondition",
            capabilities=[c.op.name for c in call.candidates],
            message="the goal facts cannot all hold together from this state with the usable capabilities",
        )]
    out = []
    for name, metric in _CHECKS:
        bound = getattr(call.bounds, name)
        if bound is None:
            continue
        res, _ = planner.search(call, bounds=base, metric=metric)
        if isinstance(res, Found) and res.value > bound + EPS:
            out.append(_constraint_blocker(call, name, res.value, bound, alone=True))
    if out:
        return out
    for name, metric in _CHECKS:
        bound = getattr(call.bounds, name)
        if bound is None:
            continue
        others = Bounds(**{
            **{n: getattr(call.bounds, n) for n, _ in _CHECKS}, name: None, "uses": call.bounds.uses,
        })
        res, _ = planner.search(call, bounds=others, metric=metric)
        if isinstance(res, Found) and res.value > bound + EPS:
            out.append(_constraint_blocker(call, name, res.value, bound, alone=False).model_copy(update={"joint": True}))
    if out:
        return out
    names = ", ".join(call.bound_sources[n][0] for n, _ in _CHECKS if n in call.bound_sources)
    return [Blocker(kind="budget" if "cost" in call.bound_sources else "precondition",
                    message=f"no plan meets {names} together")]


def _constraint_blocker(call: Call, name: str, value: float, bound: float, *, alone: bool) -> Blocker:
    label, declared, policy = call.bound_sources[name]
    qualifier = "" if alone else _JOINT
    req = call.request
    if name == "cost":
        spent = f" ({req.spent:g} already spent)" if req.spent else ""
        if label == "cost_per_run":
            return Blocker(
                kind="limit", policies=[policy] if policy else [], needed=value, bound=bound, joint=not alone,
                message=f"cost_per_run: the cheapest plan{qualifier} costs {value:.4g}, over the limit "
                f"{declared:g} of policy {policy}{spent}",
            )
        return Blocker(
            kind="budget", needed=value, bound=bound, joint=not alone,
            message=f"budget: the cheapest admissible plan{qualifier} costs {value:.4g}, over the "
            f"budget of {declared:g}{spent}",
        )
    if name == "makespan":
        elapsed = f" ({req.elapsed_s:g}s elapsed)" if req.elapsed_s else ""
        return Blocker(
            kind="deadline", needed=value, bound=bound, joint=not alone,
            message=f"deadline: the fastest admissible plan{qualifier} takes {value:.4g}s, over the "
            f"deadline of {declared:g}s{elapsed}",
        )
    if name == "risk":
        p = math.exp(-value)
        return Blocker(
            kind="min_success", needed=p, bound=declared, joint=not alone,
            message=f"min_success: the most reliable plan{qualifier} succeeds with probability "
            f"{p:.4g}, below min_success {declared:g}",
        )
    kind = "limit" if label == "steps_per_run" else "max_steps"
    return Blocker(
        kind=kind, needed=value, bound=bound, joint=not alone, policies=[policy] if policy else [],
        message=f"{label}: the shortest plan{qualifier} needs {value:g} steps, over {label} {declared:g}"
        f" ({req.steps_taken} taken)",
    )


def feasible_explanation(call: Call, steps: Sequence[PlanStep], totals: dict[str, Any], alts: Sequence[Alternative]) -> str:
    """Return one line: the plan's steps, its numbers against the constraints, and what lost."""
    if not steps:
        return "the goal already holds: nothing to do"
    c = call.intent.constraints
    parts = [f"{len(steps)} step{'s' if len(steps) != 1 else ''}: " + ", ".join(s.capability for s in steps)]
    parts.append(f"cost {totals['cost']:.4g}" + (f" of budget {c.budget:g}" if c.budget is not None else ""))
    parts.append(f"{totals['latency_s']:.4g}s" + (f" of deadline {c.deadline:g}s" if c.deadline is not None else ""))
    parts.append(f"p={totals['success_probability']:.4g}" + (f" (min {c.min_success:g})" if c.min_success is not None else ""))
    parts.append(f"score {totals['score']:.4g}")
    lost = [a for a in alts if a.verdict not in (Verdict.CHOSEN, Verdict.NOT_NEEDED)]
    if lost:
        parts.append(f"{len(lost)} alternative{'s' if len(lost) != 1 else ''} rejected")
    return "; ".join(parts)


def infeasible_explanation(call: Call, found_blockers: Sequence[Blocker]) -> str:
    """Return the reason no plan exists, naming the binding constraint, policy or missing capability."""
    head = f"no admissible plan for {call.intent.intent}"
    if not found_blockers:
        return head
    return head + ": " + "; ".join(b.message for b in found_blockers)
