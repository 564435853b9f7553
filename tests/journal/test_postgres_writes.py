"""The PostgreSQL write path: another process frozen inside its transaction holds up no append here.

A held connection stands in for worker A frozen (SIGSTOP, a paused VM) in the
middle of its commit: to the server the two look the same, a session inside
an open transaction holding row locks. The server would end such a session
after `IDLE_IN_TRANSACTION_MS`; these tests hold it for as long as they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from journal_helpers import event, run_info

from ido.errors import JournalError
from ido.journal import open_store
from ido.journal.base import Lease, Store
from tests.conftest import postgres_url

pytestmark = pytest.mark.postgres

#: Far longer than any append takes, far shorter than a held lock would last: a stalled append fails.
BOUND_S = 10.0


@dataclass(frozen=True)
class Count:
    """A health change that counts how many times it was folded into a row."""

    capability: str

    def apply(self, state: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"n": int((state or {}).get("n", 0)) + 1}


@pytest.fixture
def url() -> str:
    """An empty PostgreSQL database."""
    return postgres_url()


@pytest.fixture
def holder(url: str) -> Iterator[Any]:
    """A raw connection for the frozen worker's open transaction (rolled back at the end)."""
    import psycopg

    conn = psycopg.connect(url)
    yield conn
    conn.rollback()
    conn.close()


async def _wait_for_row(store: Store, capability: str, n: int) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + BOUND_S
    while store.health_rows().get(capability, None) is None or store.health_rows()[capability].state.get("n") != n:
        assert loop.time() < give_up, f"{capability}'s row never reached n={n}: {store.health_rows()}"
        await asyncio.sleep(0.02)


async def test_a_frozen_transaction_holding_a_health_row_holds_up_no_append(url: str, holder: Any) -> None:
    """Worker A frozen mid-commit (health row, its run's lease and row locked): B appends, claims and
    probes without waiting; B's health change lands once A's transaction ends, none lost."""
    b = open_store(url)
    try:
        a_lease = Lease(run_id="a1", owner="A", epoch=1, until=1e12)
        await b.append([event("a1", 1, "run_started")], run=run_info("a1"), fence=a_lease,
                       health=[Count("pay")])
        await b.append([event("b1", 1, "run_started")], run=run_info("b1"))
        # A, mid-commit: its run's lease and row, and the health row it folds into, locked
        holder.execute("UPDATE ido_leases SET until = until WHERE run_id = 'a1'")
        holder.execute("UPDATE ido_runs SET updated_at = updated_at WHERE run_id = 'a1'")
        holder.execute("UPDATE ido_capability_health SET version = version WHERE capability = 'pay'")

        await asyncio.wait_for(
            b.append([event("b1", 2, "outcome")], health=[Count("pay"), Count("ship")]), BOUND_S)
        await asyncio.wait_for(asyncio.to_thread(b.update_health, [Count("pay")]), BOUND_S)
        claimed = await asyncio.wait_for(
            asyncio.to_thread(b.claim, "B", lease_s=10.0, limit=5, now=2e12), BOUND_S)
        assert [e.seq for e in b.events(run_id="b1")] == [1, 2]
        assert "a1" not in {lease.run_id for lease in claimed}  # A's run is A's until its lease ends
        rows = b.health_rows()
        assert rows["ship"].state == {"n": 1}  # a row nobody held: folded with its outcome
        assert rows["pay"].state == {"n": 1}  # the held row: not yet

        holder.rollback()  # A's session ends (the server's idle timeout, or A resumes and commits)
        await _wait_for_row(b, "pay", 3)
        assert b.health_rows()["pay"].version == 3
    finally:
        b.close()


async def test_changes_left_for_later_are_folded_at_close(url: str, holder: Any) -> None:
    """A store closed while a row it folds into is held tries again until the holder lets go."""
    b = open_store(url)
    await b.append([event("b1", 1, "run_started")], run=run_info("b1"), health=[Count("pay")])
    holder.execute("UPDATE ido_capability_health SET version = version WHERE capability = 'pay'")
    await b.append([event("b1", 2, "outcome")], health=[Count("pay")])
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.rollback)  # on this thread, while `close` is retrying in its thread
    await asyncio.to_thread(b.close)
    reader = open_store(url)
    try:
        assert reader.health_rows()["pay"].state == {"n": 2}
    finally:
        reader.close()


async def test_an_append_the_server_refuses_fails_alone_in_its_batch(url: str, holder: Any) -> None:
    """Another writer's uncommitted event of the same seq: once it commits, that append fails
    (a duplicate), and the appends that shared its transaction are written."""
    b = open_store(url)
    try:
        await b.append([event("s1", 1, "run_started")], run=run_info("s1"))
        holder.execute(
            "INSERT INTO ido_runs (run_id, intent, status, created_at, updated_at, info) "
            "VALUES ('r1', 'x', 'running', 1, 1, %s)", (run_info("r1").model_dump_json(),))
        holder.execute("INSERT INTO ido_events (run_id, seq, kind, at, data) "
                       "VALUES ('r1', 1, 'run_started', 1, '{\"by\": \"other\"}')")
        mine = asyncio.ensure_future(b.append([event("r1", 1, "run_started")], run=run_info("r1")))
        other = asyncio.ensure_future(b.append([event("s1", 2, "outcome")]))
        await asyncio.sleep(0.3)  # both queued; the batch waits for the holder's row
        holder.commit()
        results = await asyncio.wait_for(asyncio.gather(mine, other, return_exceptions=True), BOUND_S)
        assert isinstance(results[0], JournalError) and results[1] is None
        assert [e.data for e in b.events(run_id="r1")] == [{"by": "other"}]
        assert [e.seq for e in b.events(run_id="s1")] == [1, 2]
    finally:
        b.close()
