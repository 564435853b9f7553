"""What a decision does to the run's course: its `move`, the roles it switches, named rejections.

`classify(inp, fields)` is called by `ido.engine.inputs.record` for every
record (so `decide` stays pure and `ido replay` re-derives the same move)
and returns the record's `move`, its `switches` and its alternatives with a
person's rejections named (verdict `rejected`: who, when, which policy
asked) instead of the planner's generic `excluded`. `plan_roles` says which
provider a record's plan uses per role; the engine keeps the union of those
as the run's `roles_before` for the next decision. Everything here reads
structured fields (actions, plans, attempts, verdicts), never message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ido.construct import construct
from ido.decisions import Hold, Move, PinnedPath, Rejection, Switch
from ido.planning.types import Alternative, Plan, Verdict

_BY_ACTION: dict[str, Move] = {
    "dispatch": "dispatch", "wait": "wait", "backoff": "wait", "block": "wait",
    "await_approval": "await_approval", "compensate": "compensate", "succeed": "succeed", "fail": "fail",
}


def plan_roles(
    plan: Plan | None, chosen: Sequence[str] = (), dispatch: Sequence[int] = (),
    pinned: PinnedPath | None = None,
) -> dict[str, str]:
    """Return role -> provider of a decision's feasible plan (a substitute wins).

    Static-fallback replaces a plan step's provider: `pinned.substitutes` holds
    those made so far, and `chosen[i]` is sent for `plan.steps[dispatch[i]]`.
    Called by `classify` and by the engine after each decision.
    """
    if plan is None or not plan.feasible:
        return {}
    roles = {s.provides: s.capability for s in plan.steps}
    if pinned is not None:
        for index, name in pinned.substitutes.items():
            if 0 <= index < len(plan.steps):
                roles[plan.steps[index].provides] = name
    for index, name in zip(dispatch, chosen, strict=False):
        if 0 <= index < len(plan.steps):
            roles[plan.steps[index].provides] = name
    return roles


def classify(
    fields: Mapping[str, Any], roles_before: Mapping[str, str], attempts: Mapping[str, int],
    rejected: Sequence[Rejection], held: Sequence[Hold] = (),
) -> tuple[Move, list[Switch], list[Alternative]]:
    """Return (move, switches, alternatives) of a record being built from its `fields`.

    `fields` are `DecisionRecord` field values (action, plan, chosen, dispatch,
    alternatives); `roles_before` the run's providers per role so far;
    `attempts` how often each capability was sent; `rejected` the approvals a
    person refused; `held` the roles kept on a provider whose key is in doubt
    (their other providers, excluded, are named as held). Alternatives are
    returned as given unless a rejected or held capability is among them.
    """
    # the list itself is returned when nothing changes: records share it with their plan,
    # and `ido.engine.records.RecordWriter` dumps each shared object once
    alternatives = _name_holds(_name_rejections(fields.get("alternatives") or [], rejected), held)
    action = str(fields.get("action", "wait"))
    chosen = list(fields.get("chosen") or [])
    now = plan_roles(fields.get("plan"), chosen, fields.get("dispatch") or [], fields.get("pinned"))
    switches = []
    for role, after in now.items():
        before = roles_before.get(role)
        if before is None or before == after:
            continue
        lost = next((a for a in alternatives if a.capability == before), None)
        switches.append(construct(
            Switch, role=role, before=before, after=after,
            verdict=str(lost.verdict) if lost is not None else "", reason=lost.reason if lost is not None else "",
        ))
    move = _BY_ACTION.get(action, "wait")
    if action in ("dispatch", "wait", "await_approval", "backoff", "block"):
        if switches:
            move = "switch"
        elif action == "dispatch" and any(attempts.get(name, 0) for name in chosen):
            move = "retry"
    return move, switches, alternatives


def _name_rejections(alternatives: list[Alternative], rejected: Sequence[Rejection]) -> list[Alternative]:
    if not rejected:
        return alternatives
    by_name = {r.capability: r for r in rejected}
    if not any(a.capability in by_name and a.verdict == Verdict.EXCLUDED for a in alternatives):
        return alternatives
    out = []
    for a in alternatives:
        r = by_name.get(a.capability)
        if r is not None and a.verdict == Verdict.EXCLUDED:
            a = a.model_copy(update={
                "verdict": Verdict.REJECTED, "reason": rejection_reason(r),
                "policies": list(r.policies) or list(a.policies),
            })
        out.append(a)
    return out


def _name_holds(alternatives: list[Alternative], held: Sequence[Hold]) -> list[Alternative]:
    """Return `alternatives` with the excluded other providers of a held role saying why."""
    if not held:
        return alternatives
    by_role = {h.role: h for h in held}

    def held_out(a: Alternative) -> Hold | None:
        h = by_role.get(a.provides)
        return h if h is not None and a.capability != h.capability and a.verdict == Verdict.EXCLUDED else None

    if not any(held_out(a) for a in alternatives):
        return alternatives
    out = []
    for a in alternatives:
        h = held_out(a)
        out.append(a if h is None else a.model_copy(update={"reason": h.reason()}))
    return out


def rejection_reason(r: Rejection) -> str:
    """Return "rejected by ana at 2026-...: large-payments-need-approval asked for approval"."""
    who = f" by {r.by}" if r.by else " by a person"
    when = f" at {r.at}" if r.at else ""
    asked = f" ({', '.join(r.policies)} asked for approval)" if r.policies else ""
    return f"rejected{who}{when}{asked}"
