"""The store's shared tables on every backend: health rows, probe leases, run signals."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from journal_helpers import event, run_info

from ido.errors import JournalError, LeaseLost
from ido.journal import open_store
from ido.journal.base import Lease, Signal, Store
from tests.conftest import postgres_url


@dataclass(frozen=True)
class Count:
    """A health change that counts how many times it was folded into a row (and remembers the last tag)."""

    capability: str
    tag: str = ""

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        n = int((state or {}).get("n", 0))
        return {"n": n + 1, "last": self.tag}


async def test_health_changes_commit_with_their_events(store: Store) -> None:
    """An append's health changes land with it: the row holds the fold of every change, version counts them."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"), health=[Count("pay", "a")])
    await store.append([event("r1", 2, "outcome")], health=[Count("pay", "b"), Count("ship", "c")])
    rows = store.health_rows()
    assert rows["pay"].state == {"n": 2, "last": "b"} and rows["pay"].version == 2
    assert rows["ship"].state == {"n": 1, "last": "c"} and rows["ship"].version == 1
    assert rows["pay"].updated_at > 0


async def test_a_refused_append_changes_no_health(store: Store) -> None:
    """A duplicate seq or a lost fence writes nothing, health included."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"), health=[Count("pay")])
    with pytest.raises(JournalError):
        await store.append([event("r1", 1, "outcome")], health=[Count("pay", "dup")])
    lease = Lease(run_id="r1", owner="someone", epoch=7, until=1e12)
    with pytest.raises(LeaseLost):
        await store.append([event("r1", 2, "outcome")], fence=lease, health=[Count("pay", "late")])
    assert store.health_rows()["pay"].state == {"n": 1, "last": ""}


async def test_a_rejected_append_in_a_batch_keeps_the_others_health(store: Store) -> None:
    """Concurrent appends share a commit; the refused one's change is left out, the others' are in."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
    await store.append([event("r2", 1, "run_started")], run=run_info("r2"))
    results = await asyncio.gather(
        store.append([event("r1", 2, "outcome")], health=[Count("pay", "ok1")]),
        store.append([event("r2", 5, "outcome")], health=[Count("pay", "gap")]),
        store.append([event("r2", 2, "outcome")], health=[Count("pay", "ok2")]),
        return_exceptions=True,
    )
    assert [isinstance(r, JournalError) for r in results] == [False, True, False]
    assert store.health_rows()["pay"].state["n"] == 2


def test_probe_leases_let_one_owner_probe_at_a_time(store: Store) -> None:
    """The first claimer holds a capability's probe lease; others wait until it expires; the holder renews."""
    assert store.claim_probe("pay", "A", lease_s=10, now=100.0)
    assert not store.claim_probe("pay", "B", lease_s=10, now=105.0)
    assert store.claim_probe("pay", "A", lease_s=10, now=106.0)  # renewed to 116
    assert not store.claim_probe("pay", "B", lease_s=10, now=115.0)
    assert store.claim_probe("pay", "B", lease_s=10, now=117.0)
    assert store.claim_probe("ship", "A", lease_s=10, now=117.0)  # per capability


def test_trial_leases_let_one_owner_trial_each_open_period(store: Store) -> None:
    """One owner holds a circuit's trial lease for an open period; others get it once it expires, is
    released, or a later period (the trial's outcome landed and the circuit half-opened again) begins."""
    assert store.claim_trial("pay", "A", trial_of=50.0, lease_s=10, now=100.0)
    assert not store.claim_trial("pay", "B", trial_of=50.0, lease_s=10, now=105.0)
    assert store.claim_trial("pay", "A", trial_of=50.0, lease_s=10, now=106.0)  # renewed to 116
    assert not store.claim_trial("pay", "B", trial_of=50.0, lease_s=10, now=115.0)
    assert not store.claim_trial("pay", "B", trial_of=40.0, lease_s=10, now=115.0)  # a stale view's period
    held = store.trial_leases()["pay"]
    assert (held.owner, held.trial_of, held.until) == ("A", 50.0, 116.0)
    assert store.claim_trial("pay", "B", trial_of=50.0, lease_s=10, now=117.0)  # A's expired
    assert store.claim_trial("pay", "A", trial_of=60.0, lease_s=10, now=118.0)  # the next period
    store.release_trial("pay", "B")  # not B's any more: left alone
    assert store.trial_leases()["pay"].owner == "A"
    store.release_trial("pay", "A")
    assert "pay" not in store.trial_leases()
    assert store.claim_trial("pay", "B", trial_of=60.0, lease_s=10, now=119.0)
    assert store.claim_trial("ship", "A", trial_of=60.0, lease_s=10, now=119.0)  # per capability


def test_signals_are_kept_per_run_oldest_first(store: Store) -> None:
    """Signals come back for the runs asked about, in the order they were put."""
    store.put_signal(Signal(run_id="r1", kind="cancel", by="ann", note="wrong order", at=1.0))
    store.put_signal(Signal(run_id="r2", kind="cancel", by="bob", at=2.0))
    store.put_signal(Signal(run_id="r1", kind="approve", by="cid", at=3.0, ref="r1-d4"))
    got = store.signals(run_ids=["r1"])
    assert [(s.kind, s.by, s.note, s.ref) for s in got] == [
        ("cancel", "ann", "wrong order", ""), ("approve", "cid", "", "r1-d4")]
    assert {s.run_id for s in store.signals(run_ids=["r1", "r2"])} == {"r1", "r2"}
    assert store.signals(run_ids=[]) == [] and store.signals(run_ids=["nobody"]) == []


def _shared_url(kind: str, tmp_path: Path) -> str:
    return postgres_url() if kind == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_outcomes_of_two_writers_never_lose_an_update(kind: str, tmp_path: Path) -> None:
    """Two stores (two connections, two writer threads) folding into one row at once: every change counts.

    A change whose row the other writer held at that instant lands with the
    writer's next transaction (PostgreSQL does not wait for the row): by the
    time both stores are closed, every change is in.
    """
    url = _shared_url(kind, tmp_path)
    first, second = open_store(url), open_store(url)
    per_writer, runs = 40, 4

    def writer(store: Store, prefix: str) -> None:
        async def one_run(i: int) -> None:
            rid = f"{prefix}{i}"
            await store.append([event(rid, 1, "run_started")], run=run_info(rid))
            for seq in range(2, per_writer // runs + 2):
                await store.append([event(rid, seq, "outcome")], health=[Count("pay", rid)])

        async def main() -> None:
            await asyncio.gather(*(one_run(i) for i in range(runs)))

        asyncio.run(main())

    try:
        threads = [threading.Thread(target=writer, args=(s, p)) for s, p in ((first, "a"), (second, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        first.close()
        second.close()
    reader = open_store(url)
    try:
        row = reader.health_rows()["pay"]
        assert row.state["n"] == 2 * per_writer
        assert row.version == 2 * per_writer
    finally:
        reader.close()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_one_of_many_claimers_on_two_connections_gets_a_trial_lease(kind: str, tmp_path: Path) -> None:
    """Sixteen threads on two connections claim the same period's trial at once: exactly one wins."""
    url = _shared_url(kind, tmp_path)
    first, second = open_store(url), open_store(url)
    start = threading.Barrier(16)
    won: list[str] = []

    def claim(store: Store, owner: str) -> None:
        start.wait()
        if store.claim_trial("pay", owner, trial_of=50.0, lease_s=30, now=100.0):
            won.append(owner)

    try:
        threads = [threading.Thread(target=claim, args=(first if i % 2 else second, f"w{i}")) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(won) == 1
        assert first.trial_leases()["pay"].owner == won[0] == second.trial_leases()["pay"].owner
    finally:
        first.close()
        second.close()
