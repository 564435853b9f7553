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
clock; re-read after this engine's own outcomes commit) with this engine's
outcomes not yet committed folded on top, and trials this engine has in
flight shown open. The decision records the snapshot it used, so replay
stays pure. `version` moves only when what planning reads changes
(circuits, probes, estimates beyond their tolerance), as the tracker's does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ido.clock import Clock
from ido.engine.health import HealthConfig, HealthTracker
from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.journal.base import Event, HealthChange, HealthRow

DEFAULT_CONFIG = HealthConfig()

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

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        """Return the row's state after this outcome (a trial's outcome closes or reopens the circuit)."""
        tracker = _tracker(self.config, self.capability, state)
        tracker.circuit(self.capability, self.at)  # a backoff that elapsed makes this the trial
        tracker.record_outcome(
            self.capability, ok=self.ok, latency_s=self.latency_s, now=self.at, cost=self.cost,
            prior=self.prior,
        )
        return tracker.export(self.capability)


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
        return tracker.export(self.capability)


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
    """An engine's view of the shared health rows; see the module docstring."""

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
        self._rows: dict[str, HealthRow] | None = None
        self._read_at = -float("inf")
        #: (run id, step) -> the outcome this engine has seen but not yet committed.
        self._pending: dict[tuple[str, int], OutcomeChange] = {}
        self._snapshot: HealthSnapshot | None = None
        self._shown: dict[str, tuple[Any, ...]] | None = None
        self._built_from: tuple[int, int] = (-1, -1)
        self._offset: float | None = None

    # -- this engine's outcomes ----------------------------------------------------------------
    def noted(self, run_id: str, step: int, capability: str, *, ok: bool, latency_s: float,
              cost: float | None) -> None:
        """Remember an outcome until its event commits (called by `ido.engine.steps.Steps` per call)."""
        self._pending[(run_id, step)] = OutcomeChange(
            capability, ok, latency_s, self.clock.timestamp(), cost, self.prior(capability), self.config,
        )

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
        """Forget the outcomes among `events` (committed, or refused: this engine no longer owns them)."""
        dropped = False
        for event in events:
            if event.kind == "outcome":
                dropped = self._pending.pop((event.run_id, int(event.data.get("step", 0))), None) is not None or dropped
        if dropped:
            self._read_at = -float("inf")  # the rows now hold them: read again before the next decision

    # -- reading -------------------------------------------------------------------------------
    def snapshot(self, now: float) -> HealthSnapshot:
        """Return the health a decision at engine-clock `now` reads; the same object while nothing moved."""
        mono = self.monotonic()
        if self._rows is None or mono - self._read_at > self.max_age_s:
            self._rows = self.rows.health_rows()
            self._read_at = mono
            self.reads += 1
        if self._offset is None:
            self._offset = self.clock.timestamp() - self.clock.now()
        wall = now + self._offset
        caps: dict[str, CapabilityHealth] = {}
        pending: dict[str, list[OutcomeChange]] = {}
        for change in self._pending.values():
            pending.setdefault(change.capability, []).append(change)
        for name in sorted(set(self._rows) | set(pending)):
            row = self._rows.get(name)
            state: Mapping[str, Any] | None = row.state if row is not None else None
            for change in sorted(pending.get(name, ()), key=lambda c: c.at):
                state = change.apply(state)
            if not state:
                continue
            health = _tracker(self.config, name, state).published(name, wall)
            caps[name] = self._to_engine_clock(health, name)
        shown = {name: (h.circuit, h.retry_at is not None, h.probe_up, h.success_rate, h.latency_s, h.cost)
                 for name, h in caps.items()}
        if self._snapshot is None or shown != self._shown:
            self._snapshot = HealthSnapshot.model_construct(at=now, capabilities=caps)
            self._shown = shown
            self.version += 1
        return self._snapshot

    def _to_engine_clock(self, health: CapabilityHealth, name: str) -> CapabilityHealth:
        """Return `health` with its times on this engine's clock, and open while a trial of ours runs."""
        assert self._offset is not None
        update: dict[str, Any] = {}
        if health.retry_at is not None:
            update["retry_at"] = health.retry_at - self._offset
        if health.last_seen is not None:
            update["last_seen"] = health.last_seen - self._offset
        if self.local.trial_running(name) and health.circuit is Circuit.HALF_OPEN:
            update["circuit"], update["retry_at"] = Circuit.OPEN, None
        return health.model_copy(update=update) if update else health
