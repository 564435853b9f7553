"""`ido runs` lists a page at a time, filtering in SQL, so a large journal lists at once."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.journal.base import RunInfo
from ido.journal.sqlite import SQLiteStore

RUNS = 100_000


def _many_runs(db: Path, count: int) -> None:
    """Write `count` run rows (format-1 JSON text rows, which the store reads as such)."""
    SQLiteStore(db).close()
    rows = []
    for i in range(count):
        info = RunInfo(run_id=f"run-{i:06d}", intent="order-fulfilled" if i % 2 else "service-restored",
                       status="failed" if i % 10 == 0 else "succeeded", created_at=float(i),
                       updated_at=float(i))
        rows.append((info.run_id, info.intent, info.status, info.created_at, info.updated_at,
                     info.model_dump_json()))
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO runs (run_id, intent, status, created_at, updated_at, info) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.close()


@pytest.fixture(scope="module")
def big_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("runs") / "journal.db"
    _many_runs(db, RUNS)
    return db


def _runs(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--store", f"sqlite:///{db}", "runs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_lists_the_newest_page_of_a_large_journal_at_once(
    big_journal: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """100,000 runs: `ido runs` shows the newest 50 and says how to get the next page."""
    store = SQLiteStore(big_journal)
    start = time.perf_counter()
    page = store.list_runs(limit=50)
    elapsed = time.perf_counter() - start
    store.close()
    assert [r.run_id for r in page] == [f"run-{i:06d}" for i in range(RUNS - 1, RUNS - 51, -1)]
    assert elapsed < 1.0, f"listing a page of {RUNS} runs took {elapsed:.2f}s"
    code, out, err = _runs(capsys, big_journal)
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == [r.run_id for r in page]
    assert f"ido runs --before {page[-1].run_id}" in err


def test_runs_pages_with_before_and_filters(big_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--before continues after a run; --intent and --status filter; --json gives the cursor."""
    code, out, _ = _runs(capsys, big_journal, "--limit", "3", "--before", "run-000010", "--json")
    data = json.loads(out)
    assert code == 0 and [r["run_id"] for r in data["runs"]] == ["run-000009", "run-000008", "run-000007"]
    assert data["next_before"] == "run-000007"
    code, out, _ = _runs(capsys, big_journal, "--limit", "4", "--intent", "order-fulfilled",
                         "--status", "succeeded", "--json")
    data = json.loads(out)
    assert [r["run_id"] for r in data["runs"]] == ["run-099999", "run-099997", "run-099995", "run-099993"]
    code, out, _ = _runs(capsys, big_journal, "--limit", "2", "--before", "run-000001", "--json")
    assert json.loads(out)["runs"][0]["run_id"] == "run-000000" and json.loads(out)["next_before"] is None


@pytest.mark.parametrize("limit", ["99999999999999999999", "0", "-1", "many"])
def test_runs_bad_limit_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str,
) -> None:
    """A --limit out of range is a usage error naming --limit, never an internal error."""
    db = tmp_path / "journal.db"
    SQLiteStore(db).close()
    code, _, err = _runs(capsys, db, "--limit", limit)
    assert code == 2 and "--limit" in err and "Traceback" not in err
