"""A synthetic run through a payments outage, written with real DecisionRecord/Outcome models.

Used by the explain, why-not and CLI tests: `write_outage_run(store)` records
a run in which payment.stripe-eu fails, its circuit opens, ido switches to
payment.adyen, ships and notifies; payment.paypal-us is denied by a GDPR
policy, payment.crypto never has its precondition, giftwrap.deluxe's role is
never needed.
"""

from __future__ import annotations

from typing import Any

from ido.decisions import DecisionRecord, Outcome, Remaining, Revisions, Trigger
from ido.digest import digest
from ido.health import CapabilityHealth, Circuit
from ido.journal.base import Event, RunInfo, Store
from ido.model.capability import Capability
from ido.planning.types import Alternative, Verdict

RUN_ID = "3f2a9c1b7d"

CAPABILITIES = [
    Capability(name="payment.stripe-eu", provides="payment", requires={"order.paid": False},
               effects={"order.paid": True}, cost=0.25, tags={"region": "eu"}),
    Capability(name="payment.adyen", provides="payment", requires={"order.paid": False},
               effects={"order.paid": True}, cost=0.30, tags={"region": "eu"}),
    Capability(name="payment.paypal-us", provides="payment", requires={"order.paid": False},
               effects={"order.paid": True}, cost=0.20, tags={"region": "us"}),
    Capability(name="payment.crypto", provides="payment", requires={"wallet.linked": True},
               effects={"order.paid": True}, cost=0.01),
    Capability(name="shipping.dhl", provides="shipping", requires={"order.paid": True},
               effects={"order.shipped": True}, cost=0.50),
    Capability(name="giftwrap.deluxe", provides="giftwrap", effects={"order.wrapped": True}, cost=1.0),
]
CAPS_DIGEST = digest([c.model_dump(mode="json") for c in CAPABILITIES])
REVISIONS = Revisions(intent="i0000000", capabilities=CAPS_DIGEST, policies="p0000000")


def _alt(cap: str, provides: str, verdict: Verdict, reason: str, **kw: Any) -> Alternative:
    return Alternative(capability=cap, provides=provides, verdict=verdict, reason=reason, **kw)


def _record(seq: int, trigger: Trigger, action: str, state: dict[str, Any], chosen: list[str],
            alternatives: list[Alternative], **kw: Any) -> DecisionRecord:
    return DecisionRecord(
        decision_id=f"{RUN_ID}-d{seq}", run_id=RUN_ID, seq=seq, at=f"2026-11-21T06:00:0{seq}.000+00:00",
        trigger=trigger, action=action, intent="order-fulfilled",  # type: ignore[arg-type]
        revisions=REVISIONS, state=state, chosen=chosen, alternatives=alternatives, **kw,
    )


def decisions() -> list[DecisionRecord]:
    """Return the run's four decisions."""
    start = {"order.paid": False, "order.shipped": False}
    paid = {"order.paid": True, "order.shipped": False}
    pay_gap = {"order.paid": {"want": "= true", "have": False}, "order.shipped": {"want": "= true", "have": False}}
    denied = _alt("payment.paypal-us", "payment", Verdict.DENIED,
                  "denied by gdpr-data-stays-in-eu: Personal data of EU customers is processed in the EU only.",
                  policies=["gdpr-data-stays-in-eu"])
    return [
        _record(1, Trigger.START, "dispatch", start, ["payment.stripe-eu"], [
            _alt("payment.stripe-eu", "payment", Verdict.CHOSEN, "cheapest admissible: score 0.41"),
            _alt("payment.adyen", "payment", Verdict.COSTLIER, "scores 0.05 worse than payment.stripe-eu",
                 score_delta=0.05),
            denied,
        ], gap=pay_gap, reason="cheapest admissible plan: payment.stripe-eu, then shipping.dhl",
            remaining=Remaining(budget=2.0, deadline_s=60.0)),
        _record(2, Trigger.STEP_FAILED, "dispatch", start, ["payment.adyen"], [
            _alt("payment.stripe-eu", "payment", Verdict.UNHEALTHY,
                 "circuit open after 3 failures in a row (server: 503)"),
            _alt("payment.adyen", "payment", Verdict.CHOSEN, "best admissible now"),
            denied,
        ], gap=pay_gap, reason="payment.stripe-eu is failing; switching provider",
            health={"payment.stripe-eu": CapabilityHealth(
                success_rate=0.2, circuit=Circuit.OPEN, consecutive_failures=3, samples=5)},
            remaining=Remaining(budget=1.75, deadline_s=58.0, spent=0.25), faults=["down on payment.stripe-eu"]),
        _record(3, Trigger.STEP_SUCCEEDED, "dispatch", paid, ["shipping.dhl"], [
            _alt("shipping.dhl", "shipping", Verdict.CHOSEN, "the only shipper"),
            _alt("payment.stripe-eu", "payment", Verdict.NOT_NEEDED, "order.paid already holds"),
        ], gap={"order.shipped": {"want": "= true", "have": False}},
            remaining=Remaining(budget=1.45, deadline_s=57.0, spent=0.55)),
        _record(4, Trigger.STEP_SUCCEEDED, "succeed", {"order.paid": True, "order.shipped": True}, [], [],
                reason="the goal holds"),
    ]


def outcomes() -> list[tuple[str, Outcome]]:
    """Return (decision_id, outcome) for the three dispatched steps."""
    return [
        (f"{RUN_ID}-d1", Outcome(capability="payment.stripe-eu", step=1, status="failed", hit=False,
                                 error="HTTP 503", error_kind="server", latency_s=0.31)),
        (f"{RUN_ID}-d2", Outcome(capability="payment.adyen", step=2, status="succeeded", hit=True,
                                 latency_s=0.29, cost=0.30, facts={"order.paid": True})),
        (f"{RUN_ID}-d3", Outcome(capability="shipping.dhl", step=3, status="succeeded", hit=True,
                                 latency_s=1.2, cost=0.50, facts={"order.shipped": True})),
    ]


async def write_outage_run(store: Store, *, run_id: str = RUN_ID) -> None:
    """Record the synthetic run in `store` the way the engine would: event by event, awaited."""
    store.put_revision(digest=CAPS_DIGEST, kind="capabilities",
                       content=[c.model_dump(mode="json") for c in CAPABILITIES])
    run = RunInfo(run_id=run_id, intent="order-fulfilled", status="running", created_at=1_795_000_000.0,
                  updated_at=1_795_000_000.0, revisions={"capabilities": CAPS_DIGEST})
    seq = 1
    await store.append([Event(run_id=run_id, seq=seq, kind="run_started", at=0.0,
                              data={"intent": "order-fulfilled"})], run=run)
    outs = dict(outcomes())
    for record in decisions():
        seq += 1
        await store.append([Event(run_id=run_id, seq=seq, kind="decision", at=float(seq),
                                  data=record.model_dump(mode="json"))])
        if record.decision_id in outs:
            outcome = outs[record.decision_id]
            seq += 1
            await store.append([Event(run_id=run_id, seq=seq, kind="dispatched", at=float(seq),
                                      data={"decision_id": record.decision_id, "capability": outcome.capability})])
            if record.seq == 2:
                seq += 1
                await store.append([Event(run_id=run_id, seq=seq, kind="fault", at=float(seq),
                                          data={"fault": "down", "capability": "payment.stripe-eu"})])
            seq += 1
            await store.append([Event(run_id=run_id, seq=seq, kind="outcome", at=float(seq),
                                      data={**outcome.model_dump(mode="json"), "decision_id": record.decision_id})])
    seq += 1
    done = run.model_copy(update={"status": "succeeded", "cost": 0.80, "steps_executed": 3, "decisions": 4})
    await store.append([Event(run_id=run_id, seq=seq, kind="status", at=float(seq),
                              data={"status": "succeeded"})], run=done)
