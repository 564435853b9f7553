"""How a run chooses its next move: plain functions in `STRATEGIES`, one signature.

Each strategy is `(inputs, planner, policies) -> (DecisionRecord, Plan | None)`
and is pure (no clock, randomness or I/O: `ido.engine.decide` relies on it).
They share everything else — executors, health, journal, budget, deadline
and policy guards — so the simulator compares only the choosing:

- `adaptive` (ido): plan from the current state with the current health on
  every decision (reusing the previous plan when nothing relevant changed);
  a failure is followed by a replan, which may pick the same capability
  (after the backoff its circuit implies) or another.
- `static` (DESIGN.md section 4): plan once at the start with the same
  planner, then execute that fixed path; a failed step is retried with
  Temporal's default retry policy (1s, x2, at most 100s, unlimited) until
  the deadline, never switching providers.
- `static-fallback`: static plus the fallback chain a careful author would
  hand-code: after 3 failures of a step, the next-best provider of the same
  role as ranked by the initial plan's alternatives.

`apply_outcome` advances a static path after a step's outcome (the engine
calls it, and records the result as the next decision's input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ido.construct import construct, copy_with
from ido.decisions import DecisionRecord, PinnedPath, Trigger
from ido.engine.inputs import (
    DecisionInputs,
    earliest_retry,
    expected_cost,
    goal_holds,
    guard,
    lean,
    needs_approval,
    record,
)
from ido.health import HealthSnapshot
from ido.planning.types import Plan, PlanRequest, Verdict

Strategy = Callable[[DecisionInputs, Any, Any], tuple[DecisionRecord, Plan | None]]

#: Temporal's default retry policy: initial interval, backoff coefficient, maximum interval.
TEMPORAL_INITIAL_S = 1.0
TEMPORAL_COEFFICIENT = 2.0
TEMPORAL_MAXIMUM_S = 100.0
#: failures of one step before static-fallback moves to the next provider of its role.
FALLBACK_AFTER = 3
#: blockers that health can lift (wait and replan); any other kind fails the run.
TRANSIENT_BLOCKERS = frozenset({"unhealthy", "deadline", "min_success", "budget"})


def _recovery_would_lift(inp: DecisionInputs, planner: Any) -> bool:
    """Return whether a plan would exist if every capability were healthy again.

    An infeasible plan's blockers can mix causes: a goal unreachable *now*
    because circuits are open also lists the side conditions that can never
    hold (a capability whose precondition is never met). Failing the run on
    such a mix would give up on outages that heal within the deadline, so
    the engine asks the planner once more with no health evidence (declared
    reliability, latency, cost; every circuit closed): if that finds a plan,
    waiting for health can help and the run blocks or backs off instead.
    """
    if not any(h.circuit != "closed" or h.probe_up is False or h.success_rate is not None
               for h in inp.health.capabilities.values()):
        return False  # health is already the declaration: nothing could recover
    request = construct(
        PlanRequest, state=dict(inp.state), inputs=dict(inp.inputs), spent=inp.spent + sum(f.cost for f in inp.in_flight),
        elapsed_s=inp.elapsed_s, steps_taken=inp.steps_taken, attempts=dict(inp.attempts),
        exclude=sorted(inp.exclude), now=inp.now,
    )
    return bool(planner.plan(inp.intent, request, HealthSnapshot(at=inp.now), explain=False).feasible)


def _terminal(inp: DecisionInputs) -> DecisionRecord | None:
    """Return a succeed/fail record when the goal holds or a hard bound is exhausted."""
    c = inp.intent.constraints
    if goal_holds(inp.intent, inp.state):
        if c.deadline is not None and inp.elapsed_s > c.deadline:
            # steps already sent at the deadline were awaited (a sent request may take
            # effect anyway) and they completed the goal: done, late, nothing half-undone
            return record(inp, action="succeed", reason=(
                f"the goal holds, {inp.elapsed_s - c.deadline:.3g}s after the deadline: "
                "steps already in flight when it passed completed it"
            ))
        return record(inp, action="succeed", reason="the goal holds")
    if c.deadline is not None and inp.elapsed_s >= c.deadline - 1e-9:  # (now - started) may round below
        return record(
            inp, action="fail",
            reason=f"deadline passed: {inp.elapsed_s:.3g}s elapsed of {c.deadline:g}s",
        )
    return None


def _wait_record(inp: DecisionInputs, plan: Plan | None, why: str, **extra: Any) -> DecisionRecord:
    flying = ", ".join(f.capability for f in inp.in_flight)
    extra.setdefault("plan", plan)
    return record(inp, action="wait", reason=f"{why}; waiting for {flying}", **extra)


def _select(
    inp: DecisionInputs, plan: Plan, candidates: list[tuple[int, str]], policies: Any,
) -> tuple[list[int], list[str], list[str], tuple[int, str, list[str]] | None]:
    """Return (indices, capabilities) that pass the guards, refusals, and a step needing approval."""
    picked: list[int] = []
    names: list[str] = []
    refused: list[str] = []
    extra_cost = 0.0
    for index, name in candidates:
        cap = inp.capabilities.get(name)
        if cap is None:
            refused.append(f"{name} is not in the registry")
            continue
        step = plan.steps[index]
        cost = expected_cost(step, cap, inp)
        why = guard(cap, cost, inp, policies, extra_cost, len(picked))
        if why is not None:
            refused.append(why)
            continue
        approval = needs_approval(step, cap, inp, policies)
        if approval:
            return picked, names, refused, (index, name, approval)
        picked.append(index)
        names.append(name)
        extra_cost += cost
    return picked, names, refused, None


def _dispatch_reason(inp: DecisionInputs, plan: Plan, names: list[str]) -> str:
    chosen = ", ".join(names)
    roles = {s.capability: s.provides for s in plan.steps}
    retried = [n for n in names if inp.attempts.get(n, 0)]
    replaced = [
        f"{inp.roles_before[roles[n]]} to {n}" for n in names
        if roles.get(n) in inp.roles_before and inp.roles_before[roles[n]] != n
    ]
    if not inp.roles_before and inp.trigger is Trigger.STEP_FAILED:
        # a record from before `roles_before` was recorded: its reason was worded from the
        # cause, so replaying it must word it the same way (new records never get here)
        failed = inp.cause.split(" ", 1)[0]
        head = f"retry {failed}" if failed in names else f"switch from {failed} to {chosen}"
    elif retried:
        head = f"retry {', '.join(retried)}" + (f" and dispatch {', '.join(n for n in names if n not in retried)}"
                                                 if len(retried) < len(names) else "")
    elif replaced:
        head = f"switch from {', '.join(replaced)}"
    else:
        head = f"dispatch {chosen}"
    # a provider the fleet gave to other runs (the engine notes it, and excludes it this once)
    fleet = "".join(f"; {note}" for note in inp.notes if "fleet allocation assigned" in note)
    return (f"{head}: best admissible plan (score {plan.score:.4g}, cost {plan.cost:.4g}, "
            f"p={plan.success_probability:.3g}){fleet}")


def adaptive(inp: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    """Return the decision of ido's strategy: replan from the current state and health."""
    done = _terminal(inp)
    if done is not None:
        return done, None
    reused = inp.reusable is not None and inp.reusable.feasible
    if reused:
        plan = inp.reusable
        assert plan is not None
    else:
        request = construct(
            PlanRequest, state=dict(inp.state), inputs=dict(inp.inputs), spent=inp.spent + sum(f.cost for f in inp.in_flight),
            elapsed_s=inp.elapsed_s, steps_taken=inp.steps_taken, attempts=dict(inp.attempts),
            exclude=sorted(inp.exclude), now=inp.now,
        )
        plan = planner.plan(inp.intent, request, inp.health)
    if not plan.feasible:
        if inp.in_flight:
            return _wait_record(inp, plan, "no admissible plan for the rest yet"), plan
        kinds = {b.kind for b in plan.blockers}
        why = plan.explanation or "; ".join(b.message for b in plan.blockers) or "no admissible plan"
        if (kinds and kinds <= TRANSIENT_BLOCKERS) or _recovery_would_lift(inp, planner):
            retry = earliest_retry(inp.health, inp.now)
            if retry is not None:
                return record(
                    inp, action="backoff", plan=plan, wake_at=retry,
                    reason=f"no admissible plan until a circuit half-opens at t={retry:.4g}s: {why}",
                ), plan
            return record(inp, action="block", plan=plan, reason=f"blocked until health changes: {why}"), plan
        return record(inp, action="fail", plan=plan, reason=f"no admissible plan can exist: {why}"), plan
    flying_roles = {f.provides for f in inp.in_flight}
    flying_caps = {f.capability for f in inp.in_flight}
    ready = [
        (i, plan.steps[i].capability) for i in plan.ready_steps(set())
        if plan.steps[i].provides not in flying_roles and plan.steps[i].capability not in flying_caps
    ]
    picked, names, refused, approval = _select(inp, plan, ready, policies)
    extra: dict[str, Any] = {}
    held = f"; held back: {'; '.join(refused)}" if refused else ""
    if approval is not None and not picked:
        index, name, by = approval
        return record(
            inp, action="await_approval", plan=plan, chosen=[name], dispatch=[index],
            plan_reused=reused, approval=list(by),
            reason=f"{name} needs a person's approval ({', '.join(by)}){held}", **extra,
        ), plan
    if picked:
        return record(
            inp, action="dispatch", plan=plan, chosen=names, dispatch=picked, plan_reused=reused,
            reason=_dispatch_reason(inp, plan, names) + held, **extra,
        ), plan
    if inp.in_flight:
        return _wait_record(inp, plan, "nothing else can start" + held, plan_reused=reused, **extra), plan
    return record(
        inp, action="fail", plan=plan, plan_reused=reused,
        reason="the plan's next steps may not run: " + "; ".join(refused), **extra,
    ), plan


def _static(inp: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    done = _terminal(inp)
    if done is not None:
        return done, None
    pinned = inp.pinned
    made: Plan | None = None
    reused = False
    if pinned is None and inp.reusable is not None and inp.reusable.feasible:
        # the same first plan another run with the same start already made
        pinned, made, reused = pin(inp.reusable), inp.reusable, True
    if pinned is None:
        request = construct(
            PlanRequest, state=dict(inp.state), inputs=dict(inp.inputs), spent=inp.spent, elapsed_s=inp.elapsed_s,
            steps_taken=inp.steps_taken, attempts=dict(inp.attempts), exclude=sorted(inp.exclude),
            now=inp.now,
        )
        # The baseline does what a workflow author does: plan once, ignoring live health.
        plan = planner.plan(inp.intent, request, None)
        if not plan.feasible:
            return record(inp, action="fail", plan=plan, reason=f"no plan at the start: {plan.explanation}"), plan
        pinned = pin(plan)
        made = plan
    plan = pinned.plan
    # the engine pins the full plan it gets back (with alternatives, for the fallback chains)
    out_plan = made if made is not None else plan
    # the record keeps the path as it stood before this decision (an input); a path made
    # now is the record's `plan`, from which the engine pins it.
    recorded = inp.pinned
    flying = {f.plan_step for f in inp.in_flight}
    waiting: list[float] = []
    ready: list[tuple[int, str]] = []
    for i in plan.ready_steps(set(pinned.done)):
        if i in flying:
            continue
        not_before = pinned.not_before.get(i, 0.0)
        if not_before > inp.now:
            waiting.append(not_before)
            continue
        ready.append((i, pinned.substitutes.get(i, plan.steps[i].capability)))
    picked, names, refused, approval = _select(inp, plan, ready, policies)
    out: dict[str, Any] = {"pinned": recorded, "plan": plan, "alternatives": list(plan.alternatives),
                           "plan_reused": reused}
    if made is not None:
        out["alternatives"] = made.alternatives
    held = f"; held back: {'; '.join(refused)}" if refused else ""
    if approval is not None and not picked:
        index, name, by = approval
        return record(
            inp, action="await_approval", chosen=[name], dispatch=[index],
            approval=list(by),
            reason=f"{name} needs a person's approval ({', '.join(by)}){held}", **out,
        ), out_plan
    if picked:
        retry = [n for i, n in zip(picked, names, strict=True) if pinned.failures.get(i)]
        head = f"retry {', '.join(retry)} (fixed path)" if retry else f"dispatch {', '.join(names)} (fixed path)"
        return record(inp, action="dispatch", chosen=names, dispatch=picked, reason=head + held, **out), out_plan
    if inp.in_flight:
        rest = {k: v for k, v in out.items() if k != "plan"}  # `plan` is passed positionally
        return _wait_record(inp, plan, "fixed path: nothing else can start" + held, **rest), out_plan
    if waiting:
        wake = min(waiting)
        return record(
            inp, action="backoff", wake_at=wake,
            reason=f"fixed path: retry after the backoff, at t={wake:.4g}s{held}", **out,
        ), out_plan
    return record(
        inp, action="fail", reason="fixed path cannot continue: " + ("; ".join(refused) or "no step ready"),
        **out,
    ), out_plan


def static(inp: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    """Return the decision of the workflow baseline: one plan, retried, never switched."""
    return _static(inp, planner, policies)


def static_fallback(inp: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    """Return the decision of the static path with a hand-coded fallback chain per role."""
    return _static(inp, planner, policies)


def fallback_chain(plan: Plan, index: int) -> list[str]:
    """Return the providers of plan step `index`'s role in the initial plan's order of preference.

    The planned capability first, then the role's admissible alternatives by
    score difference (denied, excluded and over-limit ones are never in it).
    """
    step = plan.steps[index]
    ranked = [
        a for a in plan.alternatives
        if a.provides == step.provides and a.capability != step.capability
        and a.verdict not in (Verdict.DENIED, Verdict.EXCLUDED, Verdict.REJECTED, Verdict.OVER_LIMIT, Verdict.CHOSEN)
    ]
    ranked.sort(key=lambda a: (a.score_delta if a.score_delta is not None else float("inf"), a.capability))
    return [step.capability, *(a.capability for a in ranked)]


def pin(plan: Plan) -> PinnedPath:
    """Return a fresh static path for `plan`: nothing done yet, each step's fallback chain."""
    return construct(
        PinnedPath, plan=lean(plan), done=[], failures={}, not_before={}, substitutes={}, abandoned={},
        chains={i: fallback_chain(plan, i) for i in range(len(plan.steps))},
    )


def apply_outcome(
    strategy: str, pinned: PinnedPath, index: int, ok: bool, now: float, *, held: bool = False,
) -> PinnedPath:
    """Return the static path after plan step `index` succeeded or failed at `now`.

    A failure schedules the retry by Temporal's default policy; under
    `static-fallback`, the third failure of a provider moves the step to the
    next one of its chain (retried at once) — unless `held`: the provider's
    idempotency key is in doubt (`ido.engine.doubt`), so the call may have acted
    there and another provider could act a second time; the step keeps retrying
    that provider with the same key instead. Called by `ido.engine.fold`.
    """
    if ok:
        return copy_with(pinned, done=sorted({*pinned.done, index}))
    failures = dict(pinned.failures)
    count = failures.get(index, 0) + 1
    failures[index] = count
    not_before = dict(pinned.not_before)
    delay = min(TEMPORAL_INITIAL_S * TEMPORAL_COEFFICIENT ** (count - 1), TEMPORAL_MAXIMUM_S)
    not_before[index] = now + delay
    update: dict[str, Any] = {"failures": failures, "not_before": not_before}
    if strategy == "static-fallback" and count >= FALLBACK_AFTER and not held:
        chain = pinned.chains.get(index) or fallback_chain(pinned.plan, index)
        current = pinned.substitutes.get(index, pinned.plan.steps[index].capability)
        position = chain.index(current) if current in chain else 0
        if position + 1 < len(chain):
            substitutes = {**pinned.substitutes, index: chain[position + 1]}
            abandoned = {**pinned.abandoned, index: [*pinned.abandoned.get(index, []), current]}
            failures[index] = 0
            not_before[index] = now
            update.update(substitutes=substitutes, abandoned=abandoned)
    return copy_with(pinned, **update)


STRATEGIES: dict[str, Strategy] = {
    "adaptive": adaptive,
    "static": static,
    "static-fallback": static_fallback,
}
