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
the half-open trials this engine has in flight shown open to its other runs. The decision records the snapshot it used, so replay
stays pure. `version` moves only when what planning reads changes
(circuits, probes, estimates beyond their tolerance), as the tracker's does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ido.clock import Clock
from ido.engine.health import HealthConfig, HealthTracker
from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.journal.base import Event, HealthChange, HealthRow

DEFAULT_CONFIG = HealthConfig()

#: How long an outcome of this engine may wait for its event to commit before the view forgets it
#: (seconds): an outcome whose run ended or was lost before its flush is never journaled.
PENDING_TTL_S = 60.0

#: The oldest a decision's view of the shared rows may be (seconds, monotonic).
MAX_AGE_S = 0.25


class HealthRows(Protocol):
    """Where the shared rows are read (a `Store`)."""

    def health_rows(self) -> dict[str, HealthRow]:
        """Return every capability's row."""
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
        monotonic: Callable[[], float] = time.monotonic,
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
        #: capabilities whose half-open trial this engine has in flight (shown open to its other runs).
        self._trials: set[str] = set()
        self._snapshot: HealthSnapshot | None = None
        self._built_from: tuple[int, int, int, frozenset[str]] | None = None
        self._offset: float | None = None

    # -- this engine's outcomes ----------------------------------------------------------------
    def begin_call(self, capability: str) -> None:
        """Note that a call starts (called by `Steps`): on a half-open circuit it is this engine's trial."""
        if self._view.circuit(capability, self.clock.timestamp()) is Circuit.HALF_OPEN:
            self._trials.add(capability)

    def abandon_call(self, capability: str) -> None:
        """Note that a call ended without an outcome: a trial it was is free again."""
        self._trials.discard(capability)

    def noted(self, run_id: str, step: int, capability: str, *, ok: bool, latency_s: float,
              cost: float | None) -> None:
        """Fold an outcome into the view now and keep it until its event commits (called by `Steps` per call)."""
        change = OutcomeChange(
            capability, ok, latency_s, self.clock.timestamp(), cost, self.prior(capability), self.config,
        )
        self._pending[(run_id, step)] = change
        self._trials.discard(capability)
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

    def snapshot(self, now: float) -> HealthSnapshot:
        """Return the health a decision at engine-clock `now` reads; the same object while nothing moved."""
        mono = self.monotonic()
        if mono - self._read_at > self.max_age_s:
            self._read()
            self._read_at = mono
        if self._offset is None:
            self._offset = self.clock.timestamp() - self.clock.now()
        wall = self._view.snapshot(now + self._offset)
        trials = frozenset(n for n in wall.capabilities if n in self._trials or self.local.trial_running(n))
        key = (id(self._view), self._view.version, id(wall), trials)
        if self._snapshot is not None and key == self._built_from:
            return self._snapshot
        caps = {name: self._to_engine_clock(h, name in trials) for name, h in wall.capabilities.items()}
        if self._snapshot is None or caps != dict(self._snapshot.capabilities):
            self._snapshot = HealthSnapshot.model_construct(at=now, capabilities=caps)
            self.version += 1
        self._built_from = key
        return self._snapshot

    def _to_engine_clock(self, health: CapabilityHealth, trial: bool) -> CapabilityHealth:
        """Return `health` with its times on this engine's clock, and open while a trial of ours runs."""
        assert self._offset is not None
        update: dict[str, Any] = {}
        if health.retry_at is not None:
            update["retry_at"] = health.retry_at - self._offset
        if health.last_seen is not None:
            update["last_seen"] = health.last_seen - self._offset
        if trial and health.circuit is Circuit.HALF_OPEN:
            update["circuit"], update["retry_at"] = Circuit.OPEN, None
        return health.model_copy(update=update) if update else health
