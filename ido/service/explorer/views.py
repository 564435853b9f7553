"""What the explorer's pages show, computed from an `Explanation` (structured fields only).

`outcome_sentence` is the run page's one-line header ("succeeded after
switching payment from stripe-eu (circuit open) to adyen-eu; cost 0.83;
2.2 s"); `role_groups` groups one decision's alternatives by role, with those
that repeat the previous decision's verdict collapsed; `switched` says whether
a run changed providers. Nothing here parses message text: the sentence is
built from `switches`, outcomes' `error_kind`, alternatives' `numbers` and
verdicts. Called by `ido.service.explorer.pages` and its fragments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ido.decisions import Switch
from ido.explain import ExplainedDecision, Explanation
from ido.journal.base import TERMINAL_STATUSES
from ido.planning.types import Alternative, Verdict

#: Verdicts shown first in a role (most telling first); the rest keep their order.
_VERDICT_ORDER = {v: i for i, v in enumerate([
    Verdict.CHOSEN, Verdict.UNHEALTHY, Verdict.DENIED, Verdict.REJECTED, Verdict.OVER_BUDGET,
    Verdict.TOO_SLOW, Verdict.TOO_RISKY, Verdict.OVER_LIMIT, Verdict.PRECONDITION,
    Verdict.COSTLIER, Verdict.EXCLUDED, Verdict.NOT_NEEDED,
])}


@dataclass
class RoleGroup:
    """One role's alternatives at a decision: those worth reading, and repeats of the previous decision."""

    role: str
    shown: list[Alternative] = field(default_factory=list)
    #: same capability and verdict as at the previous decision (collapsed on the page)
    repeated: list[Alternative] = field(default_factory=list)

    @property
    def chosen(self) -> list[str]:
        """Return the capabilities chosen for this role."""
        return [a.capability for a in (*self.shown, *self.repeated) if a.verdict == Verdict.CHOSEN]

    @property
    def needed(self) -> bool:
        """Return whether any alternative of the role was weighed (not all `not_needed`)."""
        return any(a.verdict != Verdict.NOT_NEEDED for a in (*self.shown, *self.repeated))


def role_groups(decision: ExplainedDecision, previous: ExplainedDecision | None) -> list[RoleGroup]:
    """Return the decision's alternatives by role: roles with a choice first, unneeded roles last.

    An alternative whose capability had the same verdict at `previous` is a
    repeat (the page collapses them); a chosen one is always shown.
    """
    before = {a.capability: a.verdict for a in previous.alternatives} if previous is not None else {}
    groups: dict[str, RoleGroup] = {}
    for alt in sorted(decision.alternatives, key=lambda a: _VERDICT_ORDER.get(a.verdict, 99)):
        group = groups.setdefault(alt.provides, RoleGroup(alt.provides))
        if alt.verdict != Verdict.CHOSEN and before.get(alt.capability) == alt.verdict:
            group.repeated.append(alt)
        else:
            group.shown.append(alt)
    return sorted(groups.values(), key=lambda g: (not g.chosen, not g.needed, g.role))


def switched(explanation: Explanation) -> bool:
    """Return whether any decision of the run switched a role's provider."""
    return any(d.switches for d in explanation.decisions)


def short(capability: str, role: str) -> str:
    """Return "stripe-eu" for payment.stripe-eu in role payment (a provider, in a sentence)."""
    return capability.removeprefix(f"{role}.") if capability != role else capability


def why_switched(decision: ExplainedDecision, switch: Switch, previous: ExplainedDecision | None) -> str:
    """Return a few words on why the old provider lost: its failed outcome's kind, its circuit, or its verdict."""
    if previous is not None:
        for outcome in previous.outcomes:
            if outcome.capability == switch.before and outcome.status == "failed":
                return f"failed: {outcome.error_kind}" if outcome.error_kind else "failed"
    old = next((a for a in decision.alternatives if a.capability == switch.before), None)
    if old is not None and old.verdict == Verdict.UNHEALTHY:
        circuit = old.numbers.get("circuit")
        if circuit in ("open", "half_open"):
            return f"circuit {str(circuit).replace('_', '-')}"
        return "unhealthy"
    if old is not None and old.verdict == Verdict.DENIED and old.policies:
        return f"denied by {', '.join(old.policies)}"
    if switch.verdict:
        return switch.verdict.replace("_", " ")
    return "no longer considered"


def duration_s(explanation: Explanation) -> float:
    """Return the run's wall time so far in seconds (its row's last update minus its creation)."""
    return max(0.0, explanation.updated_at - explanation.created_at)


def outcome_sentence(explanation: Explanation) -> str:
    """Return the run's outcome in one sentence, e.g.
    "succeeded after switching payment from stripe-eu (circuit open) to adyen-eu; cost 0.83; 2.2 s"."""
    status = explanation.status.replace("_", " ")
    seen: set[tuple[str, str, str]] = set()
    clauses: list[str] = []
    previous: ExplainedDecision | None = None
    for d in explanation.decisions:
        for s in d.switches:
            if (s.role, s.before, s.after) not in seen:
                seen.add((s.role, s.before, s.after))
                clauses.append(f"{s.role} from {short(s.before, s.role)} ({why_switched(d, s, previous)}) "
                               f"to {short(s.after, s.role)}")
        previous = d
    running = explanation.status not in TERMINAL_STATUSES
    head = status
    last = explanation.decisions[-1] if explanation.decisions else None
    if explanation.status == "waiting_approval" and last is not None and last.chosen:
        head = f"waiting for a person to approve {', '.join(last.chosen)}"
        if last.approval:
            head += f" (asked by {', '.join(last.approval)})"
    if clauses:
        head += (" after switching " if not running else ", switched ") + " and ".join(clauses)
    retries = sum(1 for d in explanation.decisions if d.move == "retry")
    if retries:
        head += f"; {retries} retr{'y' if retries == 1 else 'ies'}"
    return f"{head}; cost {explanation.cost:.2f}; {duration_s(explanation):.1f} s"


def changed_seqs(differences: Sequence[object]) -> list[int]:
    """Return the decision seqs a what-if report says would change (each once, in order)."""
    seqs: list[int] = []
    for d in differences:
        seq = getattr(d, "seq", None)
        if isinstance(seq, int) and seq not in seqs:
            seqs.append(seq)
    return seqs
