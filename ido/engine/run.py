"""One run's in-memory state (`RunState`), its steps in flight (`StepHandle`) and its result.

Kept apart from what is persisted: the journal holds events; this holds what
the engine's loop needs between decisions (the state, money spent, attempts,
steps in flight, the plan it may reuse, the static path, approvals). Built by
`ido.engine.engine.Engine.start` or rebuilt from events by `ido.engine.resume`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ido.construct import construct
from ido.decisions import DecisionRecord, InFlight, PinnedPath, Rejection, Revisions, Trigger
from ido.engine.doors import Result
from ido.errors import ExecutionError
from ido.journal.base import Condition_, Event, RunInfo, Signal
from ido.model import Capability, Intent, Scalar
from ido.planning.types import Plan

REDACTED = "***"


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended: what `Engine.run` / `wait` return and `ido run --json` prints."""

    run_id: str
    status: str
    steps_executed: int
    decisions: int
    cost: float
    elapsed_s: float
    records: tuple[DecisionRecord, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Return the `ido run --json` keys."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "steps_executed": self.steps_executed,
            "decisions": self.decisions,
            "cost": round(self.cost, 6),
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(eq=False, slots=True)
class StepHandle:
    """A dispatched step: which call it is, and its task while in flight."""

    step: int
    capability: Capability
    plan_step: int | None
    key: str
    attempt: int
    cost: float
    decision_id: str
    started: float = 0.0
    #: the request left through its door (so it may take effect whatever happens to the run).
    sent: bool = False
    task: asyncio.Task[None] | None = None
    compensation: bool = False
    #: it holds a slot in the engine's fleet (released when the step ends).
    slot: bool = False
    #: the dispatch number of the step a compensation undoes.
    compensates: int | None = None
    #: re-sent by resume after a crash hid its outcome: its first send may have acted.
    resent: bool = False

    def in_flight(self) -> InFlight:
        """Return the record form of this step."""
        return construct(
            InFlight, capability=self.capability.name, provides=self.capability.provides, step=self.step,
            plan_step=self.plan_step, cost=self.cost,
        )


@dataclass(eq=False, slots=True)
class Finished:
    """A step that ended: its result or its error, and how long it took on the engine clock."""

    handle: StepHandle
    result: Result | None
    error: ExecutionError | None
    latency_s: float


@dataclass(frozen=True, slots=True)
class Lookups:
    """What folding a run's events needs besides the events: the registry and stored content.

    `capabilities` maps names to the capabilities steps are dispatched to;
    `content(digest)` returns what the journal stores under a digest (a
    decision's alternatives stored apart). Built by the engine for each run.
    """

    capabilities: Mapping[str, Capability]
    content: Callable[[str], Any]


@dataclass(eq=False)
class RunState:
    """Everything the loop keeps about one run between decisions."""

    run_id: str
    intent: Intent
    inputs: dict[str, Scalar]
    public_inputs: dict[str, Scalar]
    strategy: str
    revisions: Revisions
    state: dict[str, Scalar]
    started: float
    created_at: float
    #: the registry and stored content the fold (`ido.engine.fold.apply`) looks names up in.
    lookups: Lookups
    options: dict[str, Any] = field(default_factory=dict)
    secrets: frozenset[str] = frozenset()
    spent: float = 0.0
    steps_taken: int = 0
    attempts: dict[str, int] = field(default_factory=dict)
    event_seq: int = 0
    decisions: int = 0
    last_decision: str | None = None
    status: str = "running"
    conditions: list[Condition_] = field(default_factory=list)
    degraded: bool = False
    in_flight: dict[int, StepHandle] = field(default_factory=dict)
    finished: list[Finished] = field(default_factory=list)
    #: (dispatch number, capability) of succeeded steps, in completion order (compensation undoes them).
    completed: list[tuple[int, Capability]] = field(default_factory=list)
    #: capability -> idempotency key group (moves on after a definite answer).
    key_groups: dict[str, int] = field(default_factory=dict)
    #: idempotency keys a send of which may have acted unknown to the run (timed out, or re-sent
    #: after a crash and then refused): the key is kept until a send of it succeeds.
    doubt: set[str] = field(default_factory=set)
    reusable: Plan | None = None
    reusable_version: int = -1
    decided_version: int = -1
    #: the health snapshot of the previous decision (to say what changed since).
    last_snapshot: Any = None
    pinned: PinnedPath | None = None
    approved: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)
    #: capabilities the fleet gave to other runs: excluded from the next decision only.
    fleet_excluded: set[str] = field(default_factory=set)
    #: approvals a person refused (who, when, which policies asked): named in the records.
    rejected: list[Rejection] = field(default_factory=list)
    #: role -> provider in the run's plans so far: a decision's switches are measured against it.
    roles: dict[str, str] = field(default_factory=dict)
    #: (decision id, capability, policies) of the approval the run waits for.
    pending_approval: tuple[str, str, list[str]] | None = None
    answer: tuple[bool, str] | None = None
    #: the note that came with an answer from another process (recorded with it).
    answer_note: str = ""
    trigger: Trigger = Trigger.START
    cause: str = ""
    notes: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    buffer: list[Event] = field(default_factory=list)
    records: list[DecisionRecord] = field(default_factory=list)
    observed_at: dict[str, float] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[RunResult] | None = None
    #: the run failed and is undoing its completed steps (status stays non-terminal until done).
    compensating: bool = False
    #: resent steps (resume): dispatched before a crash without an outcome.
    resend: list[StepHandle] = field(default_factory=list)
    #: steps dispatched (journal) without an outcome yet, by dispatch number.
    awaiting: dict[int, StepHandle] = field(default_factory=dict)
    #: a request to stop the run (`ido cancel`), seen by the engine's signal watch; acted on next.
    cancel: Signal | None = None

    def idempotency_key(self, capability: str) -> str:
        """Return the key of the next call of `capability`: run, capability and attempt group."""
        return f"{self.run_id}:{capability}:{self.key_groups.get(capability, 1)}"

    def info(self, now_ts: float) -> RunInfo:
        """Return the run's summary row as of now."""
        return construct(
            RunInfo, run_id=self.run_id, intent=self.intent.intent, status=self.status,
            created_at=self.created_at, updated_at=now_ts, inputs=self.public_inputs,
            revisions={
                "intent": self.revisions.intent, "capabilities": self.revisions.capabilities,
                "policies": self.revisions.policies,
            },
            conditions=self.conditions, cost=round(self.spent, 9), steps_executed=self.steps_taken,
            decisions=self.decisions, options=self.options,
        )


def redact(inputs: dict[str, Scalar], secrets: frozenset[str]) -> dict[str, Scalar]:
    """Return `inputs` with every secret one replaced by `***`."""
    return {k: (REDACTED if k in secrets else v) for k, v in inputs.items()}


def conditions_for(run: RunState, record: DecisionRecord | None, reason: str, status: str) -> list[Condition_]:
    """Return the run's Kubernetes-style conditions once it has `status`."""
    decision = record.decision_id if record is not None else run.last_decision
    satisfied = status == "succeeded"
    progressing = status in ("running", "waiting_approval")
    blocked = status == "blocked"

    def cond(kind: str, value: bool, why: str) -> Condition_:
        return construct(
            Condition_, type=kind,
            status=value, reason=why, message=reason if value else "", decision_id=decision,
        )

    return [
        cond("Satisfied", satisfied, "GoalHolds" if satisfied else "GoalNotYet"),
        cond("Progressing", progressing, "Working" if progressing else status.title().replace("_", "")),
        cond("Degraded", run.degraded, "StepFailed" if run.degraded else "Healthy"),
        cond("Blocked", blocked, "NoAdmissiblePlan" if blocked else "NotBlocked"),
    ]
