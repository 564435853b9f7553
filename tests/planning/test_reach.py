"""Relaxation lower bounds per operator (`ido.planning.reach`) and the search's work cap."""

from __future__ import annotations

from ido.planning.reach import reach_costs
from ido.planning.search import Bounds, Failed, Found, Task, TaskOp, astar

INF = float("inf")


def _op(i: int, pre: dict[int, int], eff: dict[int, int], score: float = 1.0) -> TaskOp:
    reads, writes = set(pre), set(eff)
    return TaskOp(
        index=i, name=f"o{i}", pre=tuple((v, frozenset({x})) for v, x in pre.items()),
        eff=tuple(eff.items()), score=score, cost=score, risk=0.0, latency=1.0,
        reads_only=tuple(sorted(reads - writes)), writes=tuple(sorted(writes)),
        waits=tuple(sorted(reads | writes)),
    )


def _either(i: int, var: int, values: set[int], eff: dict[int, int], score: float) -> TaskOp:
    """An op whose one precondition admits several values (a disjunction)."""
    op = _op(i, {}, eff, score)
    op.pre = ((var, frozenset(values)),)
    op.reads_only = ()
    op.waits = tuple(sorted({var} | set(eff)))
    return op


def test_reach_is_hmax_of_each_operators_preconditions() -> None:
    """Per op: the costliest of its preconditions' h_max values; INF when never applicable.

    Chain a -> b (2) -> c (3); d needs b and c (their max, 5); e needs a value nobody sets;
    f needs var 0 at 1 or 2 (the cheaper, 2)."""
    task = Task(
        domains=[3, 2, 2, 2],
        goal=((3, frozenset({1})),),
        ops=[
            _op(0, {0: 0}, {0: 1}, 2.0),           # var0: 0 -> 1
            _op(1, {0: 1}, {1: 1}, 3.0),           # var1 := 1 once var0 = 1
            _op(2, {0: 1, 1: 1}, {3: 1}, 1.0),     # goal once both
            _op(3, {2: 1}, {3: 1}, 0.5),           # var2 = 1 never holds
            _either(4, 0, {1, 2}, {2: 0}, 1.0),    # var0 in {1, 2}
        ],
    )
    reach = reach_costs(task, (0, 0, 0, 0), "score")
    assert reach == [0.0, 2.0, 5.0, INF, 2.0]
    # another metric, the same structure (the fact index is shared): every step counts 1
    assert reach_costs(task, (0, 0, 0, 0), "steps") == [0.0, 1.0, 2.0, INF, 1.0]
    # from a later state, what already holds costs nothing
    assert reach_costs(task, (1, 1, 0, 0), "score") == [INF, 0.0, 0.0, INF, 0.0]


def test_max_work_caps_expansions_and_evaluations_together() -> None:
    """A search given less work than it needs gives up (not exhausted); with enough, the same
    plan as without a cap, and it reports its heuristic evaluations."""
    ops = [_op(i, {0: i}, {0: i + 1}) for i in range(6)]
    task = Task(domains=[7], goal=((0, frozenset({6})),), ops=ops)
    free = astar(task, (0,), Bounds(), heuristic="lmcut")
    assert isinstance(free, Found) and free.value == 6.0 and free.evaluated >= 1
    capped = astar(task, (0,), Bounds(), heuristic="lmcut", max_work=3)
    assert isinstance(capped, Failed) and not capped.exhausted
    enough = astar(task, (0,), Bounds(), heuristic="lmcut", max_work=free.expanded + free.evaluated + 1)
    assert isinstance(enough, Found) and enough.ops == free.ops
    bounded = astar(task, (0,), Bounds(cost=10.0), heuristic="lmcut", max_work=3)
    assert isinstance(bounded, Failed) and not bounded.exhausted


def test_alternatives_of_a_classic_task_stay_within_the_budget() -> None:
    """On blocksworld 6 (64 alternatives) the forced re-plans together do at most a quarter of the
    main search's work (at least 16), plus one step of overshoot each; every alternative left
    unsearched is `costlier` by a lower bound that says so, and the plan is the same as without
    the alternatives."""
    from benchmarks.classic import blocksworld
    from ido.planning import Planner, PlanRequest

    inst = blocksworld(6)
    caps, intent = inst.models()
    planner = Planner(caps)
    work: list[tuple[bool, int]] = []
    search = planner.search

    def counted(call: object, **options: object) -> tuple[Found | Failed, Task]:
        result, task = search(call, **options)  # type: ignore[arg-type]
        work.append((options.get("force") is not None, result.expanded + result.evaluated))
        return result, task

    planner.search = counted  # type: ignore[method-assign]
    plan = planner.plan(intent, PlanRequest(state=inst.state))
    bare = Planner(caps).plan(intent, PlanRequest(state=inst.state), explain=False)
    assert [s.capability for s in plan.steps] == [s.capability for s in bare.steps]
    main = sum(w for forced, w in work if not forced)
    forced = [w for is_forced, w in work if is_forced]
    assert sum(forced) <= max(16, main // 4) + 32 * len(forced)
    bounds = [a for a in plan.alternatives if a.lower_bound]
    assert len(bounds) >= len(plan.alternatives) // 2
    for a in bounds:
        assert a.verdict == "costlier" and "a bound" in a.reason
        assert a.score_delta is not None and a.score_delta >= 0.0
        assert a.numbers["plan_score"] >= plan.score
