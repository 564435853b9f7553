"""The health tracker: EWMA estimates, circuit breaker transitions, probes that cannot outvote calls."""

from __future__ import annotations

from ido.engine.health import HealthConfig, HealthTracker
from ido.health import Circuit

CFG = HealthConfig(failure_threshold=3, backoff=1.0, backoff_cap=4.0, alpha=0.5)


def test_success_estimate_starts_at_the_prior_and_follows_outcomes() -> None:
    """One failure of a 0.99 provider moves the estimate a little; a run of failures moves it a lot."""
    h = HealthTracker(HealthConfig(prior_weight=50, failure_threshold=1000, success_tolerance=0.0))
    h.record_outcome("a", ok=False, latency_s=0.1, now=0.0, prior=0.99)
    assert h.snapshot(0.0).of("a").success_rate == 0.9702
    quiet = HealthTracker(HealthConfig(prior_weight=50, failure_threshold=1000))
    quiet.record_outcome("a", ok=True, latency_s=0.1, now=0.0, prior=0.99)
    version = quiet.version
    quiet.record_outcome("a", ok=False, latency_s=0.1, now=0.0)
    assert quiet.version == version  # a move under the tolerance is not a health change
    for _ in range(40):
        h.record_outcome("a", ok=False, latency_s=0.1, now=0.0)
    assert h.snapshot(0.0).of("a").success_rate < 0.5


def test_pessimistic_estimate_recovers_toward_the_prior_with_time() -> None:
    """Without new evidence, a low estimate halves its distance to the prior every half-life."""
    h = HealthTracker(HealthConfig(prior_weight=10, failure_threshold=1000, recovery_half_life=10, recovery_step=1,
                                   success_tolerance=0.0))
    h.snapshot(0.0)
    for _ in range(20):
        h.record_outcome("a", ok=False, latency_s=0.1, now=0.0, prior=0.9)
    low = h.snapshot(0.0).of("a").success_rate
    assert low is not None
    later = h.snapshot(10.0).of("a").success_rate
    assert later is not None
    assert abs((0.9 - later) - (0.9 - low) / 2) < 0.01


def test_latency_estimate_follows_successes() -> None:
    """The latency estimate is an EWMA of successful calls' durations."""
    h = HealthTracker(CFG)
    h.record_outcome("a", ok=True, latency_s=0.2, now=0.0)
    h.record_outcome("a", ok=True, latency_s=0.6, now=0.1)
    assert h.snapshot(0.1).of("a").latency_s == 0.4


def test_circuit_opens_after_consecutive_failures_then_half_opens_and_closes() -> None:
    """closed -> open after 3 failures -> half_open after the backoff -> closed on a trial success."""
    h = HealthTracker(CFG)
    for t in range(2):
        h.record_outcome("a", ok=False, latency_s=0.1, now=float(t))
    assert h.circuit("a", 2.0) is Circuit.CLOSED
    h.record_outcome("a", ok=False, latency_s=0.1, now=2.0)
    assert h.snapshot(2.0).of("a").circuit is Circuit.OPEN
    assert h.snapshot(2.0).of("a").retry_at == 3.0
    assert h.snapshot(3.0).of("a").circuit is Circuit.HALF_OPEN
    h.begin_call("a", 3.0)
    assert h.snapshot(3.0).of("a").circuit is Circuit.OPEN  # the one trial is in flight
    h.record_outcome("a", ok=True, latency_s=0.1, now=3.1)
    assert h.snapshot(3.1).of("a").circuit is Circuit.CLOSED


def test_failed_trial_reopens_with_doubled_backoff_up_to_the_cap() -> None:
    """Each failed half-open trial doubles the open period, never beyond the cap."""
    h = HealthTracker(CFG)
    for t in range(3):
        h.record_outcome("a", ok=False, latency_s=0.1, now=float(t))
    opened = []
    now = 2.0
    for _ in range(4):
        retry = h.snapshot(now).of("a").retry_at
        assert retry is not None
        opened.append(retry - now)
        now = retry
        h.begin_call("a", now)
        h.record_outcome("a", ok=False, latency_s=0.1, now=now)
    assert opened == [1.0, 2.0, 4.0, 4.0]


def test_probe_up_never_closes_a_circuit_calls_opened() -> None:
    """A probe saying up only lets one trial through early; it does not close the circuit."""
    h = HealthTracker(CFG)
    for t in range(3):
        h.record_outcome("a", ok=False, latency_s=0.1, now=float(t))
    h.record_probe("a", up=True, now=2.1)
    assert h.snapshot(2.1).of("a").circuit is Circuit.HALF_OPEN


def test_lying_probe_is_outweighed_by_outcomes() -> None:
    """After a trial a probe let through fails, later 'up' probes no longer open the circuit early."""
    h = HealthTracker(CFG)
    for t in range(3):
        h.record_outcome("a", ok=False, latency_s=0.1, now=float(t))
    h.record_probe("a", up=True, now=2.1)
    h.begin_call("a", 2.1)
    h.record_outcome("a", ok=False, latency_s=0.1, now=2.2)
    retry = h.snapshot(2.2).of("a").retry_at
    h.record_probe("a", up=True, now=2.3)
    assert h.snapshot(2.3).of("a").circuit is Circuit.OPEN
    assert h.snapshot(2.3).of("a").retry_at == retry


def test_probe_down_opens_and_probe_up_closes_a_probe_opened_circuit() -> None:
    """A probe may mark a capability down, and up again if only the probe had opened it."""
    h = HealthTracker(CFG)
    h.record_probe("a", up=False, now=0.0)
    assert h.snapshot(0.0).of("a").circuit is Circuit.OPEN
    h.record_probe("a", up=True, now=0.5)
    assert h.snapshot(0.5).of("a").circuit is Circuit.CLOSED


def test_snapshot_is_shared_until_version_changes() -> None:
    """One immutable snapshot object per version; a circuit transition makes a new one."""
    h = HealthTracker(CFG)
    h.record_outcome("a", ok=True, latency_s=0.1, now=0.0)
    first = h.snapshot(0.0)
    assert h.snapshot(0.5) is first
    version = h.version
    for t in range(3):
        h.record_outcome("a", ok=False, latency_s=0.1, now=1.0 + t)
    assert h.version > version
    assert h.snapshot(3.0) is not first
    assert first.of("a").circuit is Circuit.CLOSED


def test_low_windowed_rate_opens_without_consecutive_failures() -> None:
    """Alternating failures below the windowed success rate open the circuit."""
    h = HealthTracker(HealthConfig(failure_threshold=100, min_samples=10, min_rate=0.5, window=10))
    pattern = [False, False, True] * 3 + [False]
    for t, ok in enumerate(pattern[:-1]):
        h.record_outcome("a", ok=ok, latency_s=0.1, now=float(t))
    assert h.snapshot(9.0).of("a").circuit is Circuit.CLOSED
    h.record_outcome("a", ok=False, latency_s=0.1, now=9.0)
    assert h.snapshot(9.0).of("a").circuit is Circuit.OPEN
    assert h.snapshot(9.0).of("a").consecutive_failures == 1  # the window opened it, not a streak


def test_call_running_far_too_long_raises_the_latency_estimate_before_it_ends() -> None:
    """A call still in flight at several times the expected latency counts as slowness evidence."""
    h = HealthTracker(HealthConfig(recovery_step=1.0))
    h.snapshot(0.0)
    h.begin_call("carrier", 0.0, expected_latency=0.5)
    assert h.snapshot(1.0).of("carrier").latency_s is None  # 1s is not yet alarming
    slow = h.snapshot(2.0).of("carrier").latency_s
    assert slow is not None and slow >= 2.0
