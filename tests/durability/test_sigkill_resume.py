"""Crash resume: engine processes SIGKILLed at random instants, `ido resume` until every run ends.

Each round starts a driver process with several concurrent runs of a
four-step intent (reserve -> pay -> ship + notify, with compensations) on a
SQLite journal, against real HTTP endpoints on 127.0.0.1 in this process
(slowed, some flaky), kills it at a seeded random instant, then runs
`python -m ido resume` in new processes, killing the first ones at random
points too, until every run of the round is terminal. Then it checks what
the journal and the servers saw.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from durability_helpers import ENDPOINTS, write_shop

from ido.cli.main import main
from ido.journal.base import TERMINAL_STATUSES, Event
from ido.journal.sqlite import SQLiteStore
from ido.testing.services import ServiceServer

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
#: resume processes per round killed at a random point before one is let finish.
KILLED_RESUMES = 2
#: resume attempts per round at most (the last ones are never killed).
MAX_RESUMES = KILLED_RESUMES + 3
FORWARD = ("stock.reserve", "pay.acme", "pay.backup", "ship.parcel", "notify.mail")
UNDO = {"stock.reserve": "stock.release", "pay.acme": "pay.refund", "pay.backup": "pay.refund",
        "ship.parcel": "ship.cancel"}
#: the intent's deadline: short, so the rounds whose carrier fails end (and compensate) soon.
DEADLINE = "5s"


@dataclass(frozen=True)
class Unanswered:
    """A step dispatched without an outcome when a process was killed."""

    run_id: str
    step: int
    capability: str
    key: str
    after_seq: int
    killed_at: float
    compensation: bool


@dataclass
class Sweep:
    """What the sweep did: runs started, kills, steps left unanswered by a kill."""

    runs: list[str] = field(default_factory=list)
    kills: int = 0
    unanswered: list[Unanswered] = field(default_factory=list)
    #: run id prefixes of the rounds whose carrier always failed.
    failing: list[str] = field(default_factory=list)


def _events(db: Path) -> dict[str, list[Event]]:
    store = SQLiteStore(db)
    try:
        return {r.run_id: store.events(run_id=r.run_id) for r in store.list_runs()}
    finally:
        store.close()


def _statuses(db: Path) -> dict[str, str]:
    store = SQLiteStore(db)
    try:
        return {r.run_id: r.status for r in store.list_runs()}
    finally:
        store.close()


def _unanswered(db: Path, killed_at: float) -> list[Unanswered]:
    """Return the steps of unfinished runs dispatched without an outcome, as the journal holds them."""
    statuses = _statuses(db)
    out = []
    for run_id, events in _events(db).items():
        if statuses[run_id] not in TERMINAL_STATUSES:
            out += pending_steps(run_id, events, killed_at)
    return out


def pending_steps(run_id: str, events: list[Event], killed_at: float) -> list[Unanswered]:
    """Return the run's steps dispatched without an outcome that nothing has taken over yet.

    An undo cut off by a crash keeps its `dispatched` event without an outcome for
    good: resume drops it and the compensation loop redoes it as a new step with the
    same key. Once redone it is no longer pending (the redo is, until answered);
    counted again at a later kill, it would demand a second answer to its key.
    """
    answered = {e.data["step"] for e in events if e.kind == "outcome"}
    out = []
    for i, e in enumerate(events):
        if e.kind != "dispatched" or e.data["step"] in answered:
            continue
        key = str(e.data["idempotency_key"])
        if "compensates" in e.data and any(
            later.kind == "dispatched" and later.data["idempotency_key"] == key for later in events[i + 1:]
        ):
            continue  # redone by the compensation loop
        out.append(Unanswered(run_id, int(e.data["step"]), str(e.data["capability"]), key,
                              events[-1].seq, killed_at, "compensates" in e.data))
    return out


def _event_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL `proc` if it still runs; return whether it was killed."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


def sweep(
    tmp_path: Path, shop: ServiceServer, *, rounds: int, runs: int, seed: int, failing: frozenset[int] = frozenset(),
) -> tuple[Path, str, Sweep]:
    """Run `rounds` kill/resume rounds of `runs` concurrent runs; return (workspace, journal URL, what happened).

    In the rounds in `failing` the only carrier answers 503 throughout: those runs
    fail at their deadline and must be compensated (refund, release), crashes or not.
    """
    rng = random.Random(seed)
    root = write_shop(tmp_path / "ws", shop, deadline=DEADLINE)
    db = tmp_path / "journal.db"
    url = f"sqlite:///{db}"
    done = Sweep()
    for r in range(rounds):
        shop.set("pay.acme", fail_next=rng.choice([0, 0, 1, 3]))
        shop.set("ship.parcel", delay=rng.choice([0.2, 0.3, 0.6]), status=503 if r in failing else 200)
        if r in failing:
            done.failing.append(f"r{r}-")
        driver = subprocess.Popen(
            [sys.executable, str(DRIVER), str(root), url, f"r{r}", str(runs)],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert driver.stdout is not None
        line = driver.stdout.readline()
        if not line.startswith("started"):
            _kill(driver)
            raise AssertionError(f"the driver did not start: {line!r} {driver.communicate()[1]}")
        done.runs += line.split()[1:]
        time.sleep(rng.uniform(0.0, 1.2))  # somewhere in the runs' window (~0.6-1.5s of work)
        if _kill(driver):
            done.kills += 1
            done.unanswered += _unanswered(db, time.time())
        driver.stdout.close()
        assert driver.stderr is not None
        driver.stderr.close()
        for attempt in range(MAX_RESUMES):
            mine = {k: v for k, v in _statuses(db).items() if k.startswith(f"r{r}-")}
            if all(s in TERMINAL_STATUSES for s in mine.values()):
                break
            before = _event_count(db)
            proc = subprocess.Popen(
                [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, "resume", "--json"],
                cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            if attempt < KILLED_RESUMES:
                limit = time.monotonic() + 30
                while proc.poll() is None and _event_count(db) == before and time.monotonic() < limit:
                    time.sleep(0.01)  # the resume is working once it writes
                time.sleep(rng.uniform(0.0, 0.5))
                if _kill(proc):
                    done.kills += 1
                    done.unanswered += _unanswered(db, time.time())
                proc.communicate()
                continue
            _, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, 1), f"resume exited {proc.returncode}: {err}"
            assert "Traceback" not in err and "internal error" not in err, err
        mine = {k: v for k, v in _statuses(db).items() if k.startswith(f"r{r}-")}
        assert len(mine) == runs
        assert all(s in TERMINAL_STATUSES for s in mine.values()), f"round {r}: {mine}"
    return root, url, done


def check(root: Path, url: str, db: Path, shop: ServiceServer, done: Sweep,
          capsys: pytest.CaptureFixture[str]) -> Counter[str]:
    """Assert the crash guarantees over the whole journal and the servers; return the status counts."""
    events = _events(db)
    statuses = _statuses(db)
    assert sorted(events) == sorted(done.runs)
    for run_id, evs in events.items():
        assert statuses[run_id] in TERMINAL_STATUSES, run_id
        assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
        outcomes = [e.data for e in evs if e.kind == "outcome"]
        per_step = Counter(o["step"] for o in outcomes)
        assert all(n == 1 for n in per_step.values()), f"{run_id}: a step has two outcomes: {per_step}"
        done_forward = Counter(o["capability"] for o in outcomes
                               if o["status"] == "succeeded" and not o.get("compensation"))
        assert all(n == 1 for n in done_forward.values()), f"{run_id}: a completed step ran twice: {done_forward}"
        for o in outcomes:
            if o["status"] == "succeeded":
                # the journal's success is the provider's one side effect under that key
                assert o["idempotency_key"] in shop.side_effects(o["capability"]), (run_id, o)
        if any(run_id.startswith(p) for p in done.failing):
            assert statuses[run_id] == "compensated", f"{run_id} could not ship yet ended {statuses[run_id]}"
        if statuses[run_id] == "compensated":
            undone = Counter(o["capability"] for o in outcomes if o["status"] == "succeeded" and o.get("compensation"))
            wanted = Counter(UNDO[name] for name in done_forward if name in UNDO)
            assert undone == wanted, f"{run_id}: did {dict(done_forward)}, undid {dict(undone)}"
    for name in ENDPOINTS:
        keys = shop.side_effects(name)
        assert len(keys) == len(set(keys)), f"{name}: two side effects for one key"
        assert all(k and not k.startswith("(no key") for k in keys), f"{name}: a call without a key"
        if name in FORWARD:
            per_run = Counter(k.split(":", 1)[0] for k in keys)
            assert all(n == 1 for n in per_run.values()), f"{name}: a run acted twice: {per_run}"
    for lost in done.unanswered:
        later = [e for e in events[lost.run_id] if e.seq > lost.after_seq]
        answered = [e.data for e in later if e.kind == "outcome" and e.data["idempotency_key"] == lost.key
                    and (lost.compensation or e.data["step"] == lost.step)]
        assert answered, f"{lost}: never re-sent and answered after the kill"
        # its real answer, learnt with the key, not "abandoned" (which would hide an effect from compensation)
        assert "abandoned" not in (answered[0].get("error") or ""), f"{lost}: {answered[0]}"
        if answered[0]["status"] == "succeeded":
            resent = [q for q in shop.requests(lost.capability) if q.idempotency_key == lost.key
                      and q.at >= lost.killed_at - 0.05]
            assert resent, f"{lost}: the provider never saw the key again after the kill"
    for run_id in done.runs:
        assert main(["--workspace", str(root), "--store", url, "explain", run_id, "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["run_id"] == run_id and shown["status"] == statuses[run_id]
        assert shown["decisions"], f"{run_id}: explain shows no decision"
    return Counter(statuses.values())


def test_an_undo_redone_after_a_crash_is_not_pending_at_a_later_kill() -> None:
    """The flake under load: a kill after a refund's redo was answered (its run still releasing stock).

    The refund cut off by the first kill stays without an outcome; counted again at
    the second kill, the sweep then wanted its key answered after that kill, which
    never happens: it was answered before. Only a step still in flight is pending.
    """
    def event(seq: int, kind: str, step: int, capability: str, **data: object) -> Event:
        return Event(run_id="r", seq=seq, kind=kind, at=float(seq),
                     data={"step": step, "capability": capability, "idempotency_key": f"r:{capability}:1", **data})

    journal = [
        event(1, "dispatched", 4, "pay.refund", compensates=2),  # cut off by the first kill
        event(2, "dispatched", 5, "pay.refund", compensates=2),  # redone by resume, same key
        event(3, "outcome", 5, "pay.refund", status="succeeded"),
        event(4, "dispatched", 6, "stock.release", compensates=1),  # in flight at the second kill
    ]
    assert [(p.step, p.capability) for p in pending_steps("r", journal[:1], 0.0)] == [(4, "pay.refund")]
    assert [(p.step, p.capability) for p in pending_steps("r", journal[:2], 0.0)] == [(5, "pay.refund")]
    assert [(p.step, p.capability) for p in pending_steps("r", journal, 0.0)] == [(6, "stock.release")]


def test_sigkill_at_random_points_then_resume_ends_every_run_once(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """Killed engines and resumes at random instants: every run ends, no step twice, keys re-sent.

    The fast suite's representative of the sweep: three rounds (one with a failing
    carrier); `test_sigkill_sweep` (slow) runs the same checks over many more.
    """
    root, url, done = sweep(tmp_path, shop, rounds=3, runs=3, seed=5, failing=frozenset({2}))
    counts = check(root, url, tmp_path / "journal.db", shop, done, capsys)
    assert done.kills >= 5, "the kills never landed while a process was working"
    assert done.unanswered, "no kill caught a step in flight"
    assert sum(counts.values()) == 9 and counts["compensated"] >= 3


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_sigkill_sweep(tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str], seed: int) -> None:
    """The same guarantees over a larger sweep: more rounds, more concurrent runs, other seeds."""
    root, url, done = sweep(tmp_path, shop, rounds=12, runs=8, seed=seed, failing=frozenset({3, 8}))
    counts = check(root, url, tmp_path / "journal.db", shop, done, capsys)
    assert done.unanswered, "no kill caught a step in flight"
    assert sum(counts.values()) == 96 and counts["compensated"] >= 16
