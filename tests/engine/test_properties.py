"""Invariants over random registries, policies and failure patterns, on the virtual clock.

Whatever the strategy: no executed step is denied by a policy, over a limit,
over the budget or past the deadline; every run ends in a terminal status;
and every decision re-derives identically from its record.
"""

from __future__ import annotations

from typing import Any

from engine_helpers import engine, workspace
from hypothesis import given
from hypothesis import strategies as st

from ido.engine import comparable, decide, from_record
from ido.journal import MemoryStore
from ido.journal.base import TERMINAL_STATUSES
from ido.model import Capability, Intent, Policy
from ido.simulation.clock import run_virtual

REGIONS = ("eu", "us")


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    """Return a random chain of roles with providers, policies, constraints and a seed."""
    roles = draw(st.integers(1, 3))
    caps = []
    for r in range(roles):
        for p in range(draw(st.integers(1, 3))):
            caps.append(Capability.model_validate({
                "name": f"r{r}.p{p}", "provides": f"role{r}", "invoke": "sim",
                "requires": {f"f{r - 1}": True} if r else {},
                "effects": {f"f{r}": True},
                "cost": draw(st.sampled_from([0.05, 0.1, 0.3, 0.6, 1.0])),
                "latency": draw(st.sampled_from([0.01, 0.2, 1.0])),
                "reliability": draw(st.sampled_from([0.05, 0.5, 0.9, 1.0])),
                "tags": {"region": draw(st.sampled_from(REGIONS))},
                "timeout": 2.0,
            }))
    policies = []
    if draw(st.booleans()):
        policies.append(Policy.model_validate({
            "name": "eu-only", "because": "data stays in the EU", "deny": {"capability.tags.region": {"not_in": ["eu"]}},
        }))
    if draw(st.booleans()):
        policies.append(Policy.model_validate({
            "name": "few-attempts", "because": "do not hammer providers",
            "limit": {"attempts_per_capability": draw(st.integers(1, 3))},
        }))
    if draw(st.booleans()):
        policies.append(Policy.model_validate({
            "name": "cost-cap", "because": "cheap runs", "limit": {"cost_per_run": draw(st.sampled_from([0.3, 1.0, 2.0]))},
        }))
    intent = Intent.model_validate({
        "intent": "chain", "given": {f"f{r}": False for r in range(roles)},
        "goal": {f"f{roles - 1}": True},
        "constraints": {"budget": draw(st.sampled_from([0.2, 0.8, 2.0, 5.0])), "deadline": draw(st.sampled_from([3.0, 15.0]))},
        "objective": {"cost": 1.0, "risk": draw(st.sampled_from([0.0, 2.0]))}, "on_failure": "stop",
    })
    return {"caps": caps, "policies": policies, "intent": intent, "seed": draw(st.integers(0, 2**16)),
            "strategy": draw(st.sampled_from(["adaptive", "static", "static-fallback"]))}


@given(worlds())
def test_no_executed_step_breaks_a_policy_the_budget_or_the_deadline(world: dict[str, Any]) -> None:
    """Random registries and failures never make the engine dispatch what policies or bounds forbid."""
    ws = workspace(*world["caps"], *world["policies"], world["intent"])
    store = MemoryStore()

    async def main() -> tuple[Any, Any]:
        eng = engine(ws, store=store, strategy=world["strategy"], seed=world["seed"])
        try:
            return await eng.run("chain"), eng
        finally:
            await eng.close()

    result, eng = run_virtual(main)
    intent: Intent = world["intent"]
    assert result.status in TERMINAL_STATUSES
    limits = eng.policies.limits(intent, {})
    bound = min(b for b in (intent.constraints.budget, limits.cost_per_run, float("inf")) if b is not None)
    assert result.cost <= bound + 1e-9
    events = store.events(run_id=result.run_id)
    started = events[0].at
    attempts: dict[str, int] = {}
    for e in events:
        if e.kind != "dispatched":
            continue
        cap = eng.capabilities[e.data["capability"]]
        assert not eng.policies.judge(cap, intent, {}).denied_by
        attempts[cap.name] = attempts.get(cap.name, 0) + 1
        if limits.attempts_per_capability is not None:
            assert attempts[cap.name] <= limits.attempts_per_capability
        assert e.at - started <= intent.constraints.deadline + 1e-6  # type: ignore[operator]
    for rec in result.records:
        if rec.trigger == "compensation":
            continue
        again, _ = decide(from_record(rec, intent, eng.capabilities), eng.planner, eng.policies)
        assert comparable(again) == comparable(rec)
