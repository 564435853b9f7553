"""Rebuild an unfinished run from its journal so `Engine.resume` can continue it.

Called by `Engine.resume(run_id)` (and so by `ido resume`). Events are folded
back into a `RunState`: the state (start, observations, outcomes' facts),
money spent, attempts, idempotency key groups, completed steps, the static
path, approvals and faults. A step `dispatched` without an `outcome` is
re-sent with the same step number, attempt and idempotency key, so the
provider can recognise it, and its answer is awaited and recorded before the
run decides anything: it is the outcome the crash hid, so neither a deadline
that passed meanwhile nor a compensation can overlook a step that took effect. A run waiting for an approval keeps waiting (an
answer recorded meanwhile by `ido approve` is applied). When the
capabilities or policies changed since the run's revision, a `revision`
event is written and the next decision's trigger is `revision_changed`, with
a note of what changed; the run continues under the new revision.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ido.decisions import PinnedPath, Revisions, Trigger
from ido.engine.approvals import iso_time, note_answer
from ido.engine.fold import fold_finished
from ido.engine.moves import plan_roles
from ido.engine.run import RunState, StepHandle, redact
from ido.engine.strategies import apply_outcome, pin
from ido.errors import JournalError, UsageError
from ido.journal.base import TERMINAL_STATUSES, Event

if TYPE_CHECKING:
    from ido.engine.engine import Engine


async def rebuild(engine: Engine, run_id: str) -> RunState:
    """Return the run `run_id` (a unique prefix works) as it stood at its last journal event."""
    info = engine.store.get_run(run_id=run_id)
    events = engine.store.events(run_id=info.run_id)
    if not events or events[0].kind != "run_started":
        raise UsageError(f"run {info.run_id} has no run_started event; it cannot be resumed")
    start = events[0].data
    intent = engine.intent(str(start["intent"]))
    public = dict(start.get("inputs", {}))
    secrets = intent.secret_inputs()
    if any(k in secrets for k in public):
        raise UsageError(
            f"run {info.run_id} has secret inputs ({', '.join(sorted(secrets))}), which the journal "
            "never stores; it cannot be resumed from the journal alone"
        )
    clock = engine.clock
    recorded = Revisions.model_validate(start.get("revisions") or info.revisions)
    run = RunState(
        run_id=info.run_id, intent=intent, inputs=public, public_inputs=redact(public, secrets),
        strategy=str(start.get("strategy", engine.strategy)), revisions=recorded,
        state=dict(start.get("state", {})), started=clock.now() - (clock.timestamp() - info.created_at),
        created_at=info.created_at, options=dict(info.options), secrets=secrets,
    )
    run.status = info.status
    run.conditions = list(info.conditions)
    pending: dict[int, StepHandle] = {}
    undoes: dict[int, int] = {}  # compensation dispatch -> the step it undoes
    for event in events[1:]:
        _fold_event(engine, run, event, pending, undoes)
    run.event_seq = events[-1].seq
    if run.status in TERMINAL_STATUSES:
        return run
    if run.compensating:
        # the undo in flight at the crash is redone by the compensation loop, with the same key
        pending = {k: h for k, h in pending.items() if not h.compensation}
    resend = sorted(pending.values(), key=lambda h: h.step)
    current = engine.revisions(intent)
    notes = _revision_notes(engine, run.revisions, current)
    if notes:
        for kind in ("intent", "capabilities", "policies"):
            old, new = getattr(run.revisions, kind), getattr(current, kind)
            if old != new:
                run.event("revision", clock.timestamp(), {"kind": kind, "digest": new, "previous": old})
        engine._record_writer.store_revisions(intent, current)
        run.revisions = current
        run.trigger, run.cause, run.notes = Trigger.REVISION_CHANGED, "; ".join(notes), notes
    else:
        run.trigger, run.cause = Trigger.RESUME, "resumed from the journal"
    if resend:
        trigger, cause = run.trigger, run.cause
        answers = await _learn_outcomes(engine, run, resend)
        run.trigger = trigger  # the next decision is the resume's, not the re-sent steps'
        run.cause = f"{cause}; re-sending {', '.join(h.capability.name for h in resend)} with the same keys: {answers}"
    return run


async def _learn_outcomes(engine: Engine, run: RunState, handles: list[StepHandle]) -> str:
    """Re-send `handles` with their keys, fold their answers into `run`; return "X succeeded, Y failed".

    A provider that acted before the crash answers again under the same key
    without acting twice. Had the steps been restarted as ordinary steps in
    flight instead, a deadline that passed during the crash would cancel them
    at the first decision ("abandoned"), and a compensation would leave their
    effects in place. Like compensation steps, they bypass concurrency slots.
    """
    finished = await asyncio.gather(*(engine.call(run, h) for h in handles))
    run.finished.extend(finished)
    fold_finished(run, engine.clock)
    await engine._flush(run)  # durable now: a run that goes on waiting (approval) keeps what it learnt
    return ", ".join(f"{f.handle.capability.name} {'succeeded' if f.error is None else 'failed'}" for f in finished)


def _fold_event(
    engine: Engine, run: RunState, event: Event, pending: dict[int, StepHandle], undoes: dict[int, int],
) -> None:
    data = event.data
    kind = event.kind
    if kind == "observation":
        run.state.update(data.get("facts", {}))
    elif kind == "decision":
        run.decisions = max(run.decisions, int(data.get("seq", 0)))
        run.last_decision = data.get("decision_id")
        if data.get("action") == "fail" or data.get("trigger") == "compensation":
            run.compensating = run.intent.on_failure == "compensate"
        plan = data.get("plan")
        if plan and plan.get("feasible"):
            from ido.planning.types import Plan as PlanModel

            run.roles.update(plan_roles(
                PlanModel.model_validate({**plan, "alternatives": []}), data.get("chosen") or [],
                data.get("dispatch") or [],
                PinnedPath.model_validate(data["pinned"]) if data.get("pinned") else None,
            ))
        if run.strategy != "adaptive" and run.pinned is None and plan and plan.get("feasible"):
            from ido.decisions import resolve_alternatives
            from ido.planning.types import Plan

            data = resolve_alternatives(data, lambda key: engine.store.get_revision(digest=key))

            run.pinned = pin(Plan.model_validate({**plan, "alternatives": data.get("alternatives", [])}))
    elif kind == "dispatched":
        cap = engine.capabilities.get(str(data["capability"]))
        if cap is None:
            raise JournalError(
                f"run {run.run_id} dispatched {data['capability']}, which is not in the registry now; "
                "restore the capability declaration to resume it"
            )
        step = int(data["step"])
        run.steps_taken = max(run.steps_taken, step)
        run.attempts[cap.name] = max(run.attempts.get(cap.name, 0), int(data.get("attempt", 1)))
        pending[step] = StepHandle(
            step=step, capability=cap, plan_step=data.get("plan_step"), key=str(data["idempotency_key"]),
            attempt=int(data.get("attempt", 1)), cost=float(data.get("cost", cap.cost)),
            decision_id=str(data.get("decision_id", "")), compensation="compensates" in data,
        )
        if data.get("compensates") is not None:
            undoes[step] = int(data["compensates"])
    elif kind == "outcome":
        _fold_outcome(engine, run, data, pending, undoes)
    elif kind == "approval_requested":
        run.pending_approval = (str(data["decision_id"]), str(data["capability"]), list(data.get("policies", [])))
    elif kind == "approval_given":
        if run.pending_approval is None:  # an answer without its request (older journals)
            run.pending_approval = (str(data.get("decision_id", "")), str(data["capability"]), [])
        note_answer(run, bool(data.get("approved")), str(data.get("by") or ""), iso_time(event.at))
    elif kind == "fault":
        if data.get("fault") not in run.faults:
            run.faults.append(str(data.get("fault")))
    elif kind == "revision":
        run.revisions = run.revisions.model_copy(update={str(data["kind"]): str(data["digest"])})
    elif kind == "status":
        run.status = str(data.get("status", run.status))


def _fold_outcome(
    engine: Engine, run: RunState, data: dict[str, Any], pending: dict[int, StepHandle], undoes: dict[int, int],
) -> None:
    step = int(data["step"])
    handle = pending.pop(step, None)
    name = str(data["capability"])
    ok = data.get("status") == "succeeded"
    if ok:
        run.state.update(data.get("facts", {}))
        run.spent += float(data.get("cost", 0.0))
        cap = engine.capabilities.get(name)
        if data.get("compensation"):
            # the step it undid, not the latest one: steps without a compensate capability stay listed
            kept = [c for c in run.completed if c[0] != undoes.get(step)]
            if len(kept) < len(run.completed):
                run.completed = kept
            elif run.completed:  # a journal without `compensates`
                run.completed.pop()
        elif cap is not None:
            run.completed.append((step, cap))
    else:
        run.degraded = True
    if ok or data.get("error_kind") not in ("timeout", "connection"):
        run.key_groups[name] = run.key_groups.get(name, 1) + 1
    plan_step = data.get("plan_step")
    if run.pinned is not None and plan_step is not None and handle is not None:
        run.pinned = apply_outcome(run.strategy, run.pinned, int(plan_step), ok, engine.clock.now())


def _revision_notes(engine: Engine, old: Revisions, new: Revisions) -> list[str]:
    """Return one note per declaration kind whose revision changed, naming what changed."""
    notes = []
    if old.intent != new.intent:
        notes.append(f"intent revision changed from {old.intent} to {new.intent}")
    for kind, current in (
        ("capabilities", {c.name: c for c in engine.capability_list}),
        ("policies", {p.name: p for p in engine.policy_list}),
    ):
        before, after = getattr(old, kind), getattr(new, kind)
        if before == after:
            continue
        detail = _changed_names(engine, before, current)
        notes.append(f"{kind} revision changed from {before} to {after}" + (f": {detail}" if detail else ""))
    return notes


def _changed_names(engine: Engine, digest: str, current: dict[str, Any]) -> str:
    try:
        content = engine.store.get_revision(digest=digest)
    except JournalError:
        return ""
    items = content if isinstance(content, list) else content.get("capabilities", []) if isinstance(content, dict) else []
    previous = {str(i.get("name")): i for i in items if isinstance(i, dict)}
    now = {n: m.model_dump(mode="json", by_alias=True, exclude_none=True) for n, m in current.items()}
    added = sorted(set(now) - set(previous))
    removed = sorted(set(previous) - set(now))
    changed = sorted(n for n in set(now) & set(previous) if now[n] != previous[n])
    parts = [f"{label} {', '.join(names)}" for label, names in
             (("added", added), ("removed", removed), ("changed", changed)) if names]
    return "; ".join(parts)
