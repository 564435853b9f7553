"""A run's approvals: asking for one, waiting for the answer, and answering from any process.

The engine's side: when a decision says `await_approval`, the engine's loop
(`ido.engine.engine.Engine`) calls `request_approval`, then `await_answer`,
which returns once `Engine.approve` answered in this process, `ido approve`
answered through the journal (polled every `APPROVAL_POLL_S`), or the
deadline passed; the answer is applied to the run's approved or excluded
capabilities for its next decision.

The other side: `answer(store, run_id, approved, by)` (called by `ido
approve`/`reject` and their HTTP twins) answers a run waiting for approval.
When a live process holds the run's lease, the answer is kept as a signal
beside the journal (`Store.put_signal`): the run's events belong to its
owner, so an outside append would race its next write. The owner's signal
watch (`ido.engine.cancel.SignalWatch`) hands it to the waiting run, which
records `approval_given` itself. When nobody drives the run, the event is
appended directly; `ido resume RUN` (or any worker) continues it then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ido.clock import Clock
from ido.decisions import DecisionRecord, Trigger
from ido.engine.fold import apply, fold_finished
from ido.engine.fold import record as record_event
from ido.engine.run import RunState
from ido.errors import JournalError, UsageError
from ido.journal.base import Event, RunInfo, Signal, Store
from ido.journal.events import parse
from ido.journal.leases import dead_local_owners

#: how often a run waiting for approval looks for an answer written by another process.
APPROVAL_POLL_S = 1.0


async def answer(store: Store, run_id: str, approved: bool, by: str = "", note: str = "") -> RunInfo:
    """Return the run's row after recording the answer; UsageError when it waits for none."""
    info = store.get_run(run_id=run_id)
    if info.status != "waiting_approval":
        raise UsageError(
            f"run {info.run_id} is {info.status}, not waiting_approval; only a waiting run can be "
            "approved or rejected (see `ido runs --status waiting_approval`)"
        )
    events = store.events(run_id=info.run_id)
    pending = None
    for event in events:
        if event.kind == "approval_requested":
            pending = event
        elif event.kind == "approval_given":
            pending = None
    if pending is None:
        raise UsageError(f"run {info.run_id} has no unanswered approval request in its journal")
    if _driven(store, info.run_id):
        signal = Signal(run_id=info.run_id, kind="approve" if approved else "reject", by=by, note=note,
                        at=time.time(), ref=str(pending.data.get("decision_id") or ""))
        try:
            store.put_signal(signal)
            return info  # its owner records the answer at once (its signal watch looks every 250 ms)
        except JournalError:
            pass  # a store that keeps no signals: into the journal, as for a run nobody drives
    answer_event = Event(
        run_id=info.run_id, seq=events[-1].seq + 1, kind="approval_given", at=time.time(),
        data={
            "decision_id": pending.data.get("decision_id"), "capability": pending.data.get("capability"),
            "approved": approved, "by": by, "note": note, "external": True,
        },
    )
    row = info.model_copy(update={"status": "running", "updated_at": time.time()})
    await store.append([answer_event], run=row)
    return row


def _driven(store: Store, run_id: str) -> bool:
    """Return whether a live process holds `run_id`'s lease (not expired, not a dead local process)."""
    held = [lease for lease in store.leases(run_ids=[run_id]) if lease.until >= time.time()]
    return bool(held) and not dead_local_owners(held)


def request_approval(run: RunState, record: DecisionRecord, clock: Clock) -> None:
    """Record `approval_requested` for `record`'s chosen step: the run then waits for an answer."""
    record_event(run, "approval_requested", clock.timestamp(), {
        "decision_id": record.decision_id, "step": record.dispatch[0] if record.dispatch else None,
        "capability": record.chosen[0], "policies": approval_policies(record),
    })


def approval_policies(record: DecisionRecord) -> list[str]:
    """Return the names of the policies that require approval of `record`'s (first) dispatched step.

    The record's `approval` field names them (never its reason's text).
    """
    if record.approval:
        return list(record.approval)
    if record.plan is not None and record.dispatch:
        return list(record.plan.steps[record.dispatch[0]].approval_policies)
    return []


async def await_answer(
    run: RunState, deadline: float | None, clock: Clock, store: Store,
    flush: Callable[[RunState], Awaitable[None]],
) -> None:
    """Wait for `approve()` here or `ido approve` in another process (polled), or the deadline.

    Returns with the answer applied to `run` (or, when the deadline passed, the
    trigger set to deadline pressure: the next decision drops the request). Steps that land
    meanwhile are folded in and written with `flush` (the engine's).
    """
    assert run.pending_approval is not None
    while run.answer is None:
        if run.cancel is not None:
            return  # the loop records the cancel decision, which drops the request
        now = clock.now()
        if deadline is not None and now >= deadline:
            # the request is dropped unanswered by the next decision (`ido.engine.fold.apply`)
            run.trigger, run.cause = Trigger.DEADLINE_PRESSURE, "the deadline passed while waiting for approval"
            return
        timeout = APPROVAL_POLL_S if deadline is None else min(APPROVAL_POLL_S, deadline - now)
        run.wake.clear()
        try:
            await asyncio.wait_for(run.wake.wait(), timeout)
        except TimeoutError:
            if _answered_elsewhere(run, store):
                return
        if run.finished:
            # steps dispatched before the approval request keep landing: record them now
            fold_finished(run, clock)
            await flush(run)
    _fold_answer(run, clock)


def _answered_elsewhere(run: RunState, store: Store) -> bool:
    """Apply an answer another process wrote to the journal; return whether there was one."""
    assert run.pending_approval is not None
    events = store.events(run_id=run.run_id, kinds=["approval_given"])
    if not events or events[-1].seq <= run.event_seq:
        return False
    answer = events[-1]
    capability = run.pending_approval[1]
    # the answer (and a rejection's record) is applied by the one fold, as on resume
    apply(run, parse(answer), seq=answer.seq, at=answer.at)
    run.reusable = None
    approved = bool(answer.data.get("approved"))
    by = answer.data.get("by") or ""
    run.trigger = Trigger.APPROVAL
    run.cause = f"{capability} {'approved' if approved else 'rejected'}" + (f" by {by}" if by else "")
    return True


def _fold_answer(run: RunState, clock: Clock) -> None:
    """Apply the answer `Engine.approve` left on the run and buffer its `approval_given` event."""
    assert run.answer is not None and run.pending_approval is not None
    approved, by = run.answer
    decision_id, capability, _ = run.pending_approval
    record_event(run, "approval_given", clock.timestamp(), {
        "decision_id": decision_id, "capability": capability, "approved": approved, "by": by,
        "note": run.answer_note,
    })
    run.answer, run.answer_note = None, ""
    run.reusable = None
    run.trigger = Trigger.APPROVAL
    run.cause = f"{capability} {'approved' if approved else 'rejected'}" + (f" by {by}" if by else "")
