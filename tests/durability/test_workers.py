"""Workers on one shared journal (SQLite file or PostgreSQL server), as separate processes.

Runs are queued with `ido run --detach`; `ido worker` processes claim and drive
them against the shop's real HTTP endpoints on 127.0.0.1. One worker is
SIGKILLed mid-run, another SIGSTOPped past its lease and continued: every run
still ends once, no step completes twice, each key has one side effect, the
stopped worker's late writes are refused, and every run replays.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from durability_helpers import ENDPOINTS, ENV, ROOT, Workers, snapshot, wait_until, write_shop

from ido.cli.main import main
from ido.journal.base import TERMINAL_STATUSES
from ido.testing.services import ServiceServer
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A shared journal: a SQLite file, or an empty database on the PostgreSQL server."""
    return postgres_url() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.fixture
def workers(tmp_path: Path, shop: ServiceServer, journal_url: str) -> Iterator[Workers]:
    """Worker processes on the shop workspace and the journal under test."""
    root = write_shop(tmp_path / "ws", shop, deadline="20s")
    group = Workers(root, journal_url, tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def queue(workers: Workers, n: int, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Queue `n` runs of the shop's order intent with `ido run --detach`; return their ids."""
    ids = []
    for i in range(n):
        code = main(["--workspace", str(workers.root), "--store", workers.url, "run", "order",
                     "--input", f"order_id=o{i}", "--detach"])
        out = capsys.readouterr().out
        assert code == 0 and out.startswith("queued: run "), out
        ids.append(out.split()[2])
    return ids


def check_journal(url: str, ids: list[str], shop: ServiceServer, capsys: pytest.CaptureFixture[str],
                  root: Path) -> Counter[str]:
    """Assert the guarantees: runs ended, dense seqs, no step twice, one effect per key, replay."""
    statuses, events = snapshot(url)
    assert sorted(statuses) == sorted(ids)
    for run_id in ids:
        assert statuses[run_id] in TERMINAL_STATUSES, (run_id, statuses[run_id])
        evs = events[run_id]
        assert [e.seq for e in evs] == list(range(1, len(evs) + 1)), run_id
        outcomes = [e.data for e in evs if e.kind == "outcome"]
        assert all(n == 1 for n in Counter(o["step"] for o in outcomes).values()), run_id
        forward = Counter(o["capability"] for o in outcomes
                          if o["status"] == "succeeded" and not o.get("compensation"))
        assert all(n == 1 for n in forward.values()), (run_id, forward)
        keys = Counter(e.data["idempotency_key"] for e in evs if e.kind == "dispatched")
        for key, sent in keys.items():
            # a key is sent again only after an answer that left it in doubt (a timeout or a lost
            # connection on a loaded machine: the same key re-sent, never a new one), at most one success
            answers = [o for o in outcomes if o.get("idempotency_key") == key]
            failed = [o for o in answers if o["status"] != "succeeded"]
            assert sent - 1 <= len(failed), f"{run_id}: key {key} dispatched {sent}x after {len(failed)} failures"
            if sent > 1:  # what first left it in doubt: no answer, or a re-send after a crash
                assert failed[0].get("error_kind") in ("timeout", "connection") or failed[0].get("resent"), failed
            assert sum(o["status"] == "succeeded" for o in answers) <= 1, (run_id, key)
    for name in ENDPOINTS:
        effects = shop.side_effects(name)
        assert len(effects) == len(set(effects)), f"{name}: two side effects for one key"
        per_run = Counter(k.split(":", 1)[0] for k in effects)
        assert all(n == 1 for n in per_run.values()), f"{name}: a run acted twice: {per_run}"
    for run_id in ids:
        code = main(["--workspace", str(root), "--store", url, "replay", run_id])
        out = capsys.readouterr()
        assert code == 0, (run_id, out.out, out.err)
    return Counter(statuses.values())


def test_a_killed_workers_runs_are_finished_by_another(
    workers: Workers, shop: ServiceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGKILL one of two workers mid-run: the other takes its runs over and ends every one once."""
    first = workers.start()
    ids = queue(workers, 8, capsys)
    wait_until(lambda: sum(1 for evs in snapshot(workers.url)[1].values() if len(evs) >= 4) >= 4,
               limit_s=60, what="runs in progress on the first worker")
    statuses, _ = snapshot(workers.url)
    unfinished_at_kill = [r for r, s in statuses.items() if s not in TERMINAL_STATUSES]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert unfinished_at_kill, "the kill landed after every run ended: it proves nothing"
    workers.start()
    wait_until(lambda: all(s in TERMINAL_STATUSES for s in snapshot(workers.url)[0].values()),
               limit_s=90, what="every run to end")
    counts = check_journal(workers.url, ids, shop, capsys, workers.root)
    assert counts["succeeded"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("journal_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_stopped_workers_late_writes_are_refused(
    workers: Workers, shop: ServiceServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGSTOP a worker past its lease: another takes over; continued, the first writes nothing more.

    PostgreSQL only: a process frozen in the middle of a SQLite commit keeps the file's
    write lock until it continues, so on SQLite nobody can write meanwhile (README says
    so). The fencing itself is the same code on both, tested in tests/journal/test_leases.py.
    """
    shop.set("ship.parcel", delay=0.8)  # steps in flight while the first worker is stopped
    first = workers.start(lease="1s")
    ids = queue(workers, 4, capsys)
    wait_until(lambda: any(e.kind == "dispatched" and e.data["capability"] == "ship.parcel"
                           for evs in snapshot(workers.url)[1].values() for e in evs),
               limit_s=60, what="a shipment in flight")
    first.send_signal(signal.SIGSTOP)
    workers.start(lease="1s")
    wait_until(lambda: all(s in TERMINAL_STATUSES for s in snapshot(workers.url)[0].values()),
               limit_s=90, what="the second worker to end every run")
    before = snapshot(workers.url)[1]
    first.send_signal(signal.SIGCONT)
    # it learns at its next heartbeat (taken over) or write (claimed by; or, when the server
    # ended its session while it was frozen inside a transaction, the write fails outright)
    wait_until(lambda: any(m in workers.log(first) for m in ("taken over", "claimed by", "cannot write")),
               limit_s=30, what="the first worker to learn it lost its runs")
    time.sleep(1.0)  # whatever it still had in flight has answered by now
    assert snapshot(workers.url)[1] == before, "a late write of the stopped worker landed"
    counts = check_journal(workers.url, ids, shop, capsys, workers.root)
    assert counts["succeeded"] == 4


def test_two_resumes_started_together_share_the_runs_never_a_step(
    tmp_path: Path, shop: ServiceServer, journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `ido resume` at the same instant on crashed runs: each run resumed by one, no step re-sent twice."""
    root = write_shop(tmp_path / "ws", shop, deadline="20s")
    shop.set("ship.parcel", delay=0.6)
    driver = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("driver.py")), str(root), journal_url, "c", "6"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert driver.stdout is not None
    assert driver.stdout.readline().startswith("started")
    wait_until(lambda: sum(1 for evs in snapshot(journal_url)[1].values()
                           for e in evs if e.kind == "dispatched") >= 8,
               limit_s=60, what="steps in flight")
    driver.kill()
    driver.communicate(timeout=30)
    statuses, _ = snapshot(journal_url)
    assert any(s not in TERMINAL_STATUSES for s in statuses.values()), "the kill came too late"
    resumes = [
        subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", journal_url, "resume", "--json"],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in resumes]
    for proc, (_, err) in zip(resumes, outputs, strict=True):
        assert proc.returncode in (0, 1), err
        assert "Traceback" not in err and "duplicates a stored event" not in err, err
    ids = sorted(statuses)
    _, events = snapshot(journal_url)
    for run_id in ids:
        resumed = [e for e in events[run_id] if e.kind == "decision" and e.data.get("trigger") == "resume"]
        assert len(resumed) <= 1, f"{run_id} was resumed by both processes"
    for name in ENDPOINTS:
        per_key = Counter(q.idempotency_key for q in shop.requests(name))
        assert all(n <= 2 for n in per_key.values()), f"{name}: a step sent more than twice: {per_key}"
    check_journal(journal_url, ids, shop, capsys, root)
