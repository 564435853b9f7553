"""Worker edge cases in one process: re-claiming a run it still drives; a journal it cannot reach."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from durability_helpers import write_shop

from ido.engine.worker import Worker, queue_run
from ido.errors import JournalError
from ido.journal.base import Lease, Signal
from ido.journal.sqlite import SQLiteStore
from ido.loading import load_workspace
from ido.testing.services import ServiceServer


async def test_a_run_reclaimed_by_the_worker_driving_it_is_driven_once(tmp_path: Path, shop: ServiceServer) -> None:
    """Its lease ran out while it drove the run (a stall) and its claim took the run again: one driver.

    Before, a second driver started beside the first in the same process; sharing one
    fence, they wrote over each other ("duplicates a stored event") and gave the run up.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="20s"))
    store = SQLiteStore(tmp_path / "j.db")
    shop.set("pay.acme", delay=0.6)
    run_id = queue_run(store, ws, "order", inputs={"order_id": "o-1"}).run_id
    lost: list[str] = []
    finished: list[str] = []
    worker = Worker(ws, store, lease_s=5.0, poll_s=0.05, on_lost=lambda rid, why: lost.append(why),
                    on_finished=lambda result: finished.append(result.status))
    leased: Any = worker.store
    real = leased.claim_runs
    again = asyncio.Event()

    def claim_runs(*, limit: int, run_id: str | None = None) -> list[Lease]:
        if not again.is_set():
            return real(limit=limit, run_id=run_id)  # type: ignore[no-any-return]
        again.clear()
        # what a claim sees after a stall longer than the lease: this worker's own run, free again
        got = leased.inner.claim(leased.owner, lease_s=5.0, limit=1, steal_from=[leased.owner])
        for lease in got:
            leased.adopt(lease)
        return got  # type: ignore[no-any-return]

    leased.claim_runs = claim_runs
    serving = asyncio.create_task(worker.serve())
    for _ in range(3000):  # 30 s at most
        if shop.requests("pay.acme"):
            break
        await asyncio.sleep(0.01)
    again.set()
    for _ in range(1500):  # 30 s at most
        if finished or serving.done():
            break
        await asyncio.sleep(0.02)
    worker.stop()
    await serving
    events = store.events(run_id=run_id)
    leases = store.leases(run_ids=[run_id])
    store.close()
    assert not lost, lost
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert leases[0].epoch == 2  # it was claimed again ...
    assert finished == ["succeeded"]  # ... and finished once
    assert shop.side_effects("pay.acme") == [f"{run_id}:pay.acme:1"]
    resumed = [e for e in events if e.kind == "decision" and e.data.get("trigger") == "resume"]
    assert len(resumed) == 1, "the re-claimed run is rebuilt from its journal once"


async def test_a_worker_outlives_a_claim_the_journal_refused(tmp_path: Path, shop: ServiceServer) -> None:
    """A claim that fails (the server ended the session) is tried again at the next poll; `ido worker` stays up.

    Before, the error ended `serve`, and with it the worker process.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="20s"))
    store = SQLiteStore(tmp_path / "j.db")
    run_id = queue_run(store, ws, "order", inputs={"order_id": "o-2"}).run_id
    said: list[tuple[str, str]] = []
    worker = Worker(ws, store, poll_s=0.05, on_lost=lambda rid, why: said.append((rid, why)))
    leased: Any = worker.store
    real = leased.claim_runs
    failures = [JournalError("cannot read the journal: server closed the connection unexpectedly")]

    def claim_runs(*, limit: int, run_id: str | None = None) -> list[Lease]:
        if failures:
            raise failures.pop()
        return real(limit=limit, run_id=run_id)  # type: ignore[no-any-return]

    leased.claim_runs = claim_runs
    serving = asyncio.create_task(worker.serve())
    for _ in range(1500):  # 30 s at most
        if store.get_run(run_id=run_id).status == "succeeded":
            break
        assert not serving.done(), serving.exception()
        await asyncio.sleep(0.02)
    worker.stop()
    await serving
    store.close()
    assert said == [("(none claimed)", "cannot claim runs now: cannot read the journal: server closed the connection unexpectedly")]


async def test_a_held_run_nobody_drives_here_is_not_renewed(tmp_path: Path, shop: ServiceServer) -> None:
    """A lease the worker holds with no driver of its run is left to run out, so another worker takes it.

    Seen in the crash test: runs held by a live worker that no longer drove them, their
    leases renewed at every heartbeat, never finished by anyone.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="20s"))
    store = SQLiteStore(tmp_path / "j.db")
    run_id = queue_run(store, ws, "order", inputs={"order_id": "o-3"}).run_id
    worker = Worker(ws, store, lease_s=0.3, poll_s=0.02, concurrency=1)
    orphan = store.claim(worker.owner, lease_s=0.3, run_id=run_id)[0]
    worker.store.adopt(orphan)  # held, as a driver that ended without letting go leaves it
    worker.concurrency = 1
    worker.tasks["busy"] = asyncio.get_running_loop().create_task(asyncio.sleep(30))  # no free slot
    serving = asyncio.create_task(worker.serve())
    await asyncio.sleep(1.0)  # three leases long: renewed at every beat, it would not expire
    worker.stop()
    await serving
    lease = store.leases(run_ids=[run_id])[0]
    store.close()
    assert (lease.owner, lease.epoch) == (worker.owner, 1)
    assert lease.until <= orphan.until + 0.05, "a lease of a run no one drives was renewed"


async def test_a_worker_reads_its_claimed_runs_once_per_claim_never_on_the_loop(
    tmp_path: Path, shop: ServiceServer,
) -> None:
    """The runs' rows, whether to start them and their signals are read once for the whole claim, in its thread.

    Before, each run read its row and events in a thread of its own, then its signals (and
    the registry's head) on the event loop, stalling every other run for a round trip on a server.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="20s"))
    store = SQLiteStore(tmp_path / "j.db")
    ids = [queue_run(store, ws, "order", inputs={"order_id": f"o-{i}"}).run_id for i in range(6)]
    loop_thread = threading.get_ident()
    calls: list[tuple[str, bool]] = []
    for name in ("get_run", "events", "signals", "look_runs"):
        def spy(*args: Any, _name: str = name, _real: Any = getattr(store, name), **kw: Any) -> Any:
            calls.append((_name, threading.get_ident() == loop_thread))
            return _real(*args, **kw)
        setattr(store, name, spy)
    worker = Worker(ws, store, concurrency=6, poll_s=0.05)
    report = await asyncio.wait_for(worker.serve(once=True), 60)
    store.close()
    assert sorted(r.run_id for r in report.finished) == sorted(ids)
    assert {r.status for r in report.finished} == {"succeeded"}
    assert [name for name, on_loop in calls if on_loop] == []
    assert [name for name, _ in calls].count("look_runs") == 1  # one claim took all six


async def test_a_cancel_kept_before_a_worker_took_a_queued_run_is_its_first_decision(
    tmp_path: Path, shop: ServiceServer,
) -> None:
    """The signals the claim read are handed to the run before it decides: nothing is sent."""
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="20s"))
    store = SQLiteStore(tmp_path / "j.db")
    run_id = queue_run(store, ws, "order", inputs={"order_id": "o-3"}).run_id
    store.put_signal(Signal(run_id=run_id, kind="cancel", by="tester", note="changed my mind", at=1.0))
    worker = Worker(ws, store, poll_s=0.05)
    report = await asyncio.wait_for(worker.serve(once=True), 60)
    decisions = [e for e in store.events(run_id=run_id) if e.kind == "decision"]
    store.close()
    assert [r.run_id for r in report.finished] == [run_id]
    assert report.finished[0].status != "succeeded"
    assert decisions[0].data["trigger"] == "cancel"
    assert shop.requests("pay.acme") == []
