"""Health shared by worker processes: a circuit one worker opens is open in another's next decision.

Two real worker processes on one journal (a SQLite file, or the PostgreSQL
server), a real HTTP shop on 127.0.0.1 whose cheapest payment provider
answers 503. Worker A drives four runs that each try it first: three failures
open its circuit, in the shared health row A writes with the outcomes. Worker
B, alive all along but waiting for one run id only, then gets that run: its
first decision records the provider's circuit open and pays with the other
provider, without one request to the failing one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from durability_helpers import write_shop

from ido.decisions import DecisionRecord
from ido.engine.worker import queue_run
from ido.health import Circuit
from ido.journal import open_store
from ido.journal.base import TERMINAL_STATUSES
from ido.loading import load_workspace
from ido.testing.services import ServiceServer
from tests.conftest import postgres_url

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
DRIVER = Path(__file__).with_name("health_worker.py")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A shared journal: a SQLite file, or an empty database on the PostgreSQL server."""
    return postgres_url() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes started by the test; SIGTERMed (then killed) at the end."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _worker(root: Path, url: str, log: Path, *run_id: str) -> subprocess.Popen[str]:
    with log.open("w") as out:  # the child keeps its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(root), url, *run_id], cwd=ROOT, env=ENV,
            stdout=out, stderr=subprocess.STDOUT, text=True,
        )
    deadline = time.monotonic() + 60
    while "ready" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.05)
    return proc


def _wait(predicate: object, what: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_circuit_opened_by_one_worker_is_open_in_the_next_decision_of_another(
    tmp_path: Path, journal_url: str, procs: list[subprocess.Popen[str]],
) -> None:
    with ServiceServer() as shop:
        for name in ("stock.reserve", "stock.release", "pay.acme", "pay.backup", "pay.refund",
                     "ship.parcel", "ship.cancel", "notify.mail"):
            shop.endpoint(name, cost=0.01, delay=0.02)
        shop.set("pay.acme", status=503)
        root = write_shop(tmp_path / "ws", shop, deadline="30s")
        workspace = load_workspace(root)
        store = open_store(journal_url)
        try:
            worker_b = _worker(root, journal_url, tmp_path / "b.log", "run-b")
            procs.append(worker_b)
            worker_a = _worker(root, journal_url, tmp_path / "a.log")
            procs.append(worker_a)
            first = [queue_run(store, workspace, "order", inputs={"order_id": f"a{i}"}, run_id=f"run-a{i}")
                     for i in range(4)]

            def acme_open() -> bool:
                row = store.health_rows().get("pay.acme")
                return row is not None and row.state.get("breaker", {}).get("state") == "open"

            _wait(acme_open, "worker A to open pay.acme's circuit")
            _wait(lambda: all(store.get_run(run_id=r.run_id).status in TERMINAL_STATUSES for r in first),
                  "worker A's runs to end")
            assert all(lease.owner != "" for lease in store.leases(run_ids=[r.run_id for r in first]))
            worker_a.send_signal(signal.SIGTERM)  # so that only B can take the next run
            worker_a.wait(timeout=30)
            acme_calls = len(shop.requests("pay.acme"))
            assert acme_calls >= 3

            queue_run(store, workspace, "order", inputs={"order_id": "b"}, run_id="run-b")
            _wait(lambda: store.get_run(run_id="run-b").status in TERMINAL_STATUSES, "worker B's run")
            decisions = [DecisionRecord.model_validate(e.data)
                         for e in store.events(run_id="run-b", kinds=["decision"])]
        finally:
            store.close()
        a_log = (tmp_path / "a.log").read_text()
        b_owner = (tmp_path / "b.log").read_text().split()[1]
        assert b_owner not in a_log
        first_decision = decisions[0]
        assert first_decision.health["pay.acme"].circuit is Circuit.OPEN
        assert first_decision.health["pay.acme"].consecutive_failures >= 3
        pays = [name for d in decisions for name in d.chosen if name.startswith("pay.")]
        assert pays == ["pay.backup"]
        assert len(shop.requests("pay.acme")) == acme_calls  # B never sent to the open provider
    # the recorded snapshot is what replay decides from: the run replays identical
    code = subprocess.run(
        [sys.executable, "-m", "ido", "--workspace", str(root), "--store", journal_url, "replay", "run-b"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120,
    )
    assert code.returncode == 0, code.stdout + code.stderr
