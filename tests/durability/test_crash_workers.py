"""The crash test of issue #11: three `ido worker` processes, 200 runs, SIGKILL and SIGSTOP at random.

Runs of the shop's order intent are queued on one journal (a SQLite file or
a PostgreSQL database) with `ido run --detach` (and `queue_run`, the function
behind it, for speed), then driven by three worker processes against the
shop's real HTTP endpoints on 127.0.0.1, which count side effects per
Idempotency-Key. At seeded random instants one of two workers is SIGKILLed
and a replacement started; once, the third is SIGSTOPped until another worker
has claimed one of its runs past its lease, then continued. The carrier answers
503 for longer than the intent's deadline once, so some runs fail and compensate
(refund, release) while workers die; pay.acme fails a few calls now and then.

Then: every run is terminal; no step completed twice (in the journal, nor a
role, e.g. paid by both providers); a key sent again only after its outcome
was unknown; one side effect per key and per run and endpoint, each of a key
the journal dispatched; each run's events dense (seq 1..n) and in the order
they were made (a stale write landing after a takeover would break it); every
run replays identically (`ido.replay.replay` on all, the `ido replay` command
on a sample); the stopped worker learnt that it lost every run taken over.

Not asserted: that the providers never acted for a run beyond what its
journal records. A payment whose outcome is unknown (a timeout, or a re-send
after a crash refused with 503) may have acted, and the planner may still
switch to the other provider; the key is kept (`RunState.doubt`), the role is
not held, so the first provider's payment stays unknown to the run.

The whole test is bounded (`RUNS_LIMIT_S`); a run that does not end fails it
with a diagnostic. The seed is `IDO_CRASH_SEED` (a fixed one by default) and
is printed, with what the chaos did, on failure.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest
from durability_helpers import ENDPOINTS, Workers, write_shop

from ido.cli.main import main
from ido.engine.fold import UNKNOWN_OUTCOME
from ido.engine.worker import queue_run
from ido.journal import open_store
from ido.journal.base import TERMINAL_STATUSES, Event, Lease, Store
from ido.loading import load_workspace
from ido.replay import replay
from ido.testing.services import ServiceServer
from tests.conftest import postgres_url

RUNS = 200
#: runs queued through the `ido run --detach` command (the rest through `queue_run`, which it calls).
QUEUED_BY_CLI = 4
LEASE = "2s"
LEASE_S = 2.0
#: how long every run may take to end (2 loaded cores), before the test fails with a diagnostic.
RUNS_LIMIT_S = 300.0
#: runs replayed by the `ido replay` command too (all are replayed in process).
REPLAYED_BY_CLI = 6
#: SIGKILLs at most (each at a random instant while the victim drives runs).
MAX_KILLS = 10
#: SIGSTOP episodes tried (on SQLite, one that freezes the worker inside a commit holds the file's
#: write lock, so no one can take over; it is continued and another episode tried later).
STOP_TRIES = 4
#: the longest a worker stays stopped waiting for another to take one of its runs over (on
#: PostgreSQL the server ends its session, and frees the rows it locked, after 5 s idle).
STOP_LIMIT_S = 16.0
SEEDS = {"sqlite": 1101, "postgresql": 1102}
#: the intent's deadline, and how long the carrier answers 503 once: longer, so that the runs
#: shipping then fail at their deadline and compensate (refund, release) while workers die.
DEADLINE = "15s"
OUTAGE_S = 17.0
#: how long each forward step's service takes to answer.
STEP_DELAY_S = 0.6
FORWARD = ("stock.reserve", "pay.acme", "pay.backup", "ship.parcel", "notify.mail")
ROLE = {"stock.reserve": "reservation", "pay.acme": "payment", "pay.backup": "payment",
        "ship.parcel": "shipping", "notify.mail": "notification"}
UNDO = {"stock.reserve": "stock.release", "pay.acme": "pay.refund", "pay.backup": "pay.refund",
        "ship.parcel": "ship.cancel"}


@dataclass
class Stop:
    """One SIGSTOP episode: the worker, the runs it held, those another worker claimed meanwhile."""

    pid: int
    owner: str
    held: list[str]
    taken: dict[str, Lease]
    stopped_s: float


@dataclass
class Chaos:
    """What the test did to the workers (shown when it fails)."""

    seed: int
    backend: str
    started: float = field(default_factory=time.monotonic)
    kills: list[str] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    def note(self, what: list[str], text: str) -> None:
        what.append(f"{time.monotonic() - self.started:6.1f}s {text}")

    def describe(self) -> str:
        stops = [f"pid {s.pid}: held {len(s.held)}, taken {sorted(s.taken)}, stopped {s.stopped_s:.1f}s"
                 for s in self.stops]
        return "\n".join([
            f"crash test on {self.backend}, seed {self.seed} (rerun with IDO_CRASH_SEED={self.seed})",
            f"kills: {self.kills}", f"stops: {stops}", f"faults: {self.faults}",
        ])


def _pid(owner: str) -> int:
    """Return the process id in a lease owner's name (`host:pid:nonce`)."""
    return int(owner.split(":")[1])


def _statuses(store: Store) -> dict[str, str]:
    return {r.run_id: r.status for r in store.list_runs()}


def queue_runs(store: Store, url: str, root: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Queue `RUNS` runs of the order intent, the first few with `ido run --detach`; return their ids."""
    ids = []
    for i in range(QUEUED_BY_CLI):
        code = main(["--workspace", str(root), "--store", url, "run", "order",
                     "--input", f"order_id=o{i}", "--detach"])
        out = capsys.readouterr().out
        assert code == 0 and out.startswith("queued: run "), out
        ids.append(out.split()[2])
    workspace = load_workspace(root)
    for i in range(QUEUED_BY_CLI, RUNS):
        ids.append(queue_run(store, workspace, "order", inputs={"order_id": f"o{i}"}).run_id)
    return ids


class CrashLoop:
    """Drives the chaos until every run ended: kills, one stop episode, provider faults."""

    def __init__(self, group: Workers, store: Store, shop: ServiceServer, chaos: Chaos) -> None:
        self.group, self.store, self.shop, self.chaos = group, store, shop, chaos
        self.rng = random.Random(chaos.seed)
        self.killable = [group.start(lease=LEASE) for _ in range(2)]
        self.stoppable = group.start(lease=LEASE)
        self.looks = 0  # looks for a step in flight in the stoppable worker's runs (`stop_once`)

    def run(self, ids: list[str]) -> None:
        """Return once every run of `ids` is terminal; AssertionError with a diagnostic after `RUNS_LIMIT_S`."""
        rng, start = self.rng, time.monotonic()
        next_kill = start + rng.uniform(1.5, 3.0)
        next_stop = start + rng.uniform(3.0, 8.0)
        next_fault = start + rng.uniform(1.0, 4.0)
        outage_at: float | None = start + rng.uniform(3.0, 6.0)
        outage_end: float | None = None
        tries = 0
        while True:
            statuses = _statuses(self.store)
            unfinished = [r for r in ids if statuses.get(r) not in TERMINAL_STATUSES]
            if not unfinished:
                return
            now = time.monotonic()
            if now - start > RUNS_LIMIT_S:
                raise AssertionError(f"{len(unfinished)} runs did not end within {RUNS_LIMIT_S:g}s\n"
                                     + self.diagnose(unfinished))
            self.check_alive()
            if len(self.chaos.kills) < MAX_KILLS and now >= next_kill and self.kill_one():
                next_kill = now + rng.uniform(2.0, 5.0)
            stopping = tries < STOP_TRIES and not any(s.taken for s in self.chaos.stops)
            # the outage after the stop: runs blocked by it fill every worker's slots, so none
            # could claim the stopped worker's runs
            if outage_at is not None and now >= outage_at and not stopping:
                self.shop.set("ship.parcel", status=503)
                self.chaos.note(self.chaos.faults, f"ship.parcel answers 503 for {OUTAGE_S:g}s")
                outage_at, outage_end = None, now + OUTAGE_S
            if outage_end is not None and now >= outage_end:
                self.shop.set("ship.parcel", status=200)
                self.chaos.note(self.chaos.faults, "ship.parcel answers again")
                outage_end = None
            if now >= next_fault:
                count = rng.choice([1, 2, 4])
                self.shop.set("pay.acme", fail_next=count)
                self.chaos.note(self.chaos.faults, f"pay.acme fails {count} next")
                next_fault = now + rng.uniform(3.0, 8.0)
            if stopping and now >= next_stop and self.stop_once():
                tries += 1
                next_stop = time.monotonic() + rng.uniform(2.0, 5.0)
            time.sleep(0.2)

    def check_alive(self) -> None:
        """Fail at once when a worker the test did not kill exited (a crash of ido, not of the test)."""
        for proc in [*self.killable, self.stoppable]:
            if proc.poll() is not None:
                raise AssertionError(f"worker {proc.pid} exited {proc.returncode}:\n"
                                     + self.group.log(proc)[-3000:])

    def kill_one(self) -> bool:
        """SIGKILL a killable worker driving runs now, and start a replacement; return whether one was.

        A worker still starting (busy importing on a loaded machine) is spared: killing
        it proves nothing, and killing every one before it claims would starve the runs.
        """
        live = {_pid(lease.owner) for lease in self.store.leases() if lease.until > time.time()}
        driving = [p for p in self.killable if p.pid in live]
        if not driving:
            return False
        victim = self.rng.choice(driving)
        held = [lease.run_id for lease in self.store.leases()
                if _pid(lease.owner) == victim.pid and lease.until > time.time()]
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        self.killable.remove(victim)
        self.killable.append(self.group.start(lease=LEASE))
        self.chaos.note(self.chaos.kills, f"SIGKILL {victim.pid} holding {len(held)} live leases")
        return True

    def stop_once(self) -> bool:
        """SIGSTOP the stoppable worker while it has a step in flight, until a run of it is taken over.

        Returns whether an episode happened (False: it had nothing in flight; try again soon).
        """
        proc = self.stoppable
        mine = [lease for lease in self.store.leases() if _pid(lease.owner) == proc.pid
                and lease.until > time.time()]
        if not mine:
            return False
        if not any(_in_flight(self.store.events(run_id=lease.run_id)) for lease in mine):
            # best with a step in flight (its re-send is tested); on a quiet machine steps are
            # so quick that a look rarely finds one: after a second of looks, any held run will do
            self.looks += 1
            if self.looks < 5:
                return False
        proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        time.sleep(0.3)  # a commit it sent just before is settled by the server
        if _write_locked(self.group.url):
            # frozen inside a SQLite commit: it holds the file's write lock, so no one could take
            # over (a machine-local lock, documented); let it go on and try another instant soon
            proc.send_signal(signal.SIGCONT)
            self.chaos.note(self.chaos.faults, f"SIGSTOP {proc.pid} held the write lock: continued")
            return False
        statuses = _statuses(self.store)
        leases = [lease for lease in self.store.leases() if _pid(lease.owner) == proc.pid
                  and statuses.get(lease.run_id) not in TERMINAL_STATUSES]
        owner = leases[0].owner if leases else mine[0].owner
        held = sorted(lease.run_id for lease in leases)
        taken: dict[str, Lease] = {}
        while time.monotonic() - stopped < STOP_LIMIT_S:
            now_held = self.store.leases(run_ids=held) if held else []
            taken = {lease.run_id: lease for lease in now_held if lease.owner != owner}
            if taken and time.monotonic() - stopped >= LEASE_S + 1.0:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGCONT)
        episode = Stop(proc.pid, owner, held, taken, time.monotonic() - stopped)
        self.chaos.stops.append(episode)
        return True

    def diagnose(self, unfinished: list[str]) -> str:
        """Return what a failed wait should show: the chaos, stuck runs with leases and last events, logs."""
        leases = {lease.run_id: lease for lease in self.store.leases()}
        lines = [self.chaos.describe(), f"unfinished ({len(unfinished)}):"]
        for run_id in unfinished[:10]:
            events = self.store.events(run_id=run_id)
            tail = [f"{e.seq}:{e.kind}" for e in events[-5:]]
            lines.append(f"  {run_id} {self.store.get_run(run_id=run_id).status} lease={leases.get(run_id)} "
                         f"events={len(events)} last={tail}")
        for proc in self.group.procs:
            state = "alive" if proc.poll() is None else f"exited {proc.returncode}"
            lines.append(f"--- worker {proc.pid} ({state}), log tail:")
            lines.append(self.group.log(proc)[-1500:])
        return "\n".join(lines)


def _write_locked(url: str) -> bool:
    """Return whether another process holds the write lock of the SQLite journal `url` (False: not SQLite)."""
    if not url.startswith("sqlite:///"):
        return False
    import sqlite3

    conn = sqlite3.connect(url[len("sqlite:///"):], timeout=0.5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def _in_flight(events: list[Event]) -> bool:
    """Return whether a step was dispatched without an outcome yet."""
    answered = {e.data["step"] for e in events if e.kind == "outcome"}
    return any(e.kind == "dispatched" and e.data["step"] not in answered for e in events)


def check_keys(run_id: str, events: list[Event]) -> None:
    """Assert a forward key is sent again only while in doubt: every earlier send ended unknown.

    A send's outcome is unknown after a timeout or a lost connection, and a
    re-send after a crash (`resent`) refused outright says nothing of the first
    send either. Re-sending a key while its step is in flight, or after it
    succeeded or failed for sure, would be a step driven twice.
    """
    doubt: set[str] = set()
    in_flight: dict[int, str] = {}
    ended: dict[str, dict[str, object]] = {}
    for e in events:
        data = e.data
        if "compensates" in data or data.get("compensation"):
            continue
        key = data.get("idempotency_key")
        if e.kind == "dispatched":
            assert key not in in_flight.values(), f"{run_id}: key {key} sent again at seq {e.seq} while in flight"
            assert key not in ended or key in doubt, (
                f"{run_id}: key {key} sent again at seq {e.seq} after it ended {ended[key]}")
            in_flight[data["step"]] = key
        elif e.kind == "outcome":
            in_flight.pop(data["step"], None)
            ended[key] = data
            if data["status"] == "succeeded":
                doubt.discard(key)
            elif data.get("error_kind") in UNKNOWN_OUTCOME or data.get("resent") or key in doubt:
                doubt.add(key)


def check_runs(store: Store, ids: list[str], shop: ServiceServer) -> Counter[str]:
    """Assert the journal and the shop agree that every run ended once; return the status counts."""
    statuses = _statuses(store)
    assert sorted(statuses) == sorted(ids)
    effects = {name: set(shop.side_effects(name)) for name in ENDPOINTS}
    sent: dict[str, set[str]] = {name: set() for name in ENDPOINTS}
    for run_id in ids:
        status = statuses[run_id]
        assert status in TERMINAL_STATUSES, (run_id, status)
        evs = store.events(run_id=run_id)
        assert [e.seq for e in evs] == list(range(1, len(evs) + 1)), f"{run_id}: seqs not dense"
        late = [(a.seq, b.seq) for a, b in pairwise(evs) if b.at < a.at - 1e-3]
        assert not late, f"{run_id}: events written out of the order they were made (a stale write?): {late}"
        outcomes = [e.data for e in evs if e.kind == "outcome"]
        per_step = Counter(o["step"] for o in outcomes)
        assert all(n == 1 for n in per_step.values()), f"{run_id}: a step has two outcomes: {per_step}"
        done = [o for o in outcomes if o["status"] == "succeeded" and not o.get("compensation")]
        roles = Counter(ROLE[o["capability"]] for o in done)
        assert all(n == 1 for n in roles.values()), f"{run_id}: a role was done twice: {roles}"
        check_keys(run_id, evs)
        for o in outcomes:
            if o["status"] == "succeeded":
                assert o["idempotency_key"] in effects[o["capability"]], (run_id, o)
        for e in evs:
            if e.kind == "dispatched":
                sent[e.data["capability"]].add(e.data["idempotency_key"])
        if status == "succeeded":
            assert set(roles) == set(ROLE.values()), (run_id, roles)
        if status == "compensated":
            undone = Counter(o["capability"] for o in outcomes if o["status"] == "succeeded" and o.get("compensation"))
            wanted = Counter(UNDO[o["capability"]] for o in done if o["capability"] in UNDO)
            assert undone == wanted, f"{run_id}: did {[o['capability'] for o in done]}, undid {dict(undone)}"
    for name in ENDPOINTS:
        keys = shop.side_effects(name)
        assert len(keys) == len(set(keys)), f"{name}: two side effects for one key"
        assert all(k and not k.startswith("(no key") for k in keys), f"{name}: a call without a key"
        # a step is journaled before it is sent, so a stale owner whose write was refused sends nothing
        unjournaled = sorted(set(keys) - sent[name])
        assert not unjournaled, f"{name}: side effects of keys never dispatched in the journal: {unjournaled[:5]}"
        if name in FORWARD:
            per_run = Counter(k.split(":", 1)[0] for k in keys)
            assert all(n == 1 for n in per_run.values()), f"{name}: a run acted twice: {per_run}"
    return Counter(statuses.values())


def check_replays(store: Store, ids: list[str], url: str, root: Path, rng: random.Random,
                  capsys: pytest.CaptureFixture[str]) -> None:
    """Assert every run replays identically: all in process, a sample through `ido replay`."""
    for run_id in ids:
        report = replay(store, run_id)
        assert report.identical, (run_id, report.differences[0].message)
    for run_id in rng.sample(ids, REPLAYED_BY_CLI):
        code = main(["--workspace", str(root), "--store", url, "replay", run_id])
        out = capsys.readouterr()
        assert code == 0, (run_id, out.out, out.err)


def check_stopped(group: Workers, chaos: Chaos) -> None:
    """Assert a stop episode saw a takeover, and the stopped worker learnt it lost each run taken."""
    episodes = [s for s in chaos.stops if s.taken]
    assert episodes, f"no SIGSTOP episode saw a run taken over: {chaos.stops}"
    proc = next(p for p in group.procs if p.pid == episodes[0].pid)
    # its heartbeat finds the lease taken over, or a write is refused: by the fence ("claimed by"),
    # by the seqs the new owner wrote meanwhile ("duplicates"), or because the server ended the
    # session it was frozen in ("cannot write")
    markers = ("taken over", "claimed by", "no lease", "duplicates a stored event", "cannot write")

    def learnt(run_id: str) -> bool:
        return any(line.startswith(f"run {run_id}:") and any(m in line for m in markers)
                   for line in group.log(proc).splitlines())

    limit = time.monotonic() + 30
    for run_id in episodes[0].taken:
        while not learnt(run_id):
            assert time.monotonic() < limit, f"the stopped worker never learnt it lost {run_id}"
            time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_three_workers_end_every_run_once_through_kills_and_a_stop(
    backend: str, tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """200 detached runs, three workers, SIGKILLs and a SIGSTOP past the lease: the guarantees hold."""
    seed = int(os.environ.get("IDO_CRASH_SEED") or SEEDS[backend])
    url = postgres_url() if backend == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"
    root = write_shop(tmp_path / "ws", shop, deadline=DEADLINE)
    for name in FORWARD:
        # every step takes a while even on a quiet machine, so the 200 runs outlast the chaos
        # (kills, the stop, the outage) rather than ending in seconds before it
        shop.set(name, delay=STEP_DELAY_S)
    chaos = Chaos(seed, backend)
    group = Workers(root, url, tmp_path)
    store = open_store(url)
    try:
        ids = queue_runs(store, url, root, capsys)
        loop = CrashLoop(group, store, shop, chaos)
        loop.run(ids)
        check_stopped(group, chaos)
        elapsed = time.monotonic() - chaos.started
        group.stop_all()
        for proc in group.procs:
            text = group.log(proc)
            assert "Traceback" not in text and "internal error" not in text, text[-3000:]
        counts = check_runs(store, ids, shop)
        check_replays(store, ids, url, root, random.Random(seed), capsys)
        assert len(chaos.kills) >= 3, chaos.kills
        assert counts["compensated"] >= 1, f"no run met the carrier's outage: {counts}"
        with capsys.disabled():  # the figures benchmarks/RESULTS.md quotes
            print(f"\n{backend}: {RUNS} runs {dict(counts)} ended in {elapsed:.1f}s with "
                  f"{len(chaos.kills)} kills and {len(chaos.stops)} stops (taken over while stopped: "
                  f"{sum(len(s.taken) for s in chaos.stops)}); checked in "
                  f"{time.monotonic() - chaos.started - elapsed:.1f}s; seed {seed}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{chaos.describe()}") from exc
    finally:
        group.stop_all()
        store.close()
