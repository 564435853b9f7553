"""Cancel, approve and reject from another process, reaching a run wherever it is driven.

The example shop (intents/, capabilities/, policies/ of the repository) on a
shared journal: a big order waits for a person's approval of its payment,
driven by a real `ido worker` process. `ido cancel` in the test process asks
it to stop: the worker records a decision with trigger `cancel` naming who
asked, undoes the completed steps (the intent says `on_failure: compensate`),
and the run replays identical. A queued run is cancelled at once; a finished
one refuses (exit 2); a run whose worker died is stopped by `ido cancel`
itself. Approve and reject typed in another process reach the worker's run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.decisions import DecisionRecord
from ido.journal import open_store
from ido.journal.base import TERMINAL_STATUSES, RunInfo
from tests.conftest import postgres_url

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A shared journal: a SQLite file, or an empty database on the PostgreSQL server."""
    return postgres_url() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The repository's example workspace, copied."""
    ws = tmp_path / "ws"
    for folder in ("intents", "capabilities", "policies"):
        shutil.copytree(ROOT / folder, ws / folder)
    return ws


@pytest.fixture
def worker(shop: Path, journal_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """One `ido worker` process on the shop and the journal; SIGTERMed at the end."""
    with (tmp_path / "worker.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(shop), "--store", journal_url,
             "worker", "--lease", "2s"], cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _ido(capsys: pytest.CaptureFixture[str], shop: Path, url: str, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--workspace", str(shop), "--store", url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _queue_big_order(capsys: pytest.CaptureFixture[str], shop: Path, url: str, order: str) -> str:
    code, out, _ = _ido(capsys, shop, url, "run", "order-fulfilled", "--input", "amount=1500",
                        "--input", f"order_id={order}", "--detach")
    assert code == 0, out
    return out.split()[2]


def _row(url: str, run_id: str) -> RunInfo:
    store = open_store(url)
    try:
        return store.get_run(run_id=run_id)
    finally:
        store.close()


def _decisions(url: str, run_id: str) -> list[DecisionRecord]:
    store = open_store(url)
    try:
        return [DecisionRecord.model_validate(e.data) for e in store.events(run_id=run_id, kinds=["decision"])]
    finally:
        store.close()


def _wait(url: str, run_id: str, what: object, limit_s: float = 90) -> RunInfo:
    deadline = time.monotonic() + limit_s
    while True:
        row = _row(url, run_id)
        if what(row):  # type: ignore[operator]
            return row
        assert time.monotonic() < deadline, f"run {run_id} stayed {row.status}"
        time.sleep(0.1)


def _waiting_for(url: str, run_id: str, capability: str) -> RunInfo:
    def asked(row: RunInfo) -> bool:
        last = _decisions(url, run_id)[-1:] if row.status == "waiting_approval" else []
        return bool(last) and last[0].action == "await_approval" and last[0].chosen == [capability]

    return _wait(url, run_id, asked)


def test_cancel_reaches_a_run_a_worker_drives_and_it_compensates(
    shop: Path, journal_url: str, worker: subprocess.Popen[str], capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _queue_big_order(capsys, shop, journal_url, "ord-cancel")
    _waiting_for(journal_url, run_id, "payment.stripe-eu")
    code, out, _ = _ido(capsys, shop, journal_url, "cancel", run_id, "--by", "ana", "--note", "customer called")
    row = _row(journal_url, run_id)
    assert row.status in TERMINAL_STATUSES and row.status != "succeeded"
    assert code == 1 and out.startswith(f"{row.status}: run {run_id}")
    decisions = _decisions(journal_url, run_id)
    cancel = next(d for d in decisions if d.trigger == "cancel")
    assert cancel.action == "fail" and cancel.cause == "cancel requested by ana: customer called"
    assert "cancelled" in cancel.reason
    assert not any(d.action == "dispatch" for d in decisions[decisions.index(cancel):])
    undone = [d for d in decisions if d.trigger == "compensation"]
    store = open_store(journal_url)
    try:
        done = [e.data["capability"] for e in store.events(run_id=run_id, kinds=["outcome"])
                if e.data["status"] == "succeeded" and not e.data.get("compensation")]
    finally:
        store.close()
    assert done and "payment.stripe-eu" not in done  # the payment waiting for approval never went out
    assert row.status == "compensated" and len(undone) >= 1  # what had completed was undone
    code, out, err = _ido(capsys, shop, journal_url, "replay", run_id)
    assert code == 0, out + err
    # a finished run cannot be cancelled: exit 2 with a message, nothing written
    code, _, err = _ido(capsys, shop, journal_url, "cancel", run_id)
    assert code == 2 and "already ended" in err


def test_approve_and_reject_from_another_process_reach_a_worker(
    shop: Path, journal_url: str, worker: subprocess.Popen[str], capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _queue_big_order(capsys, shop, journal_url, "ord-answer")
    _waiting_for(journal_url, run_id, "payment.stripe-eu")
    code, _, err = _ido(capsys, shop, journal_url, "reject", run_id, "--by", "ana")
    assert code == 0, err
    _waiting_for(journal_url, run_id, "payment.adyen-eu")  # the worker replanned without stripe
    code, _, err = _ido(capsys, shop, journal_url, "approve", run_id, "--by", "bob")
    assert code == 0, err
    row = _wait(journal_url, run_id, lambda r: r.status in TERMINAL_STATUSES)
    assert row.status == "succeeded"
    decisions = _decisions(journal_url, run_id)
    assert any(d.trigger == "approval" and "rejected by ana" in d.cause for d in decisions)
    assert any(d.trigger == "approval" and "approved by bob" in d.cause for d in decisions)
    assert worker.poll() is None  # the worker lived through both answers
    store = open_store(journal_url)
    try:
        given = store.events(run_id=run_id, kinds=["approval_given"])
    finally:
        store.close()
    # the answers went to the worker as signals and it wrote them, under its lease (no outside append)
    assert [(e.data["approved"], e.data["by"], e.data.get("external")) for e in given] == [
        (False, "ana", None), (True, "bob", None)]
    code, out, err = _ido(capsys, shop, journal_url, "replay", run_id)
    assert code == 0, out + err


def test_a_queued_run_is_cancelled_at_once(shop: Path, journal_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = _queue_big_order(capsys, shop, journal_url, "ord-queued")
    code, out, _ = _ido(capsys, shop, journal_url, "cancel", run_id, "--by", "ana", "--json")
    assert code == 1
    row = _row(journal_url, run_id)
    assert row.status == "failed" and row.conditions[0].reason == "Cancelled"
    assert "ana" in row.conditions[0].message and '"status": "failed"' in out
    store = open_store(journal_url)
    try:
        assert store.events(run_id=run_id) == []  # it never started
        assert store.claim("w", lease_s=5, run_id=run_id) == []  # and no worker will
    finally:
        store.close()


def test_cancel_stops_a_run_whose_worker_died(
    shop: Path, journal_url: str, worker: subprocess.Popen[str], capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _queue_big_order(capsys, shop, journal_url, "ord-orphan")
    _waiting_for(journal_url, run_id, "payment.stripe-eu")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    code, out, _ = _ido(capsys, shop, journal_url, "cancel", run_id, "--by", "ana", "--timeout", "60s")
    assert code == 1 and out.startswith("compensated: run")
    decisions = _decisions(journal_url, run_id)
    assert any(d.trigger == "cancel" and d.cause == "cancel requested by ana" for d in decisions)


def test_cancel_without_waiting_returns_at_once(
    shop: Path, journal_url: str, worker: subprocess.Popen[str], capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _queue_big_order(capsys, shop, journal_url, "ord-nowait")
    _waiting_for(journal_url, run_id, "payment.stripe-eu")
    code, out, _ = _ido(capsys, shop, journal_url, "cancel", run_id, "--no-wait")
    assert code == 0 and "cancel requested" in out
    row = _wait(journal_url, run_id, lambda r: r.status in TERMINAL_STATUSES)
    assert row.status == "compensated"
