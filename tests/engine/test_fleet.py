"""Fleet allocation in the engine: runs competing for a scarce provider are spread by CP-SAT."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from engine_helpers import PAY, SHIP, engine, eu_only, order_intent, workspace

import ido.planning.fleet
from ido.model import Capability
from ido.simulation.clock import run_virtual

RUNS = 6


class Calls:
    """Counts calls per provider, and the most calls of each in flight at once."""

    def __init__(self) -> None:
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total: Counter[str] = Counter()

    def provider(self, name: str) -> Any:
        async def pay() -> dict[str, Any]:
            self.active[name] += 1
            self.total[name] += 1
            self.peak[name] = max(self.peak[name], self.active[name])
            await asyncio.sleep(1.0)
            self.active[name] -= 1
            return {}

        # the workspace knows callables by name: one per provider
        pay.__name__ = pay.__qualname__ = "pay_" + name.replace(".", "_")
        return pay


def _world(calls: Calls, capacity: int) -> Any:
    ws = workspace(order_intent(constraints={"budget": 1.0, "deadline": 60}), eu_only())
    for name, cost, region, cap in (
        ("pay.a", 0.10, "eu", capacity), ("pay.b", 0.20, "eu", capacity), ("pay.e", 0.30, "eu", capacity),
        ("pay.c", 0.01, "us", capacity),  # the cheapest, but denied by the EU-only policy
        ("pay.d", 2.00, "eu", None),  # never full, but over every run's budget
    ):
        fields: dict[str, Any] = {"name": name, "cost": cost, "reliability": 0.99, "tags": {"region": region}}
        if cap is not None:
            fields["max_concurrency"] = cap
        ws.capability(**fields, **PAY)(calls.provider(name))
    ws.add(Capability.model_validate({"name": "ship", "invoke": "sim", "latency": 0.001, "cost": 0.1, "tags": {"region": "eu"}, **SHIP}))
    return ws


def _run(capacity: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Calls, list[Any], list[Any], Any]:
    calls = Calls()
    demands: list[Any] = []
    real = ido.planning.fleet.allocate

    def spy(batch: Any, providers: Any, **kwargs: Any) -> Any:
        demands.append((list(batch), list(providers)))
        return real(batch, providers, **kwargs)

    monkeypatch.setattr(ido.planning.fleet, "allocate", spy)

    async def main() -> tuple[list[Any], Any]:
        eng = engine(_world(calls, capacity))
        try:
            ids = [await eng.start("order", inputs={"order_id": f"o-{i}"}, options={"run_id": f"run{i}"})
                   for i in range(RUNS)]
            return [await eng.wait(i) for i in ids], eng.fleet
        finally:
            await eng.close()

    results, fleet = run_virtual(main)
    return calls, results, demands, fleet


def test_competing_runs_are_spread_within_capacity_policy_and_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six runs wanting a provider of max_concurrency 2 are spread over admissible providers, none over capacity."""
    calls, results, demands, fleet = _run(2, monkeypatch)
    assert [r.status for r in results] == ["succeeded"] * RUNS
    assert all(calls.peak[name] <= 2 for name in ("pay.a", "pay.b", "pay.e"))
    assert calls.total["pay.c"] == 0 and calls.total["pay.d"] == 0
    assert sum(calls.total.values()) == RUNS
    assert len([n for n in ("pay.a", "pay.b", "pay.e") if calls.total[n]]) >= 2  # spread, not queued on one
    assert demands and fleet.rerouted >= 1
    for batch, _providers in demands:
        for d in batch:
            assert d.allowed is not None and "pay.c" not in d.allowed  # policy-denied: never offered
            assert d.budget is not None and d.budget <= 1.0
    reasons = [rec.reason for r in results for rec in r.records if "fleet allocation assigned" in rec.reason]
    assert reasons and all("at capacity (max_concurrency 2)" in why for why in reasons)
    assert all(r.cost <= 1.0 for r in results)


def test_fleet_allocation_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two identical contended workloads give every run the same provider (no wall time in the allocation)."""
    def chosen(results: list[Any]) -> list[tuple[str, list[str]]]:
        return [(r.run_id, [c for rec in r.records if rec.action == "dispatch" for c in rec.chosen])
                for r in results]

    first = _run(2, monkeypatch)[1]
    second = _run(2, monkeypatch)[1]
    assert chosen(first) == chosen(second)


def test_ample_capacity_never_calls_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    """When every run fits in the preferred provider's slots, no allocation is solved and none is rerouted."""
    calls, results, demands, fleet = _run(RUNS, monkeypatch)
    assert [r.status for r in results] == ["succeeded"] * RUNS
    assert demands == [] and fleet.solves == 0 and fleet.rerouted == 0
    assert calls.total["pay.a"] == RUNS and calls.peak["pay.a"] == RUNS


def test_runs_without_an_admissible_alternative_wait_for_a_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the only admissible provider full, runs queue for it (FIFO) instead of using a denied one."""
    calls = Calls()

    async def main() -> list[Any]:
        ws = workspace(order_intent(constraints={"budget": 1.0, "deadline": 60}), eu_only())
        ws.capability(name="pay.only", cost=0.1, max_concurrency=1, tags={"region": "eu"}, **PAY)(
            calls.provider("pay.only"))
        ws.capability(name="pay.us", cost=0.01, tags={"region": "us"}, **PAY)(calls.provider("pay.us"))
        ws.add(Capability.model_validate({"name": "ship", "invoke": "sim", "latency": 0.001, "cost": 0.1, "tags": {"region": "eu"}, **SHIP}))
        eng = engine(ws)
        try:
            ids = [await eng.start("order", inputs={"order_id": f"o-{i}"}) for i in range(3)]
            return [await eng.wait(i) for i in ids]
        finally:
            await eng.close()

    results = run_virtual(main)
    assert [r.status for r in results] == ["succeeded"] * 3
    assert calls.total == Counter({"pay.only": 3}) and calls.peak["pay.only"] == 1


def test_a_used_up_quota_sends_competing_runs_to_another_provider() -> None:
    """Runs beyond a provider's calls-per-window quota are rerouted when another provider has room."""
    calls = Calls()

    async def main() -> tuple[list[Any], Any]:
        ws = workspace(order_intent(constraints={"budget": 1.0, "deadline": 60}), eu_only())
        ws.capability(name="pay.rated", cost=0.1, quota={"calls": 2, "per": 10.0}, tags={"region": "eu"},
                      **PAY)(calls.provider("pay.rated"))
        ws.capability(name="pay.other", cost=0.2, tags={"region": "eu"}, **PAY)(calls.provider("pay.other"))
        ws.add(Capability.model_validate({"name": "ship", "invoke": "sim", "latency": 0.001, "cost": 0.1,
                                          "tags": {"region": "eu"}, **SHIP}))
        eng = engine(ws)
        try:
            ids = [await eng.start("order", inputs={"order_id": f"o-{i}"}) for i in range(5)]
            return [await eng.wait(i) for i in ids], eng.fleet
        finally:
            await eng.close()

    results, fleet = run_virtual(main)
    assert [r.status for r in results] == ["succeeded"] * 5
    assert calls.total == Counter({"pay.rated": 2, "pay.other": 3})
    assert fleet.rerouted == 3
    reasons = [rec.reason for r in results for rec in r.records if "fleet allocation" in rec.reason]
    assert len(reasons) == 3 and all("quota 2 per 10s" in why for why in reasons)
