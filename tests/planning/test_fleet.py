"""Fleet allocation with CP-SAT, checked against brute force on small cases."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from ido.planning.fleet import COST_SCALE, SUCCESS_SCALE, Allocation, Demand, Provider, allocate

NAMES = ("p.a", "p.b", "p.c")


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Demand], list[Provider]]:
    """Return up to 5 demands over 2 roles and up to 3 providers with small capacities."""
    providers = [
        Provider(
            name=name,
            role=draw(st.sampled_from(["pay", "ship"])),
            capacity=draw(st.integers(0, 2)),
            cost=draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])),
            success=draw(st.sampled_from([0.0, 0.5, 0.9, 0.99])),
        )
        for name in NAMES[: draw(st.integers(1, 3))]
    ]
    demands = [
        Demand(
            run_id=f"r{i}",
            role=draw(st.sampled_from(["pay", "ship"])),
            budget=draw(st.sampled_from([None, 0.2, 0.6])),
            allowed=draw(st.sampled_from([None, frozenset({"p.a"}), frozenset({"p.b", "p.c"})])),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    return demands, providers


def _brute(demands: list[Demand], providers: list[Provider]) -> tuple[int, int]:
    """Return the lexicographic optimum (scaled successes, -scaled cost) over every assignment."""
    options = []
    for d in demands:
        ok = [None] + [
            p for p in providers
            if p.role == d.role and (d.allowed is None or p.name in d.allowed)
            and (d.budget is None or p.cost <= d.budget + 1e-9)
        ]
        options.append(ok)
    best = (0, 0)
    for choice in itertools.product(*options):
        used: dict[str, int] = {}
        for p in choice:
            if p is not None:
                used[p.name] = used.get(p.name, 0) + 1
        if any(used.get(p.name, 0) > p.capacity for p in providers):
            continue
        s = sum(round(p.success * SUCCESS_SCALE) for p in choice if p is not None)
        c = sum(round(p.cost * COST_SCALE) for p in choice if p is not None)
        best = max(best, (s, -c))
    return best


def _score(result: Allocation, providers: list[Provider]) -> tuple[int, int]:
    by_name = {p.name: p for p in providers}
    chosen = [by_name[n] for n in result.assignments.values()]
    return (
        sum(round(p.success * SUCCESS_SCALE) for p in chosen),
        -sum(round(p.cost * COST_SCALE) for p in chosen),
    )


@given(cases())
def test_allocation_is_lexicographically_optimal_and_admissible(case: tuple[list[Demand], list[Provider]]) -> None:
    """CP-SAT's allocation equals brute force and respects roles, policies, budgets, capacities."""
    demands, providers = case
    result = allocate(demands, providers)
    assert result.optimal
    assert _score(result, providers) == _brute(demands, providers)
    by_name = {p.name: p for p in providers}
    by_run = {d.run_id: d for d in demands}
    for run_id, name in result.assignments.items():
        d, p = by_run[run_id], by_name[name]
        assert p.role == d.role
        assert d.allowed is None or name in d.allowed
        assert d.budget is None or p.cost <= d.budget + 1e-9
    for p in providers:
        assert list(result.assignments.values()).count(p.name) <= p.capacity
    assert set(result.assignments) | set(result.unassigned) == set(by_run)
    assert not set(result.assignments) & set(result.unassigned)


def test_scarce_capacity_goes_where_it_adds_most_successes_then_cheapest() -> None:
    """With one reliable slot and two runs, one run gets it and the other the cheaper fallback."""
    providers = [
        Provider("stripe", "pay", capacity=1, cost=0.25, success=0.99),
        Provider("adyen", "pay", capacity=5, cost=0.32, success=0.99),
        Provider("mollie", "pay", capacity=5, cost=0.29, success=0.95),
    ]
    demands = [Demand("r1", "pay"), Demand("r2", "pay")]
    result = allocate(demands, providers)
    assert sorted(result.assignments.values()) == ["adyen", "stripe"]
    assert result.unassigned == {}


def test_unassigned_runs_get_reasons() -> None:
    """Runs that get nothing say why: no provider, policy, budget or capacity."""
    providers = [Provider("stripe", "pay", capacity=1, cost=0.25, success=0.99)]
    demands = [
        Demand("a", "ship"),
        Demand("b", "pay", allowed=frozenset({"adyen"})),
        Demand("c", "pay", budget=0.1),
        Demand("d", "pay"),
        Demand("e", "pay"),
    ]
    result = allocate(demands, providers)
    assert result.assignments == {"d": "stripe"}
    assert "no provider serves ship" in result.unassigned["a"]
    assert "policies" in result.unassigned["b"]
    assert "budget" in result.unassigned["c"]
    assert "full" in result.unassigned["e"]


def test_allocation_is_deterministic() -> None:
    """The same demands in another order get the same assignment."""
    providers = [Provider(f"p{i}", "pay", capacity=3, cost=0.1 * (i % 3 + 1), success=0.9) for i in range(4)]
    demands = [Demand(f"r{i:02d}", "pay", budget=[None, 0.25][i % 2]) for i in range(20)]
    a = allocate(demands, providers)
    b = allocate(list(reversed(demands)), list(reversed(providers)))
    assert a.assignments == b.assignments
