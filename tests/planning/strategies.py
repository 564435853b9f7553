"""Hypothesis strategies for the planner: random small registries, intents, policies, health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.model import Capability, Intent, Policy
from ido.planning.types import PlanRequest

ROLES = ("alpha", "beta", "gamma")


@dataclass
class World:
    """One random planning problem: registry, policies, intent, request and health."""

    caps: list[Capability]
    policies: list[Policy]
    intent: Intent
    request: PlanRequest
    health: HealthSnapshot | None
    max_len: int


@st.composite
def matchers(draw: st.DrawFn, domain: list[Any]) -> Any:
    """Return a literal or operator matcher over `domain`."""
    kind = draw(st.sampled_from(["eq", "eq", "not", "in", "exists"]))
    if kind == "eq":
        return draw(st.sampled_from(domain))
    if kind == "not":
        return {"not": draw(st.sampled_from(domain))}
    if kind == "in":
        return {"in": draw(st.lists(st.sampled_from(domain), min_size=1, max_size=2, unique=True))}
    return {"exists": draw(st.booleans())}


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Return a random small problem whose optimum the reference can find by enumeration."""
    n_facts = draw(st.integers(3, 6))
    domains: dict[str, list[Any]] = {
        f"f{i}": draw(st.sampled_from([[False, True], [0, 1, 2]])) for i in range(n_facts)
    }
    facts = sorted(domains)
    n_caps = draw(st.integers(2, 10))
    caps = []
    for i in range(n_caps):
        req_facts = draw(st.lists(st.sampled_from(facts), max_size=2, unique=True))
        eff_facts = draw(st.lists(st.sampled_from(facts), min_size=1, max_size=2, unique=True))
        caps.append(Capability.model_validate({
            "name": f"c{i}",
            "provides": draw(st.sampled_from(ROLES)),
            "requires": {f: draw(matchers(domains[f])) for f in req_facts},
            "effects": {f: draw(st.sampled_from(domains[f])) for f in eff_facts},
            "cost": draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])),
            "latency": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
            "reliability": draw(st.sampled_from([0.5, 0.9, 0.99, 1.0])),
            "tags": {"region": draw(st.sampled_from(["eu", "us"]))},
            "invoke": "sim",
        }))
    state = {f: draw(st.sampled_from(domains[f])) for f in facts if draw(st.integers(0, 9)) > 0}
    # Goals mostly ask for values some capability produces, so plans of several steps are common.
    goal: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.integers(0, 4)) > 0:
            source = draw(st.sampled_from(caps))
            fact, value = draw(st.sampled_from(sorted(source.effects.items())))
        else:
            fact = draw(st.sampled_from(facts))
            value = draw(st.sampled_from(domains[fact]))
        goal[fact] = value if draw(st.integers(0, 3)) > 0 else {"in": [value]}
    for fact, matcher in goal.items():
        wanted = matcher["in"] if isinstance(matcher, dict) else [matcher]
        others = [v for v in domains[fact] if v not in wanted or type(v) is not type(wanted[0])]
        if others and draw(st.integers(0, 3)) > 0:
            state[fact] = draw(st.sampled_from(others))
    steps_taken = draw(st.integers(0, 1))
    max_len = draw(st.integers(1, 4))
    constraints: dict[str, Any] = {"max_steps": steps_taken + max_len}
    if draw(st.booleans()):
        constraints["budget"] = draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]))
    if draw(st.booleans()):
        constraints["deadline"] = draw(st.sampled_from([1.0, 2.0, 3.0, 4.0]))
    if draw(st.booleans()):
        constraints["min_success"] = draw(st.sampled_from([0.4, 0.8, 0.9, 0.98]))
    intent = Intent.model_validate({
        "intent": "random",
        "given": {},
        "goal": goal,
        "constraints": constraints,
        "objective": {
            "cost": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "latency": draw(st.sampled_from([0.0, 0.1, 1.0])),
            "risk": draw(st.sampled_from([0.0, 1.0, 10.0])),
        },
        "tags": {"gdpr": draw(st.booleans())},
    })
    policies = draw(st.lists(policies_strategy(), max_size=3, unique_by=lambda p: p.name))
    names = [c.name for c in caps]
    request = PlanRequest(
        state=state,
        spent=draw(st.sampled_from([0.0, 0.25, 1.0])),
        elapsed_s=draw(st.sampled_from([0.0, 0.5])),
        steps_taken=steps_taken,
        attempts={n: draw(st.integers(0, 2)) for n in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))},
        exclude=draw(st.lists(st.sampled_from(names), max_size=1, unique=True)) if draw(st.integers(0, 3)) == 0 else [],
        now=1.0,
    )
    health = None
    if draw(st.booleans()):
        health = HealthSnapshot(at=1.0, capabilities={
            n: draw(health_strategy()) for n in draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
        })
    return World(caps, policies, intent, request, health, max_len)


def health_strategy() -> st.SearchStrategy[CapabilityHealth]:
    """Return random health: overrides of success rate, latency, cost; circuit and probe."""
    return st.builds(
        CapabilityHealth,
        success_rate=st.sampled_from([None, 0.0, 0.3, 0.95, 1.0]),
        latency_s=st.sampled_from([None, 0.1, 3.0]),
        cost=st.sampled_from([None, 0.0, 1.5]),
        circuit=st.sampled_from(list(Circuit)),
        retry_at=st.sampled_from([None, 0.5, 5.0]),
        probe_up=st.sampled_from([None, True, False]),
    )


@st.composite
def policies_strategy(draw: st.DrawFn) -> Policy:
    """Return one random policy of any rule kind."""
    kind = draw(st.sampled_from(["deny", "allow_only", "prefer", "limit", "approval"]))
    applies = draw(st.sampled_from([{}, {"intent.tags.gdpr": True}, {"intent.name": "other"}]))
    base: dict[str, Any] = {"because": "test", "applies_to": applies}
    if kind == "deny":
        base |= {"name": "deny-us", "deny": {"capability.tags.region": "us"}}
    elif kind == "allow_only":
        base |= {"name": "only-cheap", "allow_only": {"capability.cost": {"lte": 1.0}}}
    elif kind == "prefer":
        base |= {
            "name": f"prefer-{draw(st.sampled_from(ROLES))}",
            "prefer": {"capability.provides": draw(st.sampled_from(ROLES))},
            "weight": draw(st.sampled_from([-1.0, 0.5, 3.0])),
        }
    elif kind == "limit":
        base |= {"name": "limit", "limit": draw(st.sampled_from([
            {"attempts_per_capability": 1}, {"attempts_per_capability": 2},
            {"cost_per_run": 1.5}, {"steps_per_run": 2},
        ]))}
    else:
        base |= {"name": "approve-big", "require_approval": {"capability.cost": {"gte": 1.0}}}
    return Policy.model_validate(base)
