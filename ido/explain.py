"""Explain a run after the fact: its decision timeline, and why a capability was not used.

`explain(store, run_id)` reads a run's `decision`, `outcome`, `fault`,
`revision`, `approval_*` and `status` events back into an `Explanation`: each
decision with its trigger, the gap it addressed, what was chosen, every
alternative with verdict and reason, the health and constraints that
mattered, and the outcomes of what it dispatched (hit or miss).
`why_not(store, run_id, capability)` answers, decision by decision, why that
capability was (not) used. Both are pure reads of the journal; the text renderers
(`render_explanation`, `render_why_not`) live in `ido.explain_text`. Called by `ido explain` / `ido why-not`
(`ido.cli.journal`) and from Python.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field
from pydantic import ValidationError as PydanticError

from ido.decisions import (
    DecisionRecord,
    Outcome,
    Remaining,
    Revisions,
    Switch,
    resolve_alternatives,
)
from ido.errors import JournalCorrupted, JournalError, UsageError
from ido.health import CapabilityHealth
from ido.journal.base import TERMINAL_STATUSES, Condition_, Event, Store
from ido.model.capability import Capability
from ido.model.conditions import describe_matcher, unmet
from ido.model.values import Frozen, Scalar
from ido.planning.types import Alternative, Verdict

#: Verdicts that mean a constraint of the intent (not a policy or health) decided.
_CONSTRAINT_VERDICTS = {
    Verdict.OVER_BUDGET: "budget",
    Verdict.TOO_SLOW: "deadline",
    Verdict.TOO_RISKY: "min_success",
    Verdict.OVER_LIMIT: "limit policy",
}


class ExplainedOutcome(Frozen):
    """What happened to one dispatched step, read from an `outcome` event."""

    seq: int
    capability: str
    step: int
    status: str
    hit: bool
    error: str | None = None
    error_kind: str | None = None
    latency_s: float = 0.0
    cost: float = 0.0
    facts: dict[str, Scalar] = Field(default_factory=dict)


class ApprovalAnswer(Frozen):
    """A person's answer to an approval request (an `approval_given` event)."""

    capability: str
    approved: bool
    by: str = ""
    #: ISO 8601 time of the answer.
    at: str = ""


class ExplainedDecision(Frozen):
    """One decision of the timeline, with everything `ido explain` shows about it."""

    seq: int
    event_seq: int
    decision_id: str
    parent_id: str | None = None
    at: str
    trigger: str
    #: what exactly triggered it, e.g. "payment.stripe-eu failed (server: 503)", when recorded.
    cause: str = ""
    action: str
    reason: str = ""
    #: the observed state the decision was made in.
    state: dict[str, Scalar] = Field(default_factory=dict)
    gap: dict[str, dict[str, Any]] = Field(default_factory=dict)
    chosen: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    #: health of the capabilities that mattered to this decision.
    health: dict[str, CapabilityHealth] = Field(default_factory=dict)
    remaining: Remaining = Field(default_factory=Remaining)
    #: constraints that excluded a capability here, e.g. "budget: payment.x".
    constraints: list[str] = Field(default_factory=list)
    revisions: Revisions | None = None
    faults: list[str] = Field(default_factory=list)
    outcomes: list[ExplainedOutcome] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    #: how the decision changed the run's course (None: an older journal's record).
    move: str | None = None
    #: roles whose provider changed from the run's previous plan, and why the old one lost.
    switches: list[Switch] = Field(default_factory=list)
    #: capabilities this decision actually sent (its `dispatched` events).
    dispatched: list[str] = Field(default_factory=list)
    #: capabilities sent earlier and still without an outcome when it decided.
    in_flight: list[str] = Field(default_factory=list)
    #: the require_approval policies its chosen step waits on (action await_approval).
    approval: list[str] = Field(default_factory=list)
    #: the person's answer to this decision's approval request, if any.
    answer: ApprovalAnswer | None = None


class RunFault(Frozen):
    """An injected fault that touched the run (a `fault` event)."""

    seq: int
    fault: str
    capability: str | None = None


class ExplainedMove(Frozen):
    """One change of course of the run (a switch, retry, wait, approval wait, compensation, failure)."""

    seq: int
    move: str
    #: what it did, e.g. "payment: payment.stripe-eu -> payment.adyen-eu" or "retry payment.x".
    what: str
    #: why, from the record's structured fields (the old provider's verdict, the failed outcome).
    why: str = ""
    #: the record's trigger cause, e.g. "payment.stripe-eu failed (server: 503)".
    cause: str = ""


class Explanation(Frozen):
    """A run's decision timeline: what `ido explain` prints and `--json` emits."""

    run_id: str
    intent: str
    status: str
    created_at: float = 0.0
    updated_at: float = 0.0
    cost: float = 0.0
    steps_executed: int = 0
    conditions: list[Condition_] = Field(default_factory=list)
    decisions: list[ExplainedDecision] = Field(default_factory=list)
    faults: list[RunFault] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    #: one sentence: how the run ended and the moves that mattered, e.g. the provider it switched.
    summary: str = ""
    #: the run's changes of course, in order (plain dispatches and the success are not moves).
    moves: list[ExplainedMove] = Field(default_factory=list)


#: What became of a chosen capability at one decision (`WhyNotReason.status`).
ChosenStatus = Literal["planned", "waiting_approval", "rejected", "in_flight", "succeeded", "failed", ""]


class WhyNotReason(Frozen):
    """The capability's verdict and reason at one decision (`seq` None: about the whole run)."""

    seq: int | None
    verdict: str
    reason: str
    decision_id: str | None = None
    #: for a chosen capability: planned (not sent), waiting_approval (asked, never sent),
    #: rejected (a person said no), in_flight (sent, no outcome yet), succeeded or failed.
    status: ChosenStatus = ""
    #: the status in words, e.g. "sent and failed (server: 503)" or "waiting for a person's approval".
    what: str = ""


class WhyNot(Frozen):
    """Decision by decision, why `capability` was (not) used in the run."""

    run_id: str
    capability: str
    provides: str | None = None
    summary: str
    reasons: list[WhyNotReason] = Field(default_factory=list)


def explain(store: Store, run_id: str) -> Explanation:
    """Return the decision timeline of the run `run_id` (a unique prefix works).

    Raises UsageError for an unknown or ambiguous run id, JournalCorrupted when
    one of its events does not decode.
    """
    run = store.get_run(run_id=run_id)
    events = store.events(run_id=run.run_id)
    decisions: list[ExplainedDecision] = []
    by_id: dict[str, int] = {}
    embedded: dict[int, list[ExplainedOutcome]] = {}  # outcomes written inside the record
    outcomes: dict[int, list[ExplainedOutcome]] = {}  # outcome events naming the decision
    faults: list[RunFault] = []
    notes: list[str] = []
    stored_sets: dict[str, Any] = {}  # alternatives stored once, shared by many decisions
    sent: dict[int, list[str]] = {}  # decision index -> capabilities its `dispatched` events name
    answers: dict[int, ApprovalAnswer] = {}
    asked: dict[int, list[str]] = {}  # policies named by `approval_requested` (older records lack `approval`)
    any_dispatched = False
    for event in events:
        if event.kind == "dispatched":
            any_dispatched = True
            index = by_id.get(str(event.data.get("decision_id", "")))
            if index is not None:
                sent.setdefault(index, []).append(str(event.data.get("capability", "?")))
        if event.kind == "approval_requested":
            index = by_id.get(str(event.data.get("decision_id", "")))
            if index is not None and event.data.get("policies"):
                asked[index] = [str(p) for p in event.data["policies"]]
        if event.kind == "approval_given":
            index = by_id.get(str(event.data.get("decision_id", "")))
            if index is not None:
                answers[index] = ApprovalAnswer(
                    capability=str(event.data.get("capability", "?")), approved=bool(event.data.get("approved")),
                    by=str(event.data.get("by") or ""), at=_iso(event.at),
                )
        if event.kind == "decision":
            record = _decision(event, store, stored_sets)
            by_id[record.decision_id] = len(decisions)
            embedded[len(decisions)] = [_from_outcome(event.seq, o) for o in record.outcomes]
            outcomes[len(decisions)] = []
            decisions.append(_explained(record, event.seq))
        elif event.kind == "outcome":
            decision_id, outcome = _outcome(event)
            index = by_id.get(decision_id or "", _last_choosing(decisions, outcome.capability))
            if index is not None:
                outcomes[index].append(_from_outcome(event.seq, outcome))
            else:
                notes.append(f"event {event.seq}: outcome of {outcome.capability} matches no decision")
        elif event.kind == "fault":
            faults.append(RunFault(
                seq=event.seq, fault=str(event.data.get("fault", "?")),
                capability=event.data.get("capability"),
            ))
        else:
            note = _note(event)
            if note:
                notes.append(note)
    decisions = [
        d.model_copy(update={
            "outcomes": outcomes[i] or embedded[i],
            # a journal without `dispatched` events (older writers): what a dispatch chose was sent
            "dispatched": sent.get(i, []) if any_dispatched
            else list(d.chosen) if d.action in ("dispatch", "compensate") else [],
            "answer": answers.get(i),
            "approval": d.approval or asked.get(i, []),
        })
        for i, d in enumerate(decisions)
    ]
    moves = _moves(decisions)
    return Explanation(
        run_id=run.run_id, intent=run.intent, status=run.status, created_at=run.created_at,
        updated_at=run.updated_at, cost=run.cost, steps_executed=run.steps_executed,
        conditions=run.conditions, decisions=decisions, faults=faults, notes=notes,
        summary=_run_summary(run.run_id, run.status, run.steps_executed, run.cost, decisions, moves, faults),
        moves=moves,
    )


def why_not(store: Store, run_id: str, capability: str) -> WhyNot:
    """Return, decision by decision, the verdict and reason for `capability` in the run.

    A capability that never appears among a decision's alternatives was either
    never a candidate (its role was needed but its preconditions never held) or
    its role was never needed; its declaration comes from the run's
    capabilities revisions. Raises UsageError for an unknown run or a name that
    is no capability of the run (with a did-you-mean).
    """
    explanation = explain(store, run_id)
    declared = _declarations(store, explanation)
    seen = {a.capability for d in explanation.decisions for a in d.alternatives}
    seen |= {c for d in explanation.decisions for c in d.chosen}
    if capability not in declared and capability not in seen:
        known = sorted(set(declared) | seen)
        close = difflib.get_close_matches(capability, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else (
            f"; the run's capabilities are: {', '.join(known[:12])}" if known else ""
        )
        raise UsageError(f"{capability!r} is not a capability of run {explanation.run_id}{hint}")
    decl = declared.get(capability)
    role = decl.provides if decl else _role_seen(explanation, capability)
    weighed = [d for d in explanation.decisions if d.alternatives or d.chosen]
    reasons: list[WhyNotReason] = []
    running = explanation.status not in TERMINAL_STATUSES
    for d in weighed:
        alt = next((a for a in d.alternatives if a.capability == capability), None)
        chosen = capability in d.chosen or (alt is not None and alt.verdict == Verdict.CHOSEN)
        status, what = _chosen_status(d, capability, running) if chosen else ("", "")
        if alt is not None:
            reasons.append(WhyNotReason(
                seq=d.seq, verdict=str(alt.verdict), reason=alt.reason, decision_id=d.decision_id,
                status=status, what=what,
            ))
        elif chosen:
            reasons.append(WhyNotReason(
                seq=d.seq, verdict=Verdict.CHOSEN, reason=d.reason or "chosen", decision_id=d.decision_id,
                status=status, what=what,
            ))
    if reasons:
        summary = _summary(reasons)
    else:
        summary, verdict = _never(explanation, weighed, decl, role)
        reasons = [
            WhyNotReason(seq=d.seq, verdict=verdict, reason=summary, decision_id=d.decision_id)
            for d in weighed
        ] or [WhyNotReason(seq=None, verdict=verdict, reason=summary)]
    return WhyNot(
        run_id=explanation.run_id, capability=capability, provides=role,
        summary=summary, reasons=reasons,
    )


# -- the summary and the moves ----------------------------------------------------------------

#: moves `ido explain` lists: changes of course, not plain progress.
_LISTED_MOVES = ("switch", "retry", "wait", "await_approval", "compensate", "fail")
#: the move of an older record (written before moves were recorded), from its action alone.
_MOVE_OF_ACTION = {"wait": "wait", "backoff": "wait", "block": "wait", "await_approval": "await_approval",
                   "compensate": "compensate", "fail": "fail"}


def _moves(decisions: Sequence[ExplainedDecision]) -> list[ExplainedMove]:
    """Return the run's changes of course, each with what it did and why (structured fields only)."""
    out: list[ExplainedMove] = []
    previous: ExplainedDecision | None = None
    for d in decisions:
        move = d.move or _MOVE_OF_ACTION.get(d.action, "")
        if move in _LISTED_MOVES:
            what, why = _move_words(d, move, previous)
            if move == "wait" and out and out[-1].move == "wait" and out[-1].what == what:
                previous = d
                continue  # the same wait decided again (a health change, a backoff) says nothing new
            out.append(ExplainedMove(seq=d.seq, move=move, what=what, why=why, cause=d.cause))
        previous = d
    return out


def _move_words(d: ExplainedDecision, move: str, previous: ExplainedDecision | None) -> tuple[str, str]:
    if move == "switch":
        what = "; ".join(f"{s.role}: {s.before} -> {s.after}" for s in d.switches)
        why = "; ".join(_switch_why(d, s, previous) for s in d.switches)
        if d.action == "await_approval":
            what += f" (then waits for approval of {', '.join(d.chosen)})"
        return what, why
    if move == "retry":
        again = list(d.dispatched or d.chosen)
        return f"retry {', '.join(again)}", _failed_before(previous, again)
    if move == "await_approval":
        asked = f" (asked by {', '.join(d.approval)})" if d.approval else ""
        return f"wait for a person to approve {', '.join(d.chosen)}{asked}", ""
    if move == "wait":
        if d.in_flight:
            return f"wait for {', '.join(d.in_flight)}", "steps in flight, nothing else can start"
        return f"{d.action}", d.reason
    if move == "compensate":
        return f"compensate: {', '.join(d.chosen)}" if d.chosen else "compensate", d.reason
    return move, d.reason


def _switch_why(d: ExplainedDecision, s: Switch, previous: ExplainedDecision | None) -> str:
    """Return why the old provider of a switched role lost, from outcomes and its verdict."""
    failed = _failed_before(previous, [s.before])
    if failed:
        return failed
    if s.verdict:
        reason = s.reason.removeprefix(f"{s.verdict}: ")  # reasons repeat their verdict first
        if s.verdict == Verdict.REJECTED:
            return f"{s.before} was {reason}"
        return f"{s.before} was {s.verdict.replace('_', ' ')}" + (f" ({reason})" if reason else "")
    return f"{s.before} was no longer considered"


def _failed_before(previous: ExplainedDecision | None, capabilities: Sequence[str]) -> str:
    if previous is None:
        return ""
    for o in previous.outcomes:
        if o.capability in capabilities and o.status == "failed":
            error = f" ({o.error_kind + ': ' if o.error_kind else ''}{o.error})" if o.error else ""
            return f"{o.capability} failed{error}"
    return ""


def _short(capability: str, role: str) -> str:
    """Return "stripe-eu" for payment.stripe-eu in role payment (the provider, in a sentence)."""
    return capability.removeprefix(f"{role}.") if capability != role else capability


def _run_summary(
    run_id: str, status: str, steps: int, cost: float, decisions: Sequence[ExplainedDecision],
    moves: Sequence[ExplainedMove], faults: Sequence[RunFault],
) -> str:
    """Return one sentence: how the run ended, which providers it switched and why, what it retried."""
    head = f"Run {run_id} {status.replace('_', ' ')} after {steps} step{'s' if steps != 1 else ''} (cost {cost:g})"
    clauses: list[str] = []
    by_seq = {d.seq: d for d in decisions}
    seen: set[tuple[str, str, str]] = set()
    retried: dict[str, list[int]] = {}
    for m in moves:
        d = by_seq.get(m.seq)
        if m.move == "switch" and d is not None:
            previous = next((p for p in reversed(decisions) if p.seq < m.seq), None)
            for s in d.switches:
                if (s.role, s.before, s.after) in seen:
                    continue
                seen.add((s.role, s.before, s.after))
                clauses.append(
                    f"it switched {s.role} providers from {_short(s.before, s.role)} to {_short(s.after, s.role)} "
                    f"at decision #{m.seq} because {_switch_why(d, s, previous)}"
                )
        elif m.move == "retry" and d is not None:
            for name in d.dispatched or d.chosen:
                retried.setdefault(name, []).append(m.seq)
        elif m.move == "compensate" and not any("undid" in c for c in clauses):
            clauses.append("it undid its completed steps")
    for name, seqs in retried.items():
        times = f"{len(seqs)} times" if len(seqs) > 1 else "once"
        clauses.append(f"it retried {name} {times} (decision{'s' if len(seqs) > 1 else ''} "
                       f"{', '.join(f'#{q}' for q in seqs)})")
    waits = [m for m in moves if m.move == "await_approval"]
    if waits:
        clauses.append(f"it waited for a person's approval {len(waits)} time{'s' if len(waits) != 1 else ''}")
    if not clauses:
        clauses.append("it followed its plan without switching or retrying" if decisions else "no decision yet")
    touched = sorted({f.fault for f in faults})
    tail = f"; injected fault{'s' if len(touched) != 1 else ''} in force: {', '.join(touched)}" if touched else ""
    return f"{head}: {'; '.join(clauses)}{tail}."


# -- reading events ----------------------------------------------------------------------------

def _decision(event: Event, store: Store | None = None, stored_sets: dict[str, Any] | None = None) -> DecisionRecord:
    data: Any = event.data
    if store is not None and "alternatives_ref" in data:
        cache = stored_sets if stored_sets is not None else {}

        def get(digest: str) -> Any:
            if digest not in cache:
                try:
                    cache[digest] = store.get_revision(digest=digest)
                except JournalError:
                    raise JournalCorrupted(
                        f"decision event {event.seq} of run {event.run_id} refers to alternatives "
                        f"{digest}, which the journal does not hold", run_id=event.run_id,
                    ) from None
            return cache[digest]

        data = resolve_alternatives(data, get)
    try:
        return DecisionRecord.model_validate(data)
    except PydanticError as exc:
        raise JournalCorrupted(
            f"decision event {event.seq} of run {event.run_id} is not a decision record this ido "
            f"reads: {_first(exc)}", run_id=event.run_id,
        ) from None


def _outcome(event: Event) -> tuple[str | None, Outcome]:
    data = {k: v for k, v in event.data.items() if k in Outcome.model_fields}
    try:
        return event.data.get("decision_id"), Outcome.model_validate(data)
    except PydanticError as exc:
        raise JournalCorrupted(
            f"outcome event {event.seq} of run {event.run_id} does not decode: {_first(exc)}",
            run_id=event.run_id,
        ) from None


def _first(exc: PydanticError) -> str:
    err = exc.errors()[0]
    return f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"


def _explained(record: DecisionRecord, event_seq: int) -> ExplainedDecision:
    constraints = [
        f"{_CONSTRAINT_VERDICTS[a.verdict]}: {a.capability}"
        for a in record.alternatives if a.verdict in _CONSTRAINT_VERDICTS
    ]
    return ExplainedDecision(
        seq=record.seq, event_seq=event_seq, decision_id=record.decision_id,
        parent_id=record.parent_id, at=record.at, trigger=str(record.trigger),
        cause=str(getattr(record, "cause", "") or ""),
        action=record.action, reason=record.reason, state=record.state, gap=record.gap, chosen=record.chosen,
        alternatives=record.alternatives, health=record.health, remaining=record.remaining,
        constraints=constraints, revisions=record.revisions, faults=record.faults,
        notes=record.notes, move=record.move, switches=record.switches, approval=record.approval,
        in_flight=[f.capability for f in record.in_flight],
    )


def _from_outcome(seq: int, o: Outcome) -> ExplainedOutcome:
    return ExplainedOutcome(
        seq=seq, capability=o.capability, step=o.step, status=o.status, hit=o.hit, error=o.error,
        error_kind=o.error_kind, latency_s=o.latency_s, cost=o.cost, facts=o.facts,
    )


def _last_choosing(decisions: list[ExplainedDecision], capability: str) -> int | None:
    """Return the index of the latest decision that chose `capability` (outcomes without an id)."""
    for i in range(len(decisions) - 1, -1, -1):
        if capability in decisions[i].chosen:
            return i
    return None


def _note(event: Event) -> str | None:
    data = event.data
    if event.kind == "status":
        return f"event {event.seq}: status {data.get('status', '?')}"
    if event.kind == "revision":
        return f"event {event.seq}: now under {data.get('kind', '?')} revision {data.get('digest', '?')}"
    if event.kind == "approval_requested":
        return f"event {event.seq}: approval requested for {data.get('capability', '?')}" + (
            f" (policies: {', '.join(data['policies'])})" if data.get("policies") else ""
        )
    if event.kind == "approval_given":
        answer = "approved" if data.get("approved") else "rejected"
        by = f" by {data['by']}" if data.get("by") else ""
        return f"event {event.seq}: {answer}{by}" + (f": {data['note']}" if data.get("note") else "")
    return None


# -- why-not -----------------------------------------------------------------------------------

def _declarations(store: Store, explanation: Explanation) -> dict[str, Capability]:
    """Return the capabilities of every capabilities revision the run used, by name (newest wins)."""
    digests: list[str] = []
    run = store.get_run(run_id=explanation.run_id)
    if "capabilities" in run.revisions:
        digests.append(run.revisions["capabilities"])
    digests += [d.revisions.capabilities for d in explanation.decisions if d.revisions]
    found: dict[str, Capability] = {}
    for digest in dict.fromkeys(digests):
        try:
            content = store.get_revision(digest=digest)
        except JournalError:
            continue  # an old journal without revision content: fall back on the records
        for item in _capability_items(content):
            try:
                cap = Capability.model_validate(item)
            except PydanticError:
                continue
            found[cap.name] = cap
    return found


def _capability_items(content: Any) -> list[Any]:
    """Return the capability mappings of a revision, whichever container the engine stored."""
    if isinstance(content, dict) and isinstance(content.get("capabilities"), list | dict):
        content = content["capabilities"]
    if isinstance(content, dict):
        return [
            v if "name" in v else {"name": k, **v}
            for k, v in content.items() if isinstance(v, dict)
        ]
    return [c for c in content if isinstance(c, dict)] if isinstance(content, list) else []


def _role_seen(explanation: Explanation, capability: str) -> str | None:
    for d in explanation.decisions:
        for a in d.alternatives:
            if a.capability == capability:
                return a.provides
    return None


def _chosen_status(d: ExplainedDecision, capability: str, running: bool) -> tuple[ChosenStatus, str]:
    """Return (status, words) for a capability decision `d` chose: what became of it there."""
    if d.action == "await_approval" and capability in d.chosen and capability not in d.dispatched:
        asked = f" ({', '.join(d.approval)})" if d.approval else ""
        a = d.answer
        if a is not None and a.capability == capability and not a.approved:
            who = f" by {a.by}" if a.by else ""
            return "rejected", f"asked for approval{asked}, rejected{who} at {a.at}; never sent"
        if a is not None and a.capability == capability:
            who = f" by {a.by}" if a.by else ""
            return "waiting_approval", f"asked for approval{asked}, approved{who} at {a.at}; sent by a later decision"
        if not running:
            return "waiting_approval", f"asked for approval{asked}, never answered; never sent"
        return "waiting_approval", f"waiting for a person's approval{asked}; not sent"
    if capability in d.dispatched:
        outcome = next((o for o in d.outcomes if o.capability == capability), None)
        if outcome is None:
            return ("in_flight", "sent, no outcome yet") if running else ("in_flight", "sent, no outcome recorded")
        if outcome.status == "succeeded":
            return "succeeded", "sent and succeeded"
        error = f" ({outcome.error_kind + ': ' if outcome.error_kind else ''}{outcome.error})" if outcome.error else ""
        return "failed", f"sent and failed{error}"
    if capability in d.in_flight:
        return "in_flight", "sent earlier, in flight while this decision was made"
    return "planned", "in the chosen plan, not sent by this decision"


#: how the summary names each status, in the order it lists them.
_STATUS_WORDS: dict[str, str] = {
    "succeeded": "dispatched and succeeded at",
    "failed": "dispatched and failed at",
    "in_flight": "in flight at",
    "waiting_approval": "waiting for a person's approval (never sent) at",
    "rejected": "rejected by a person (never sent) at",
    "planned": "in the chosen plan (not dispatched) at",
}


def _summary(reasons: list[WhyNotReason]) -> str:
    parts = []
    for status, words in _STATUS_WORDS.items():
        seqs = [r.seq for r in reasons if r.status == status]
        if seqs:
            parts.append(f"{words} decision{'s' if len(seqs) > 1 else ''} {_seqs(seqs)}")
    others = [r for r in reasons if not r.status]
    if others:
        verdicts = sorted({r.verdict for r in others})
        parts.append(f"not chosen at decision{'s' if len(others) > 1 else ''} {_seqs([r.seq for r in others])} ({', '.join(verdicts)})")
    return "; ".join(parts)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds") if epoch else ""


def _seqs(seqs: Sequence[int | None]) -> str:
    return ", ".join(str(s) for s in seqs if s is not None)


def _never(
    explanation: Explanation, weighed: list[ExplainedDecision],
    decl: Capability | None, role: str | None,
) -> tuple[str, str]:
    """Return (reason, verdict) for a capability no decision listed."""
    roles = {a.provides for d in weighed for a in d.alternatives}
    if role is None or role not in roles:
        return f"its role {role or '(unknown)'} was never needed", str(Verdict.NOT_NEEDED)
    reason = "never a candidate: its preconditions never held"
    if decl is not None and decl.requires:
        wanted = ", ".join(f"{f} {describe_matcher(m)}" for f, m in decl.requires.items())
        blocking = sorted({
            fact for d in explanation.decisions
            for fact in unmet(decl.requires, d.state)
        })
        reason += f" (it requires {wanted}" + (
            f"; unmet: {', '.join(blocking)})" if blocking else ")"
        )
    return reason, str(Verdict.PRECONDITION)




__all__ = [
    "ApprovalAnswer",
    "ExplainedDecision",
    "ExplainedMove",
    "ExplainedOutcome",
    "Explanation",
    "RunFault",
    "WhyNot",
    "WhyNotReason",
    "explain",
    "why_not",
]
