"""The journal's storage interface: an append-only event store of runs.

The engine appends events (`await store.append(...)` returns only once they
are durable); queries (`ido runs`, `explain`, `why-not`, `replay`, `resume`)
read them back. Backends: SQLite (`ido.journal.sqlite`, the default, a file
at `WORKSPACE/.ido/journal.db`), in memory (`memory://`, for simulations and
unit tests), PostgreSQL later. `ido.journal.open_store(url)` picks one and
imports it only when asked for.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import Field

from ido.errors import IdoError, JournalError
from ido.journal.registry import RegistryChange, RegistryHead, RegistrySnapshot
from ido.model.values import Frozen

RunStatus = Literal[
    "queued", "running", "waiting_approval", "blocked", "succeeded", "failed",
    "compensated", "compensation_failed",
]
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"succeeded", "failed", "compensated", "compensation_failed"}
)

#: Kinds of events a run's journal holds, in the order they typically appear.
EventKind = Literal[
    "run_started",  # data: intent, inputs (redacted), given, revisions, store of the run's options
    "revision",  # data: {kind, digest}: the run now works under this revision (upgrade)
    "observation",  # data: {facts, source}
    "health",  # data: {capability: CapabilityHealth json} deltas
    "decision",  # data: DecisionRecord json
    "dispatched",  # data: {decision_id, step, capability, idempotency_key, attempt}
    "outcome",  # data: Outcome json (plus decision_id)
    "approval_requested",  # data: {decision_id, step, capability, policies}
    "approval_given",  # data: {approved: bool, by, note}
    "status",  # data: {status, conditions}
    "fault",  # data: {fault, capability} an injected fault touched this run
]


class Event(Frozen):
    """One journal entry of one run; `seq` is dense per run, starting at 1."""

    run_id: str
    seq: int
    kind: EventKind
    at: float
    data: dict[str, Any] = Field(default_factory=dict)


class Condition_(Frozen):
    """A Kubernetes-style run condition: Satisfied, Progressing, Degraded, Blocked."""

    type: Literal["Satisfied", "Progressing", "Degraded", "Blocked"]
    status: bool
    reason: str = ""
    message: str = ""
    decision_id: str | None = None


class RunInfo(Frozen):
    """A run's summary row: what `ido runs` lists and `resume` looks for."""

    run_id: str
    intent: str
    status: RunStatus
    created_at: float
    updated_at: float
    inputs: dict[str, Any] = Field(default_factory=dict)  # secrets already redacted
    revisions: dict[str, str] = Field(default_factory=dict)
    conditions: list[Condition_] = Field(default_factory=list)
    cost: float = 0.0
    steps_executed: int = 0
    decisions: int = 0
    #: the options the run was started with (strategy, simulate scenario, workspace path ...)
    options: dict[str, Any] = Field(default_factory=dict)


class Lease(Frozen):
    """Who drives a run: its owner, the claim's epoch, and until when (epoch seconds).

    A run is claimable when it is unfinished and has no lease or its lease
    expired. Claiming increments the epoch; every fenced write checks that
    (owner, epoch) still holds, so an owner whose run was taken over gets no
    write through. Returned by `Store.claim`, carried by `ido.journal.leases.LeasedStore`.
    """

    run_id: str
    owner: str
    epoch: int
    until: float


class HealthChange(Protocol):
    """One change of a capability's shared health row, applied inside the store's transaction.

    Built by the engine (`ido.engine.shared_health`) for each outcome it
    appends and each probe answer; the store calls `apply` with the row's
    state as committed so far (None: no row yet) and stores what it returns,
    so outcomes of many processes fold into one row without a lost update.
    """

    @property
    def capability(self) -> str:
        """The capability whose row this changes."""
        ...

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the row's new state after this change (plain JSON data)."""
        ...


class HealthRow(Frozen):
    """A capability's shared health as stored: its state, bumped `version`, and when it was written."""

    capability: str
    state: dict[str, Any] = Field(default_factory=dict)
    version: int = 0
    updated_at: float = 0.0


class TrialLease(Frozen):
    """Who sends the one half-open trial of a capability's circuit, across every worker of a store.

    `trial_of` names the open period the trial ends (the circuit's `retry_at`,
    epoch seconds, in the shared health row): a claim for a later period takes
    the lease over, since the earlier trial's outcome has landed. Returned by
    `Store.trial_leases`, taken by `Store.claim_trial`.
    """

    capability: str
    owner: str
    trial_of: float
    until: float


#: Kinds of requests another process leaves for the worker driving a run.
SignalKind = Literal["cancel", "approve", "reject"]
SIGNAL_KINDS: frozenset[str] = frozenset({"cancel", "approve", "reject"})


class Signal(Frozen):
    """A request about a run kept beside its journal (never in it): who asked what, and when.

    Written by `ido cancel`, `ido approve`/`reject` of a run a live worker drives,
    and their HTTP twins (`Store.put_signal`); read by the worker driving the run
    (`Store.signals`), which records what it did in the run's own journal under
    its lease.
    """

    run_id: str
    kind: SignalKind
    by: str = ""
    note: str = ""
    at: float = 0.0
    #: what the request is about: the decision id of the approval request an answer answers.
    ref: str = ""


class Store(abc.ABC):
    """An append-only journal. Implementations are safe to share between the engine's tasks."""

    @abc.abstractmethod
    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Write `events` (and the updated `run` row, if given) durably; return once on disk.

        Concurrent callers share commits (group commit). With `fence`, the
        write lands only if the run's lease is still (fence.owner, fence.epoch)
        — or the run has no lease and this append creates it (its first event)
        — and the lease is extended to `fence.until`; otherwise it raises
        `LeaseLost` and writes nothing. `health` changes (the outcomes among
        `events`) are applied to the capability health rows in the same
        transaction, and only if the events are written; a store that keeps
        no health rows ignores them.
        """

    # -- shared health and signals (stores shared by processes keep them; the default keeps none)

    def health_rows(self) -> dict[str, HealthRow]:
        """Return every capability's shared health row, by capability (empty: none kept)."""
        return {}

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Apply `changes` (probe answers) to the health rows in one transaction of their own."""
        del changes  # a store for one process keeps no shared health

    def claim_probe(self, capability: str, owner: str, *, lease_s: float, now: float | None = None) -> bool:
        """Return whether `owner` may probe `capability` now: it holds (or took) its probe lease.

        A probe lease is free when nobody holds it or its holder's expired; the
        holder renews it by claiming again. Stores for one process always say yes.
        """
        return True

    def claim_trial(
        self, capability: str, owner: str, *, trial_of: float, lease_s: float, now: float | None = None,
    ) -> bool:
        """Return whether `owner` may send the half-open trial of `capability` ending period `trial_of`.

        Atomic across processes: the lease is free when nobody holds it, its
        holder's expired (the holder died or hung), or it was taken for an
        earlier period; its holder claims again freely. Stores for one process
        always say yes (the engine's own breaker admits one trial).
        """
        return True

    def release_trial(self, capability: str, owner: str) -> None:
        """Give up `owner`'s trial lease of `capability` (its call ended without an outcome)."""
        del capability, owner  # a store for one process keeps no trial leases

    def trial_leases(self) -> dict[str, TrialLease]:
        """Return the trial leases, by capability, expired ones included (empty: none kept)."""
        return {}

    def put_signal(self, signal: Signal) -> None:
        """Keep `signal` for the worker driving its run (the run's journal is the owner's alone)."""
        raise JournalError(f"{type(self).__name__} keeps no signals: use SQLite or PostgreSQL")

    def signals(self, *, run_ids: Sequence[str]) -> list[Signal]:
        """Return the signals kept for `run_ids`, oldest first."""
        return []

    def claim(
        self, owner: str, *, lease_s: float, limit: int = 1, run_id: str | None = None,
        now: float | None = None, steal_from: Sequence[str] = (),
    ) -> list[Lease]:
        """Claim up to `limit` claimable runs (only `run_id` if given); return their leases.

        Runs already started come first (a taken-over run's deadline is running and it
        may have steps in flight), then queued ones; oldest first within each.

        Claimable: not finished, and no lease, an expired one, or one held by
        an owner in `steal_from` (owners known dead, e.g. a process of this
        machine that no longer exists). Each claim increments the run's epoch.
        Safe between processes: two claimers never get the same run and epoch.
        The default refuses: a store for one process (the simulator's) has no leases.
        """
        raise JournalError(f"{type(self).__name__} keeps no leases: use SQLite or PostgreSQL")

    def look_runs(self, run_ids: Sequence[str]) -> dict[str, tuple[RunInfo, bool]]:
        """Return the rows of `run_ids` by id, each with whether the run is still to be started
        (queued, no `run_started` event yet); ids unknown, or whose row does not decode, are
        left out (a caller reads those one by one to learn why).

        What a worker reads of the runs it just claimed (`ido.engine.worker`). This
        default reads run by run; a store on a server answers in one round trip.
        """
        out: dict[str, tuple[RunInfo, bool]] = {}
        for run_id in run_ids:
            try:
                info = self.get_run(run_id=run_id)
                out[run_id] = (info, info.status == "queued"
                               and not self.events(run_id=run_id, kinds=["run_started"]))
            except IdoError:
                continue
        return out

    def renew(self, leases: Sequence[Lease], *, until: float) -> list[str]:
        """Extend the leases still held to `until`; return the run ids whose lease was lost."""
        return [lease.run_id for lease in leases]

    def release(self, leases: Sequence[Lease]) -> None:
        """Give up leases still held (the runs become claimable at once)."""
        del leases  # a store without leases holds none to give up

    def leases(self, *, run_ids: Sequence[str] | None = None, live_at: float | None = None) -> list[Lease]:
        """Return the current leases (of `run_ids` if given), expired ones included unless
        `live_at` is given (then only those held until then or later). A lease row outlives its
        run, so a caller scanning for owners (a worker's claim) passes `live_at`: its cost then
        follows the runs in flight, not every run ever leased."""
        return []

    def registry_head(self) -> RegistryHead | None:
        """Return the registry's newest revision (number, digest), or None when it holds none.

        Cheap (one indexed row): workers call it before their decisions to see
        whether the declarations changed (`ido.registry.LiveRegistry`).
        """
        raise JournalError(f"{type(self).__name__} keeps no registry")

    def registry_snapshot(self, *, number: int | None = None) -> RegistrySnapshot | None:
        """Return registry revision `number` (the head when None) with its declarations, or None."""
        raise JournalError(f"{type(self).__name__} keeps no registry")

    def commit_registry(self, changes: Sequence[RegistryChange], *, expect: int | None = None) -> RegistryHead:
        """Write the next registry revision with `changes`, atomically; return the new head.

        With `expect`, only if the head is still revision `expect` (0: the store
        holds no registry yet); otherwise raises `RegistryConflict` naming the
        current number and writes nothing. Changes that change nothing write no
        revision: the head is returned as it is.
        """
        raise JournalError(f"{type(self).__name__} keeps no registry")

    @abc.abstractmethod
    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store a declaration revision's content once under its digest (idempotent)."""

    @abc.abstractmethod
    def get_revision(self, *, digest: str) -> Any:
        """Return the content stored under `digest`; raises JournalError when unknown."""

    @abc.abstractmethod
    def get_run(self, *, run_id: str) -> RunInfo:
        """Return a run's row; raises UsageError when unknown (a prefix that is unique works)."""

    @abc.abstractmethod
    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first (by created_at, then run id), optionally only those with
        `status` or `intent`, only those after `before` = (created_at, run_id) in that order
        (the last run of the previous page), at most `limit`."""

    def count_runs(self) -> dict[str, int]:
        """Return how many runs the journal holds in each status. Called by `GET /api/v1/health`.

        Stores with an index on status count in the database; this default
        decodes every row, which is fine for the memory store.
        """
        counts: dict[str, int] = {}
        for run in self.list_runs():
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts

    @abc.abstractmethod
    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return a run's events in order; raises JournalCorrupted naming the bad row."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release the store."""
