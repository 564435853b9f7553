"""A capability's circuit breaker: closed, open for a doubling backoff, half-open for one trial.

    closed --(the tracker's threshold: N consecutive failures, or a low windowed rate)--> open
    open --(backoff elapsed, doubling up to a cap)--> half_open (one trial)
    half_open --trial succeeds--> closed;   --trial fails--> open (backoff doubled)

Probes only make things worse or hurry a trial: "down" opens a closed
circuit; "up" closes a circuit that a probe opened, or lets an open one try
early, but a probe whose early trial failed is not trusted again until a call
succeeds. One `Breaker` per capability is held by the engine's
`ido.engine.health.HealthTracker`, which feeds it outcomes, probes and call
starts and publishes its state in health snapshots; each method returns
whether the state changed (the tracker then bumps its version).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ido.health import Circuit


@dataclass(slots=True)
class Breaker:
    """One capability's circuit state and the backoff before its next trial."""

    #: first open period in seconds; doubles on each reopening up to `backoff_cap`.
    first_backoff: float
    backoff_cap: float
    state: Circuit = Circuit.CLOSED
    #: engine-clock seconds from which an open circuit admits a half-open trial.
    retry_at: float | None = None
    backoff: float = 0.0
    opened_by_probe: bool = False
    trial_in_flight: bool = False
    probe_trusted: bool = True
    #: the trial in flight was let through early by a probe saying up.
    probe_trial: bool = False

    def outcome(self, ok: bool, now: float, should_open: Callable[[], bool]) -> bool:
        """Take one call's outcome; return whether the state changed.

        A success closes the circuit; a failed trial reopens it (doubling the
        backoff); a failure with the circuit closed opens it when `should_open()`.
        """
        was_trial = self.trial_in_flight
        self.trial_in_flight = False
        changed = False
        if ok:
            self.probe_trusted = True
            if self.state is not Circuit.CLOSED:
                self._close()
                changed = True
        elif self.state is Circuit.HALF_OPEN or (self.state is Circuit.OPEN and was_trial):
            if self.probe_trial:
                self.probe_trusted = False
            self.open(now, by_probe=False)
            changed = True
        elif self.state is Circuit.CLOSED and should_open():
            self.open(now, by_probe=False)
            changed = True
        self.probe_trial = False
        return changed

    def probe(self, up: bool, now: float) -> bool:
        """Take one probe answer; return whether the state changed (down opens, up may hurry a trial)."""
        if not up and self.state is Circuit.CLOSED:
            self.open(now, by_probe=True)
            return True
        if up and self.state is Circuit.OPEN and not self.trial_in_flight:
            if self.opened_by_probe:
                # the probe opened it and the probe says up again: trust it.
                self._close()
                return True
            if self.probe_trusted and (self.retry_at is None or self.retry_at > now):
                self.retry_at = now
                self.probe_trial = True
                return True
        return False

    def begin_trial(self) -> bool:
        """Note that a call starts; a half-open circuit admits only it (returns whether it was the trial)."""
        if self.state is not Circuit.HALF_OPEN:
            return False
        self.state = Circuit.OPEN
        self.retry_at = None
        self.trial_in_flight = True
        return True

    def abandon_trial(self) -> bool:
        """Note that a call ended without an outcome; a trial it was is free again (returns whether)."""
        if not self.trial_in_flight:
            return False
        self.trial_in_flight = False
        self.retry_at = None
        self.state = Circuit.HALF_OPEN
        return True

    def transition(self, now: float) -> bool:
        """Move an open circuit whose backoff has elapsed to half-open; return whether it moved."""
        if self.state is Circuit.OPEN and self.retry_at is not None and now >= self.retry_at:
            self.state = Circuit.HALF_OPEN
            return True
        return False

    def pending_retry(self) -> float | None:
        """Return when this open circuit becomes half-open (None: not open, or a trial is running)."""
        return self.retry_at if self.state is Circuit.OPEN else None

    def open(self, now: float, *, by_probe: bool) -> None:
        """Open the circuit now for the next backoff (the first, or the last one doubled)."""
        self.backoff = self.first_backoff if self.backoff <= 0 else min(self.backoff * 2, self.backoff_cap)
        self.state = Circuit.OPEN
        self.retry_at = now + self.backoff
        self.opened_by_probe = by_probe
        self.trial_in_flight = False

    def _close(self) -> None:
        self.state, self.retry_at, self.backoff, self.opened_by_probe = Circuit.CLOSED, None, 0.0, False
