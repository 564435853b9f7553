"""Everything a decision depends on (`DecisionInputs`) and the pieces every strategy shares.

`ido.engine.decide.decide` is a pure function of a `DecisionInputs`; the
strategies in `ido.engine.strategies` build records with `record()`, check
every step with `guard()` (policies, limits, budget, max_steps) before it may
be dispatched, and describe the goal's `gap()`. `from_record()` rebuilds the
inputs from a stored `DecisionRecord` so `ido replay` can decide again.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ido.construct import construct, copy_with
from ido.decisions import (
    FORMAT_VERSION,
    DecisionRecord,
    Hold,
    InFlight,
    PinnedPath,
    Rejection,
    Remaining,
    Revisions,
    Trigger,
)
from ido.digest import digest
from ido.engine.moves import classify
from ido.health import HealthSnapshot
from ido.model import Capability, Intent, Scalar, describe_matcher, matcher_holds
from ido.planning.types import Plan, PlanStep, SearchMetrics

#: money below this is rounding noise (costs are floats).
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    """One decision's inputs; `decide` reads nothing else (no clock, no randomness, no I/O)."""

    run_id: str
    seq: int
    decision_id: str
    at: str
    trigger: Trigger
    intent: Intent
    revisions: Revisions
    state: Mapping[str, Scalar]
    health: HealthSnapshot
    now: float
    #: the registry at the `revisions.capabilities` revision (not digested: the revision is).
    capabilities: Mapping[str, Capability] = field(default_factory=dict)
    strategy: str = "adaptive"
    cause: str = ""
    parent_id: str | None = None
    inputs: Mapping[str, Scalar] = field(default_factory=dict)
    spent: float = 0.0
    elapsed_s: float = 0.0
    steps_taken: int = 0
    attempts: Mapping[str, int] = field(default_factory=dict)
    in_flight: tuple[InFlight, ...] = ()
    exclude: tuple[str, ...] = ()
    approved: tuple[str, ...] = ()
    reusable: Plan | None = None
    pinned: PinnedPath | None = None
    faults: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: role -> provider in the run's plans so far (what a switch is measured against).
    roles_before: Mapping[str, str] = field(default_factory=dict)
    #: approvals a person refused in this run (their capabilities are in `exclude` too).
    rejected: tuple[Rejection, ...] = ()
    #: roles kept on a provider whose idempotency key is in doubt (the others are in `exclude` too).
    held: tuple[Hold, ...] = ()

    def digest(self, *, reusable: bool = True) -> str:
        """Return the digest of every input (the record's `inputs_digest`).

        Built from flat JSON (models by their own cached digests), so it costs
        microseconds per decision; `ido replay` recomputes it the same way.
        `reusable=False` digests the inputs as if they held no reusable plan
        (`record`: a plan the decision did not use had no say).
        """
        payload = [
            self.run_id, self.seq, self.decision_id, self.at, str(self.trigger), self.cause,
            self.parent_id, self.intent.intent, self.revisions.intent, self.revisions.capabilities,
            self.revisions.policies, self.strategy, self.state, self.inputs, _health_digest(self.health),
            self.now, self.spent, self.elapsed_s, self.steps_taken, self.attempts,
            [(f.capability, f.provides, f.step, f.plan_step, f.cost) for f in self.in_flight],
            list(self.exclude), list(self.approved), plan_fingerprint(self.reusable if reusable else None),
            pinned_fingerprint(self.pinned), list(self.faults), list(self.notes),
        ]
        # inputs added later join the payload only when present, so records written
        # before they existed keep their digests (and replay identical)
        if self.roles_before:
            payload.append(sorted(self.roles_before.items()))
        if self.rejected:
            payload.append([r.model_dump(mode="json") for r in self.rejected])
        if self.held:
            payload.append(["held", *(h.model_dump(mode="json") for h in self.held)])
        return hashlib.sha256(_DIGEST_JSON.encode(payload).encode()).hexdigest()[:16]


#: the digest's JSON (the text `json.dumps` with these options gives), its encoder made once:
#: `json.dumps` with options builds a new one per call. The payload is built afresh from
#: scalars, lists and dicts, so it cannot refer to itself: the circular-reference check,
#: half of the encoder's time, is left out (the text is the same).
_DIGEST_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False,
)


def plan_fingerprint(plan: Plan | None) -> Any:
    """Return the parts of a plan a decision depends on (steps, their order and numbers).

    Alternatives and explanations are outputs derived from these, so they are left out;
    it is cheap enough to compute on every decision.
    """
    if plan is None:
        return None
    return [
        plan.feasible, plan.cost, plan.latency_s, plan.success_probability, plan.score,
        [(s.capability, s.provides, s.after, s.cost, s.latency_s, s.success_probability, s.score,
          s.requires_approval) for s in plan.steps],
    ]


def pinned_fingerprint(pinned: PinnedPath | None) -> Any:
    """Return the static path's progress and its plan's fingerprint."""
    if pinned is None:
        return None
    return [
        plan_fingerprint(pinned.plan), sorted(pinned.done), sorted(pinned.failures.items()),
        sorted(pinned.not_before.items()), sorted(pinned.substitutes.items()),
        sorted((k, list(v)) for k, v in pinned.abandoned.items()),
        sorted((k, list(v)) for k, v in pinned.chains.items()),
    ]


_digests: dict[int, tuple[Any, str]] = {}


def model_digest(model: Any) -> str | None:
    """Return a model's content digest, computed once per object (plans are shared by decisions)."""
    if model is None:
        return None
    hit = _digests.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    if len(_digests) > 4096:
        _digests.clear()
    value = digest(model)
    _digests[id(model)] = (model, value)
    return value


_last_health: tuple[HealthSnapshot | None, str] = (None, "")


def _health_digest(snapshot: HealthSnapshot) -> str:
    # Snapshots are shared by many decisions until health changes: digest each once.
    global _last_health
    if _last_health[0] is not snapshot:
        _last_health = (snapshot, snapshot.digest())
    return _last_health[1]


def from_record(
    record: DecisionRecord, intent: Intent, capabilities: Mapping[str, Capability],
) -> DecisionInputs:
    """Return the inputs a stored record was decided from.

    `intent` and `capabilities` are the declarations at the record's revisions.
    Called by `ido replay`; `decide(from_record(r, intent), planner, policies)` must
    give `r` back (compare with `ido.engine.decide.comparable`).
    """
    return DecisionInputs(
        run_id=record.run_id, seq=record.seq, decision_id=record.decision_id, at=record.at,
        trigger=record.trigger, intent=intent, revisions=record.revisions,
        capabilities=capabilities,
        state=dict(record.state),
        health=HealthSnapshot(at=record.health_at, capabilities=dict(record.health)),
        now=record.now, strategy=record.strategy, cause=record.cause, parent_id=record.parent_id,
        inputs=dict(record.inputs), spent=record.remaining.spent,
        elapsed_s=record.remaining.elapsed_s, steps_taken=record.steps_taken,
        attempts=dict(record.attempts), in_flight=tuple(record.in_flight),
        exclude=tuple(record.exclude), approved=tuple(record.approved),
        reusable=(
            record.plan.model_copy(update={"alternatives": list(record.alternatives)})
            if record.plan_reused and record.plan is not None else None
        ),
        pinned=record.pinned,
        faults=tuple(record.faults), notes=tuple(record.notes),
        roles_before=dict(record.roles_before), rejected=tuple(record.rejected), held=tuple(record.held),
    )


def gap(intent: Intent, state: Mapping[str, Scalar]) -> dict[str, dict[str, Any]]:
    """Return goal fact -> {want, have} for every goal fact that does not hold in `state`."""
    out: dict[str, dict[str, Any]] = {}
    for fact, matcher in intent.goal.items():
        present = fact in state
        if not matcher_holds(matcher, state.get(fact), present):
            out[fact] = {"want": describe_matcher(matcher), "have": state.get(fact)}
    return out


def goal_holds(intent: Intent, state: Mapping[str, Scalar]) -> bool:
    """Return whether every goal fact holds in `state` (`gap` is empty), describing none of them."""
    return all(matcher_holds(matcher, state.get(fact), fact in state) for fact, matcher in intent.goal.items())


def remaining(inp: DecisionInputs) -> Remaining:
    """Return what is left of the intent's budget, deadline and max_steps."""
    c = inp.intent.constraints
    return construct(
        Remaining, budget=None if c.budget is None else round(c.budget - inp.spent, 9),
        deadline_s=None if c.deadline is None else round(c.deadline - inp.elapsed_s, 6),
        steps=None if c.max_steps is None else c.max_steps - inp.steps_taken,
        spent=inp.spent,
        elapsed_s=inp.elapsed_s,
    )


def committed(inp: DecisionInputs) -> float:
    """Return money spent plus the expected cost of steps in flight."""
    return inp.spent + sum(f.cost for f in inp.in_flight)


def guard(
    capability: Capability, cost: float, inp: DecisionInputs, policies: Any, extra_cost: float,
    extra_steps: int,
) -> str | None:
    """Return why `capability` may not be dispatched now, or None when it may.

    Checks (whatever the planner said): deny/allow_only policies, the
    `limit` policies (attempts per capability, cost and steps per run), the
    intent's budget (spent + in flight + this step) and max_steps. Called by
    every strategy for every step it is about to dispatch.
    """
    judgement = policies.judge(capability, inp.intent, inp.inputs)
    if judgement.denied_by:
        return f"{capability.name} denied by {', '.join(judgement.denied_by)}"
    limits = judgement.limits
    attempts = inp.attempts.get(capability.name, 0)
    if limits.attempts_per_capability is not None and attempts >= limits.attempts_per_capability:
        return (
            f"{capability.name} used {attempts} of {limits.attempts_per_capability} attempts "
            f"({limits.attempts_by})"
        )
    total = committed(inp) + extra_cost + cost
    if limits.cost_per_run is not None and total > limits.cost_per_run + EPSILON:
        return f"{capability.name} would bring the run's cost to {total:.4g} > {limits.cost_per_run:g} ({limits.cost_by})"
    steps = inp.steps_taken + extra_steps + 1
    if limits.steps_per_run is not None and steps > limits.steps_per_run:
        return f"{capability.name} would be step {steps} > {limits.steps_per_run} ({limits.steps_by})"
    budget = inp.intent.constraints.budget
    if budget is not None and total > budget + EPSILON:
        return f"{capability.name} would bring the run's cost to {total:.4g}, over the budget {budget:g}"
    max_steps = inp.intent.constraints.max_steps
    if max_steps is not None and steps > max_steps:
        return f"{capability.name} would be step {steps}, over max_steps {max_steps}"
    return None


def needs_approval(
    step: PlanStep, capability: Capability, inp: DecisionInputs, policies: Any,
) -> list[str]:
    """Return the require_approval policies a step is subject to (empty: none, or approved)."""
    if capability.name in inp.approved:
        return []
    names = list(step.approval_policies) if step.requires_approval else []
    for name in policies.judge(capability, inp.intent, inp.inputs).approval_by:
        if name not in names:
            names.append(name)
    return names


def expected_cost(step: PlanStep, capability: Capability, inp: DecisionInputs) -> float:
    """Return the cost to reserve for a step: the plan's figure, else observed, else declared.

    A substitute provider (static-fallback) is priced by its own numbers, never the plan's.
    """
    if step.cost and step.capability == capability.name:
        return float(step.cost)
    observed = inp.health.of(capability.name).cost
    return float(observed if observed is not None else capability.cost)


def record(inp: DecisionInputs, **outputs: Any) -> DecisionRecord:
    """Return the decision record of `inp` with the given outputs (action, chosen, plan ...)."""
    plan: Plan | None = outputs.get("plan")
    fields: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "decision_id": inp.decision_id,
        "run_id": inp.run_id,
        "seq": inp.seq,
        "parent_id": inp.parent_id,
        "at": inp.at,
        "trigger": inp.trigger,
        "action": "wait",
        "intent": inp.intent.intent,
        "revisions": inp.revisions,
        "state": dict(inp.state),
        "gap": gap(inp.intent, inp.state),
        "health": inp.health.capabilities,  # shared with the snapshot (both immutable in use)
        "health_digest": _health_digest(inp.health),
        "remaining": remaining(inp),
        "attempts": dict(inp.attempts),
        "chosen": [],
        "plan": None,
        "alternatives": plan.alternatives if plan is not None else [],  # shared with the plan
        "reason": "",
        "faults": list(inp.faults),
        "metrics": plan.metrics if plan is not None else _NO_METRICS,
        "predicted": {},
        "outcomes": [],
        "notes": list(inp.notes),
        # a reusable plan the decision did not use (the goal held, a bound ran out) is not
        # recorded, so replay cannot digest it: it had no say, leave it out here too
        "inputs_digest": inp.digest(reusable=bool(outputs.get("plan_reused"))),
        "strategy": inp.strategy,
        "cause": inp.cause,
        "now": inp.now,
        "inputs": dict(inp.inputs),
        "steps_taken": inp.steps_taken,
        "in_flight": list(inp.in_flight),
        "exclude": list(inp.exclude),
        "approved": list(inp.approved),
        "plan_reused": False,
        "pinned": inp.pinned,
        "health_at": inp.health.at,
        "dispatch": [],
        "wake_at": None,
        "approval": [],
        "roles_before": dict(inp.roles_before),
        "rejected": list(inp.rejected),
        "held": list(inp.held),
    }
    fields.update(outputs)
    fields["move"], fields["switches"], fields["alternatives"] = classify(
        fields, inp.roles_before, inp.attempts, inp.rejected, inp.held,
    )
    if plan is not None:
        fields["plan"] = lean(plan)
    if "predicted" not in outputs and plan is not None and outputs.get("dispatch"):
        predicted: dict[str, Scalar] = {}
        for i in outputs["dispatch"]:
            predicted.update(plan.steps[i].effects)
        fields["predicted"] = predicted
    return construct(DecisionRecord, **fields)


_NO_METRICS = SearchMetrics()
_lean: dict[int, tuple[Plan, Plan]] = {}


def lean(plan: Plan) -> Plan:
    """Return `plan` without its alternatives (records keep them once, in `alternatives`)."""
    if not plan.alternatives:
        return plan
    hit = _lean.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    if len(_lean) > 64:  # recent plans suffice; keeping thousands (with their alternatives) slows full GC passes
        _lean.clear()
    slim = copy_with(plan, alternatives=[])
    _lean[id(plan)] = (plan, slim)
    return slim


def without_steps(plan: Plan, done: set[int]) -> Plan:
    """Return `plan` minus the steps in `done`, with `after` indices renumbered.

    Used to reuse a plan after some of its steps succeeded as predicted.
    """
    keep = [i for i in range(len(plan.steps)) if i not in done]
    index = {old: new for new, old in enumerate(keep)}
    steps = [copy_with(plan.steps[i], after=[index[a] for a in plan.steps[i].after if a in index]) for i in keep]
    p = 1.0
    for s in steps:
        p *= s.success_probability
    finish: list[float] = []
    for s in steps:
        start = max((finish[a] for a in s.after), default=0.0)
        finish.append(start + s.latency_s)
    return copy_with(
        plan, steps=steps, cost=round(sum(s.cost for s in steps), 9), latency_s=max(finish, default=0.0),
        success_probability=p, score=round(sum(s.score for s in steps), 9),
    )


def earliest_retry(health: HealthSnapshot, now: float) -> float | None:
    """Return the earliest future time an open circuit admits a trial (None: none)."""
    best = math.inf
    for h in health.capabilities.values():
        if h.retry_at is not None and h.retry_at > now:
            best = min(best, h.retry_at)
    return None if math.isinf(best) else best
