"""The one fold of a run's journal events into its state, and finished steps into outcome events.

`apply(run, event, seq=, at=)` is the only code that changes what a run's
journal says about it (the fields in `FOLDED`: state, money, steps and
attempts, decisions, status and conditions, completed steps, idempotency key
groups, the static path, approvals, exclusions, faults, revisions, whether
it is compensating, its steps awaiting an outcome). The live engine never
sets those fields itself: it builds an event's payload and calls `record`,
which buffers the event (written by the engine's next flush) and applies it.
`ido.engine.resume` rebuilds a run by `replay`ing its stored events through
the same `apply`, so a run rebuilt from its journal is the run that wrote it
(`tests/engine/test_fold_property.py` checks it on random runs). What the
loop keeps only while it runs (tasks, caches of plans and health, the next
decision's trigger and cause) is not folded.

Two writes of folded fields happen outside `apply`, each before or instead
of an event: `Engine.start` sets the facts given with `--set` into the state
its `run_started` event then carries; and `ido.engine.resume` takes a run's
status from its row (an `ido approve` from another process sets it without a
status event) and drops the undo that was in flight at a crash (the
compensation loop redoes it with the same key).

`fold_finished` turns the steps that finished since the loop last looked into
`outcome` (and `fault`) events; it is called by the engine's loop, by
compensation after each undo and by resume after re-sent steps answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ido.clock import Clock
from ido.construct import construct
from ido.decisions import Outcome, Rejection, Trigger
from ido.engine.doors import FaultReporter
from ido.engine.inputs import without_steps
from ido.engine.run import Finished, RunState, StepHandle
from ido.engine.strategies import apply_outcome, pin
from ido.errors import JournalError
from ido.journal.base import TERMINAL_STATUSES, Condition_, Event
from ido.journal.events import (
    ApprovalGiven,
    ApprovalRequested,
    Decided,
    Dispatched,
    FaultTouched,
    JournalEvent,
    Observed,
    OutcomeRecorded,
    RevisionAdopted,
    RunStarted,
    StatusChanged,
    parse,
    typed,
)
from ido.model import Scalar
from ido.planning.types import Plan

#: the `RunState` fields `apply` owns: a run rebuilt from its journal has these equal to the live run's.
FOLDED: tuple[str, ...] = (
    "event_seq", "state", "spent", "steps_taken", "attempts", "decisions", "last_decision", "status",
    "conditions", "degraded", "completed", "key_groups", "pinned", "approved", "excluded",
    "pending_approval", "faults", "revisions", "compensating", "awaiting", "rejected", "roles",
    "doubt",
)

#: error kinds after which a call's effect may have happened (its idempotency key is kept);
#: `unreachable` (no connection, so nothing sent) and refusals are not among them.
UNKNOWN_OUTCOME = ("timeout", "connection")


def record(run: RunState, kind: str, at: float, data: dict[str, object], *, now: float | None = None) -> None:
    """Buffer one journal event with the run's next seq and apply it to the run; returns nothing.

    The buffered event is written by the engine's next flush. Every live
    change of a folded field goes through here. `now` is the engine-clock time
    of `at` when the caller has it (a static path's retry times are then exact).
    """
    seq = run.event_seq + 1
    run.buffer.append(construct(
        Event, run_id=run.run_id, seq=seq, kind=kind, at=at, data=data,
    ))
    apply(run, typed(kind, data), seq=seq, at=at, now=now)


def replay(run: RunState, events: Iterable[Event]) -> None:
    """Apply stored `events` (validated by `ido.journal.events.parse`) to `run` in order.

    Called by `ido.engine.resume` on a run built from its `run_started` event.
    Raises UnknownEventKind for an event from a newer ido, JournalError for a
    step of a capability no longer in the registry.
    """
    for event in events:
        apply(run, parse(event), seq=event.seq, at=event.at)


def apply(run: RunState, event: JournalEvent, *, seq: int, at: float, now: float | None = None) -> None:
    """Change `run` as `event` (the run's event number `seq`, written at epoch `at`) says; returns nothing.

    `now` is the engine-clock time of `at` (live); a replay leaves it out and it is
    derived from `at` and the run's start.
    """
    run.event_seq = max(run.event_seq, seq)
    if isinstance(event, OutcomeRecorded):
        _outcome(run, event, at if now is None else None, now)
    elif isinstance(event, Dispatched):
        _dispatched(run, event)
    elif isinstance(event, Decided):
        _decided(run, event)
    elif isinstance(event, StatusChanged):
        run.status = event.status
        run.conditions = [construct(Condition_, **c) for c in event.conditions]
        if event.status in TERMINAL_STATUSES:
            run.compensating = False
    elif isinstance(event, Observed):
        run.state.update(event.facts)
    elif isinstance(event, FaultTouched):
        if event.fault not in run.faults:
            run.faults.append(event.fault)
    elif isinstance(event, ApprovalRequested):
        run.pending_approval = (event.decision_id, event.capability, list(event.policies))
    elif isinstance(event, ApprovalGiven):
        _answered(run, event, at)
    elif isinstance(event, RevisionAdopted):
        run.revisions = run.revisions.model_copy(update={event.kind: event.digest})
    elif isinstance(event, RunStarted):
        run.state = dict(event.state)
    # HealthChanged: health is the engine's, shared by runs; nothing of the run changes


def iso_time(epoch: float) -> str:
    """Return epoch seconds as the ISO 8601 UTC text records use (as `Clock.iso`)."""
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def _answered(run: RunState, event: ApprovalGiven, at: float) -> None:
    # the request's policies name a rejection; an answer without its request (older journals) has none
    pending = run.pending_approval
    capability = event.capability if event.capability is not None else (pending[1] if pending else None)
    policies = list(pending[2]) if pending is not None else []
    if capability is not None:
        if event.approved:
            run.approved.add(capability)
        else:
            run.excluded.add(capability)
            run.rejected.append(Rejection(capability=capability, by=event.by, at=iso_time(at), policies=policies))
    run.pending_approval = None


def _roles(event: Decided) -> dict[str, str]:
    """Return role -> provider of the decision's feasible plan (a substitute, then a chosen one, wins).

    As `ido.engine.moves.plan_roles`, read off the journaled record without validating it.
    """
    plan = event.plan
    if not plan or not plan.get("feasible"):
        return {}
    steps: list[dict[str, Any]] = plan.get("steps") or []
    roles = {str(s["provides"]): str(s["capability"]) for s in steps}
    extra = event.model_extra or {}
    pinned = extra.get("pinned") or {}
    for index, name in (pinned.get("substitutes") or {}).items():
        if 0 <= int(index) < len(steps):
            roles[str(steps[int(index)]["provides"])] = str(name)
    for index, name in zip(extra.get("dispatch") or [], extra.get("chosen") or [], strict=False):
        if 0 <= int(index) < len(steps):
            roles[str(steps[int(index)]["provides"])] = str(name)
    return roles


def _decided(run: RunState, event: Decided) -> None:
    run.decisions = max(run.decisions, event.seq)
    run.last_decision = event.decision_id
    run.roles.update(_roles(event))
    # a decision is made with no approval pending (one whose deadline passed is dropped unanswered)
    run.pending_approval = None
    if event.action == "fail" or event.trigger == "compensation":
        run.compensating = run.intent.on_failure == "compensate"
    if run.strategy != "adaptive" and run.pinned is None and event.plan and event.plan.get("feasible"):
        # a static strategy keeps the first feasible plan (with its alternatives: the fallbacks)
        alternatives = event.alternatives
        if event.alternatives_ref is not None:
            alternatives = run.lookups.content(event.alternatives_ref)
        run.pinned = pin(Plan.model_validate({**event.plan, "alternatives": alternatives or []}))


def _dispatched(run: RunState, event: Dispatched) -> None:
    cap = run.lookups.capabilities.get(event.capability)
    if cap is None:
        raise JournalError(
            f"run {run.run_id} dispatched {event.capability}, which is not in the registry now; "
            "restore the capability declaration to resume it"
        )
    run.steps_taken = max(run.steps_taken, event.step)
    run.attempts[cap.name] = max(run.attempts.get(cap.name, 0), event.attempt)
    run.awaiting[event.step] = StepHandle(
        step=event.step, capability=cap, plan_step=event.plan_step, key=event.idempotency_key,
        attempt=event.attempt, cost=cap.cost if event.cost is None else float(event.cost),
        decision_id=event.decision_id, compensation=event.compensates is not None,
        compensates=event.compensates,
    )


def _outcome(run: RunState, event: OutcomeRecorded, at: float | None, now: float | None) -> None:
    handle = run.awaiting.pop(event.step, None)
    name = event.capability
    cap = handle.capability if handle is not None else run.lookups.capabilities.get(name)
    ok = event.status == "succeeded"
    extra = event.model_extra or {}
    key = str(extra.get("idempotency_key") or (handle.key if handle is not None else ""))
    if ok:
        run.doubt.discard(key)
    elif event.error_kind in UNKNOWN_OUTCOME or extra.get("resent") or key in run.doubt:
        # this send, or an earlier one of the key (timed out, or cut off by a crash), may have acted:
        # a refusal now (503) says nothing of that one, so the next call keeps the key
        run.doubt.add(key)
    if ok:
        run.state.update(event.facts)
        run.spent += float(event.cost)
        if event.compensation:
            # the step it undid leaves the completed ones (a step without a compensate capability stays)
            undone = handle.compensates if handle is not None else None
            kept = [c for c in run.completed if c[0] != undone]
            if len(kept) < len(run.completed):
                run.completed = kept
            elif run.completed:  # a journal without `compensates`: the latest one
                run.completed.pop()
        elif cap is not None:
            run.completed.append((event.step, cap))
    else:
        run.degraded = True
        if cap is not None and not cap.idempotent and key in run.doubt and not event.compensation:
            # its effect may have happened: never call a non-idempotent action blindly again
            run.excluded.add(name)
    if ok or key not in run.doubt:
        run.key_groups[name] = run.key_groups.get(name, 1) + 1
    if run.pinned is not None and event.plan_step is not None:
        if now is None:
            # replayed: seconds since the run's start on the engine clock (differences of epoch
            # seconds first: they keep the precision the epoch's size would lose)
            assert at is not None
            now = run.started + (at - run.created_at)
        # a step whose idempotent key is in doubt keeps its provider (no second charge elsewhere)
        held = not ok and cap is not None and cap.idempotent and key in run.doubt and not event.compensation
        run.pinned = apply_outcome(run.strategy, run.pinned, event.plan_step, ok, now, held=held)


def fold_finished(run: RunState, clock: Clock) -> None:
    """Record one `outcome` event per finished step (applied by `apply`) and set the next trigger.

    Returns nothing; leaves `run.finished` empty, records the outcomes (written
    by the engine's next flush), drops or trims the plan the run may reuse and
    sets the run's trigger and cause for its next decision.
    """
    if not run.finished:
        return
    finished, run.finished = run.finished, []
    failed: list[str] = []
    succeeded: list[str] = []
    for f in finished:
        handle = f.handle
        cap = handle.capability
        run.in_flight.pop(handle.step, None)
        ok = f.error is None
        facts: dict[str, Scalar] = {}
        cost = 0.0
        note_faults(run, f, clock)
        if ok:
            assert f.result is not None
            facts = {**cap.effects, **f.result.facts}
            cost = f.result.cost if f.result.cost is not None else cap.cost
            succeeded.append(cap.name)
            if run.reusable is not None:
                run.reusable = drop_capability(run.reusable, cap.name)
        else:
            assert f.error is not None
            run.reusable = None
            failed.append(f"{cap.name} failed ({f.error.kind}"
                          + (f": {f.error.status}" if f.error.status else "") + ")")
        data = outcome_data(
            capability=cap.name, step=handle.step, status="succeeded" if ok else "failed", hit=ok,
            error=None if ok else str(f.error), error_kind=None if ok else f.error.kind,  # type: ignore[union-attr]
            latency_s=round(f.latency_s, 6), cost=cost, facts=facts, idempotency_key=handle.key,
        )
        data["decision_id"] = handle.decision_id
        data["plan_step"] = handle.plan_step
        data["compensation"] = handle.compensation
        if handle.resent:
            data["resent"] = True  # the fold keeps its key in doubt if this send is refused
        record(run, "outcome", clock.timestamp(), data, now=clock.now())
    if failed:
        run.trigger, run.cause = Trigger.STEP_FAILED, "; ".join(failed)
    else:
        run.trigger, run.cause = Trigger.STEP_SUCCEEDED, ", ".join(succeeded) + " succeeded"


#: fact values JSON holds as they are (an `Outcome`'s JSON dump passes them through unchanged).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def outcome_data(
    *, capability: str, step: int, status: str, hit: bool, error: str | None, error_kind: str | None,
    latency_s: float, cost: float, facts: dict[str, Scalar], idempotency_key: str,
) -> dict[str, Any]:
    """Return `Outcome(...).model_dump(mode="json")` of these fields, without building the model.

    Keys in the model's field order, numbers of float fields as floats (as the dump
    makes them). Facts of any other type than plain JSON scalars go through the model.
    Called by `fold_finished` for every finished step.
    """
    if not all(type(v) in _PLAIN for v in facts.values()):
        return construct(
            Outcome, capability=capability, step=step, status=status, hit=hit, error=error,
            error_kind=error_kind, latency_s=latency_s, cost=cost, facts=facts, idempotency_key=idempotency_key,
        ).model_dump(mode="json")
    return {
        "capability": capability, "step": step, "status": status, "hit": hit, "error": error,
        "error_kind": error_kind, "latency_s": float(latency_s), "cost": float(cost), "facts": dict(facts),
        "idempotency_key": idempotency_key,
    }


def note_faults(run: RunState, f: Finished, clock: Clock) -> None:
    """Stamp injected faults a door reports (simulation) on the run's next records.

    Returns nothing; records a `fault` event for each label the run has not
    seen (which `apply` adds to `run.faults`). Called by `fold_finished` for
    every finished step.
    """
    labels: list[str] = []
    if f.result is not None:
        labels = [str(x) for x in f.result.detail.get("faults", ())]
    elif f.error is not None:
        labels = [str(x) for x in getattr(f.error, "faults", ())]
        text = str(f.error)
        if not labels and "(injected: " in text:
            labels = text[text.rindex("(injected: ") + 11:].rstrip(")").split("; ")
    for label in labels:
        if label and label not in run.faults:
            record(run, "fault", clock.timestamp(), {"fault": label, "capability": f.handle.capability.name})


def note_active_faults(run: RunState, reporter: FaultReporter, clock: Clock) -> None:
    """Stamp the injected faults in force now on the run's next records.

    Returns nothing; like `note_faults`, records a `fault` event for each new
    label (which `apply` adds to `run.faults`). Called by the engine before each decision when it
    has a fault reporter (simulated runs: `ido simulate` and `ido run --simulate`),
    so a fault the run met only through health (a probe saying down, a circuit
    opened by other runs) is in its records too, not only one its own calls hit.
    """
    for label, capability in reporter.faults_in_force(clock.now()):
        if label and label not in run.faults:
            record(run, "fault", clock.timestamp(), {"fault": label, "capability": capability})


#: (id(plan), capability) -> (plan, the plan without that step): runs that start alike share
#: their first plan (`ido.engine.reuse`), so their steps succeed into the same trimmed plans.
_dropped: dict[tuple[int, str], tuple[Plan, Plan | None]] = {}


def drop_capability(plan: Plan, capability: str) -> Plan | None:
    """Return `plan` without its (first) step of `capability`, or None if it has none.

    Plans are immutable in use, so the trimmed plan is made once per plan object and
    capability and shared (called by `fold_finished` for every step that succeeded).
    """
    key = (id(plan), capability)
    hit = _dropped.get(key)
    if hit is not None and hit[0] is plan:
        return hit[1]
    trimmed = None
    for i, step in enumerate(plan.steps):
        if step.capability == capability:
            trimmed = without_steps(plan, {i})
            break
    if len(_dropped) > 256:  # the current plans suffice; old ones would only lengthen full GC passes
        _dropped.clear()
    _dropped[key] = (plan, trimmed)
    return trimmed
