"""The example workspace at the repository's top level: valid, as DESIGN.md section 3 says,
and shaped so the demo shows ido switching providers."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from ido.loading import load_workspace
from ido.model import Capability, Op
from ido.planning import Planner, PlanRequest
from ido.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ws() -> Workspace:
    """Return the example workspace, loaded (and checked) once for this module."""
    return load_workspace(REPO)


def providers(ws: Workspace, role: str) -> list[Capability]:
    """Return the capabilities that provide `role`."""
    return [c for c in ws.capabilities.values() if c.provides == role]


def test_examples_load_without_problems(ws: Workspace) -> None:
    """Every example file validates and cross-references resolve."""
    assert ws.problems() == []
    assert {"order-fulfilled", "service-restored"} <= set(ws.intents)


def test_order_intent_is_the_one_in_the_design(ws: Workspace) -> None:
    """order-fulfilled keeps DESIGN.md's goal, constraints, objective, tags and on_failure."""
    intent = ws.intents["order-fulfilled"]
    assert intent.goal == {"order.paid": True, "order.shipped": True, "customer.notified": True}
    assert (intent.constraints.budget, intent.constraints.deadline, intent.constraints.min_success) == (2.0, 60.0, 0.95)
    assert (intent.objective.cost, intent.objective.latency, intent.objective.risk) == (1.0, 0.1, 10.0)
    assert intent.tags == {"gdpr": True} and intent.on_failure == "compensate"
    assert {"order_id", "amount"} <= set(intent.inputs)
    assert intent.bind_inputs({}) == {"order_id": "ord-0001", "amount": 120.0}
    for fact in ("order.reserved", "order.paid", "order.shipped", "customer.notified"):
        assert intent.given[fact] is False


def test_stripe_eu_is_declared_as_in_the_design(ws: Workspace) -> None:
    """payment.stripe-eu keeps the design's requires, effects, price, latency, reliability and tags."""
    stripe = ws.capabilities["payment.stripe-eu"]
    assert (stripe.cost, stripe.latency, stripe.reliability) == (0.25, 0.3, 0.995)
    assert stripe.tags == {"region": "eu", "vendor": "stripe"}
    assert stripe.effects == {"order.paid": True}
    assert {"order.reserved": True, "order.paid": False}.items() <= stripe.requires.items()
    assert stripe.compensate == "payment.stripe-eu.refund" and stripe.idempotent


def test_order_domain_has_the_alternatives_the_issue_asks_for(ws: Workspace) -> None:
    """Two warehouses, two fraud screeners, >= 3 payment providers in >= 2 regions at different
    prices, >= 3 carriers, email and sms."""
    warehouses = {c.tags["warehouse"] for c in providers(ws, "reservation")}
    assert warehouses == {"eu-west", "eu-central"}
    assert len(providers(ws, "fraud-screening")) == 2
    payments = providers(ws, "payment")
    assert len(payments) >= 3
    assert len({c.tags["region"] for c in payments}) >= 2 and len({c.cost for c in payments}) == len(payments)
    assert {"payment.stripe-eu", "payment.adyen-eu", "payment.paypal-us"} <= {c.name for c in payments}
    assert {"shipping.dhl", "shipping.ups", "shipping.dpd"} <= {c.name for c in providers(ws, "shipping")}
    assert {c.tags["channel"] for c in providers(ws, "notification")} == {"email", "sms"}


def test_every_reservation_payment_and_shipment_can_be_undone(ws: Workspace) -> None:
    """Reservations, payments and shipments name a compensation that reverses their effect."""
    for role in ("reservation", "payment", "shipping"):
        for cap in providers(ws, role):
            assert cap.compensate is not None, cap.name
            undo = ws.capabilities[cap.compensate]
            for fact, value in cap.effects.items():
                assert undo.effects.get(fact) == (not value), (cap.name, fact)


def test_example_capabilities_run_without_services(ws: Workspace) -> None:
    """The example domains' capabilities are simulated (`invoke: sim`) so a newcomer can run them as is."""
    domains = ("inventory", "fraud", "payments", "shipping", "notifications", "operations")
    ours = [c for (kind, name), o in ws.origins.items() if kind == "capability"
            for c in [ws.capabilities[name]] if o.path and Path(o.path).stem in domains]
    assert len(ours) >= 25
    assert {c.invoke.door for c in ours} == {"sim"}


def test_policies_cover_every_asked_rule(ws: Workspace) -> None:
    """Data residency (deny), approval threshold, preference and attempt limit are declared."""
    gdpr = ws.policies["gdpr-data-stays-in-eu"]
    assert gdpr.applies_to == {"intent.tags.gdpr": True}
    assert gdpr.deny == {"capability.tags.region": Op.model_validate({"not_in": ["eu"]})}
    approval = ws.policies["large-payments-need-approval"]
    assert approval.applies_to == {"inputs.amount": Op(gt=1000)}
    assert approval.require_approval == {"capability.provides": "payment"}
    rules = defaultdict(list)
    for policy in ws.policies.values():
        rules[policy.rule].append(policy)
    assert any(p.weight == 0.05 for p in rules["prefer"])
    assert any(p.limit is not None and p.limit.attempts_per_capability == 5 for p in rules["limit"])


def test_incident_domain_has_a_different_shape(ws: Workspace) -> None:
    """service-restored uses observers, a latency-heavy objective, `on_failure: stop` and chained requires."""
    intent = ws.intents["service-restored"]
    assert intent.on_failure == "stop"
    assert intent.objective.latency * 60 > intent.objective.cost
    observed = {fact for o in ws.observers.values() for fact in o.facts}
    assert {"service.healthy", "db.primary_ok", "db.replica_synced"} <= observed
    assert all(o.sim for o in ws.observers.values())
    failover = ws.capabilities["ops.failover-replica"]
    assert failover.requires["db.replica_synced"] is True
    assert ws.capabilities["ops.resync-replica"].effects == {"db.replica_synced": True}
    page = ws.capabilities["ops.page-oncall"]
    assert page.cost == max(c.cost for c in providers(ws, "remediation"))


def test_payments_outage_is_the_one_in_the_design(ws: Workspace) -> None:
    """payments-outage: stripe-eu down at 10s for 60s, dhl latency x8 at 30s, 500 runs, seed 7, every 200ms."""
    scenario = ws.scenarios["payments-outage"]
    assert (scenario.intent, scenario.runs, scenario.seed, scenario.arrivals.every) == ("order-fulfilled", 500, 7, 0.2)
    down, slow = scenario.faults
    assert (down.target, down.kind, down.at, down.for_) == ("payment.stripe-eu", "down", 10.0, 60.0)
    assert (slow.target, slow.kind, slow.at) == ("shipping.dhl", "latency", 30.0)
    assert getattr(slow, "multiply", None) == 8
    assert scenario.strategies == ["adaptive", "static", "static-fallback"]


def test_order_plan_uses_stripe_until_it_is_excluded(ws: Workspace) -> None:
    """With default inputs the best admissible plan pays with stripe-eu within budget; without
    stripe it pays with adyen-eu; paypal-us (cheapest) is never used because of the GDPR policy."""
    intent = ws.intents["order-fulfilled"]
    planner = Planner(list(ws.capabilities.values()), list(ws.policies.values()))
    request = PlanRequest(state=dict(intent.given), inputs=intent.bind_inputs({}))
    plan = planner.plan(intent, request)
    used = [s.capability for s in plan.steps]
    assert plan.feasible and "payment.stripe-eu" in used
    assert plan.cost <= 2.0 and plan.success_probability >= 0.95
    fallback = planner.plan(intent, request.model_copy(update={"exclude": ["payment.stripe-eu"]}))
    assert fallback.feasible and "payment.adyen-eu" in [s.capability for s in fallback.steps]
    assert "payment.paypal-us" not in used


def test_incident_plan_tries_the_restart_first(ws: Workspace) -> None:
    """The cheapest, fastest remediation is a restart; paging a person is not in the first plan."""
    intent = ws.intents["service-restored"]
    planner = Planner(list(ws.capabilities.values()), list(ws.policies.values()))
    plan = planner.plan(intent, PlanRequest(state=dict(intent.given), inputs=intent.bind_inputs({})))
    assert plan.feasible and [s.capability for s in plan.steps] == ["ops.restart-service"]
