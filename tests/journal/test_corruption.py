"""Damaged journals give clear errors, and a bad row never hides the other runs."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from journal_helpers import event, event_key, run_info

from ido.errors import JournalCorrupted, JournalError
from ido.journal.sqlite import FORMAT_VERSION, SQLiteStore


async def _journal_with_runs(path: Path, runs: int = 3, events: int = 4) -> None:
    store = SQLiteStore(path)
    for r in range(runs):
        rid = f"run-{r}"
        await store.append([event(rid, 1, "run_started")], run=run_info(rid, created_at=r))
        await store.append([event(rid, seq, pad="x" * 500) for seq in range(2, events + 1)])
    store.close()


def test_garbage_file_is_not_a_journal(db_path: Path) -> None:
    """A file that is not SQLite is refused at open, saying so and what to do."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is my shopping list, not a database\n" * 20)
    with pytest.raises(JournalError, match=r"is not an ido journal: it is not a SQLite database.*--store"):
        SQLiteStore(db_path)


async def test_truncated_file_is_refused(db_path: Path) -> None:
    """A journal cut short (lost pages) is refused at open with the sizes involved."""
    await _journal_with_runs(db_path, runs=20, events=10)
    size = db_path.stat().st_size
    with db_path.open("r+b") as fh:
        fh.truncate(size // 2)
    with pytest.raises(JournalError, match=r"is not an ido journal: it is truncated.*move it aside"):
        SQLiteStore(db_path)


async def test_file_cut_inside_the_header_is_refused(db_path: Path) -> None:
    """A journal cut inside its 100-byte header is called truncated, not garbage."""
    await _journal_with_runs(db_path, runs=1)
    with db_path.open("r+b") as fh:
        fh.truncate(40)
    with pytest.raises(JournalError, match="it is truncated"):
        SQLiteStore(db_path)


def test_other_sqlite_database_is_not_a_journal(db_path: Path) -> None:
    """A SQLite file of another program is refused, naming its tables."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.close()
    with pytest.raises(JournalError, match=r"without ido's tables .it has customers."):
        SQLiteStore(db_path)


async def test_newer_schema_is_refused(db_path: Path) -> None:
    """A journal written by a newer ido is refused with the versions involved."""
    await _journal_with_runs(db_path, runs=1)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(JournalError, match=rf"newer ido .journal format 99; this ido reads formats 1 to {FORMAT_VERSION}.: upgrade ido"):
        SQLiteStore(db_path)


async def test_bad_event_row_names_run_and_seq_and_spares_other_runs(db_path: Path) -> None:
    """An event whose JSON does not decode raises JournalCorrupted naming it; other runs read fine."""
    await _journal_with_runs(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE events SET data = '{\"half\": ' WHERE id = ?", (event_key(conn, "run-1", 3),))
    conn.close()
    store = SQLiteStore(db_path)
    with pytest.raises(JournalCorrupted, match=r"event 3 \(observation\) of run run-1 .*does not decode") as err:
        store.events(run_id="run-1")
    assert err.value.run_id == "run-1"
    assert [e.seq for e in store.events(run_id="run-0")] == [1, 2, 3, 4]
    assert [e.seq for e in store.events(run_id="run-2")] == [1, 2, 3, 4]
    assert [r.run_id for r in store.list_runs()] == ["run-2", "run-1", "run-0"]
    await store.append([event("run-2", 5)])
    assert store.events(run_id="run-2")[-1].seq == 5
    store.close()


async def test_bad_run_row_is_left_out_of_listings(db_path: Path) -> None:
    """A run row that does not decode is named, left out of list_runs, and refused by get_run."""
    await _journal_with_runs(db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE runs SET info = 'garbage' WHERE run_id = 'run-0'")
    conn.close()
    store = SQLiteStore(db_path)
    assert [r.run_id for r in store.list_runs()] == ["run-2", "run-1"]
    assert store.corrupted_runs == ["run-0"]
    with pytest.raises(JournalCorrupted, match=r"row of run run-0 .*does not decode"):
        store.get_run(run_id="run-0")
    assert store.get_run(run_id="run-1").status == "running"
    store.close()


async def test_event_of_unknown_kind_is_corruption(db_path: Path) -> None:
    """A row whose kind ido does not know is reported as corrupted, not as a crash."""
    await _journal_with_runs(db_path, runs=1)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE events SET kind = 'mystery' WHERE id = ?", (event_key(conn, "run-0", 2),))
    conn.close()
    store = SQLiteStore(db_path)
    with pytest.raises(JournalCorrupted, match=r"event 2 .mystery. of run run-0"):
        store.events(run_id="run-0")
    store.close()


async def test_bad_revision_is_corruption(db_path: Path) -> None:
    """A revision whose content does not decode raises JournalCorrupted naming the digest."""
    store = SQLiteStore(db_path)
    store.put_revision(digest="d1", kind="policies", content=[])
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE revisions SET content = '[' WHERE digest = 'd1'")
    conn.close()
    store = SQLiteStore(db_path)
    with pytest.raises(JournalCorrupted, match="revision d1"):
        store.get_revision(digest="d1")
    store.close()


def test_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    """Pointing the store at a folder gives a clear error."""
    with pytest.raises(JournalError, match="is not an ido journal: it is a folder"):
        SQLiteStore(tmp_path)


def test_journal_whose_first_page_lands_while_it_is_checked_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process creating the journal writes its first page after this opener read an
    empty head: the opener reads again and opens it, rather than calling it truncated (seen
    with six processes creating one journal at once)."""
    made = tmp_path / "made.db"
    SQLiteStore(made).close()
    target = tmp_path / "journal.db"
    target.touch()
    real_fstat = os.fstat
    landed = []

    def fstat_after_the_first_page(fd: int) -> os.stat_result:
        if not landed:  # the creator's write lands between this opener's read and its fstat
            landed.append(True)
            target.write_bytes(made.read_bytes())
        return real_fstat(fd)

    monkeypatch.setattr(os, "fstat", fstat_after_the_first_page)
    store = SQLiteStore(target)
    monkeypatch.undo()
    assert landed and store.list_runs() == []
    store.close()
