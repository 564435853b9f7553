"""Typed journal events: every kind parses to its model, older payloads migrate, newer kinds are refused."""

from __future__ import annotations

import pytest
from engine_helpers import engine, workspace

from ido.engine.resume import restore
from ido.errors import JournalCorrupted
from ido.journal import MemoryStore
from ido.journal.base import Event, RunInfo
from ido.journal.events import (
    MODELS,
    ApprovalGiven,
    Decided,
    Dispatched,
    OutcomeRecorded,
    RunStarted,
    UnknownEventKind,
    parse,
    typed,
)
from ido.model import Capability, Intent

PAY = Capability.model_validate({
    "name": "pay", "provides": "payment", "invoke": "sim", "effects": {"paid": True}, "cost": 0.25,
    "idempotent": False, "compensate": "refund",
})
REFUND = Capability.model_validate({
    "name": "refund", "provides": "refund", "invoke": "sim", "requires": {"paid": True}, "effects": {"paid": False},
    "cost": 0.01,
})
SHIP = Capability.model_validate({
    "name": "ship", "provides": "shipping", "invoke": "sim", "requires": {"paid": True}, "effects": {"shipped": True},
})
INTENT = Intent.model_validate({
    "intent": "order", "given": {"paid": False, "shipped": False}, "goal": {"shipped": True},
    "on_failure": "compensate",
})


def _event(number: int, kind: str, **data: object) -> Event:
    return Event(run_id="r1", seq=number, kind=kind, at=1000.0 + number, data=data)  # type: ignore[arg-type]


def test_every_event_kind_has_one_model() -> None:
    """The models cover exactly the kinds the journal's `EventKind` names."""
    from typing import get_args

    from ido.journal.base import EventKind

    assert set(MODELS) == set(get_args(EventKind))
    assert {m.__name__ for m in MODELS.values()} == {
        "RunStarted", "RevisionAdopted", "Observed", "HealthChanged", "Decided", "Dispatched",
        "OutcomeRecorded", "ApprovalRequested", "ApprovalGiven", "StatusChanged", "FaultTouched",
    }


def test_an_unknown_kind_is_refused_naming_the_run_the_event_and_a_newer_ido() -> None:
    """A kind from a newer ido is not guessed at: the error says where and what to do."""
    event = Event.model_construct(run_id="r9", seq=7, kind="teleported", at=0.0, data={})  # type: ignore[arg-type]
    with pytest.raises(UnknownEventKind) as err:
        parse(event)
    text = str(err.value)
    assert "run r9 event 7" in text and "'teleported'" in text and "newer ido" in text and "upgrade" in text


def test_a_payload_that_does_not_fit_its_kind_is_corrupt_with_its_place() -> None:
    """A dispatched event without its step is named by run, seq, kind and field."""
    with pytest.raises(JournalCorrupted) as err:
        parse(_event(3, "dispatched", capability="pay", idempotency_key="k"))
    assert str(err.value).startswith("run r1 event 3 (dispatched): step:")


def test_older_payloads_get_the_defaults_of_fields_added_since() -> None:
    """Payloads written before cost, attempt, compensates, plan_step or revisions existed still read."""
    dispatched = parse(_event(3, "dispatched", step=1, capability="pay", idempotency_key="r1:pay:1"))
    assert isinstance(dispatched, Dispatched)
    assert (dispatched.attempt, dispatched.cost, dispatched.compensates, dispatched.plan_step) == (1, None, None, None)
    outcome = parse(_event(4, "outcome", capability="pay", step=1, status="succeeded", cost=0.25))
    assert isinstance(outcome, OutcomeRecorded)
    assert (outcome.compensation, outcome.plan_step, outcome.facts) == (False, None, {})
    started = parse(_event(1, "run_started", intent="order"))
    assert isinstance(started, RunStarted) and started.revisions is None and started.strategy == "adaptive"
    given = parse(_event(9, "approval_given", approved=True))
    assert isinstance(given, ApprovalGiven) and given.capability is None


def test_typed_keeps_what_the_model_does_not_name() -> None:
    """A decision's record fields beyond the ones the fold reads stay on the event, unchanged."""
    event = typed("decision", {"decision_id": "r1-d2", "seq": 2, "action": "dispatch", "reason": "cheapest"})
    assert isinstance(event, Decided)
    assert (event.seq, event.action, (event.model_extra or {})["reason"]) == (2, "dispatch", "cheapest")


async def test_a_journal_in_the_oldest_payload_shapes_is_restored() -> None:
    """A run journaled before dispatches carried cost, attempt or `compensates` is rebuilt correctly."""
    store = MemoryStore()
    eng = engine(workspace(PAY, REFUND, SHIP, INTENT), store=store)
    events = [
        _event(1, "run_started", intent="order", state={"paid": False, "shipped": False}),
        _event(2, "decision", decision_id="r1-d1", seq=1, action="dispatch", trigger="start"),
        _event(3, "dispatched", decision_id="r1-d1", step=1, capability="pay", idempotency_key="r1:pay:1"),
        _event(4, "outcome", capability="pay", step=1, status="succeeded", cost=0.25, facts={"paid": True}),
        _event(5, "decision", decision_id="r1-d2", seq=2, action="dispatch", trigger="step_succeeded"),
        _event(6, "dispatched", decision_id="r1-d2", step=2, capability="ship", idempotency_key="r1:ship:1"),
        _event(7, "outcome", capability="ship", step=2, status="failed", error_kind="http_status"),
        _event(8, "decision", decision_id="r1-d3", seq=3, action="fail", trigger="step_failed"),
        _event(9, "dispatched", decision_id="r1-d4", step=3, capability="refund", idempotency_key="r1:refund:1"),
    ]
    row = RunInfo(run_id="r1", intent="order", status="running", created_at=1000.0, updated_at=1009.0,
                  revisions={"intent": "i", "capabilities": "c", "policies": "p"})
    await store.append(events, run=row)
    run = restore(eng, "r1")
    await eng.close()
    assert run.state == {"paid": True, "shipped": False}
    assert (run.spent, run.steps_taken, run.decisions, run.last_decision) == (0.25, 3, 3, "r1-d3")
    assert [(step, cap.name) for step, cap in run.completed] == [(1, "pay")]
    assert run.attempts == {"pay": 1, "ship": 1, "refund": 1}
    assert run.key_groups == {"pay": 2, "ship": 2}
    assert run.degraded and run.compensating and run.event_seq == 9
    assert run.revisions.capabilities == "c"  # no revisions in run_started: the row's
    # a dispatch without cost costs what its capability declares; without `compensates` it is forward
    assert (run.awaiting[3].cost, run.awaiting[3].compensation, run.awaiting[3].key) == (0.01, False, "r1:refund:1")
