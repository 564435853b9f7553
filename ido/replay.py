"""Replay a run: decide every recorded decision again from its recorded inputs, and compare.

Exact replay (`replay(store, run_id)`) rebuilds each decision's inputs from
its record (`ido.engine.inputs.from_record`), loads the intent, capabilities
and policies at the revisions the decision was made under from the journal,
calls the engine's pure decision function (`ido.engine.decide.decide`) and
compares the result with the record (`ido.engine.decide.comparable_pair`). A run
replays identically unless the journal was altered or ido itself now decides
differently; the first difference is named with what differs.

What-if replay (`replay(store, run_id, workspace=OTHER)`) decides each
recorded decision again under the declarations of another workspace (edited
policies or capabilities) and reports which decisions would change, so a
policy change can be reviewed against real history before it ships. Each
decision is replayed from its own recorded inputs (the state it saw); later
decisions are not re-simulated on the changed path.

Called by `ido replay` (`ido.cli.replay`) and from Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field
from pydantic import ValidationError as PydanticError

from ido.decisions import DecisionRecord, Trigger
from ido.engine.decide import comparable_pair, decide, from_record
from ido.errors import IdoError, JournalCorrupted, JournalError, UsageError
from ido.journal.base import Store
from ido.model import Capability, Intent, Policy
from ido.model.values import Frozen
from ido.planning.planner import Planner
from ido.policy import PolicySet

#: fields compared first, so the first difference named is the one that matters most.
_FIRST = ("action", "chosen", "dispatch", "wake_at", "alternatives", "plan", "reason")


class ReplayDifference(Frozen):
    """The first field in which a replayed decision differs from its record."""

    seq: int
    decision_id: str
    #: the differing field's path, e.g. `chosen` or `alternatives[2].verdict`.
    field: str
    recorded: Any = None
    replayed: Any = None
    message: str


class ReplayReport(Frozen):
    """The result of replaying a run: identical, or the decisions that differ."""

    run_id: str
    intent: str
    mode: Literal["exact", "what-if"]
    workspace: str | None = None
    decisions: int
    identical: bool
    differences: list[ReplayDifference] = Field(default_factory=list)
    #: seqs of decisions not made by the decision function (compensation steps), not re-derived.
    skipped: list[int] = Field(default_factory=list)


@dataclass
class _Declarations:
    """What one decision is replayed under: the intent, the registry, the policies, a planner."""

    intent: Intent
    capabilities: Mapping[str, Capability]
    policies: PolicySet
    planner: Planner


def replay(store: Store, run_id: str, *, workspace: Any = None) -> ReplayReport:
    """Return how the run's recorded decisions compare with deciding them again.

    With `workspace` (an `ido.workspace.Workspace`), decide under its current
    declarations instead of the recorded revisions (what-if). Raises
    UsageError for an unknown run, JournalError when a revision the run used is
    missing from the journal, JournalCorrupted when a record does not decode.
    """
    run = store.get_run(run_id=run_id)
    records = [_record(e.data, e.run_id, e.seq) for e in store.events(run_id=run.run_id, kinds=["decision"])]
    cache: dict[tuple[str, str, str], _Declarations] = {}
    what_if = _from_workspace(workspace, run.intent) if workspace is not None else None
    differences: list[ReplayDifference] = []
    skipped: list[int] = []
    for record in records:
        if record.trigger == Trigger.COMPENSATION:
            # Undo steps follow the fixed reverse order of `ido.engine.compensation`, not `decide`.
            skipped.append(record.seq)
            continue
        decl = what_if or _at_revisions(store, record, cache)
        difference = _compare(record, decl, what_if=what_if is not None)
        if difference is not None:
            differences.append(difference)
            if what_if is None:
                break  # exact replay names the first difference
    root = getattr(workspace, "root", None) if workspace is not None else None
    return ReplayReport(
        run_id=run.run_id, intent=run.intent, mode="what-if" if what_if else "exact",
        workspace=str(root) if root is not None else None,
        decisions=len(records), identical=not differences, differences=differences,
        skipped=skipped,
    )


def _record(data: Mapping[str, Any], run_id: str, seq: int) -> DecisionRecord:
    try:
        return DecisionRecord.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise JournalCorrupted(
            f"decision event {seq} of run {run_id} is not a decision record this ido reads: "
            f"{where}: {first.get('msg')}", run_id=run_id,
        ) from None


def _at_revisions(store: Store, record: DecisionRecord, cache: dict[tuple[str, str, str], _Declarations]) -> _Declarations:
    """Return the declarations at the record's revisions, read from the journal (cached)."""
    rev = record.revisions
    key = (rev.intent, rev.capabilities, rev.policies)
    if key not in cache:
        intent = Intent.model_validate(_revision(store, record, "intent", rev.intent))
        caps = [Capability.model_validate(c) for c in _items(_revision(store, record, "capabilities", rev.capabilities))]
        policies = PolicySet([Policy.model_validate(p) for p in _items(_revision(store, record, "policies", rev.policies))])
        cache[key] = _Declarations(intent, {c.name: c for c in caps}, policies, Planner(caps, policies))
    return cache[key]


def _revision(store: Store, record: DecisionRecord, kind: str, digest: str) -> Any:
    try:
        return store.get_revision(digest=digest)
    except JournalCorrupted:
        raise
    except JournalError:
        raise JournalError(
            f"decision {record.seq} of run {record.run_id} was made under {kind} revision {digest}, "
            "which the journal does not hold; it cannot be replayed exactly "
            "(replay it against a workspace with --against DIR instead)"
        ) from None


def _items(content: Any) -> list[Any]:
    if isinstance(content, Mapping):
        return list(content.values())
    return list(content or [])


def _from_workspace(workspace: Any, intent_name: str) -> _Declarations:
    intents = getattr(workspace, "intents", {})
    if intent_name not in intents:
        raise UsageError(
            f"the workspace has no intent {intent_name!r}, which the run pursued; "
            "what-if replay needs the same intent"
        )
    caps = list(getattr(workspace, "capabilities", {}).values())
    policies = PolicySet(list(getattr(workspace, "policies", {}).values()))
    return _Declarations(intents[intent_name], {c.name: c for c in caps}, policies, Planner(caps, policies))


def _compare(record: DecisionRecord, decl: _Declarations, *, what_if: bool) -> ReplayDifference | None:
    """Return how deciding `record` again differs from it, or None when it does not."""
    try:
        again, _ = decide(from_record(record, decl.intent, decl.capabilities), decl.planner, decl.policies)
    except IdoError as exc:
        return ReplayDifference(
            seq=record.seq, decision_id=record.decision_id, field="(decide)",
            message=f"decision {record.seq} could not be decided again: {exc}",
        )
    recorded, replayed = comparable_pair(record, again)
    if what_if:
        recorded = {k: recorded.get(k) for k in ("action", "chosen")}
        replayed = {k: replayed.get(k) for k in ("action", "chosen")}
    path = _first_difference(recorded, replayed)
    if path is None:
        return None
    field, old, new = path
    return ReplayDifference(
        seq=record.seq, decision_id=record.decision_id, field=field, recorded=old, replayed=new,
        message=_message(record, again, field, old, new, what_if=what_if),
    )


def _first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """Return (path, a's value, b's value) of the first place `a` and `b` differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in _FIRST if k in a or k in b] if not path else []
        keys += sorted((set(a) | set(b)) - set(keys))
        for key in keys:
            if key not in a or key not in b or a[key] != b[key]:
                if key in a and key in b:
                    found = _first_difference(a[key], b[key], f"{path}.{key}" if path else key)
                    if found is not None:
                        return found
                return (f"{path}.{key}" if path else key, a.get(key), b.get(key))
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b else (path, a, b)


def _message(record: DecisionRecord, again: DecisionRecord, field: str, old: Any, new: Any, *, what_if: bool) -> str:
    head = f"decision {record.seq}"
    if field in ("chosen", "action") or field.startswith("chosen["):
        now = ", ".join(again.chosen) or again.action
        then = ", ".join(record.chosen) or record.action
        verb = "would choose" if what_if else "chose"
        text = f"{head} {verb} {now}, the journal recorded {then}"
        why = _why_not_now(record, again)
        return f"{text}: {why}" if why else text
    if what_if:
        return f"{head}: {field} would be {_show(new)}, the journal recorded {_show(old)}"
    return (
        f"{head}: {field} is {_show(new)} on replay, the journal recorded {_show(old)}; "
        "the journal was altered or this ido decides differently from the one that recorded it"
    )


def _why_not_now(record: DecisionRecord, again: DecisionRecord) -> str:
    """Return why the recorded choice lost on replay (its new verdict and reason), if known."""
    for name in record.chosen:
        if name in again.chosen:
            continue
        alt = next((a for a in again.alternatives if a.capability == name), None)
        if alt is not None:
            return f"{name} is now {alt.verdict}: {alt.reason}"
        return f"{name} is no longer a candidate"
    if again.reason:
        return again.reason
    return ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
