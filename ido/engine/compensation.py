"""Undo a failed run's completed steps in reverse order (the saga pattern).

Called by `Engine._finish` when a run fails and its intent says
`on_failure: compensate`. Each completed step whose capability names a
`compensate` capability is undone by one call of it, retried up to
`ATTEMPTS` times with doubling backoff; a step without one is noted and
skipped. Every undo is a decision record (trigger `compensation`, action
`compensate`) with `dispatched` and `outcome` events like any step. The run
ends `compensated`, or `compensation_failed` with a final record naming the
step that could not be undone and why. Compensation is not bounded by the
budget: undoing what was done is always attempted (its cost is counted).
"""

from __future__ import annotations

import asyncio

from ido.decisions import DecisionRecord, Trigger
from ido.engine.fold import UNKNOWN_OUTCOME, fold_finished
from ido.engine.fold import record as record_event
from ido.engine.host import RunHost
from ido.engine.inputs import DecisionInputs, record
from ido.engine.run import RunState

#: calls of a compensating capability per completed step before giving up.
ATTEMPTS = 3
#: first pause between attempts, doubled after each failure (engine-clock seconds).
BACKOFF_S = 0.2


def _inputs(engine: RunHost, run: RunState, cause: str) -> DecisionInputs:
    now = engine.clock.now()
    seq = run.decisions + 1
    return DecisionInputs(
        run_id=run.run_id, seq=seq, decision_id=f"{run.run_id}-d{seq}", at=engine.clock.iso(),
        trigger=Trigger.COMPENSATION, intent=run.intent, revisions=run.revisions, state=dict(run.state),
        health=engine.health.snapshot(now), now=now, capabilities=engine.capabilities,
        strategy=run.strategy, cause=cause, parent_id=run.last_decision, inputs=run.public_inputs,
        spent=run.spent, elapsed_s=now - run.started, steps_taken=run.steps_taken,
        attempts=dict(run.attempts),
    )


def _decision(engine: RunHost, run: RunState, cause: str, **outputs: object) -> DecisionRecord:
    rec = record(_inputs(engine, run, cause), **outputs)
    engine.publish(run, rec)
    return rec


async def compensate(engine: RunHost, run: RunState) -> tuple[str, DecisionRecord]:
    """Return (final status, the last record) after undoing `run`'s completed steps."""
    undone: list[str] = []
    skipped: list[str] = []
    for step, cap in list(reversed(run.completed)):
        label = f"step {step} ({cap.name})"
        if cap.compensate is None:
            skipped.append(label)
            continue
        undo = engine.capabilities.get(cap.compensate)
        if undo is None:
            rec = _decision(engine, run, f"undo {label}", action="fail",
                            reason=f"cannot undo {label}: its compensate capability {cap.compensate} is not in the registry")
            return "compensation_failed", rec
        judgement = engine.policies.judge(undo, run.intent, run.public_inputs)
        if judgement.denied_by:
            rec = _decision(engine, run, f"undo {label}", action="fail",
                            reason=f"cannot undo {label}: {undo.name} denied by {', '.join(judgement.denied_by)}")
            return "compensation_failed", rec
        error = ""
        for attempt in range(1, ATTEMPTS + 1):
            rec = _decision(
                engine, run, f"undo {label}", action="compensate", chosen=[undo.name],
                reason=f"undo {label} through {undo.name} (attempt {attempt} of {ATTEMPTS})",
            )
            number = run.steps_taken + 1
            record_event(run, "dispatched", engine.clock.timestamp(), {
                "decision_id": rec.decision_id, "step": number, "capability": undo.name,
                "provides": undo.provides, "idempotency_key": run.idempotency_key(undo.name),
                "attempt": run.attempts.get(undo.name, 0) + 1,
                "plan_step": None, "cost": undo.cost, "compensates": step,
            })
            handle = run.awaiting[number]
            await engine.flush(run)
            finished = await engine.call(run, handle)
            run.finished.append(finished)
            # its outcome takes the undone step off `run.completed` (`ido.engine.fold.apply`)
            fold_finished(run, engine.clock)
            if finished.error is None:
                undone.append(label)
                break
            error = str(finished.error)
            if not undo.idempotent and finished.error is not None and finished.error.kind in UNKNOWN_OUTCOME:
                # it may have happened: a blind retry of a non-idempotent undo could undo twice
                rec = _decision(engine, run, f"undo {label}", action="fail",
                                reason=f"compensation failed: could not undo {label}: {undo.name} is not "
                                       f"idempotent and its outcome is unknown ({error}); not retried")
                return "compensation_failed", rec
            if attempt < ATTEMPTS:
                await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
        else:
            rec = _decision(engine, run, f"undo {label}", action="fail",
                            reason=f"compensation failed: could not undo {label} through {undo.name} "
                                   f"after {ATTEMPTS} attempts: {error}")
            return "compensation_failed", rec
    note = f"undid {', '.join(undone) or 'nothing'}" + (
        f"; nothing to undo for {', '.join(skipped)} (no compensate capability)" if skipped else ""
    )
    rec = _decision(engine, run, "compensation finished", action="compensate", reason=f"compensated: {note}")
    return "compensated", rec
