"""The planner on the order workspace: choices, verdicts, blockers, health, limits, order."""

from __future__ import annotations

from typing import Any

from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.model import Policy
from ido.planning import Planner, PlanRequest, Verdict, plan_graph, to_dot
from ido.planning.types import Plan
from tests.planning import order
from tests.planning.order import cap


def _plan(intent: Any = None, health: HealthSnapshot | None = None, caps: Any = None,
          policies: Any = None, **request: Any) -> Plan:
    intent = intent or order.intent()
    planner = Planner(caps if caps is not None else order.capabilities(),
                      policies if policies is not None else order.policies())
    state = dict(intent.given)
    state.update(request.pop("state", {}))
    return planner.plan(intent, PlanRequest(state=state, **request), health)


def _verdicts(plan: Plan) -> dict[str, Verdict]:
    return {a.capability: a.verdict for a in plan.alternatives}


def test_order_plan_picks_the_cheapest_eu_providers() -> None:
    """The optimal order plan reserves, pays with stripe-eu, then ships and notifies."""
    plan = _plan()
    assert plan.feasible
    assert [s.capability for s in plan.steps] == [
        "inventory.reserve", "payment.stripe-eu", "notify.email", "shipping.dhl",
    ]
    assert plan.cost == 0.761
    assert plan.score == plan.breakdown.total
    assert abs(plan.breakdown.cost + plan.breakdown.latency + plan.breakdown.risk
               - plan.breakdown.preference - plan.score) < 1e-12


def test_independent_steps_run_in_parallel_and_latency_is_the_critical_path() -> None:
    """Shipping and notifying both wait only for payment; latency is reserve+pay+ship."""
    plan = _plan()
    after = {s.capability: s.after for s in plan.steps}
    assert after == {
        "inventory.reserve": [], "payment.stripe-eu": [0], "notify.email": [1], "shipping.dhl": [1],
    }
    assert abs(plan.latency_s - (0.05 + 0.3 + 1.0)) < 1e-12
    assert plan.ready_steps({0, 1}) == [2, 3]


def test_alternatives_carry_verdicts_and_reasons() -> None:
    """paypal-us is denied by the GDPR policy, adyen-eu is costlier by a positive delta."""
    plan = _plan()
    alts = {a.capability: a for a in plan.alternatives}
    assert alts["payment.stripe-eu"].verdict == Verdict.CHOSEN
    paypal = alts["payment.paypal-us"]
    assert paypal.verdict == Verdict.DENIED and paypal.policies == ["gdpr-data-stays-in-eu"]
    assert paypal.reason.startswith("denied by gdpr-data-stays-in-eu: Personal data")
    adyen = alts["payment.adyen-eu"]
    assert adyen.verdict == Verdict.COSTLIER
    assert adyen.score_delta is not None and abs(adyen.score_delta - 0.045) < 1e-9
    assert set(adyen.numbers) >= {"cost", "latency_s", "success_probability", "score", "circuit"}
    assert alts["shipping.ups"].verdict == Verdict.COSTLIER


def test_open_circuit_reroutes_and_is_reported_unhealthy() -> None:
    """An open circuit makes stripe-eu unavailable; adyen-eu is chosen instead."""
    health = HealthSnapshot(capabilities={
        "payment.stripe-eu": CapabilityHealth(circuit=Circuit.OPEN, retry_at=30.0),
    })
    plan = _plan(health=health, now=10.0)
    assert "payment.adyen-eu" in [s.capability for s in plan.steps]
    alt = next(a for a in plan.alternatives if a.capability == "payment.stripe-eu")
    assert alt.verdict == Verdict.UNHEALTHY and "circuit open" in alt.reason
    assert alt.numbers["circuit"] == "open"


def test_open_circuit_past_retry_at_and_half_open_are_available() -> None:
    """Past retry_at an open circuit admits a trial, as does half-open."""
    for h in (CapabilityHealth(circuit=Circuit.OPEN, retry_at=5.0), CapabilityHealth(circuit=Circuit.HALF_OPEN)):
        plan = _plan(health=HealthSnapshot(capabilities={"payment.stripe-eu": h}), now=10.0)
        assert "payment.stripe-eu" in [s.capability for s in plan.steps]


def test_probe_down_is_unhealthy() -> None:
    """A probe that says down makes the capability unavailable."""
    health = HealthSnapshot(capabilities={"payment.stripe-eu": CapabilityHealth(probe_up=False)})
    assert _verdicts(_plan(health=health))["payment.stripe-eu"] == Verdict.UNHEALTHY


def test_observed_health_replaces_declared_numbers() -> None:
    """A low observed success rate makes stripe-eu risky enough that adyen-eu wins."""
    health = HealthSnapshot(capabilities={"payment.stripe-eu": CapabilityHealth(success_rate=0.6, cost=0.25)})
    plan = _plan(health=health)
    assert "payment.adyen-eu" in [s.capability for s in plan.steps]
    alt = next(a for a in plan.alternatives if a.capability == "payment.stripe-eu")
    assert alt.numbers["success_probability"] == 0.6


def test_budget_too_small_is_infeasible_and_names_the_budget() -> None:
    """With a budget below the cheapest plan, the plan is infeasible and the blocker says budget."""
    plan = _plan(intent=order.intent(constraints={"budget": 0.5}))
    assert not plan.feasible
    assert [b.kind for b in plan.blockers] == ["budget"]
    assert plan.blockers[0].needed == 0.761 and plan.blockers[0].bound == 0.5
    assert "budget" in plan.explanation and "0.761" in plan.explanation


def test_spent_budget_counts_against_the_remaining_plan() -> None:
    """What the run has spent already is taken off the budget."""
    plan = _plan(intent=order.intent(constraints={"budget": 2.0}), spent=1.5)
    assert not plan.feasible and plan.blockers[0].kind == "budget"


def test_deadline_and_min_success_blockers() -> None:
    """A deadline below the fastest plan and a min_success above the best are each named."""
    slow = _plan(intent=order.intent(constraints={"deadline": "1s"}))
    assert [b.kind for b in slow.blockers] == ["deadline"]
    assert abs(slow.blockers[0].needed - 1.1) < 1e-9  # reserve 50ms + adyen 250ms + ups 800ms
    risky = _plan(intent=order.intent(constraints={"min_success": 0.99}))
    assert [b.kind for b in risky.blockers] == ["min_success"]
    assert "min_success" in risky.explanation


def test_constraints_binding_together_are_marked_joint() -> None:
    """Budget and deadline each admit a plan but not together: both blockers are `joint`, and
    each candidate is diagnosed by what its best plan breaks; one alone is not `joint`."""
    both = _plan(intent=order.intent(constraints={"budget": 0.77, "deadline": "1.2s"}))
    assert not both.feasible
    assert [(b.kind, b.joint) for b in both.blockers] == [("budget", True), ("deadline", True)]
    verdicts = _verdicts(both)
    assert verdicts["payment.stripe-eu"] == Verdict.TOO_SLOW
    assert verdicts["payment.adyen-eu"] == Verdict.OVER_BUDGET
    alone = _plan(intent=order.intent(constraints={"budget": 0.5}))
    assert [(b.kind, b.joint) for b in alone.blockers] == [("budget", False)]
    assert set(_verdicts(alone).values()) <= {Verdict.OVER_BUDGET, Verdict.DENIED}


def test_max_steps_blocker() -> None:
    """Four steps are needed; max_steps 3 is named as the binding constraint."""
    plan = _plan(intent=order.intent(constraints={"max_steps": 3}))
    assert [b.kind for b in plan.blockers] == ["max_steps"]


def test_deadline_bounds_the_critical_path_not_the_sum() -> None:
    """A deadline between the critical path and the sequential sum still admits the parallel plan."""
    plan = _plan(intent=order.intent(constraints={"deadline": "1.4s"}))
    assert plan.feasible and plan.latency_s <= 1.4
    assert sum(s.latency_s for s in plan.steps) > 1.4


def test_tight_deadline_switches_to_the_faster_provider() -> None:
    """When the cheapest plan misses the deadline, the best plan meeting it is returned."""
    plan = _plan(intent=order.intent(constraints={"deadline": "1.2s"}))
    assert plan.feasible and plan.latency_s <= 1.2
    assert "shipping.ups" in [s.capability for s in plan.steps]
    assert _verdicts(plan)["shipping.dhl"] == Verdict.TOO_SLOW


def test_all_producers_denied_names_the_policy() -> None:
    """When every payment provider is denied, the blocker names order.paid and the policy."""
    deny_all = Policy.model_validate({
        "name": "no-payments", "because": "Payments are frozen.", "deny": {"capability.provides": "payment"},
    })
    plan = _plan(policies=[deny_all])
    assert not plan.feasible
    blocker = plan.blockers[0]  # the direct cause comes first; consequences follow
    assert (blocker.kind, blocker.fact, blocker.policies) == ("denied", "order.paid", ["no-payments"])
    assert "no-payments" in plan.explanation


def test_missing_capability_is_a_no_producer_blocker() -> None:
    """A goal fact nothing produces is reported as having no producer."""
    intent = order.intent(goal={"order.paid": True, "invoice.sent": True})
    plan = _plan(intent=intent)
    assert not plan.feasible
    assert any(b.kind == "no_producer" and b.fact == "invoice.sent" for b in plan.blockers)
    assert "invoice.sent" in plan.explanation


def test_excluded_capabilities_are_not_candidates() -> None:
    """request.exclude removes a capability; it is reported as excluded."""
    plan = _plan(exclude=["payment.stripe-eu"])
    assert "payment.stripe-eu" not in [s.capability for s in plan.steps]
    assert _verdicts(plan)["payment.stripe-eu"] == Verdict.EXCLUDED


def test_attempts_limit_makes_a_capability_over_limit() -> None:
    """With attempts_per_capability 2 used up, stripe-eu is over_limit and adyen-eu chosen."""
    limit = Policy.model_validate({"name": "two-tries", "because": "b", "limit": {"attempts_per_capability": 2}})
    plan = _plan(policies=[*order.policies(), limit], attempts={"payment.stripe-eu": 2})
    assert "payment.adyen-eu" in [s.capability for s in plan.steps]
    alt = next(a for a in plan.alternatives if a.capability == "payment.stripe-eu")
    assert alt.verdict == Verdict.OVER_LIMIT and alt.policies == ["two-tries"]


def test_prefer_policy_changes_the_choice_but_never_overrides_deny() -> None:
    """A preference for adyen makes it chosen; a preference for denied paypal changes nothing."""
    prefer_adyen = Policy.model_validate({
        "name": "prefer-adyen", "because": "b", "prefer": {"capability.tags.vendor": "adyen"}, "weight": 0.1,
    })
    prefer_paypal = Policy.model_validate({
        "name": "prefer-paypal", "because": "b", "prefer": {"capability.tags.vendor": "paypal"}, "weight": 100,
    })
    plan = _plan(policies=[*order.policies(), prefer_adyen, prefer_paypal])
    names = [s.capability for s in plan.steps]
    assert "payment.adyen-eu" in names and "payment.paypal-us" not in names
    assert plan.breakdown.preference > 0


def test_require_approval_marks_the_step() -> None:
    """A step matched by require_approval carries the flag and the policy name."""
    approve = Policy.model_validate({
        "name": "ship-approval", "because": "b", "require_approval": {"capability.provides": "shipping"},
    })
    plan = _plan(policies=[*order.policies(), approve])
    ship = next(s for s in plan.steps if s.provides == "shipping")
    assert ship.requires_approval and ship.approval_policies == ["ship-approval"]


def test_goal_already_holding_gives_an_empty_feasible_plan() -> None:
    """When the goal holds, the plan has no steps."""
    plan = _plan(state={"order.paid": True, "order.shipped": True, "customer.notified": True})
    assert plan.feasible and plan.steps == [] and "already holds" in plan.explanation


def test_progress_is_planned_from_the_current_state() -> None:
    """With the order paid already, only shipping and notifying remain."""
    plan = _plan(state={"order.reserved": True, "order.paid": True}, spent=0.26, steps_taken=2)
    assert sorted(s.provides for s in plan.steps) == ["notification", "shipping"]
    assert all(s.after == [] for s in plan.steps)


def test_ties_are_broken_by_capability_name() -> None:
    """Two identical providers: the alphabetically first is chosen, the other ties as costlier by 0."""
    caps = [
        cap("b.pay", "payment", {}, {"paid": True}, cost=1.0),
        cap("a.pay", "payment", {}, {"paid": True}, cost=1.0),
    ]
    intent = order.intent(given={}, goal={"paid": True}, constraints={}, tags={})
    plan = _plan(intent=intent, caps=caps, policies=[])
    assert [s.capability for s in plan.steps] == ["a.pay"]
    alt = next(a for a in plan.alternatives if a.capability == "b.pay")
    assert alt.verdict == Verdict.COSTLIER and alt.score_delta == 0.0


def test_precondition_verdict_names_the_unmet_fact() -> None:
    """A provider needing a fact nothing can make true gets `precondition` with that fact."""
    caps = [
        cap("pay.cheap", "payment", {"kyc.done": True}, {"paid": True}, cost=0.1),
        cap("pay.dear", "payment", {}, {"paid": True}, cost=1.0),
    ]
    intent = order.intent(given={"kyc.done": False}, goal={"paid": True}, constraints={}, tags={})
    plan = _plan(intent=intent, caps=caps, policies=[])
    alt = next(a for a in plan.alternatives if a.capability == "pay.cheap")
    assert alt.verdict == Verdict.PRECONDITION and alt.unmet_fact == "kyc.done"


def test_reported_facts_satisfy_exists_conditions() -> None:
    """A fact a capability reports counts as existing for a later `{exists: true}` requirement."""
    caps = [
        cap("pay", "payment", {}, {"paid": True}, reports={"payment.id": "id"}),
        cap("receipt", "receipt", {"payment.id": {"exists": True}}, {"receipt.sent": True}),
        cap("receipt.literal", "receipt", {"payment.id": "abc"}, {"receipt.sent": True}, cost=0.0),
    ]
    intent = order.intent(given={}, goal={"receipt.sent": True}, constraints={}, tags={})
    plan = _plan(intent=intent, caps=caps, policies=[])
    assert [s.capability for s in plan.steps] == ["pay", "receipt"]
    assert plan.steps[1].after == [0]


def test_values_no_capability_mentions_are_matched_concretely() -> None:
    """A state value outside every capability's vocabulary is still checked against matchers."""
    caps = [cap("refill", "stock", {"stock.level": {"lt": 5}}, {"stock.ok": True})]
    intent = order.intent(given={}, goal={"stock.ok": True}, constraints={}, tags={})
    assert _plan(intent=intent, caps=caps, policies=[], state={"stock.level": 3}).feasible
    assert not _plan(intent=intent, caps=caps, policies=[], state={"stock.level": 9}).feasible
    assert not _plan(intent=intent, caps=caps, policies=[], state={"stock.level": True}).feasible


def test_preference_never_makes_a_step_score_negative() -> None:
    """A large preference clamps the step's score at zero (A* needs non-negative costs)."""
    prefer = Policy.model_validate({"name": "love-dhl", "because": "b", "prefer": {"capability.name": "shipping.dhl"}, "weight": 50})
    plan = _plan(policies=[*order.policies(), prefer])
    dhl = next(s for s in plan.steps if s.capability == "shipping.dhl")
    assert dhl.score == 0.0 and plan.score >= 0


def test_dot_output_and_graph_follow_the_partial_order() -> None:
    """The DOT text has a node per step and an edge per `after` entry."""
    plan = _plan()
    steps = [(s.capability, s.provides, s.after, s.cost, s.latency_s) for s in plan.steps]
    dot = to_dot(plan.intent, steps)
    assert dot.startswith('digraph "order-fulfilled" {')
    assert dot.count("->") == 3 and "s1 -> s3;" in dot and "s1 -> s2;" in dot
    graph = plan_graph([(s.capability, s.after) for s in plan.steps])
    assert sorted(graph.edges) == [(0, 1), (1, 2), (1, 3)]


def test_repeated_calls_are_identical_and_use_the_caches() -> None:
    """The same call twice gives the same plan (metrics aside)."""
    planner = Planner(order.capabilities(), order.policies())
    intent = order.intent()
    request = PlanRequest(state=dict(intent.given))
    a = planner.plan(intent, request)
    b = planner.plan(intent, request)
    assert a.model_dump(exclude={"metrics"}) == b.model_dump(exclude={"metrics"})
    assert b.metrics.relevant_capabilities == 8


def test_explain_false_skips_alternatives_only() -> None:
    """explain=False gives the same steps without alternatives."""
    planner = Planner(order.capabilities(), order.policies())
    intent = order.intent()
    request = PlanRequest(state=dict(intent.given))
    full, quick = planner.plan(intent, request), planner.plan(intent, request, explain=False)
    assert quick.steps == full.steps and quick.alternatives == []


def test_blockers_name_the_root_cause_down_the_chain() -> None:
    """With the only reservation capability's circuit open, every goal fact is blocked as unhealthy,
    and the explanation names inventory.reserve."""
    health = HealthSnapshot(capabilities={"inventory.reserve": CapabilityHealth(circuit=Circuit.OPEN)})
    plan = _plan(health=health)
    assert not plan.feasible
    assert {b.kind for b in plan.blockers} == {"unhealthy"}
    assert "inventory.reserve: circuit open" in plan.explanation


def test_plans_equal_their_validated_copies() -> None:
    """Steps built without re-validation are exactly what validating their dump gives back."""
    health = HealthSnapshot(capabilities={"payment.stripe-eu": CapabilityHealth(cost=1, latency_s=2, success_rate=0.5)})
    for plan in (_plan(), _plan(health=health), _plan(state={"order.paid": True})):
        again = Plan.model_validate(plan.model_dump())
        assert again == plan
        assert again.model_dump_json() == plan.model_dump_json()


def test_free_steps_the_goal_does_not_need_are_left_out() -> None:
    """A zero-cost action that ties with leaving it out (a free release after paying) is not in the plan."""
    from ido.model import Capability, Intent
    from ido.planning import Planner, PlanRequest

    caps = [Capability.model_validate(d) for d in [
        {"name": "reserve", "provides": "reserve", "requires": {"order.reserved": False},
         "effects": {"order.reserved": True}, "cost": 0.1},
        {"name": "release", "provides": "release", "requires": {"order.reserved": True},
         "effects": {"order.reserved": False}, "cost": 0.0},
        {"name": "pay", "provides": "payment", "requires": {"order.reserved": True, "order.paid": False},
         "effects": {"order.paid": True}, "cost": 0.2},
        {"name": "ship", "provides": "shipping", "requires": {"order.paid": True, "order.shipped": False},
         "effects": {"order.shipped": True}, "cost": 0.3},
    ]]
    intent = Intent.model_validate({
        "intent": "o", "given": {"order.reserved": False, "order.paid": False, "order.shipped": False},
        "goal": {"order.paid": True, "order.shipped": True}, "objective": {"cost": 1.0},
    })
    plan = Planner(caps, []).plan(intent, PlanRequest(state=dict(intent.given)))
    assert [s.capability for s in plan.steps] == ["reserve", "pay", "ship"]
    assert abs(plan.score - 0.6) < 1e-9
