"""Live health of every capability: estimates from outcomes and probes, feeding circuit breakers.

One `HealthTracker` is shared by all runs of an `Engine`. Each outcome
updates an EWMA success estimate, a windowed success rate, an EWMA latency,
the observed cost and the capability's circuit breaker
(`ido.engine.circuit.Breaker`, which opens after N consecutive failures or a
low windowed rate, as this tracker judges). Probes run in the background
(`Engine` starts them) and only ever make health *worse* or move an open
circuit to half-open early (a lying probe is outweighed by outcomes; see
`ido.engine.circuit`). `snapshot(now)` is
what a decision reads: one immutable `HealthSnapshot`, cached per `version`;
`version` grows on every change that matters to planning (circuit
transitions, probe flips, estimate moves beyond a tolerance), and
`health_news(before, after)` names circuit and probe changes between two
snapshots, for the cause of a run's next decision.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ido.construct import construct
from ido.engine.circuit import Breaker
from ido.health import CapabilityHealth, Circuit, HealthSnapshot


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """Tuning of estimates and circuit breakers (defaults suit services answering in ~1s)."""

    #: EWMA weight of the newest outcome in the latency estimate.
    alpha: float = 0.2
    #: pseudo-observations the declared reliability is worth; outcomes decay with weight
    #: 1 - 1/prior_weight, so the success estimate forgets at the same pace (one random
    #: failure of a 0.99 provider moves it to 0.97, not to 0.79 as a plain EWMA would).
    prior_weight: float = 50.0
    #: half-life (seconds) of a pessimistic success estimate drifting back to the declared
    #: reliability without new evidence, so a capability is tried again after a while.
    recovery_half_life: float = 60.0
    #: how often (seconds) recovery is applied; blocked runs recheck at this pace.
    recovery_step: float = 5.0
    #: consecutive failures that open a closed circuit.
    failure_threshold: int = 3
    #: windowed success rate below which a closed circuit opens (with min_samples outcomes).
    window: int = 20
    min_samples: int = 10
    min_rate: float = 0.5
    #: first open period in seconds; doubles on each reopening up to backoff_cap.
    backoff: float = 1.0
    backoff_cap: float = 60.0
    #: changes of the success estimate (absolute) or latency (relative) that bump `version`.
    success_tolerance: float = 0.05
    latency_tolerance: float = 0.25
    #: latency moves smaller than this (seconds) never count as a change, however relative.
    latency_floor: float = 0.01
    #: a call in flight this many times longer than the latency estimate raises the estimate.
    slow_factor: float = 3.0


@dataclass(slots=True)
class _Entry:
    """Mutable per-capability state; published as `CapabilityHealth` in snapshots."""

    success: float | None = None
    #: decayed pseudo-counts behind `success` (successes, observations).
    hits: float = 0.0
    seen: float = 0.0
    prior: float | None = None
    latency: float | None = None
    cost: float | None = None
    window: deque[bool] = field(default_factory=lambda: deque(maxlen=20))
    samples: int = 0
    consecutive_failures: int = 0
    breaker: Breaker = field(default_factory=lambda: Breaker(1.0, 60.0))
    probe_up: bool | None = None
    #: start times of calls in flight (oldest first) and the declared latency.
    started: deque[float] = field(default_factory=deque)
    expected: float | None = None
    last_seen: float | None = None
    # the values last published (bumping `version` when they move enough)
    shown_success: float | None = None
    shown_latency: float | None = None


class HealthTracker:
    """Per-capability health shared by every run of one engine; see the module docstring."""

    def __init__(self, config: HealthConfig | None = None) -> None:
        self.config = config or HealthConfig()
        self._entries: dict[str, _Entry] = {}
        self.version = 0
        self._snapshot: HealthSnapshot | None = None
        self._snapshot_version = -1
        self._next_transition = math.inf
        self._subscribers: set[asyncio.Event] = set()
        self._recovered_at = -math.inf

    # -- evidence ------------------------------------------------------------
    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            cfg = self.config
            entry = _Entry(window=deque(maxlen=cfg.window), breaker=Breaker(cfg.backoff, cfg.backoff_cap))
            self._entries[name] = entry
        return entry

    def record_outcome(
        self, name: str, *, ok: bool, latency_s: float, now: float, cost: float | None = None,
        prior: float | None = None,
    ) -> None:
        """Fold one call's outcome into the estimates and the circuit. Called by the engine.

        `prior` (the declared reliability) seeds the success estimate, so one
        early failure lowers it instead of zeroing it.
        """
        cfg = self.config
        e = self._entry(name)
        if e.started:
            e.started.popleft()
        e.samples += 1
        e.last_seen = now
        e.window.append(ok)
        value = 1.0 if ok else 0.0
        if e.seen == 0.0:
            e.prior = prior if prior is not None else 0.9
            e.hits, e.seen = e.prior * cfg.prior_weight, cfg.prior_weight
            # the planner already assumes the declared reliability: only moving away from it is news
            if e.shown_success is None and prior is not None:
                e.shown_success = prior
        keep = 1.0 - 1.0 / cfg.prior_weight
        e.hits = e.hits * keep + value
        e.seen = e.seen * keep + 1.0
        e.success = e.hits / e.seen
        if ok:
            e.latency = latency_s if e.latency is None else e.latency + cfg.alpha * (latency_s - e.latency)
            if cost is not None:
                e.cost = cost
        changed = self._moved(e)
        if ok:
            e.consecutive_failures = 0
        else:
            e.consecutive_failures += 1
        if e.breaker.outcome(ok, now, lambda: self._should_open(e)):
            self._retry_due(e)
            changed = True
        if changed:
            self._bump()

    def record_probe(self, name: str, *, up: bool, now: float) -> None:
        """Fold one probe answer in: down opens the circuit; up may only half-open it early."""
        e = self._entry(name)
        # a first "up" changes nothing the planner reads (it only avoids probes saying down)
        changed = e.probe_up is not up and not (up and e.probe_up is None)
        e.probe_up = up
        e.last_seen = now
        if e.breaker.probe(up, now):
            self._retry_due(e)
            changed = True
        if changed:
            self._bump()

    def begin_call(self, name: str, now: float, expected_latency: float | None = None) -> None:
        """Note that a call starts; a half-open circuit admits only this one trial until it ends.

        Calls in flight are watched: one running far longer than the latency
        estimate (or `expected_latency` before any evidence) raises the estimate
        before it ends, so new runs can avoid a provider that has become slow.
        """
        e = self._entry(name)
        e.started.append(now)
        if e.expected is None:
            e.expected = expected_latency
        self._transition(e, now)
        if e.breaker.begin_trial():
            self._bump()

    def abandon_call(self, name: str) -> None:
        """Note that a call ended without an outcome (cancelled); free its trial slot."""
        e = self._entries.get(name)
        if e is not None and e.started:
            e.started.popleft()
        if e is not None and e.breaker.abandon_trial():
            self._bump()

    # -- reading -------------------------------------------------------------
    def snapshot(self, now: float) -> HealthSnapshot:
        """Return one immutable snapshot; the same object until `version` changes.

        Open circuits whose backoff has elapsed are moved to half-open first.
        """
        if now >= self._next_transition:
            self._apply_transitions(now)
        if now - self._recovered_at >= self.config.recovery_step:
            self._recover(now)
        if self._snapshot is None or self._snapshot_version != self.version:
            caps = {name: self._publish(e) for name, e in self._entries.items()}
            self._snapshot = construct(HealthSnapshot, at=now, capabilities=caps)
            self._snapshot_version = self.version
        return self._snapshot

    def recheck_after(self) -> float:
        """Return how long a blocked run may wait before estimates may have recovered."""
        return self.config.recovery_step

    def next_retry_at(self) -> float | None:
        """Return the earliest time an open circuit becomes half-open (None: none pending)."""
        return None if math.isinf(self._next_transition) else self._next_transition

    def circuit(self, name: str, now: float) -> Circuit:
        """Return the circuit state of `name` at `now`."""
        e = self._entries.get(name)
        if e is None:
            return Circuit.CLOSED
        self._transition(e, now)
        return e.breaker.state

    def subscribe(self, event: asyncio.Event) -> None:
        """Set `event` on the next change of `version` (blocked runs wait on it)."""
        self._subscribers.add(event)

    def unsubscribe(self, event: asyncio.Event) -> None:
        """Stop notifying `event`."""
        self._subscribers.discard(event)

    def trial_running(self, name: str) -> bool:
        """Return whether a half-open trial of `name` started here is still in flight."""
        e = self._entries.get(name)
        return e is not None and e.breaker.trial_in_flight

    # -- a capability's state as data (the shared health rows, `ido.engine.shared_health`) ----
    def export(self, name: str) -> dict[str, Any]:
        """Return what is known of `name` as plain JSON data (`load` reads it back).

        Calls in flight are this process's own and are left out.
        """
        e = self._entry(name)
        b = e.breaker
        return {
            "success": e.success, "hits": e.hits, "seen": e.seen, "prior": e.prior,
            "latency": e.latency, "cost": e.cost, "window": [int(x) for x in e.window],
            "samples": e.samples, "consecutive_failures": e.consecutive_failures,
            "probe_up": e.probe_up, "last_seen": e.last_seen,
            "shown_success": e.shown_success, "shown_latency": e.shown_latency,
            "breaker": {
                "state": b.state.value, "retry_at": b.retry_at, "backoff": b.backoff,
                "opened_by_probe": b.opened_by_probe, "probe_trusted": b.probe_trusted,
            },
        }

    def load(self, name: str, state: Mapping[str, Any]) -> None:
        """Replace what is known of `name` by `state` (as `export` returned it; missing keys: defaults)."""
        cfg = self.config
        e = _Entry(window=deque((bool(x) for x in state.get("window") or ()), maxlen=cfg.window),
                   breaker=Breaker(cfg.backoff, cfg.backoff_cap))
        e.success, e.prior = state.get("success"), state.get("prior")
        e.hits, e.seen = float(state.get("hits") or 0.0), float(state.get("seen") or 0.0)
        e.latency, e.cost = state.get("latency"), state.get("cost")
        e.samples = int(state.get("samples") or 0)
        e.consecutive_failures = int(state.get("consecutive_failures") or 0)
        e.probe_up, e.last_seen = state.get("probe_up"), state.get("last_seen")
        e.shown_success, e.shown_latency = state.get("shown_success"), state.get("shown_latency")
        breaker = state.get("breaker") or {}
        e.breaker.state = Circuit(breaker.get("state", Circuit.CLOSED.value))
        e.breaker.retry_at = breaker.get("retry_at")
        e.breaker.backoff = float(breaker.get("backoff") or 0.0)
        e.breaker.opened_by_probe = bool(breaker.get("opened_by_probe", False))
        e.breaker.probe_trusted = bool(breaker.get("probe_trusted", True))
        self._entries[name] = e
        self._retry_due(e)  # an open circuit moves to half-open at its time, as one opened here does
        self._bump()

    def published(self, name: str, now: float) -> CapabilityHealth:
        """Return `name`'s health as a snapshot would show it at `now`.

        The circuit is moved to half-open if its backoff elapsed, and a
        pessimistic success estimate drifts back toward the prior for the time
        since the last evidence (as `snapshot` does, step by step, in a live tracker).
        """
        e = self._entry(name)
        e.breaker.transition(now)
        if (e.success is not None and e.prior is not None and e.success < e.prior
                and e.last_seen is not None and now > e.last_seen):
            factor = 0.5 ** ((now - e.last_seen) / self.config.recovery_half_life)
            e.success = e.prior + (e.success - e.prior) * factor
            e.hits = e.success * e.seen
            self._moved(e)
        return self._publish(e)

    # -- internals -----------------------------------------------------------
    def _should_open(self, e: _Entry) -> bool:
        cfg = self.config
        if e.consecutive_failures >= cfg.failure_threshold:
            return True
        if len(e.window) >= cfg.min_samples:
            return sum(e.window) / len(e.window) < cfg.min_rate
        return False

    def _retry_due(self, e: _Entry) -> None:
        """Make sure the next snapshot after `e`'s retry time moves it to half-open."""
        retry = e.breaker.pending_retry()
        if retry is not None:
            self._next_transition = min(self._next_transition, retry)

    def _transition(self, e: _Entry, now: float) -> None:
        if e.breaker.transition(now):
            self._bump()

    def _apply_transitions(self, now: float) -> None:
        pending = math.inf
        for e in self._entries.values():
            self._transition(e, now)
            retry = e.breaker.pending_retry()
            if retry is not None:
                pending = min(pending, retry)
        self._next_transition = pending

    def _recover(self, now: float) -> None:
        """Let success estimates below their prior drift back toward it, by the half-life."""
        if math.isinf(self._recovered_at):
            self._recovered_at = now
            return
        elapsed = now - self._recovered_at
        self._recovered_at = now
        factor = 0.5 ** (elapsed / self.config.recovery_half_life)
        changed = False
        for e in self._entries.values():
            typical = e.latency if e.latency is not None else e.expected
            if e.started and typical is not None:
                age = now - e.started[0]
                if age > self.config.slow_factor * max(typical, self.config.latency_floor):
                    # a call still running this long is evidence of slowness before it ends
                    e.latency = age
                    changed = self._moved(e) or changed
            if e.success is None or e.prior is None or e.success >= e.prior:
                continue
            target = e.prior + (e.success - e.prior) * factor
            e.hits = target * e.seen
            e.success = target
            changed = self._moved(e) or changed
        if changed:
            self._bump()

    def _moved(self, e: _Entry) -> bool:
        cfg = self.config
        moved = False
        if e.success is not None and (
            e.shown_success is None or abs(e.success - e.shown_success) > cfg.success_tolerance
        ):
            e.shown_success = e.success
            moved = True
        if e.latency is not None and (
            e.shown_latency is None
            or abs(e.latency - e.shown_latency) > max(cfg.latency_tolerance * e.shown_latency, cfg.latency_floor)
        ):
            e.shown_latency = e.latency
            moved = True
        return moved

    def _publish(self, e: _Entry) -> CapabilityHealth:
        return construct(
            CapabilityHealth, success_rate=None if e.shown_success is None else round(e.shown_success, 4),
            latency_s=None if e.shown_latency is None else round(e.shown_latency, 4),
            cost=e.cost,
            circuit=e.breaker.state,
            retry_at=e.breaker.retry_at,
            probe_up=e.probe_up,
            samples=e.samples,
            consecutive_failures=e.consecutive_failures,
            last_seen=e.last_seen,
        )

    def _bump(self) -> None:
        self.version += 1
        for event in self._subscribers:
            event.set()


def health_news(before: HealthSnapshot, after: HealthSnapshot, limit: int = 3) -> str:
    """Return what changed between two snapshots that planning notices: circuits and probes.

    At most `limit` changes, sorted, then how many more; "" when none. The
    engine adds it to the cause of a run's next decision.
    """
    news = []
    for name, h in after.capabilities.items():
        old = before.of(name)
        if h.circuit != old.circuit:
            news.append(f"{name} circuit {h.circuit.value.replace('_', '-')}")
        elif h.probe_up is False and old.probe_up is not False:
            news.append(f"{name} probe says down")
    shown = ", ".join(sorted(news)[:limit])
    return shown + (f" (+{len(news) - limit} more)" if len(news) > limit else "")
