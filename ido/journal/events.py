"""A run's journal events as typed models, one per event kind, and `parse` from a stored `Event`.

The journal stores each event as a row (`ido.journal.base.Event`: run, seq,
kind, time and a JSON `data` payload). These models say what each kind's
payload holds: `RunStarted`, `RevisionAdopted`, `Observed`, `HealthChanged`,
`Decided`, `Dispatched`, `OutcomeRecorded`, `ApprovalRequested`,
`ApprovalGiven`, `StatusChanged` and `FaultTouched`. `parse(event)` reads a
stored row into its model (validated; payloads written by older versions of
ido, which lack fields added since, get those fields' defaults) and raises
`UnknownEventKind` for a kind this version does not know (a journal written
by a newer ido). `typed(kind, data)` wraps a payload the engine itself just
built without validating it again. The one fold of events into a run's state
(`ido.engine.fold.apply`) takes these models; nothing else reads payloads by key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ido.construct import construct
from ido.errors import JournalCorrupted, JournalError
from ido.journal.base import Event


class UnknownEventKind(JournalError):
    """A journal event of a kind this version of ido does not know (written by a newer one)."""


class JournalEvent(BaseModel):
    """Base of the typed events: the payload's fields; fields beyond those are kept as they are."""

    # extra="allow": a payload keeps what this version does not read (its record, its redactions)
    model_config = ConfigDict(extra="allow", frozen=True)

    KIND: ClassVar[str] = ""


class RunStarted(JournalEvent):
    """`run_started`: the intent, redacted inputs, the state it starts from, strategy, revisions, options."""

    KIND: ClassVar[str] = "run_started"
    intent: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    given: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)
    strategy: str = "adaptive"
    #: absent in the earliest journals: the run row's revisions are used instead.
    revisions: dict[str, str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class RevisionAdopted(JournalEvent):
    """`revision`: the run now works under this declaration revision (after a resume)."""

    KIND: ClassVar[str] = "revision"
    kind: str
    digest: str
    previous: str | None = None


class Observed(JournalEvent):
    """`observation`: facts observers reported that differ from the run's state."""

    KIND: ClassVar[str] = "observation"
    facts: dict[str, Any] = Field(default_factory=dict)
    source: str = ""


class HealthChanged(JournalEvent):
    """`health`: capability health deltas (written by no current engine; read for old journals)."""

    KIND: ClassVar[str] = "health"


class Decided(JournalEvent):
    """`decision`: a decision record's JSON (its other fields are kept as extras)."""

    KIND: ClassVar[str] = "decision"
    decision_id: str
    #: the decision's number in its run (not the event's seq).
    seq: int = 0
    action: str = ""
    trigger: str = ""
    plan: dict[str, Any] | None = None
    alternatives: list[Any] | None = None
    alternatives_ref: str | None = None


class Dispatched(JournalEvent):
    """`dispatched`: a step sent (or about to be) through its capability's door."""

    KIND: ClassVar[str] = "dispatched"
    decision_id: str = ""
    step: int
    capability: str
    idempotency_key: str
    attempt: int = 1
    plan_step: int | None = None
    #: absent in old journals: the capability's declared cost is used.
    cost: float | None = None
    #: the step a compensation undoes (absent in old journals and for forward steps).
    compensates: int | None = None


class OutcomeRecorded(JournalEvent):
    """`outcome`: how a dispatched step ended: facts and cost, or its error and error kind."""

    KIND: ClassVar[str] = "outcome"
    capability: str
    step: int
    status: str
    error_kind: str | None = None
    cost: float = 0.0
    facts: dict[str, Any] = Field(default_factory=dict)
    decision_id: str = ""
    plan_step: int | None = None
    compensation: bool = False


class ApprovalRequested(JournalEvent):
    """`approval_requested`: the run waits for a person to approve a step."""

    KIND: ClassVar[str] = "approval_requested"
    decision_id: str
    step: int | None = None
    capability: str
    policies: list[str] = Field(default_factory=list)


class ApprovalGiven(JournalEvent):
    """`approval_given`: the answer (here or from `ido approve`), approving or rejecting."""

    KIND: ClassVar[str] = "approval_given"
    decision_id: str | None = None
    capability: str | None = None
    approved: bool = False
    by: str = ""
    note: str = ""


class StatusChanged(JournalEvent):
    """`status`: the run's status and its Kubernetes-style conditions."""

    KIND: ClassVar[str] = "status"
    status: str
    conditions: list[dict[str, Any]] = Field(default_factory=list)


class FaultTouched(JournalEvent):
    """`fault`: an injected (simulated) fault touched one of the run's steps."""

    KIND: ClassVar[str] = "fault"
    fault: str
    capability: str | None = None


MODELS: dict[str, type[JournalEvent]] = {
    m.KIND: m for m in (
        RunStarted, RevisionAdopted, Observed, HealthChanged, Decided, Dispatched, OutcomeRecorded,
        ApprovalRequested, ApprovalGiven, StatusChanged, FaultTouched,
    )
}


def parse(event: Event) -> JournalEvent:
    """Return the typed model of a stored `event` (validated; older payloads get defaults).

    Raises `UnknownEventKind` for a kind this ido does not know, and
    `JournalCorrupted` naming the run and seq for a payload that does not fit
    its kind. Called by `ido.engine.resume` (and anything that rebuilds a run).
    """
    model = MODELS.get(event.kind)
    if model is None:
        raise UnknownEventKind(
            f"run {event.run_id} event {event.seq}: unknown event kind {event.kind!r} "
            f"(known: {', '.join(MODELS)}); the journal was written by a newer ido: upgrade ido to read it"
        )
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise JournalCorrupted(
            f"run {event.run_id} event {event.seq} ({event.kind}): {where}: {first['msg']}",
            run_id=event.run_id,
        ) from None


def typed(kind: str, data: dict[str, Any]) -> JournalEvent:
    """Return the model of a payload the engine just built, without validating it again.

    Called by `ido.engine.fold.record` for every event the live engine buffers:
    its payloads are built from typed objects already, and validation per
    event would cost the engine's loop for nothing.
    """
    return construct(MODELS[kind], **data)
