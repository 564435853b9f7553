"""Worker edge cases in one process: re-claiming a run it still drives; a journal it cannot reach."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from durability_helpers import write_shop

from ido.engine.worker import Worker, queue_run
from ido.errors import JournalError
from ido.journal.base import Lease
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
    worker = Worker(ws, store, lease_s=5.0, poll_s=0.05, on_lost=lambda rid, why: lost.append(why))
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
    while not shop.requests("pay.acme"):
        await asyncio.sleep(0.01)
    again.set()
    while store.get_run(run_id=run_id).status not in ("succeeded", "failed", "compensated"):
        await asyncio.sleep(0.02)
    worker.stop()
    report = await serving
    events = store.events(run_id=run_id)
    leases = store.leases(run_ids=[run_id])
    store.close()
    assert not lost, lost
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert leases[0].epoch == 2  # it was claimed again ...
    assert [r.status for r in report.finished] == ["succeeded"]  # ... and finished once
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
    while store.get_run(run_id=run_id).status != "succeeded":
        assert not serving.done(), serving.exception()
        await asyncio.sleep(0.02)
    worker.stop()
    await serving
    store.close()
    assert said == [("(none claimed)", "cannot claim runs now: cannot read the journal: server closed the connection unexpectedly")]
