"""Search internals: the partial order's semantics, the heuristics, classic tasks, search limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.classic import blocksworld, gripper, logistics
from ido.planning import Planner, PlanRequest, schedule
from ido.planning.search import Bounds, Task, TaskOp, astar
from tests.planning import order
from tests.planning.order import cap


def _op(i: int, pre: dict[int, int], eff: dict[int, int], score: float = 1.0) -> TaskOp:
    reads = set(pre)
    writes = set(eff)
    return TaskOp(
        index=i, name=f"o{i}", pre=tuple((v, frozenset({x})) for v, x in pre.items()),
        eff=tuple(eff.items()), score=score, cost=score, risk=0.0, latency=1.0,
        reads_only=tuple(sorted(reads - writes)), writes=tuple(sorted(writes)),
        waits=tuple(sorted(reads | writes)),
    )


def test_schedule_orders_by_causal_links_clobbering_and_threats() -> None:
    """A reader waits for the writer; a writer waits for earlier readers and writers; others run free."""
    s = schedule(
        reads=[frozenset(), frozenset({0}), frozenset(), frozenset({1})],
        writes=[frozenset({0}), frozenset({1}), frozenset({0}), frozenset({2})],
        latencies=[1.0, 2.0, 1.0, 0.5],
    )
    # step 1 reads var 0 written by step 0; step 2 rewrites var 0 after step 1 read it;
    # step 3 reads var 1 written by step 1.
    assert s.after == [[], [0], [1], [1]]
    assert s.start == [0.0, 1.0, 3.0, 3.0]
    assert s.latency == 4.0


def test_two_independent_branches_cost_lmcut_their_sum_and_hmax_their_max() -> None:
    """On two independent goals LM-cut is exact (the sum) while h_max sees only the larger."""
    task = Task(
        domains=[2, 2],
        goal=((0, frozenset({1})), (1, frozenset({1}))),
        ops=[_op(0, {0: 0}, {0: 1}, 2.0), _op(1, {1: 0}, {1: 1}, 3.0)],
    )
    assert task.heuristic("lmcut", "score")((0, 0)) == 5.0
    assert task.heuristic("hmax", "score")((0, 0)) == 3.0
    assert task.heuristic("lmcut", "score")((1, 0)) == 3.0


@pytest.mark.parametrize("heuristic", ["hmax", "lmcut"])
def test_unreachable_goal_has_infinite_heuristic_and_no_plan(heuristic: str) -> None:
    """A goal value no operator produces makes the search fail at once."""
    task = Task(domains=[3], goal=((0, frozenset({2})),), ops=[_op(0, {0: 0}, {0: 1})])
    assert task.heuristic(heuristic, "score")((0,)) == float("inf")
    result = astar(task, (0,), Bounds(), heuristic=heuristic)
    assert not hasattr(result, "ops")


@pytest.mark.parametrize("heuristic", ["hmax", "lmcut"])
@pytest.mark.parametrize("balls", [2, 4])
def test_gripper_plans_are_optimal(heuristic: str, balls: int) -> None:
    """Gripper with n balls takes 3n-1 actions (n/2 round trips of pick, pick, move, drop, drop, move)."""
    inst = gripper(balls)
    caps, intent = inst.models()
    plan = Planner(caps, [], heuristic=heuristic).plan(intent, PlanRequest(state=inst.state), explain=False)
    assert plan.feasible and len(plan.steps) == 3 * balls - 1


def test_blocksworld_and_logistics_agree_between_heuristics() -> None:
    """Both heuristics find plans of the same optimal length on small classic tasks."""
    for inst in (blocksworld(5), logistics(2)):
        caps, intent = inst.models()
        request = PlanRequest(state=inst.state)
        a = Planner(caps, [], heuristic="hmax").plan(intent, request, explain=False)
        b = Planner(caps, [], heuristic="lmcut").plan(intent, request, explain=False)
        assert a.feasible and b.feasible and len(a.steps) == len(b.steps)


def test_search_limit_is_reported_not_raised() -> None:
    """A node limit that is too small yields an infeasible plan that says the search gave up."""
    inst = gripper(4)
    caps, intent = inst.models()
    plan = Planner(caps, [], max_nodes=3, heuristic="hmax").plan(intent, PlanRequest(state=inst.state))
    assert not plan.feasible
    assert plan.blockers[0].kind == "search_limit" and "gave up" in plan.explanation


def test_unknown_heuristic_is_rejected() -> None:
    """Planner names the heuristics it knows."""
    with pytest.raises(ValueError, match="hmax, lmcut"):
        Planner(order.capabilities(), [], heuristic="ff")


def test_duplicate_capability_names_are_rejected() -> None:
    """Two capabilities with one name cannot be compiled."""
    twice = [cap("a", "r", {}, {"x": True}), cap("a", "r", {}, {"y": True})]
    with pytest.raises(ValueError, match="declared twice"):
        Planner(twice, [])


@st.composite
def _uniform_tasks(draw: st.DrawFn) -> tuple[Task, list[tuple[int, ...]], float]:
    """Return a random task whose actions all cost the same, some states, and that cost."""
    domains = draw(st.lists(st.integers(2, 4), min_size=1, max_size=4))
    values = [st.integers(0, size - 1) for size in domains]
    cost = draw(st.sampled_from([1.0, 2.5]))

    def entries(min_size: int) -> st.SearchStrategy[list[tuple[int, frozenset[int]]]]:
        var = st.integers(0, len(domains) - 1)
        return st.lists(var, min_size=min_size, max_size=len(domains), unique=True).flatmap(
            lambda vs: st.tuples(*[
                st.frozensets(values[v], min_size=1, max_size=2).map(lambda s, v=v: (v, s)) for v in vs
            ]).map(list)
        )

    ops = []
    for i in range(draw(st.integers(1, 7))):
        pre = draw(entries(0))
        eff = draw(entries(1))
        writes = sorted({v for v, _ in eff})
        ops.append(TaskOp(
            index=i, name=f"o{i}", pre=tuple(pre), eff=tuple((v, min(s)) for v, s in eff),
            score=cost, cost=cost, risk=0.0, latency=1.0, reads_only=(), writes=tuple(writes),
            waits=tuple(writes),
        ))
    task = Task(domains=domains, goal=tuple(draw(entries(1))), ops=ops)
    states = draw(st.lists(st.tuples(*values), min_size=1, max_size=4))
    return task, states, cost


@given(_uniform_tasks())
def test_layered_hmax_equals_dijkstra_when_every_action_costs_the_same(case: tuple[Task, list[tuple[int, ...]], float]) -> None:
    """h_max walks layers instead of a heap when costs are uniform: the values must not change."""
    task, states, cost = case
    h = task.heuristic("hmax", "score")
    assert h.uniform == cost
    for state in states:
        assert h(state) == pytest.approx(h._compute(state))
