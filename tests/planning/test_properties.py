"""Planner properties against an exhaustive reference search over random small problems."""

from __future__ import annotations

import itertools
import math
from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from ido.model import holds
from ido.planning import Planner, reasons
from ido.planning.types import Plan
from ido.policy import PolicySet
from tests.planning.reference import EPS, apply, critical_path, optimum, usable
from tests.planning.strategies import World, worlds


def _linearizations(plan: Plan) -> list[list[int]]:
    """Return every order of the steps consistent with `after`."""
    n = len(plan.steps)
    return [
        list(order) for order in itertools.permutations(range(n))
        if all(order.index(a) < order.index(i) for i in range(n) for a in plan.steps[i].after)
    ]


def _longest_chain(plan: Plan) -> float:
    finish: list[float] = []
    for step in plan.steps:
        finish.append(max((finish[a] for a in step.after), default=0.0) + step.latency_s)
    return max(finish, default=0.0)


@given(worlds())
def test_plans_are_valid_admissible_and_optimal(world: World) -> None:
    """Every plan is valid in every linearization, within every constraint and policy, and optimal."""
    planner = Planner(world.caps, world.policies)
    plan = planner.plan(world.intent, world.request, world.health)
    best = optimum(world.caps, world.policies, world.intent, world.request, world.health, world.max_len)
    if best is None:
        assert not plan.feasible, plan.explanation
        assert plan.blockers and plan.explanation
        return
    assert plan.feasible, f"reference found {best.sequence} ({best.score}) but: {plan.explanation}"
    assert math.isclose(plan.score, best.score, rel_tol=1e-9, abs_tol=1e-9)

    by_name = {c.name: c for c in world.caps}
    pool = {u.cap.name: u for u in usable(world.caps, world.policies, world.intent, world.request, world.health)}
    caps = [by_name[s.capability] for s in plan.steps]
    for order in _linearizations(plan):
        state = dict(world.request.state)
        for i in order:
            assert holds(caps[i].requires, state), f"{caps[i].name} not applicable in order {order}"
            state = apply(state, caps[i])
        assert holds(world.intent.goal, state)

    if not plan.steps:
        return  # the goal already holds: nothing to do, whatever is left of the constraints
    pset = PolicySet(world.policies)
    limits = pset.limits(world.intent, world.request.inputs)
    c = world.intent.constraints
    req = world.request
    assert all(s.capability in pool for s in plan.steps), "a step uses a denied/unhealthy/excluded capability"
    for s in plan.steps:
        judgement = pset.judge(by_name[s.capability], world.intent, req.inputs)
        assert s.requires_approval == bool(judgement.approval_by)
    cost = sum(pool[s.capability].cost for s in plan.steps)
    assert math.isclose(plan.cost, cost, abs_tol=1e-9)
    if c.budget is not None:
        assert cost <= c.budget - req.spent + EPS
    if limits.cost_per_run is not None:
        assert cost <= limits.cost_per_run - req.spent + EPS
    latency = critical_path(caps, [pool[s.capability].latency for s in plan.steps])
    assert math.isclose(plan.latency_s, latency, abs_tol=1e-9)
    assert math.isclose(_longest_chain(plan), latency, abs_tol=1e-9)
    if c.deadline is not None:
        assert latency <= c.deadline - req.elapsed_s + EPS
    if c.min_success is not None:
        assert sum(pool[s.capability].risk for s in plan.steps) <= -math.log(c.min_success) + EPS
    assert len(plan.steps) + req.steps_taken <= (c.max_steps or 10**9)
    if limits.steps_per_run is not None:
        assert len(plan.steps) + req.steps_taken <= limits.steps_per_run
    if limits.attempts_per_capability is not None:
        for s in plan.steps:
            used = req.attempts.get(s.capability, 0) + sum(1 for t in plan.steps if t.capability == s.capability)
            assert used <= limits.attempts_per_capability


@given(worlds())
def test_lmcut_and_hmax_find_plans_of_equal_score(world: World) -> None:
    """Both admissible heuristics give the same feasibility and optimal score as the reference."""
    a = Planner(world.caps, world.policies, heuristic="hmax").plan(world.intent, world.request, world.health)
    b = Planner(world.caps, world.policies, heuristic="lmcut").plan(world.intent, world.request, world.health)
    best = optimum(world.caps, world.policies, world.intent, world.request, world.health, world.max_len)
    assert a.feasible == b.feasible == (best is not None)
    if best is not None:
        assert math.isclose(b.score, best.score, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(a.score, b.score, rel_tol=1e-9, abs_tol=1e-9)


@given(worlds())
def test_equal_inputs_give_equal_plans(world: World) -> None:
    """Two planners built from the same inputs (registry order shuffled) return the same plan."""
    a = Planner(world.caps, world.policies).plan(world.intent, world.request, world.health)
    b = Planner(list(reversed(world.caps)), list(reversed(world.policies))).plan(
        world.intent, world.request, world.health
    )
    assert a.model_dump(exclude={"metrics"}) == b.model_dump(exclude={"metrics"})


@given(worlds())
def test_alternative_verdicts_agree_with_the_reference(world: World) -> None:
    """`costlier` deltas equal the reference's best plan using that capability minus the chosen
    plan (or bound it from below, when `lower_bound` says so); capabilities rejected for any other
    reason are in no admissible plan at all."""
    plan = Planner(world.caps, world.policies).plan(world.intent, world.request, world.health)
    _check_verdicts(world, plan)


@given(worlds())
def test_verdicts_without_any_forced_replan_are_sound_bounds(world: World) -> None:
    """With no budget for forced re-plans, every verdict comes from the main search, swaps and the
    relaxation: still true, and each figure that is not exact says `lower_bound`."""
    with patch.object(reasons, "_MIN_BUDGET", 0), patch.object(reasons, "_BUDGET_SHARE", 0.0):
        plan = Planner(world.caps, world.policies).plan(world.intent, world.request, world.health)
    _check_verdicts(world, plan)


def _check_verdicts(world: World, plan: Plan) -> None:
    for alt in plan.alternatives:
        if alt.verdict in ("chosen", "not_needed"):
            continue
        best = optimum(world.caps, world.policies, world.intent, world.request, world.health,
                       world.max_len, must_use=alt.capability)
        if alt.verdict == "costlier" and alt.lower_bound:
            # "no plan with it beats the chosen one; any scores at least this": perhaps none at all
            assert alt.score_delta is not None and alt.score_delta >= -EPS
            assert "a bound" in alt.reason
            assert best is None or best.score >= plan.score + alt.score_delta - 1e-9
            assert best is None or best.score >= alt.numbers["plan_score"] - 1e-9
        elif alt.verdict == "costlier":
            assert best is not None and alt.score_delta is not None and alt.score_delta >= -EPS
            assert math.isclose(best.score, plan.score + alt.score_delta, rel_tol=1e-9, abs_tol=1e-9)
            assert math.isclose(alt.numbers["plan_score"], best.score, rel_tol=1e-9, abs_tol=1e-9)
        else:
            assert best is None, f"{alt.capability} is {alt.verdict} but {best} uses it"


@given(worlds(), st.sampled_from([0.0, 0.5, 2.5]), st.sampled_from([0.0, 1.0, 6.0]), st.booleans())
def test_a_planner_asked_again_answers_as_a_fresh_one(
    world: World, elapsed: float, now: float, other_input: bool,
) -> None:
    """A planner that planned one request (and kept the plan) gives for a second request,
    differing in time, `now` or an input no policy names, what a fresh planner gives."""
    planner = Planner(world.caps, world.policies)
    first = planner.plan(world.intent, world.request, world.health)
    update: dict[str, Any] = {"elapsed_s": elapsed, "now": now}
    if other_input:
        update["inputs"] = {**world.request.inputs, "order_id": "o-2"}
    again = world.request.model_copy(update=update)
    fresh = Planner(world.caps, world.policies).plan(world.intent, again, world.health)
    assert planner.plan(world.intent, again, world.health).model_dump(exclude={"metrics"}) == \
        fresh.model_dump(exclude={"metrics"})
    assert planner.plan(world.intent, world.request, world.health).model_dump(exclude={"metrics"}) == \
        first.model_dump(exclude={"metrics"})
