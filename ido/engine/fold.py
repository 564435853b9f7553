"""Fold finished steps into their run: state, money, idempotency keys, the static path, outcomes.

A step's task only appends a `Finished` to `RunState.finished` and wakes the
run; `fold_finished` is where its result takes effect, once, on the run's own
task, before the next decision. Called by the engine's loop
(`ido.engine.engine.Engine`), by compensation (`ido.engine.compensation`,
after each undo) and by resume (`ido.engine.resume`, after re-sent steps
answer). Replaying the journal's events into a fresh run is resume's job
(`ido.engine.resume._fold_event`), not this module's.
"""

from __future__ import annotations

from ido.clock import Clock
from ido.decisions import Outcome, Trigger
from ido.engine.doors import FaultReporter
from ido.engine.inputs import without_steps
from ido.engine.run import Finished, RunState
from ido.engine.strategies import apply_outcome
from ido.model import Scalar
from ido.planning.types import Plan


def fold_finished(run: RunState, clock: Clock) -> None:
    """Apply finished steps to the run: state, money, keys, static path; buffer outcomes.

    Returns nothing; leaves `run.finished` empty, buffers one `outcome` event per
    step (written by the engine's next flush) and sets the run's trigger and
    cause for its next decision.
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
            run.state.update(facts)
            run.spent += cost
            run.completed.append((handle.step, cap))
            succeeded.append(cap.name)
            if run.reusable is not None:
                run.reusable = drop_capability(run.reusable, cap.name)
        else:
            assert f.error is not None
            run.degraded = True
            run.reusable = None
            if not cap.idempotent and f.error.kind in ("timeout", "connection") and not handle.compensation:
                # its effect may have happened: never call a non-idempotent action blindly again
                run.excluded.add(cap.name)
            failed.append(f"{cap.name} failed ({f.error.kind}"
                          + (f": {f.error.status}" if f.error.status else "") + ")")
        if ok or f.error is None or f.error.kind not in ("timeout", "connection"):
            run.key_groups[cap.name] = run.key_groups.get(cap.name, 1) + 1
        if run.pinned is not None and handle.plan_step is not None:
            run.pinned = apply_outcome(run.strategy, run.pinned, handle.plan_step, ok, clock.now())
        outcome = Outcome.model_construct(
            capability=cap.name, step=handle.step, status="succeeded" if ok else "failed", hit=ok,
            error=None if ok else str(f.error), error_kind=None if ok else f.error.kind,  # type: ignore[union-attr]
            latency_s=round(f.latency_s, 6), cost=cost, facts=facts, idempotency_key=handle.key,
        )
        data = outcome.model_dump(mode="json")
        data["decision_id"] = handle.decision_id
        data["plan_step"] = handle.plan_step
        data["compensation"] = handle.compensation
        run.event("outcome", clock.timestamp(), data)
    if failed:
        run.trigger, run.cause = Trigger.STEP_FAILED, "; ".join(failed)
    else:
        run.trigger, run.cause = Trigger.STEP_SUCCEEDED, ", ".join(succeeded) + " succeeded"


def note_faults(run: RunState, f: Finished, clock: Clock) -> None:
    """Stamp injected faults a door reports (simulation) on the run's next records.

    Returns nothing; adds each new fault label to `run.faults` and buffers a
    `fault` event for it. Called by `fold_finished` for every finished step.
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
            run.faults.append(label)
            run.event("fault", clock.timestamp(), {"fault": label, "capability": f.handle.capability.name})


def note_active_faults(run: RunState, reporter: FaultReporter, clock: Clock) -> None:
    """Stamp the injected faults in force now on the run's next records.

    Returns nothing; like `note_faults`, adds each new label to `run.faults` and
    buffers a `fault` event. Called by the engine before each decision when it
    has a fault reporter (simulated runs: `ido simulate` and `ido run --simulate`),
    so a fault the run met only through health (a probe saying down, a circuit
    opened by other runs) is in its records too, not only one its own calls hit.
    """
    for label, capability in reporter.faults_in_force(clock.now()):
        if label and label not in run.faults:
            run.faults.append(label)
            run.event("fault", clock.timestamp(), {"fault": label, "capability": capability})


def drop_capability(plan: Plan, capability: str) -> Plan | None:
    """Return `plan` without its (first) step of `capability`, or None if it has none."""
    for i, step in enumerate(plan.steps):
        if step.capability == capability:
            return without_steps(plan, {i})
    return None
