"""Health shared by every worker of one store: rows folded in the store, read fresh by each decision.

Each capability has one health row in the store (`Store.health_rows`). The
engine's flush turns the `outcome` events it appends into `OutcomeChange`s
written in the same transaction (`Store.append(..., health=...)`); probe
answers go in as `ProbeChange`s (`Store.update_health`). A change folds into
the row's state with the same `HealthTracker` logic a single engine uses, at
the wall-clock time of the outcome, so one worker's failures open the
circuit every worker reads.

`SharedHealth` is what an engine driving runs of a shared store (`ido worker`,
`ido run`, `ido resume`) reads health from, in place of its own tracker:
`snapshot(now)` is the rows (read at most `MAX_AGE_S` ago, by the monotonic
clock) with this engine's own outcomes folded in as they happen — kept until
a read shows the rows hold them, so none is missing or counted twice — and
the half-open trials this engine has in flight shown open to its other runs.
The decision records the snapshot it used, so replay stays pure. `version`
moves only when what planning reads changes (circuits, probes, estimates
beyond their tolerance), as the tracker's does.

One half-open trial per capability across all workers: before a decision
that sends a capability whose circuit is half-open is carried out, the engine
takes the capability's trial lease in the store (`claim_trials`,
`Store.claim_trial`: atomic, for the circuit's open period, until the call's
timeout plus `TRIAL_GRACE_S`). A worker that cannot take it decides again; a
circuit whose trial lease another worker holds is shown to every decision
here as open until the lease's end (`held_notes` says whose trial it is),
and the trial's outcome, landing in the row, closes or reopens it for all.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ido.clock import Clock
from ido.engine.health import HealthConfig, HealthTracker
from ido.errors import IdoError
from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.journal.base import Event, HealthChange, HealthRow, TrialLease

DEFAULT_CONFIG = HealthConfig()

#: How long an outcome of this engine may wait for its event to commit before the view forgets it
#: (seconds): an outcome whose run ended or was lost before its flush is never journaled.
PENDING_TTL_S = 60.0

#: The oldest a decision's view of the shared rows may be (seconds, monotonic).
MAX_AGE_S = 0.25

#: How long a trial lease outlasts its call's timeout (seconds): the call may wait for a slot
#: first, and its outcome must commit; a holder that died frees it this long after its timeout.
TRIAL_GRACE_S = 2.0


class HealthRows(Protocol):
    """Where the shared rows and trial leases are read and taken (a `Store`)."""

    def health_rows(self) -> dict[str, HealthRow]:
        """Return every capability's row."""
        ...

    def claim_trial(
        self, capability: str, owner: str, *, trial_of: float, lease_s: float, now: float | None = None,
    ) -> bool:
        """Return whether `owner` holds (or took) the trial lease of `capability` for period `trial_of`."""
        ...

    def release_trial(self, capability: str, owner: str) -> None:
        """Give up `owner`'s trial lease of `capability`."""
        ...

    def trial_leases(self) -> dict[str, TrialLease]:
        """Return every trial lease, by capability."""
        ...


def _tracker(config: HealthConfig, name: str, state: Mapping[str, Any] | None) -> HealthTracker:
    tracker = HealthTracker(config)
    if state:
        tracker.load(name, state)
    return tracker


#: The key of a row's state counting the changes folded into it (so a reader knows which it holds).
SEQ = "seq"


class _Folded:
    """Where a change notes the row seq it produced (set in the store's writer thread, inside the commit)."""

    __slots__ = ("seq",)

    def __init__(self) -> None:
        self.seq: int | None = None


@dataclass(frozen=True)
class OutcomeChange:
    """One call's outcome, folded into its capability's row by the store (see the module docstring)."""

    capability: str
    ok: bool
    latency_s: float
    #: wall-clock epoch seconds of the outcome: rows of many processes share one time line.
    at: float
    cost: float | None = None
    prior: float | None = None
    config: HealthConfig = DEFAULT_CONFIG
    folded: _Folded = field(default_factory=_Folded, compare=False, repr=False)

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the row's state after this outcome (a trial's outcome closes or reopens the circuit)."""
        tracker = _tracker(self.config, self.capability, state)
        self.fold_into(tracker)
        return _stamped(tracker.export(self.capability), state, self.folded)

    def fold_into(self, tracker: HealthTracker) -> None:
        """Apply this outcome to `tracker` (a backoff that elapsed makes it the half-open trial)."""
        tracker.circuit(self.capability, self.at)
        tracker.record_outcome(
            self.capability, ok=self.ok, latency_s=self.latency_s, now=self.at, cost=self.cost,
            prior=self.prior,
        )


@dataclass(frozen=True)
class ProbeChange:
    """One probe answer, folded into its capability's row."""

    capability: str
    up: bool
    at: float
    config: HealthConfig = DEFAULT_CONFIG

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the row's state after this probe answer."""
        tracker = _tracker(self.config, self.capability, state)
        tracker.circuit(self.capability, self.at)
        tracker.record_probe(self.capability, up=self.up, now=self.at)
        return _stamped(tracker.export(self.capability), state, None)


def _stamped(new: dict[str, Any], old: Mapping[str, Any] | None, folded: _Folded | None) -> dict[str, Any]:
    seq = int((old or {}).get(SEQ, 0)) + 1
    if folded is not None:
        folded.seq = seq
    new[SEQ] = seq
    return new


def published_rows(rows: Mapping[str, HealthRow], now: float,
                   config: HealthConfig = DEFAULT_CONFIG) -> dict[str, CapabilityHealth]:
    """Return each row's health as a decision at wall-clock `now` would see it (times in epoch seconds).

    Called by `GET /api/v1/health`.
    """
    return {
        name: _tracker(config, name, row.state).published(name, now)
        for name, row in sorted(rows.items()) if row.state
    }


class SharedHealth:
    """An engine's view of the shared health rows; see the module docstring.

    The view is one `HealthTracker` on the wall clock: the rows as last read,
    with this engine's outcomes the rows did not hold yet folded on top, and
    each new outcome of this engine folded in as it happens. Re-read (and
    rebuilt) when older than `max_age_s`; a row's `seq` says which of this
    engine's outcomes it already holds, so none counts twice.
    """

    def __init__(
        self, rows: HealthRows, local: HealthTracker, clock: Clock, *,
        prior: Callable[[str], float | None] = lambda name: None, max_age_s: float = MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic, owner: str = "",
        call_timeout: Callable[[str], float] = lambda name: 30.0,
    ) -> None:
        self.rows = rows
        #: the engine's own tracker: which half-open trials it has in flight.
        self.local = local
        self.clock = clock
        self.prior = prior
        self.config = local.config
        self.max_age_s = max_age_s
        self.monotonic = monotonic
        self.version = 0
        #: rows read from the store (how many reads: figures for benchmarks and tests).
        self.reads = 0
        self._view = HealthTracker(self.config)
        self._read_at = -float("inf")
        self._row_seq: dict[str, int] = {}
        #: (run id, step) -> this engine's outcome until its event is committed (or refused).
        self._pending: dict[tuple[str, int], OutcomeChange] = {}
        #: committed outcomes of this engine, until a read shows their row holds them.
        self._committed: list[OutcomeChange] = []
        #: capabilities whose half-open trial this engine has in flight (shown open to its other runs),
        #: with the wall-clock end of its lease: a trial decided but never started (its run was lost
        #: before the step began) stops counting then; a started one counts until its call ends.
        self._trials: dict[str, float] = {}
        #: who this engine is in the trial leases, and a capability's call timeout (the lease's length).
        self.owner = owner
        self.call_timeout = call_timeout
        #: the trial leases as last read (read when a circuit is half-open, once per read of the rows).
        self._leases: dict[str, TrialLease] = {}
        self._leases_fresh = False
        #: capability -> the lease of another worker's trial, of the snapshot last built.
        self._held: dict[str, TrialLease] = {}
        #: the view's snapshot last seen and its half-open circuits (computed once per snapshot).
        self._wall: HealthSnapshot | None = None
        self._half: tuple[str, ...] = ()
        self._snapshot: HealthSnapshot | None = None
        self._built_from: tuple[Any, ...] | None = None
        self._offset: float | None = None

    # -- this engine's outcomes ----------------------------------------------------------------
    def begin_call(self, capability: str) -> None:
        """Note that a call starts (called by `Steps`): on a half-open circuit it is this engine's trial
        (whose lease `claim_trials` took), counted until the call ends."""
        if capability in self._trials or self._view.circuit(capability, self.clock.timestamp()) is Circuit.HALF_OPEN:
            self._trials[capability] = math.inf

    def abandon_call(self, capability: str) -> None:
        """Note that a call ended without an outcome: a trial it was is free again (its lease too)."""
        if self._trials.pop(capability, None) is not None:
            # the lease would end by itself: a journal that cannot be written now must not stop the cancel
            with contextlib.suppress(IdoError):
                self.rows.release_trial(capability, self.owner)

    def claim_trials(self, names: Sequence[str], now: float) -> bool:
        """Return whether this engine may send `names` now: it holds the trial lease of each half-open one.

        Called by the engine for a decision that dispatches `names` (engine-clock
        `now`), before the decision is published; circuits are as the `snapshot`
        the decision read shows them. On False no lease is kept and
        the leases are read again, so the next snapshot shows the circuit whose
        trial another worker took as open: the engine decides again.
        """
        wall = now + self._wall_offset()
        shown = self._view.snapshot(wall)
        taken: list[str] = []
        for name in names:
            health = shown.of(name)
            if health.circuit is not Circuit.HALF_OPEN or name in self._trials:
                continue
            lease_s = self.call_timeout(name) + TRIAL_GRACE_S
            at = self.clock.timestamp()
            if self.rows.claim_trial(name, self.owner, trial_of=health.retry_at or 0.0, lease_s=lease_s, now=at):
                self._trials[name] = at + lease_s
                taken.append(name)
                continue
            for mine in taken:
                del self._trials[mine]
                self.rows.release_trial(mine, self.owner)
            self._leases, self._leases_fresh = self.rows.trial_leases(), True
            return False
        return True

    def held_notes(self) -> tuple[str, ...]:
        """Return a note per circuit shown open because another worker's trial of it is in flight.

        Of the snapshot last built; the engine adds them to the decision's notes.
        """
        offset = self._offset or 0.0
        return tuple(
            f"{name}: its half-open trial is in flight in worker {lease.owner}; the circuit stays open here "
            f"until the trial's outcome lands (its lease ends at t={lease.until - offset:.4g}s)"
            for name, lease in sorted(self._held.items())
        )

    def noted(self, run_id: str, step: int, capability: str, *, ok: bool, latency_s: float,
              cost: float | None) -> None:
        """Fold an outcome into the view now and keep it until its event commits (called by `Steps` per call)."""
        change = OutcomeChange(
            capability, ok, latency_s, self.clock.timestamp(), cost, self.prior(capability), self.config,
        )
        self._pending[(run_id, step)] = change
        self._trials.pop(capability, None)
        change.fold_into(self._view)

    def changes(self, events: Sequence[Event]) -> list[HealthChange]:
        """Return the health changes of the `outcome` events among `events` (for the same append)."""
        out: list[HealthChange] = []
        for event in events:
            if event.kind != "outcome":
                continue
            name = str(event.data.get("capability", ""))
            pending = self._pending.get((event.run_id, int(event.data.get("step", 0))))
            if pending is not None and pending.capability == name:
                out.append(pending)
                continue
            ok = event.data.get("status") == "succeeded"
            out.append(OutcomeChange(
                name, ok, float(event.data.get("latency_s") or 0.0), event.at,
                float(event.data["cost"]) if ok and event.data.get("cost") is not None else None,
                self.prior(name), self.config,
            ))
        return out

    def settled(self, events: Sequence[Event]) -> None:
        """Forget the outcomes among `events` as pending: committed ones stay in the view until a
        read shows their rows hold them; refused ones (the run was lost) leave at the next read."""
        for event in events:
            if event.kind == "outcome":
                change = self._pending.pop((event.run_id, int(event.data.get("step", 0))), None)
                if change is not None and change.folded.seq is not None:
                    self._committed.append(change)

    # -- reading -------------------------------------------------------------------------------
    def _read(self) -> None:
        """Read the rows and rebuild the view: rows, then this engine's outcomes they do not hold yet."""
        rows = self.rows.health_rows()
        self.reads += 1
        oldest = self.clock.timestamp() - PENDING_TTL_S
        self._pending = {key: c for key, c in self._pending.items() if c.at >= oldest}
        view = HealthTracker(self.config)
        seqs: dict[str, int] = {}
        for name, row in rows.items():
            if row.state:
                view.load(name, row.state)
                seqs[name] = int(row.state.get(SEQ, 0))
        unseen = [c for c in self._committed if (c.folded.seq or 0) > seqs.get(c.capability, 0)]
        self._committed = unseen
        for change in sorted([*unseen, *self._pending.values()], key=lambda c: c.at):
            change.fold_into(view)
        self._view = view
        self._leases_fresh = False

    def snapshot(self, now: float) -> HealthSnapshot:
        """Return the health a decision at engine-clock `now` reads; the same object while nothing moved."""
        mono = self.monotonic()
        if mono - self._read_at > self.max_age_s:
            self._read()
            self._read_at = mono
        wall_now = now + self._wall_offset()
        wall = self._view.snapshot(wall_now)
        if self._trials and min(self._trials.values()) < wall_now:
            self._trials = {n: until for n, until in self._trials.items() if until >= wall_now}
        trials = frozenset(n for n in wall.capabilities if n in self._trials or self.local.trial_running(n))
        if wall is not self._wall:  # the view's snapshot is the same object until its version moves
            self._wall = wall
            self._half = tuple(n for n, h in wall.capabilities.items() if h.circuit is Circuit.HALF_OPEN)
        held = self._held_elsewhere(wall, trials, wall_now) if self._half else {}
        key = (id(self._view), self._view.version, id(wall), trials, tuple(sorted(held.items())) if held else ())
        if self._snapshot is not None and key == self._built_from:
            return self._snapshot
        self._held = held
        caps = {
            name: self._to_engine_clock(h, name in trials, held.get(name)) for name, h in wall.capabilities.items()
        }
        if self._snapshot is None or caps != dict(self._snapshot.capabilities):
            self._snapshot = HealthSnapshot.model_construct(at=now, capabilities=caps)
            self.version += 1
        self._built_from = key
        return self._snapshot

    def _wall_offset(self) -> float:
        if self._offset is None:
            self._offset = self.clock.timestamp() - self.clock.now()
        return self._offset

    def _held_elsewhere(
        self, wall: HealthSnapshot, trials: frozenset[str], wall_now: float,
    ) -> dict[str, TrialLease]:
        """Return the half-open circuits (not ours) whose trial another worker holds for this open period."""
        half = [n for n in self._half if n not in trials]
        if not half:
            return {}
        if not self._leases_fresh:
            self._leases, self._leases_fresh = self.rows.trial_leases(), True
        out = {}
        for name in half:
            lease = self._leases.get(name)
            if (lease is not None and lease.owner != self.owner and lease.until >= wall_now
                    and lease.trial_of >= (wall.of(name).retry_at or 0.0)):
                out[name] = lease
        return out

    def _to_engine_clock(self, health: CapabilityHealth, trial: bool, held: TrialLease | None) -> CapabilityHealth:
        """Return `health` with its times on this engine's clock, and open while a trial runs:
        ours (open with no retry time), or another worker's (open until its lease ends)."""
        assert self._offset is not None
        update: dict[str, Any] = {}
        if health.retry_at is not None:
            update["retry_at"] = health.retry_at - self._offset
        if health.last_seen is not None:
            update["last_seen"] = health.last_seen - self._offset
        if trial and health.circuit is Circuit.HALF_OPEN:
            update["circuit"], update["retry_at"] = Circuit.OPEN, None
        elif held is not None:
            update["circuit"], update["retry_at"] = Circuit.OPEN, held.until - self._offset
        return health.model_copy(update=update) if update else health
