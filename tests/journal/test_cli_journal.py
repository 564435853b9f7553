"""`ido runs`, `ido explain` and `ido why-not` against a real SQLite journal."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic import RUN_ID, write_outage_run

from ido.cli.main import main
from ido.journal.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace whose default journal holds the synthetic outage run."""
    store = SQLiteStore(tmp_path / ".ido" / "journal.db")
    asyncio.run(write_outage_run(store))
    store.close()
    return tmp_path


def run_ido(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_runs_lists_the_run(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido runs` lists recorded runs and filters by status."""
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "runs")
    assert code == 0 and RUN_ID in out and "succeeded" in out
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "runs", "--status", "failed")
    assert code == 0 and RUN_ID not in out and "no runs with status failed" in out


def test_runs_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido runs --json` prints the run rows."""
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "runs", "--json")
    data = json.loads(out)
    assert code == 0
    assert [r["run_id"] for r in data["runs"]] == [RUN_ID]
    assert data["runs"][0]["status"] == "succeeded" and data["corrupted"] == []


def test_runs_bad_status_exits_2(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --status is a usage error (exit 2) naming the choices."""
    code, _, err = run_ido(capsys, "--workspace", str(workspace), "runs", "--status", "done")
    assert code == 2 and "succeeded" in err


def test_runs_without_a_journal_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido runs` in a fresh workspace says there are no runs and creates no file."""
    code, out, _ = run_ido(capsys, "--workspace", str(tmp_path), "runs")
    assert code == 0 and "no runs recorded" in out
    assert not (tmp_path / ".ido").exists()


def test_explain_text_and_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido explain RUN` prints the timeline; --json has the DESIGN.md keys."""
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "explain", RUN_ID[:5])
    assert code == 0 and "#2 step failed -> dispatch" in out and "payment.adyen" in out
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "explain", RUN_ID, "--json")
    data = json.loads(out)
    assert code == 0
    assert {"run_id", "intent", "status", "decisions"} <= set(data)
    assert data["decisions"][1]["chosen"] == ["payment.adyen"]
    assert {"capability", "verdict", "reason"} <= set(data["decisions"][0]["alternatives"][0])


def test_why_not_text_and_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido why-not RUN CAP` answers per decision; --json has run_id, capability, reasons."""
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "why-not", RUN_ID, "payment.paypal-us")
    assert code == 0 and "gdpr-data-stays-in-eu" in out
    code, out, _ = run_ido(
        capsys, "--workspace", str(workspace), "why-not", RUN_ID, "payment.stripe-eu", "--json"
    )
    data = json.loads(out)
    assert code == 0 and {"run_id", "capability", "reasons"} <= set(data)
    assert [(r["seq"], r["verdict"]) for r in data["reasons"]] == [
        (1, "chosen"), (2, "unhealthy"), (3, "not_needed"),
    ]
    assert all({"seq", "verdict", "reason"} <= set(r) for r in data["reasons"])


def test_unknown_run_exits_2(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown run id exits 2 with a message naming the known runs."""
    for args in (["explain", "zzz"], ["why-not", "zzz", "payment.adyen"]):
        code, out, err = run_ido(capsys, "--workspace", str(workspace), *args)
        assert code == 2 and "no run 'zzz'" in err and RUN_ID in err and out == ""


def test_unknown_capability_exits_2(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """why-not of a misspelt capability exits 2 with a suggestion."""
    code, _, err = run_ido(capsys, "--workspace", str(workspace), "why-not", RUN_ID, "payment.adyn")
    assert code == 2 and "did you mean payment.adyen" in err


def test_explain_without_a_journal_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """explain in a workspace with no journal exits 2 saying there is none yet."""
    code, _, err = run_ido(capsys, "--workspace", str(tmp_path), "explain", "abc")
    assert code == 2 and "no journal at" in err


def test_garbage_journal_exits_2_without_traceback(tmp_path: Path) -> None:
    """A journal file that is not a database gives exit 2 and a clear message, no traceback."""
    (tmp_path / "junk.db").write_bytes(b"\x00garbage" * 100)
    out = subprocess.run(
        [sys.executable, "-m", "ido", "--store", str(tmp_path / "junk.db"), "runs"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert out.returncode == 2
    assert "is not an ido journal" in out.stderr and "--store" in out.stderr
    assert "Traceback" not in out.stderr


def test_unreachable_postgresql_store_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--store postgresql://... naming a server that is not there: exit 2, the URL without its password."""
    code, _, err = run_ido(capsys, "--store", "postgresql://ido:hunter2@127.0.0.1:1/ido", "runs")
    assert code == 2 and "cannot open the journal postgresql://ido:***@127.0.0.1:1/ido" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_runs_warns_about_a_corrupted_row(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run row that does not decode is named on stderr and the other runs still list."""
    store = SQLiteStore(workspace / ".ido" / "journal.db")
    asyncio.run(write_outage_run(store, run_id="second-run"))
    store.close()
    with sqlite3.connect(workspace / ".ido" / "journal.db") as conn:
        conn.execute("UPDATE runs SET info = '{' WHERE run_id = ?", (RUN_ID,))
    conn.close()
    code, out, err = run_ido(capsys, "--workspace", str(workspace), "runs")
    assert code == 0 and "second-run" in out and RUN_ID not in out
    assert f"the row of run {RUN_ID} does not decode" in err
    code, out, _ = run_ido(capsys, "--workspace", str(workspace), "runs", "--json")
    assert json.loads(out)["corrupted"] == [RUN_ID]
    code, _, err = run_ido(capsys, "--workspace", str(workspace), "explain", RUN_ID)
    assert code == 2 and "does not decode" in err
