"""A process killed with SIGKILL mid-append loses nothing it had acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from ido.journal.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent("""
    import asyncio, sys
    from ido.journal.base import Event, RunInfo
    from ido.journal.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])

    async def one(r):
        rid = f"run-{r}"
        row = RunInfo(run_id=rid, intent="i", status="running", created_at=r, updated_at=r)
        for seq in range(1, 100_000):
            await store.append([Event(run_id=rid, seq=seq, kind="observation", at=0.0,
                                      data={"pad": "x" * 200})], run=row if seq == 1 else None)
            print(rid, seq, flush=True)  # acknowledged: append returned

    async def main():
        await asyncio.gather(*(one(r) for r in range(20)))

    asyncio.run(main())
""")


def test_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """Every event whose append returned before a SIGKILL is in the file, and seqs stay dense."""
    db = tmp_path / "journal.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    acknowledged: dict[str, int] = {}
    deadline = time.monotonic() + 60
    while sum(acknowledged.values()) < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        rid, seq = line.split()
        acknowledged[rid] = max(acknowledged.get(rid, 0), int(seq))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert sum(acknowledged.values()) >= 400, "the writer did not get going"
    store = SQLiteStore(db)
    for rid, last in acknowledged.items():
        seqs = [e.seq for e in store.events(run_id=rid)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= last, f"{rid}: acknowledged {last}, found {len(seqs)}"
    store.close()


PARALLEL_WRITER = textwrap.dedent("""
    import asyncio, sys
    from ido.journal.base import Event, RunInfo
    from ido.journal.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])
    tag = sys.argv[2]

    async def one(r):
        rid = f"{tag}-{r}"
        row = RunInfo(run_id=rid, intent="i", status="running", created_at=r, updated_at=r)
        for seq in range(1, 41):
            await store.append([Event(run_id=rid, seq=seq, kind="observation", at=0.0)],
                               run=row if seq == 1 else None)

    async def main():
        await asyncio.gather(*(one(r) for r in range(10)))

    asyncio.run(main())
    store.close()
""")


OPENER = textwrap.dedent("""
    import sys, time
    from ido.journal.sqlite import SQLiteStore

    start = float(sys.argv[2])
    while time.time() < start:  # every opener starts at the same instant (bounded wait)
        time.sleep(0.0005)
    SQLiteStore(sys.argv[1]).close()
""")


def _reap(procs: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every process (killing what outlives the timeout) and return the stderr of
    each that failed: all are reaped before any assertion, so a failure leaks no process or
    pipe into the tests that follow."""
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            errors.append(err)
    return errors


def test_processes_creating_one_journal_at_once_all_open_it(tmp_path: Path) -> None:
    """Openers of one new journal that meet in SQLite's rollback mode (a deadlock SQLite breaks
    by answering "database is locked" at once, busy timeout or not) all end up with the journal."""
    for round_ in range(2):
        db = tmp_path / f"journal-{round_}.db"
        start = time.time() + 2.0
        procs = [
            subprocess.Popen([sys.executable, "-c", OPENER, str(db), repr(start)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
            for _ in range(6)
        ]
        errors = _reap(procs)
        assert errors == [], errors
        store = SQLiteStore(db)
        assert store.list_runs() == []
        store.close()


def test_two_processes_share_one_journal(tmp_path: Path) -> None:
    """Two processes creating and appending to one journal at once both keep every event."""
    db = tmp_path / "journal.db"
    procs = [
        subprocess.Popen([sys.executable, "-c", PARALLEL_WRITER, str(db), tag], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
        for tag in ("left", "right")
    ]
    errors = _reap(procs)
    assert errors == [], errors
    store = SQLiteStore(db)
    assert len(store.list_runs()) == 20
    for run in store.list_runs():
        assert [e.seq for e in store.events(run_id=run.run_id)] == list(range(1, 41))
    store.close()


GROWER = textwrap.dedent("""
    import asyncio, sys
    from ido.journal.base import Event, RunInfo
    from ido.journal.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])

    async def main():
        for r in range(int(sys.argv[2])):  # the file grows, and is checkpointed, all along
            rid = f"run-{r}"
            row = RunInfo(run_id=rid, intent="i", status="running", created_at=r, updated_at=r)
            await store.append([Event(run_id=rid, seq=s, kind="observation", at=0.0,
                                      data={"pad": f"{r}-{s}" * 300}) for s in range(1, 6)], run=row)

    asyncio.run(main())
    store.close()
""")


def test_a_journal_growing_in_another_process_opens_every_time(tmp_path: Path) -> None:
    """Opening a journal another process is appending to (and checkpointing) never calls it
    truncated: mid-checkpoint, its header may count pages the file does not hold yet (seen
    by `benchmarks/workers.py` polling a journal three workers wrote)."""
    db = tmp_path / "journal.db"
    SQLiteStore(db).close()
    writer = subprocess.Popen([sys.executable, "-c", GROWER, str(db), "3000"], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True)
    opened = 0
    try:
        deadline = time.monotonic() + 20.0
        while writer.poll() is None and time.monotonic() < deadline:
            SQLiteStore(db).close()  # raised "it is truncated" mid-checkpoint before
            opened += 1
    finally:
        writer.kill()
        _reap([writer])
    assert opened > 10
