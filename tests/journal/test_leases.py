"""Leases and fencing, one contract on every backend (memory, SQLite, PostgreSQL).

A run is driven by whoever holds its lease; claiming bumps the epoch, and a
write fenced by a lease that was taken over is refused whole.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from journal_helpers import event, run_info

from ido.errors import LeaseLost
from ido.journal import open_store
from ido.journal.base import Lease, Store
from tests.conftest import postgres_url

NOW = 1_000_000.0


async def test_a_claimed_run_is_not_claimed_again_until_its_lease_expires(store: Store) -> None:
    """Claim bumps the epoch; a live lease keeps others out; an expired one lets them in."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
    [first] = store.claim("a", lease_s=10, now=NOW)
    assert (first.run_id, first.owner, first.epoch, first.until) == ("r1", "a", 1, NOW + 10)
    assert store.claim("b", lease_s=10, now=NOW + 5) == []
    [second] = store.claim("b", lease_s=10, now=NOW + 11)
    assert (second.owner, second.epoch) == ("b", 2)
    assert store.leases() == [second]


async def test_live_leases_leave_out_the_expired(store: Store) -> None:
    """`live_at` keeps only leases held until then (a worker's claim scans only these)."""
    for rid in ("r1", "r2"):
        await store.append([event(rid, 1, "run_started")], run=run_info(rid))
    [short] = store.claim("a", lease_s=5, now=NOW, run_id="r1")
    [long] = store.claim("b", lease_s=50, now=NOW, run_id="r2")
    assert store.leases() == [short, long]
    assert store.leases(live_at=NOW + 5) == [short, long]
    assert store.leases(live_at=NOW + 6) == [long]
    assert store.leases(run_ids=["r1"], live_at=NOW + 6) == []
    assert store.leases(run_ids=["r2"], live_at=NOW + 6) == [long]


async def test_a_late_write_of_the_old_owner_is_refused_whole(store: Store) -> None:
    """After a takeover the old owner's fenced append raises LeaseLost and writes nothing."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
    [old] = store.claim("a", lease_s=1, now=NOW)
    [new] = store.claim("b", lease_s=10, now=NOW + 2)
    with pytest.raises(LeaseLost, match="claimed by b") as caught:
        await store.append(
            [event("r1", 2, "decision", by="a")], run=run_info("r1", status="failed"), fence=old
        )
    assert caught.value.run_id == "r1"
    assert [e.seq for e in store.events(run_id="r1")] == [1]
    assert store.get_run(run_id="r1").status == "running"
    await store.append([event("r1", 2, "decision", by="b")], run=run_info("r1"), fence=new)
    assert store.events(run_id="r1")[-1].data == {"by": "b"}


async def test_a_fenced_first_append_creates_the_lease_and_appends_extend_it(store: Store) -> None:
    """The process that creates a run holds it from its first event; each fenced write extends it."""
    lease = Lease(run_id="r1", owner="a", epoch=1, until=NOW + 10)
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"), fence=lease)
    assert store.claim("b", lease_s=10, now=NOW + 1) == []
    later = lease.model_copy(update={"until": NOW + 30})
    await store.append([event("r1", 2)], run=run_info("r1"), fence=later)
    assert store.leases(run_ids=["r1"]) == [later]
    assert store.claim("b", lease_s=10, now=NOW + 20) == []  # the write extended the lease
    assert len(store.claim("b", lease_s=10, now=NOW + 31)) == 1


async def test_a_fenced_write_to_an_existing_unleased_run_is_refused(store: Store) -> None:
    """Fencing only creates a lease with a run's first event: never for a run someone else made."""
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
    with pytest.raises(LeaseLost, match="no lease"):
        await store.append(
            [event("r1", 2)], run=run_info("r1"), fence=Lease(run_id="r1", owner="a", epoch=1, until=NOW)
        )
    assert [e.seq for e in store.events(run_id="r1")] == [1]


async def test_finished_runs_are_never_claimed_and_claims_go_oldest_first(store: Store) -> None:
    """Only unfinished runs are claimable, oldest first, `limit` at a time, or one named run."""
    for i, status in enumerate(["succeeded", "running", "waiting_approval", "failed", "running"]):
        rid = f"r{i}"
        await store.append([event(rid, 1, "run_started")], run=run_info(rid, status=status, created_at=i))
    assert [x.run_id for x in store.claim("a", lease_s=5, limit=2, now=NOW)] == ["r1", "r2"]
    assert [x.run_id for x in store.claim("a", lease_s=5, limit=5, now=NOW)] == ["r4"]
    assert store.claim("b", lease_s=5, run_id="r0", now=NOW + 100) == []  # succeeded
    assert [x.run_id for x in store.claim("b", lease_s=5, run_id="r2", now=NOW + 100)] == ["r2"]


async def test_a_started_run_whose_owner_is_gone_is_claimed_before_older_queued_runs(store: Store) -> None:
    """A taken-over run's deadline is running: it goes before the queue, however long the queue is.

    Seen in the crash test: a stopped worker's runs waited behind every queued run (the
    worker that started them rewrote their created_at), while their deadlines passed.
    """
    for i in range(3):
        await store.append([], run=run_info(f"q{i}", status="queued", created_at=i))
    await store.append([event("s", 1, "run_started")], run=run_info("s", status="running", created_at=10))
    [first] = store.claim("a", lease_s=1, now=NOW)
    assert first.run_id == "s"
    assert sorted(x.run_id for x in store.claim("b", lease_s=5, limit=2, now=NOW + 2)) == ["q0", "s"]


async def test_look_runs_gives_each_claimed_runs_row_and_whether_it_is_to_be_started(store: Store) -> None:
    """A worker's one read per claim: rows by id, queued ones without `run_started` to be started,
    unknown ids left out (the worker reads those one by one to say why)."""
    await store.append([], run=run_info("q", status="queued", created_at=1))
    await store.append([event("s", 1, "run_started")], run=run_info("s", status="running", created_at=2))
    # a queued row whose run_started is already written is not started afresh
    await store.append([event("qs", 1, "run_started")], run=run_info("qs", status="queued", created_at=3))
    await store.append([], run=run_info("done", status="succeeded", created_at=4))
    looked = store.look_runs(["q", "s", "qs", "done", "nope"])
    assert {rid: (info.run_id, info.status, fresh) for rid, (info, fresh) in looked.items()} == {
        "q": ("q", "queued", True), "s": ("s", "running", False), "qs": ("qs", "queued", False),
        "done": ("done", "succeeded", False),
    }
    assert looked["q"][0] == store.get_run(run_id="q")
    assert store.look_runs([]) == {}


async def test_renew_release_and_stealing_from_a_dead_owner(store: Store) -> None:
    """Renew reports lost leases; release makes a run claimable at once; dead owners are stolen from."""
    for rid in ("r1", "r2"):
        await store.append([event(rid, 1, "run_started")], run=run_info(rid))
    held = store.claim("a", lease_s=10, limit=2, now=NOW)
    assert store.renew(held, until=NOW + 60) == []
    store.release(held[:1])
    [again] = store.claim("b", lease_s=10, now=NOW + 1)
    assert (again.run_id, again.epoch) == ("r1", 2)
    assert store.renew(held, until=NOW + 90) == ["r1"]
    assert store.claim("c", lease_s=10, now=NOW + 2) == []
    [stolen] = store.claim("c", lease_s=10, now=NOW + 2, steal_from=["a"])
    assert (stolen.run_id, stolen.owner, stolen.epoch) == ("r2", "c", 2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Return a function opening one more connection to one shared journal (a file or a server)."""
    url = postgres_url() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'j.db'}"
    return lambda: open_store(url)


async def test_concurrent_claimers_never_share_a_run(shared_journal: Callable[[], Store]) -> None:
    """Six claimers on their own connections at once: every run is claimed by exactly one."""
    seed = shared_journal()
    for i in range(60):
        await seed.append([event(f"r{i:02}", 1, "run_started")], run=run_info(f"r{i:02}", created_at=i))
    stores = [shared_journal() for _ in range(6)]
    got: dict[str, list[str]] = {}
    start = threading.Barrier(len(stores))

    def claimer(name: str, s: Store) -> None:
        start.wait()
        mine: list[str] = []
        while batch := s.claim(name, lease_s=60, limit=3):
            mine.extend(x.run_id for x in batch)
        got[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}", s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [rid for ids in got.values() for rid in ids]
    assert sorted(claimed) == [f"r{i:02}" for i in range(60)]  # each once, none lost
    assert {x.epoch for x in seed.leases()} == {1}
    for s in [seed, *stores]:
        s.close()


def test_dead_local_owners_are_processes_of_this_machine_that_are_gone() -> None:
    """An owner whose process exited (even not yet reaped) is dead; this process, another host, an expired lease are not."""
    import socket
    import subprocess
    import sys
    import time

    from ido.journal.leases import dead_local_owners, owner_id

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited, and left unreaped: a zombie
        with open(f"/proc/{child.pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                break
        time.sleep(0.01)
    host = socket.gethostname()
    leases = [
        Lease(run_id="a", owner=f"{host}:{child.pid}:aa", epoch=1, until=NOW + 10),
        Lease(run_id="b", owner=owner_id(), epoch=1, until=NOW + 10),
        Lease(run_id="c", owner=f"elsewhere:{child.pid}:cc", epoch=1, until=NOW + 10),
        Lease(run_id="d", owner=f"{host}:{child.pid}:dd", epoch=1, until=NOW - 10),
    ]
    assert dead_local_owners(leases, now=NOW) == [f"{host}:{child.pid}:aa"]
    child.wait()
    assert dead_local_owners(leases, now=NOW) == [f"{host}:{child.pid}:aa"]


@pytest.mark.postgres
async def test_a_postgresql_store_reconnects_after_the_server_ended_its_sessions() -> None:
    """The server ends the store's sessions (restart, idle timeout): one call fails, the next goes through."""
    import psycopg

    from ido.errors import JournalError

    url = postgres_url()
    store = open_store(url)
    try:
        await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        for _ in range(2):  # the reader and the writer each meet their dead session once
            try:
                store.list_runs()
                break
            except JournalError:
                continue
        assert [r.run_id for r in store.list_runs()] == ["r1"]
        with pytest.raises(JournalError):
            store.claim("a", lease_s=10, now=NOW)  # the writer's session was ended
        assert [x.run_id for x in store.claim("a", lease_s=10, now=NOW)] == ["r1"]
        await store.append([event("r1", 2)], run=run_info("r1"))
        assert [e.seq for e in store.events(run_id="r1")] == [1, 2]
    finally:
        store.close()
