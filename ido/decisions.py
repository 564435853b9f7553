"""Decision records: one per choice the engine makes, with every alternative and why it lost.

The engine (`ido.engine`) builds a `DecisionRecord` for every choice (start,
after each outcome, on health change, on approval, on resume), the journal
stores it, and `ido explain` / `why-not` / `replay` read it back. Records are
versioned (`format_version`) and never contain secrets: inputs marked secret
and HTTP headers are redacted before a record is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from ido.health import CapabilityHealth
from ido.model.values import Frozen, Scalar
from ido.planning.types import Alternative, Plan, SearchMetrics

FORMAT_VERSION = 1


class Trigger(StrEnum):
    """What made the engine decide."""

    START = "start"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    HEALTH_CHANGED = "health_changed"
    DEADLINE_PRESSURE = "deadline_pressure"
    APPROVAL = "approval"
    RESUME = "resume"
    REVISION_CHANGED = "revision_changed"
    COMPENSATION = "compensation"
    #: someone asked the run to stop (`ido cancel`); the cause names who.
    CANCEL = "cancel"


Action = Literal[
    "dispatch",  # run the chosen step(s) now
    "wait",  # steps in flight; nothing new to start
    "backoff",  # wait for a circuit to half-open, then replan
    "await_approval",  # a chosen step needs a person's approval
    "block",  # no admissible plan now; wait for health to change
    "succeed",  # the goal holds
    "fail",  # deadline or budget exhausted, or no plan can ever exist
    "compensate",  # undo completed steps in reverse order
]

#: How a decision changes the run's course, read by `ido run`'s lines and `ido explain`'s
#: moves (never parsed from `reason`). Terminal and compensating actions name themselves;
#: otherwise `switch` wins (some role's provider differs from the run's previous plan:
#: `switches` say which and why), then `retry` (it sends again a capability this run already
#: sent), then the action: `dispatch`, `await_approval`, or `wait` (nothing sent: steps in
#: flight, a backoff, or blocked until health changes).
Move = Literal[
    "dispatch", "switch", "retry", "wait", "await_approval", "compensate", "succeed", "fail",
]


class Revisions(Frozen):
    """Content digests of the declarations a decision was made under."""

    intent: str
    capabilities: str
    policies: str


class Remaining(Frozen):
    """What was left of the constraints when the decision was made (None: unbounded)."""

    budget: float | None = None
    deadline_s: float | None = None
    steps: int | None = None
    spent: float = 0.0
    elapsed_s: float = 0.0


class Outcome(Frozen):
    """What happened to a dispatched step, and whether it matched the prediction."""

    capability: str
    step: int
    status: Literal["succeeded", "failed"]
    #: the prediction held: the step succeeded and its effects were observed.
    hit: bool
    error: str | None = None
    error_kind: str | None = None
    latency_s: float = 0.0
    cost: float = 0.0
    facts: dict[str, Scalar] = Field(default_factory=dict)
    idempotency_key: str = ""


class InFlight(Frozen):
    """A step dispatched and not yet finished when a decision was made."""

    capability: str
    provides: str
    #: the run's dispatch number of the step.
    step: int
    #: the index of the step in a pinned plan (static strategies), else None.
    plan_step: int | None = None
    cost: float = 0.0


class PinnedPath(Frozen):
    """The fixed path of the static strategies: the plan made at the start and its progress."""

    plan: Plan
    #: indices of plan steps that succeeded.
    done: list[int] = Field(default_factory=list)
    #: plan step index -> failures since its provider was last chosen.
    failures: dict[int, int] = Field(default_factory=dict)
    #: plan step index -> engine-clock seconds before which it is not retried.
    not_before: dict[int, float] = Field(default_factory=dict)
    #: plan step index -> the provider used instead of the planned one (static-fallback).
    substitutes: dict[int, str] = Field(default_factory=dict)
    #: plan step index -> providers given up on for that step, in order.
    abandoned: dict[int, list[str]] = Field(default_factory=dict)
    #: plan step index -> its role's providers in the initial plan's order (static-fallback).
    chains: dict[int, list[str]] = Field(default_factory=dict)


class Switch(Frozen):
    """A role whose provider changed from the run's previous plan, and why the old one lost."""

    role: str
    before: str
    after: str
    #: the old provider's verdict and reason in this decision (empty: it was not weighed).
    verdict: str = ""
    reason: str = ""


class Hold(Frozen):
    """A role kept on one provider while a call there may have acted unknown to the run.

    Its idempotency key is in doubt (a timeout or lost connection, or a re-send
    after a crash that was refused): sending the role to another provider could
    act twice (two charges), so the role's other providers are excluded until a
    send of `key` at `capability` succeeds. Built by `ido.engine.doubt.holds`.
    """

    role: str
    capability: str
    key: str

    def reason(self) -> str:
        """Return why the role's other providers lost: "held: idempotency key K in doubt at X ..."."""
        return (f"held: idempotency key {self.key} in doubt at {self.capability}; the {self.role} role "
                f"stays there until it answers")


class Rejection(Frozen):
    """A person's answer "no" to an approval request: who, when, which policies asked."""

    capability: str
    by: str = ""
    #: ISO 8601 time of the answer.
    at: str = ""
    #: the require_approval policies that asked.
    policies: list[str] = Field(default_factory=list)


class DecisionRecord(Frozen):
    """One choice: its inputs, what was chosen, every alternative with verdict and reason."""

    format_version: int = FORMAT_VERSION
    decision_id: str
    run_id: str
    seq: int
    parent_id: str | None = None
    at: str
    trigger: Trigger
    action: Action
    intent: str
    revisions: Revisions
    state: dict[str, Scalar]
    #: goal fact -> {"want": matcher as text, "have": value or None}, for facts not yet holding.
    gap: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: health of the capabilities that mattered (relevant to the goal).
    health: dict[str, CapabilityHealth] = Field(default_factory=dict)
    health_digest: str = ""
    remaining: Remaining = Field(default_factory=Remaining)
    #: attempts so far per capability (for limit policies).
    attempts: dict[str, int] = Field(default_factory=dict)
    chosen: list[str] = Field(default_factory=list)
    plan: Plan | None = None
    alternatives: list[Alternative] = Field(default_factory=list)
    reason: str = ""
    #: names and kinds of injected faults in force on capabilities this decision weighed.
    faults: list[str] = Field(default_factory=list)
    metrics: SearchMetrics = Field(default_factory=SearchMetrics)
    predicted: dict[str, Scalar] = Field(default_factory=dict)
    #: filled in when read back: the outcomes of the steps this decision dispatched.
    outcomes: list[Outcome] = Field(default_factory=list)
    #: notes such as "capabilities revision changed from a1b2 to c3d4: payment.adyen added".
    notes: list[str] = Field(default_factory=list)
    inputs_digest: str = ""
    # -- the rest of the inputs, so `ido replay` can call `ido.engine.decide.decide` again --
    #: the strategy that decided: adaptive, static or static-fallback.
    strategy: str = "adaptive"
    #: what exactly triggered it, e.g. "payment.stripe-eu failed (server: 503)".
    cause: str = ""
    #: engine-clock seconds when decided (compared with circuits' retry_at).
    now: float = 0.0
    #: the run's inputs, secret ones redacted.
    inputs: dict[str, Scalar] = Field(default_factory=dict)
    steps_taken: int = 0
    in_flight: list[InFlight] = Field(default_factory=list)
    #: capabilities ruled out for this run (rejected approvals).
    exclude: list[str] = Field(default_factory=list)
    #: capabilities a person approved for this run.
    approved: list[str] = Field(default_factory=list)
    #: the plan was reused from the previous decision (nothing relevant changed); `plan` is it.
    plan_reused: bool = False
    #: the static strategies' fixed path, as it stood when deciding.
    pinned: PinnedPath | None = None
    #: the time the health snapshot was taken, and the full snapshot's capabilities are `health`.
    health_at: float = 0.0
    # -- outputs beyond `action`/`chosen` --
    #: indices into `plan.steps` dispatched now, parallel to `chosen` when action is dispatch.
    dispatch: list[int] = Field(default_factory=list)
    #: engine-clock seconds at which to decide again (backoff), if any.
    wake_at: float | None = None
    #: the require_approval policies the chosen step waits on (action await_approval).
    approval: list[str] = Field(default_factory=list)
    #: how the decision changes the run's course (None: written before moves were recorded).
    move: Move | None = None
    #: roles whose provider differs from the run's previous plan (`roles_before`).
    switches: list[Switch] = Field(default_factory=list)
    # -- inputs added later (defaults read old journals) --
    #: role -> provider in the run's plans so far (the latest plan naming the role wins).
    roles_before: dict[str, str] = Field(default_factory=dict)
    #: approvals a person refused in this run (those capabilities are in `exclude` too).
    rejected: list[Rejection] = Field(default_factory=list)
    #: roles kept on a provider whose key is in doubt (their other providers are in `exclude` too).
    held: list[Hold] = Field(default_factory=list)


#: Key of a stored decision's data that replaces a long `alternatives` list: the digest of
#: the list, stored once in the journal as a revision of kind `alternatives` (the engine
#: writes a set of more than `ido.engine.records.INLINE_ALTERNATIVES` that way, once, however
#: many decisions share it). `resolve_alternatives` puts the list back.
ALTERNATIVES_REF = "alternatives_ref"


def resolve_alternatives(data: Mapping[str, Any], get_revision: Callable[[str], Any]) -> dict[str, Any]:
    """Return decision event data with a referenced alternatives list put back inline.

    `get_revision(digest)` returns stored content (a journal's `get_revision`,
    ideally cached by the caller: many decisions share one set). Data without a
    reference is returned as it is (a shallow copy). Called by `ido.explain` and
    `ido.engine.resume` before `DecisionRecord.model_validate`, so records read
    back have the same shape however they were stored.
    """
    out = dict(data)
    ref = out.pop(ALTERNATIVES_REF, None)
    if ref is not None:
        out["alternatives"] = get_revision(str(ref))
    return out
