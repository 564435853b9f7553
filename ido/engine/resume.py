"""Rebuild an unfinished run from its journal so `Engine.resume` can continue it.

Called by `Engine.resume(run_id)` (and so by `ido resume`). Events are folded
back into a `RunState` by `ido.engine.fold.replay`, the fold the live engine
applies to every event it writes: the state (start, observations, outcomes' facts),
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
from typing import Any

from ido.decisions import Revisions, Trigger
from ido.engine.fold import fold_finished, record, replay
from ido.engine.host import RunHost
from ido.engine.run import RunState, StepHandle, redact
from ido.errors import JournalError, UsageError
from ido.journal.base import TERMINAL_STATUSES
from ido.journal.events import RunStarted, parse


def restore(engine: RunHost, run_id: str) -> RunState:
    """Return the run `run_id` (a unique prefix works) as its journal says, changing nothing.

    The run is built from its `run_started` event and every later event is
    folded in by `ido.engine.fold.replay`, the fold the live engine applies to
    each event it writes. Its status is the run row's (an `ido approve` from
    another process sets it without a status event). Raises UsageError for a
    run without `run_started` or with secret inputs (never journaled).
    """
    info = engine.store.get_run(run_id=run_id)
    events = engine.store.events(run_id=info.run_id)
    first = next((i for i, e in enumerate(events) if e.kind == "run_started"), None)
    if first is None:
        raise UsageError(f"run {info.run_id} has no run_started event; it cannot be resumed")
    start = parse(events[first])
    assert isinstance(start, RunStarted)
    intent = engine.intent(start.intent)
    public = dict(start.inputs)
    secrets = intent.secret_inputs()
    if any(k in secrets for k in public):
        raise UsageError(
            f"run {info.run_id} has secret inputs ({', '.join(sorted(secrets))}), which the journal "
            "never stores; it cannot be resumed from the journal alone"
        )
    clock = engine.clock
    recorded = Revisions.model_validate(start.revisions or info.revisions)
    run = RunState(
        run_id=info.run_id, intent=intent, inputs=public, public_inputs=redact(public, secrets),
        strategy=start.strategy, revisions=recorded,
        state=dict(start.state), started=clock.now() - (clock.timestamp() - info.created_at),
        created_at=info.created_at, lookups=engine.lookups, options=dict(info.options),
        secrets=secrets,
    )
    # in order: observations its start read come before `run_started`, which holds the state after them
    replay(run, events)
    run.status = info.status
    run.conditions = list(info.conditions)
    return run


async def rebuild(engine: RunHost, run_id: str) -> RunState:
    """Return the run `run_id` (a unique prefix works) ready to continue where its journal ends.

    Besides `restore`: a change of revision since the run started is recorded
    (a `revision` event per kind); steps dispatched without an outcome are
    re-sent with their keys and their answers recorded (for a compensating
    run, the undo in flight is left to the compensation loop, which redoes it
    with the same key).
    """
    run = restore(engine, run_id)
    if run.status in TERMINAL_STATUSES:
        return run
    pending = dict(run.awaiting)
    if run.compensating:
        # the undo in flight at the crash is redone by the compensation loop, with the same key
        for step in [k for k, h in pending.items() if h.compensation]:
            del run.awaiting[step]
            del pending[step]
    resend = sorted(pending.values(), key=lambda h: h.step)
    for handle in resend:
        handle.resent = True
    if not adopt_revision(engine, run):
        run.trigger, run.cause = Trigger.RESUME, "resumed from the journal"
    if resend:
        trigger, cause = run.trigger, run.cause
        answers = await _learn_outcomes(engine, run, resend)
        run.trigger = trigger  # the next decision is the resume's, not the re-sent steps'
        run.cause = f"{cause}; re-sending {', '.join(h.capability.name for h in resend)} with the same keys: {answers}"
    return run


def adopt_revision(engine: RunHost, run: RunState) -> bool:
    """Move `run` to the engine's current revision if it works under an older one; return whether it did.

    Writes a `revision` event per kind that changed (the fold sets the run's
    revisions from it), stores the new declarations by digest (replay reads
    them), and makes the next decision's trigger `revision_changed` with a note
    of what changed. Called by `rebuild` (a resumed run) and by the engine's
    loop before each decision when the registry changed (a run in flight).
    """
    current = engine.revisions(run.intent)
    notes = _revision_notes(engine, run.revisions, current)
    if not notes:
        return False
    for kind in ("intent", "capabilities", "policies"):
        old, new = getattr(run.revisions, kind), getattr(current, kind)
        if old != new:
            record(run, "revision", engine.clock.timestamp(), {"kind": kind, "digest": new, "previous": old})
    engine.store_revisions(run.intent, current)
    run.trigger, run.cause, run.notes = Trigger.REVISION_CHANGED, "; ".join(notes), notes
    # a plan made under the old declarations may name capabilities or policies that changed
    run.reusable = None
    return True


async def _learn_outcomes(engine: RunHost, run: RunState, handles: list[StepHandle]) -> str:
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
    await engine.flush(run)  # durable now: a run that goes on waiting (approval) keeps what it learnt
    return ", ".join(f"{f.handle.capability.name} {'succeeded' if f.error is None else 'failed'}" for f in finished)


def _revision_notes(engine: RunHost, old: Revisions, new: Revisions) -> list[str]:
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


def _changed_names(engine: RunHost, digest: str, current: dict[str, Any]) -> str:
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
