"""`SharedHealth`: the view a decision reads of the store's health rows (unit level, on a MemoryStore).

The rows are read at most `max_age_s` apart (a fake monotonic clock here); an
engine sees its own outcomes at once, before they commit, and never twice once
they have; other engines' outcomes appear at the next read. Hypothesis checks
the counting on random interleavings of outcomes, commits and reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ido.clock import Clock
from ido.engine.health import HealthConfig, HealthTracker
from ido.engine.shared_health import SharedHealth, published_rows
from ido.health import Circuit
from ido.journal.base import Event, RunInfo
from ido.journal.memory import MemoryStore
from tests.conftest import postgres_url


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Engine:
    """One engine's side: a SharedHealth on the store, and the run whose outcomes it appends."""

    def __init__(self, store: MemoryStore, name: str, ticks: Ticks, config: HealthConfig | None = None,
                 call_timeout: float = 30.0) -> None:
        self.store, self.run_id, self.seq, self.step = store, name, 0, 0
        self.view = SharedHealth(store, HealthTracker(config), Clock(), prior=lambda _: 0.99, monotonic=ticks,
                                 owner=name, call_timeout=lambda _: call_timeout)
        self.unsent: list[Event] = []
        asyncio.run(store.append([], run=RunInfo(run_id=name, intent="i", status="running",
                                                 created_at=1.0, updated_at=1.0)))

    def outcome(self, capability: str, ok: bool) -> None:
        """A call ends: noted now, its event buffered until `commit`."""
        self.step += 1
        self.view.noted(self.run_id, self.step, capability, ok=ok, latency_s=0.01, cost=None)
        self.seq += 1
        self.unsent.append(Event(run_id=self.run_id, seq=self.seq, kind="outcome", at=1.0, data={
            "capability": capability, "step": self.step, "status": "succeeded" if ok else "failed",
            "latency_s": 0.01,
        }))

    def commit(self) -> None:
        events, self.unsent = self.unsent, []
        if not events:
            return
        asyncio.run(self.store.append(events, health=self.view.changes(events)))
        self.view.settled(events)


def _samples(view: SharedHealth, capability: str) -> int:
    return view.snapshot(0.0).of(capability).samples


def _open_circuit(engine: Engine) -> None:
    """Three failed calls of `pay` through `engine`, committed: its circuit opens in the rows."""
    for _ in range(3):
        engine.outcome("pay", False)
    engine.commit()


def _half_open_trial_taken_by(engine: Engine, ticks: Ticks) -> float:
    """Wait past a 0.05 s backoff, check `engine` sees `pay` half-open and takes its trial
    lease; return the engine-clock time it did."""
    import time

    time.sleep(0.1)
    ticks.now += 1.0
    now = Clock().now()
    assert engine.view.snapshot(now).of("pay").circuit is Circuit.HALF_OPEN
    assert engine.view.claim_trials(["pay"], now)
    return now


def test_own_outcomes_show_at_once_and_count_once() -> None:
    ticks, store = Ticks(), MemoryStore()
    a = Engine(store, "a", ticks)
    a.outcome("pay", False)
    assert _samples(a.view, "pay") == 1  # before it commits
    a.commit()
    ticks.now += 1.0  # the next snapshot reads the rows, which now hold it
    assert _samples(a.view, "pay") == 1 and a.view.reads == 2
    assert store.health_rows()["pay"].state["samples"] == 1


def test_other_engines_outcomes_appear_within_the_age_bound() -> None:
    ticks, store = Ticks(), MemoryStore()
    a, b = Engine(store, "a", ticks), Engine(store, "b", ticks)
    assert _samples(b.view, "pay") == 0
    _open_circuit(a)
    ticks.now += 0.2
    assert b.view.snapshot(0.0).of("pay").circuit is Circuit.CLOSED  # B's view is 0.2 s old: not read again
    assert b.view.reads == 1
    ticks.now += 0.06  # now older than 250 ms: read again
    seen = b.view.snapshot(0.0).of("pay")
    assert b.view.reads == 2 and seen.circuit is Circuit.OPEN and seen.consecutive_failures == 3


def test_version_moves_only_when_planning_would_notice() -> None:
    ticks, store = Ticks(), MemoryStore()
    a = Engine(store, "a", ticks)
    first = a.view.snapshot(0.0)
    assert a.view.snapshot(0.0) is first and a.view.version == 1
    a.outcome("pay", False)
    a.outcome("pay", False)
    a.outcome("pay", False)  # opens the circuit
    opened = a.view.snapshot(0.0)
    assert opened is not first and opened.of("pay").circuit is Circuit.OPEN
    assert a.view.snapshot(0.0) is opened  # nothing moved since


def test_the_health_endpoint_view_of_the_rows() -> None:
    ticks, store = Ticks(), MemoryStore()
    a = Engine(store, "a", ticks, HealthConfig(backoff=30.0))
    _open_circuit(a)
    row = store.health_rows()["pay"]
    at = row.state["last_seen"]
    shown = published_rows(store.health_rows(), at + 1.0)["pay"]
    assert shown.circuit is Circuit.OPEN and shown.retry_at is not None and shown.retry_at > at + 29
    assert published_rows(store.health_rows(), at + 31.0)["pay"].circuit is Circuit.HALF_OPEN


steps = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["outcome", "commit", "tick"]),
                           st.sampled_from(["pay", "ship"]), st.booleans()), max_size=40)


@settings(max_examples=60, deadline=None)
@given(steps)
def test_every_outcome_counts_exactly_once_in_every_view(plan: list[tuple[str, str, str, bool]]) -> None:
    """Whatever the interleaving, an engine's view counts each committed outcome once, plus its own pending ones."""
    ticks, store = Ticks(), MemoryStore()
    engines: dict[str, Any] = {"a": Engine(store, "a", ticks), "b": Engine(store, "b", ticks)}
    for who, action, capability, ok in plan:
        engine = engines[who]
        if action == "outcome":
            engine.outcome(capability, ok)
        elif action == "commit":
            engine.commit()
        else:
            ticks.now += 0.3
        for name, e in engines.items():
            ticks.now += 0.3  # force a read: the exact count
            for cap in ("pay", "ship"):
                committed = store.health_rows().get(cap)
                total = committed.state["samples"] if committed is not None else 0
                mine = sum(1 for ev in e.unsent if ev.data["capability"] == cap)
                assert _samples(e.view, cap) == total + mine, (name, cap)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_one_engine_at_a_time_probes_a_capability(tmp_path: Any, kind: str) -> None:
    """Two engines' probes on one journal (two connections): one holds the probe lease and probes;
    when it stops, the other takes over."""
    from ido.engine.observe import Probes
    from ido.journal import open_store
    from ido.model import Capability

    cap = Capability.model_validate({
        "name": "pay", "provides": "payment", "effects": {"paid": True}, "invoke": "sim",
        "probe": {"sim": True, "interval": "50ms", "timeout": "50ms"},
    })
    calls: dict[str, int] = {"A": 0, "B": 0}

    class Prober:
        def __init__(self, who: str) -> None:
            self.who = who

        async def probe(self, capability: Any) -> bool:
            calls[self.who] += 1
            return False

    url = postgres_url() if kind == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"
    first, second = open_store(url), open_store(url)

    async def scenario() -> tuple[int, int]:
        a = Probes(HealthTracker(), Clock(), shared=first, owner="A")
        b = Probes(HealthTracker(), Clock(), shared=second, owner="B")
        a.start([cap], Prober("A"))
        await asyncio.sleep(0.02)
        b.start([cap], Prober("B"))
        await asyncio.sleep(0.6)
        while_both = dict(calls)
        a.close()
        for task in a.tasks:
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.8)  # A's lease (2 intervals + the timeout) runs out: B probes
        b.close()
        await asyncio.gather(*b.tasks, return_exceptions=True)
        return while_both["A"], while_both["B"]

    try:
        a_calls, b_calls = asyncio.run(scenario())
        assert a_calls >= 3 and b_calls == 0  # B skipped every round A held
        assert calls["B"] >= 1  # and took over once A stopped
        row = first.health_rows()["pay"]
        assert row.state["probe_up"] is False and row.state["breaker"]["state"] != "closed"  # down opened it
    finally:
        first.close()
        second.close()


def test_an_open_circuit_read_from_the_rows_half_opens_at_its_time_and_one_trial_goes_per_engine() -> None:
    """B reads A's open circuit; after the backoff B sees it half-open; B's trial shows it open to B's
    other runs (not to A); the trial's failure reopens it, for a doubled backoff, for both."""
    import time

    ticks, store = Ticks(), MemoryStore()
    config = HealthConfig(backoff=0.2)
    a, b = Engine(store, "a", ticks, config), Engine(store, "b", ticks, config)
    _open_circuit(a)
    assert b.view.snapshot(Clock().now()).of("pay").circuit is Circuit.OPEN
    time.sleep(0.25)  # past the backoff
    assert b.view.snapshot(Clock().now()).of("pay").circuit is Circuit.HALF_OPEN
    b.view.begin_call("pay")  # B's trial: its other runs see the circuit open while it runs
    assert b.view.snapshot(Clock().now()).of("pay").circuit is Circuit.OPEN
    ticks.now += 1.0
    assert a.view.snapshot(Clock().now()).of("pay").circuit is Circuit.HALF_OPEN  # A may try too
    b.outcome("pay", False)
    b.commit()
    ticks.now += 1.0
    shown = a.view.snapshot(Clock().now()).of("pay")
    assert shown.circuit is Circuit.OPEN and shown.consecutive_failures == 4
    row = store.health_rows()["pay"].state["breaker"]
    assert row["backoff"] == 0.4  # reopened by a failed trial: the backoff doubled


def test_a_trial_lease_taken_by_one_engine_shows_the_circuit_open_to_the_others_until_its_outcome_lands() -> None:
    """B takes the half-open trial's lease: A's view shows the circuit open until the lease's end, with a
    note naming B, and A cannot take it; B's failed trial reopens the circuit for both, and the next
    half-open period's trial is A's to take."""
    import time

    ticks, store = Ticks(), MemoryStore()
    config = HealthConfig(backoff=0.2, backoff_cap=0.4)
    a, b = Engine(store, "a", ticks, config), Engine(store, "b", ticks, config)
    _open_circuit(a)
    time.sleep(0.25)  # past the backoff: half-open for both
    ticks.now += 1.0
    now = Clock().now()
    assert a.view.snapshot(now).of("pay").circuit is Circuit.HALF_OPEN
    assert b.view.snapshot(now).of("pay").circuit is Circuit.HALF_OPEN
    assert b.view.claim_trials(["pay"], now)
    assert b.view.snapshot(now).of("pay").circuit is Circuit.OPEN  # B's own other runs wait too
    assert not a.view.claim_trials(["pay"], now)  # A decided before it saw B's lease: it must decide again
    shown = a.view.snapshot(now).of("pay")
    assert shown.circuit is Circuit.OPEN and shown.retry_at is not None and shown.retry_at > now + 29
    assert a.view.held_notes() == (
        f"pay: its half-open trial is in flight in worker b; the circuit stays open here until the trial's "
        f"outcome lands (its lease ends at t={shown.retry_at:.4g}s)",
    )
    b.view.begin_call("pay")
    b.outcome("pay", False)
    b.commit()
    ticks.now += 1.0
    assert a.view.snapshot(Clock().now()).of("pay").circuit is Circuit.OPEN  # reopened, for 0.4 s now
    assert a.view.held_notes() == ()
    time.sleep(0.45)
    ticks.now += 1.0
    now = Clock().now()
    assert a.view.snapshot(now).of("pay").circuit is Circuit.HALF_OPEN  # B's lease was for the last period
    assert a.view.claim_trials(["pay"], now)
    assert not b.view.claim_trials(["pay"], now)


def test_a_trial_lease_whose_holder_never_sent_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that took the trial lease and died (or lost its run) holds it no longer than the call's
    timeout plus the grace: then another takes the trial."""
    import time

    import ido.engine.shared_health as shared_health

    monkeypatch.setattr(shared_health, "TRIAL_GRACE_S", 0.0)
    ticks, store = Ticks(), MemoryStore()
    config = HealthConfig(backoff=0.05)
    a = Engine(store, "a", ticks, config, call_timeout=0.2)
    b = Engine(store, "b", ticks, config, call_timeout=0.2)
    _open_circuit(a)
    now = _half_open_trial_taken_by(b, ticks)
    assert not a.view.claim_trials(["pay"], now)
    time.sleep(0.25)  # B never sends its trial: its lease ends
    ticks.now += 1.0
    now = Clock().now()
    assert a.view.snapshot(now).of("pay").circuit is Circuit.HALF_OPEN
    assert a.view.claim_trials(["pay"], now)
    assert b.view.snapshot(now).of("pay").circuit is Circuit.OPEN  # and B's own runs see A's trial too


def test_a_cancelled_trial_gives_its_lease_back_at_once() -> None:
    """A trial call that ends without an outcome (cancelled) frees its lease: another engine may try now."""

    ticks, store = Ticks(), MemoryStore()
    config = HealthConfig(backoff=0.05)
    a, b = Engine(store, "a", ticks, config), Engine(store, "b", ticks, config)
    _open_circuit(a)
    now = _half_open_trial_taken_by(b, ticks)
    b.view.begin_call("pay")
    assert not a.view.claim_trials(["pay"], now)
    b.view.abandon_call("pay")
    assert "pay" not in store.trial_leases()
    assert a.view.claim_trials(["pay"], now)
