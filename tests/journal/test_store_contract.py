"""The one store contract, checked on every backend (MemoryStore and SQLiteStore)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_helpers import event, run_info

from ido.errors import JournalError, UsageError
from ido.journal import MemoryStore, open_store
from ido.journal.base import Store
from ido.journal.codec import kind_code
from ido.journal.sqlite import SQLiteStore


async def test_events_read_back_in_order(store: Store) -> None:
    """Appended events come back in seq order with their data intact."""
    await store.append([event("r1", 1, "run_started", intent="x")], run=run_info("r1"))
    await store.append([event("r1", 2, "decision", n=2), event("r1", 3, "outcome", ok=True)])
    got = store.events(run_id="r1")
    assert [(e.seq, e.kind, e.data) for e in got] == [
        (1, "run_started", {"intent": "x"}),
        (2, "decision", {"n": 2}),
        (3, "outcome", {"ok": True}),
    ]
    assert [e.seq for e in store.events(run_id="r1", kinds=["outcome", "decision"])] == [2, 3]
    assert store.events(run_id="r1", kinds=[]) == []
    assert store.events(run_id="nobody") == []


async def test_duplicate_seq_is_rejected_without_overwrite(store: Store) -> None:
    """A seq already stored is an error, and the stored event is unchanged."""
    await store.append([event("r1", 1, note="first")], run=run_info("r1"))
    with pytest.raises(JournalError, match="duplicates"):
        await store.append([event("r1", 1, note="second")])
    assert [e.data for e in store.events(run_id="r1")] == [{"note": "first"}]


async def test_gap_in_seq_is_rejected(store: Store) -> None:
    """Seqs are dense: skipping one is an error and nothing of that append is written."""
    await store.append([event("r1", 1)], run=run_info("r1"))
    with pytest.raises(JournalError, match="gap"):
        await store.append([event("r1", 2), event("r1", 4)])
    assert [e.seq for e in store.events(run_id="r1")] == [1]
    with pytest.raises(JournalError, match="gap"):
        await store.append([event("r2", 2)], run=run_info("r2"))


async def test_events_need_a_run_row(store: Store) -> None:
    """Events of a run that has no row are refused with how to fix it."""
    with pytest.raises(JournalError, match="pass run=RunInfo"):
        await store.append([event("ghost", 1)])
    with pytest.raises(UsageError):
        store.get_run(run_id="ghost")


async def test_rejected_append_does_not_harm_others_in_the_same_batch(store: Store) -> None:
    """When concurrent appends share a commit, one bad caller fails alone."""
    await store.append([event("a", 1)], run=run_info("a"))
    await store.append([event("b", 1)], run=run_info("b", created_at=2.0))
    results = await asyncio.gather(
        store.append([event("a", 2)]),
        store.append([event("b", 1)]),  # duplicate
        store.append([event("b", 2)]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], JournalError)
    assert [e.seq for e in store.events(run_id="a")] == [1, 2]
    assert [e.seq for e in store.events(run_id="b")] == [1, 2]


async def test_non_json_data_is_refused(store: Store) -> None:
    """Data that is not plain JSON is refused with a message, before anything is written."""
    await store.append([event("r1", 1)], run=run_info("r1"))
    with pytest.raises(JournalError, match="plain JSON"):
        await store.append([event("r1", 2, bad=object())])
    with pytest.raises(JournalError, match="plain JSON"):
        await store.append([event("r1", 2, bad=float("nan"))])
    assert len(store.events(run_id="r1")) == 1


async def test_events_come_back_as_json_copies_never_the_callers_objects(store: Store) -> None:
    """What a store returns is the data as JSON round-trips it (tuples as lists, keys as
    text), a fresh copy on every read: changing the caller's dict after the append, or one
    read's data, changes nothing stored. A cycle is refused with a message."""
    data = {"plan": {"steps": [1, 2]}, "pair": (1, "a"), 3: None}
    await store.append([event("r1", 1, "decision", d=data)], run=run_info("r1"))
    data["plan"]["steps"].append(99)
    first = store.events(run_id="r1")[0].data
    assert first == {"d": {"plan": {"steps": [1, 2]}, "pair": [1, "a"], "3": None}}
    first["d"]["plan"]["steps"].clear()
    assert store.events(run_id="r1")[0].data["d"]["plan"]["steps"] == [1, 2]
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(JournalError, match="Circular reference"):
        await store.append([event("r1", 2, loop=cycle)])
    assert len(store.events(run_id="r1")) == 1


async def test_run_row_is_updated_by_later_appends(store: Store) -> None:
    """The run row given with an append replaces the previous one."""
    await store.append([event("r1", 1)], run=run_info("r1"))
    await store.append([], run=run_info("r1", status="succeeded", cost=0.75, steps_executed=3))
    row = store.get_run(run_id="r1")
    assert (row.status, row.cost, row.steps_executed) == ("succeeded", 0.75, 3)


async def test_runs_are_counted_by_status_as_their_rows_say(store: Store) -> None:
    assert store.count_runs() == {}
    for i, status in enumerate(["queued", "running", "succeeded", "succeeded", "failed"]):
        await store.append([], run=run_info(f"r{i}", status=status, created_at=float(i)))
    await store.append([], run=run_info("r1", status="succeeded", created_at=1.0))  # a row moves on
    assert store.count_runs() == {"queued": 1, "succeeded": 3, "failed": 1}
    assert store.count_runs() == dict(Counter(r.status for r in store.list_runs()))


def test_revisions_are_idempotent(store: Store) -> None:
    """A revision is stored once under its digest; unknown digests are an error."""
    store.put_revision(digest="abc", kind="capabilities", content=[{"name": "x"}])
    store.put_revision(digest="abc", kind="capabilities", content=[{"name": "x"}])
    assert store.get_revision(digest="abc") == [{"name": "x"}]
    with pytest.raises(JournalError, match="no revision"):
        store.get_revision(digest="nope")


async def test_list_runs_filters_and_orders_newest_first(store: Store) -> None:
    """list_runs returns newest first, filters by status and honours limit."""
    for i, status in enumerate(["succeeded", "failed", "running", "succeeded"]):
        await store.append([event(f"run-{i}", 1)], run=run_info(f"run-{i}", status=status, created_at=i))
    assert [r.run_id for r in store.list_runs()] == ["run-3", "run-2", "run-1", "run-0"]
    assert [r.run_id for r in store.list_runs(status="succeeded")] == ["run-3", "run-0"]
    assert [r.run_id for r in store.list_runs(limit=2)] == ["run-3", "run-2"]
    assert store.list_runs(status="blocked") == []


async def test_run_id_prefixes_resolve(store: Store) -> None:
    """A unique prefix resolves; ambiguous and unknown ones raise UsageError listing candidates."""
    for rid in ["a1b2c3", "a1b9ff", "ffee00"]:
        await store.append([event(rid, 1)], run=run_info(rid))
    assert store.get_run(run_id="a1b2").run_id == "a1b2c3"
    assert store.get_run(run_id="ff").run_id == "ffee00"
    with pytest.raises(UsageError, match=r"ambiguous.*a1b2c3, a1b9ff"):
        store.get_run(run_id="a1b")
    with pytest.raises(UsageError, match=r"no run 'zz'.*ffee00"):
        store.get_run(run_id="zz")


async def test_concurrent_appends_are_all_kept_in_order(store: Store) -> None:
    """Many tasks appending to many runs at once: every event kept, each run in seq order."""

    async def one_run(i: int) -> None:
        rid = f"run-{i:03d}"
        await store.append([event(rid, 1, "run_started")], run=run_info(rid, created_at=i))
        for seq in range(2, 8):
            await store.append([event(rid, seq, "decision", i=i, n=seq)])

    await asyncio.gather(*(one_run(i) for i in range(60)))
    assert len(store.list_runs()) == 60
    for i in range(60):
        got = store.events(run_id=f"run-{i:03d}")
        assert [e.seq for e in got] == list(range(1, 8))
        assert all(e.data.get("i", i) == i for e in got)


@settings(max_examples=15)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=25))
def test_any_interleaving_keeps_dense_order(plan: list[tuple[int, int]]) -> None:
    """For any interleaving of appends to a few runs, each run reads back dense and in order."""

    async def scenario(store: Store) -> dict[str, int]:
        nxt: dict[str, int] = {}
        for run, count in plan:
            rid = f"r{run}"
            first = nxt.get(rid, 1)
            batch = [event(rid, first + k) for k in range(count)]
            await store.append(batch, run=run_info(rid) if first == 1 else None)
            nxt[rid] = first + count
        return nxt

    with tempfile.TemporaryDirectory() as folder:
        for s in (MemoryStore(), SQLiteStore(Path(folder) / "j.db")):
            nxt = asyncio.run(scenario(s))
            for rid, after in nxt.items():
                assert [e.seq for e in s.events(run_id=rid)] == list(range(1, after))
            s.close()


async def test_group_commit_batches_concurrent_appends(db_path: Path) -> None:
    """Concurrent appends share transactions: fewer commits than appends."""
    s = SQLiteStore(db_path)

    async def one_run(i: int) -> None:
        await s.append([event(f"r{i}", 1)], run=run_info(f"r{i}"))
        for seq in range(2, 6):
            await s.append([event(f"r{i}", seq)])

    await asyncio.gather(*(one_run(i) for i in range(50)))
    assert s.appends == 250
    assert s.commits < s.appends / 2
    s.close()


async def test_synchronous_mode_writes_in_the_calling_thread(db_path: Path) -> None:
    """With synchronous=True no writer thread is started and every append commits alone."""
    s = open_store(str(db_path), synchronous=True)
    assert isinstance(s, SQLiteStore)
    await s.append([event("r", 1)], run=run_info("r"))
    await s.append([event("r", 2)])
    assert not [t for t in threading.enumerate() if t.name.startswith("ido-journal-writer")]
    assert (s.commits, s.appends) == (2, 2)
    with pytest.raises(JournalError, match="duplicates"):
        await s.append([event("r", 2)])
    s.close()


async def test_appended_events_are_visible_to_another_process(db_path: Path) -> None:
    """Once append returns, a separate process opening the file reads the events."""
    s = SQLiteStore(db_path)
    await s.append([event("durable", 1, "run_started")], run=run_info("durable"))
    await asyncio.gather(*(s.append([event("durable", i, n=i)]) for i in [2]))
    await s.append([event("durable", 3, "outcome", n=3)])
    code = (
        "import sys; from ido.journal import open_store; "
        f"s = open_store({str(db_path)!r}); "
        "print(s.get_run(run_id='dur').status, [e.seq for e in s.events(run_id='durable')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "running [1, 2, 3]"
    s.close()


async def test_reopened_file_keeps_everything(db_path: Path) -> None:
    """Closing and reopening the file keeps runs, events and revisions."""
    s = SQLiteStore(db_path)
    await s.append([event("r", 1, x=1)], run=run_info("r", status="succeeded"))
    s.put_revision(digest="d1", kind="intent", content={"intent": "x"})
    s.close()
    with pytest.raises(JournalError, match="closed"):
        await s.append([event("r", 2)])
    again = SQLiteStore(db_path)
    assert again.get_run(run_id="r").status == "succeeded"
    assert again.events(run_id="r")[0].data == {"x": 1}
    assert again.get_revision(digest="d1") == {"intent": "x"}
    again.close()


def test_open_store_urls(tmp_path: Path) -> None:
    """open_store maps memory://, sqlite:// URLs and plain paths; postgresql:// a server; others are refused."""
    assert isinstance(open_store("memory://"), MemoryStore)
    absolute = open_store(f"sqlite:///{tmp_path / 'a' / 'j.db'}")
    assert isinstance(absolute, SQLiteStore) and absolute.path == tmp_path / "a" / "j.db"
    absolute.close()
    plain = open_store(str(tmp_path / "b.db"))
    assert isinstance(plain, SQLiteStore) and (tmp_path / "b.db").exists()
    plain.close()
    with pytest.raises(JournalError, match=r"cannot open the journal postgresql://127\.0\.0\.1:1/ido"):
        open_store("postgresql://127.0.0.1:1/ido")  # nothing listens on port 1
    with pytest.raises(JournalError, match="unknown journal URL scheme 'redis'"):
        open_store("redis://localhost")
    with pytest.raises(JournalError, match="names no file"):
        open_store("sqlite://")


async def test_a_write_refused_by_the_database_fails_only_its_caller(db_path: Path) -> None:
    """When SQLite refuses one caller's rows, that caller gets a JournalError and the store goes on."""
    s = SQLiteStore(db_path)
    await s.append([event("r1", 1)], run=run_info("r1"))
    await s.append([event("r2", 1)], run=run_info("r2"))
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = '{kind_code('fault')}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END"
        )
    conn.close()
    results = await asyncio.gather(
        s.append([event("r1", 2, "fault")]), s.append([event("r2", 2)]), return_exceptions=True,
    )
    assert isinstance(results[0], JournalError) and "refused by a test trigger" in str(results[0])
    assert results[1] is None
    await s.append([event("r1", 2)])
    assert [e.kind for e in s.events(run_id="r1")] == ["observation", "observation"]
    assert [e.seq for e in s.events(run_id="r2")] == [1, 2]
    s.close()
