"""Benchmark: durable steps/s of `ido worker` processes on PostgreSQL and SQLite, beside DBOS; failover.

Throughput. A three-step intent of instantaneous capabilities (the sim door
with zero latency, so the figure is the engine and its journal, not the
services). RUNS runs are queued (`ido run --detach`'s `queue_run`), then 1, 2
or 3 `ido worker` processes with 100 runs in flight in all (concurrency
100 / workers each) drive them to the end. Steps/s = 3 * runs / (the last run's
end - the first run's start), read from the journal itself, so process
start-up is not counted. Every step is durable before the next is dispatched
on both sides.

DBOS, on the same PostgreSQL server (another database), runs the equivalent
workflow of three `@DBOS.step`s with 100 workflows in flight in one process:
the like-for-like row is "ido, 1 worker, PostgreSQL" vs "DBOS, PostgreSQL"
(one process each, the same work end to end: a workflow engine that plans,
decides and records each step vs one that runs a fixed path).

Failover. One worker drives a run of slow steps; it is SIGKILLed (a process
of this machine: the next worker sees it is gone and takes over at once) or
SIGSTOPped (as a worker on another machine looks: alive but silent, so the run
moves only when the lease expires). Figure: kill → the first event written
by the new owner, for leases of 1 s and 10 s.

    eval "$(bash .ci/postgres.sh)"          # a local PostgreSQL (or set IDO_BENCH_POSTGRES)
    python benchmarks/workers.py [--quick] [--runs N] [--reps N] [--no-dbos] [--against TREE]

`--against TREE` (another checkout, e.g. `git archive main | tar -x -C /tmp/main`) also
measures the 1-worker rows of both trees in alternating fresh processes, for a
before/after ratio on a shared machine.

Prints a table and replaces its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402 - after the path insert

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
IN_FLIGHT = 100
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

CAPABILITIES = """\
capabilities:
  - {name: pay, provides: payment, requires: {order.paid: false}, effects: {order.paid: true},
     cost: 0.25, latency: LATENCY, reliability: 1.0, invoke: sim, idempotent: true, timeout: 60s}
  - {name: ship, provides: shipping, requires: {order.paid: true, order.shipped: false},
     effects: {order.shipped: true}, cost: 0.25, latency: LATENCY, reliability: 1.0, invoke: sim,
     idempotent: true, timeout: 60s}
  - {name: notify, provides: notification, requires: {order.shipped: true, customer.notified: false},
     effects: {customer.notified: true}, cost: 0.25, latency: LATENCY, reliability: 1.0,
     invoke: sim, idempotent: true, timeout: 60s}
"""
INTENT = """\
intent: order
given: {order.paid: false, order.shipped: false, customer.notified: false}
goal: {order.paid: true, order.shipped: true, customer.notified: true}
constraints: {budget: 5.0, deadline: 10m}
"""


def workspace(folder: Path, *, latency: str = "0ms") -> Path:
    """Write the three-step workspace below `folder`; return it."""
    (folder / "capabilities").mkdir(parents=True, exist_ok=True)
    (folder / "intents").mkdir(parents=True, exist_ok=True)
    (folder / "capabilities" / "shop.yaml").write_text(CAPABILITIES.replace("LATENCY", latency))
    (folder / "intents" / "order.yaml").write_text(INTENT)
    return folder


def pg_base() -> str | None:
    """Return the PostgreSQL server URL (without database) to use, or None."""
    url = os.environ.get("IDO_BENCH_POSTGRES") or os.environ.get("IDO_TEST_POSTGRES")
    return url.rsplit("/", 1)[0] if url else None


def fresh_pg(base: str, db: str) -> str:
    """Return the URL of database `db` (suffixed with this checkout's digest) on `base`, emptied.

    The suffix keeps checkouts (worktrees) benchmarking on one server at once
    out of each other's databases. Created if missing.
    """
    import hashlib

    import psycopg

    db = f"{db}_{hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]}"

    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{db}"')
    with psycopg.connect(f"{base}/{db}", autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return f"{base}/{db}"


def queue(url: str, root: Path, runs: int) -> None:
    """Queue `runs` runs of the intent in `url`."""
    from ido.engine.worker import queue_run
    from ido.journal import open_store
    from ido.loading import load_workspace

    ws = load_workspace(root)
    store = open_store(url)
    try:
        for i in range(runs):
            queue_run(store, ws, "order", run_id=f"b{i:06d}", now=time.time() + i * 1e-6)
    finally:
        store.close()


def span(url: str) -> tuple[float, int]:
    """Return (seconds from the first run's start to the last run's end, runs succeeded)."""
    from ido.journal import open_store

    store = open_store(url)
    try:
        rows = store.list_runs(limit=None)
        ok = [r for r in rows if r.status == "succeeded"]
        starts = [store.events(run_id=r.run_id, kinds=["run_started"])[0].at for r in ok]
        return (max(r.updated_at for r in ok) - min(starts)) if ok else float("nan"), len(ok)
    finally:
        store.close()


def unfinished(url: str) -> int:
    from ido.journal import TERMINAL_STATUSES, open_store

    store = open_store(url)
    try:
        return sum(1 for r in store.list_runs(limit=None) if r.status not in TERMINAL_STATUSES)
    finally:
        store.close()


def start_workers(root: Path, url: str, n: int, *, lease: str = "10s",
                  concurrency: int | None = None) -> list[subprocess.Popen[bytes]]:
    """Start `n` worker processes and return once each says it is waiting for runs."""
    per = concurrency or -(-IN_FLIGHT // n)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ido", "--workspace", str(root), "--store", url, "worker",
             "--concurrency", str(per), "--lease", lease, "--json"],
            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for _ in range(n)
    ]
    for p in procs:
        assert p.stderr is not None
        line = p.stderr.readline()
        if b"waiting for runs" not in line:
            raise RuntimeError(f"a worker did not start: {line!r}")
    return procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def ido_throughput(root: Path, url: str, workers: int, runs: int) -> float:
    """Return durable steps/s of `workers` worker processes driving `runs` queued runs."""
    queue(url, root, runs)
    procs = start_workers(root, url, workers)
    try:
        limit = time.monotonic() + 600
        while unfinished(url) and time.monotonic() < limit:
            time.sleep(0.2)
    finally:
        stop(procs)
    seconds, ok = span(url)
    if ok != runs:
        raise RuntimeError(f"{ok}/{runs} runs succeeded")
    return 3 * runs / seconds


# -- DBOS on the same server --------------------------------------------------------------------

DBOS_SCRIPT = textwrap.dedent('''
    import asyncio, sys, time
    from dbos import DBOS, SetWorkflowID
    url, runs, in_flight = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    DBOS(config={"name": "ido-bench", "system_database_url": url, "log_level": "WARNING"})

    @DBOS.step()
    async def pay(order):
        return {"order.paid": True}

    @DBOS.step()
    async def ship(order):
        return {"order.shipped": True}

    @DBOS.step()
    async def notify(order):
        return {"customer.notified": True}

    @DBOS.workflow()
    async def fulfil(order):
        return [await pay(order), await ship(order), await notify(order)]

    async def main():
        gate = asyncio.Semaphore(in_flight)
        async def one(i):
            async with gate:
                with SetWorkflowID(f"w-{i:06d}"):
                    await fulfil(f"o-{i}")
        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(runs)))
        return time.perf_counter() - start

    DBOS.launch()
    try:
        print(asyncio.run(main()))
    finally:
        DBOS.destroy()
''')


def dbos_throughput(url: str, runs: int) -> float:
    """Return durable steps/s of DBOS running `runs` three-step workflows, 100 in flight, on `url`."""
    out = subprocess.run([sys.executable, "-c", DBOS_SCRIPT, url, str(runs), str(IN_FLIGHT)],
                         capture_output=True, text=True, timeout=600, env=ENV)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "DBOS failed")
    return 3 * runs / float(out.stdout.strip().splitlines()[-1])


# -- failover -----------------------------------------------------------------------------------

def failover(root: Path, url: str, lease: str, how: signal.Signals) -> tuple[float, float]:
    """Return seconds from `how` sent to the driving worker to (its successor's claim, first event).

    The successor's first event comes after it re-sent the step the dead worker
    left without an outcome and heard its answer (a 6 s step here), so the claim
    is the failover figure and the first event shows the whole way back.
    """
    from ido.journal import open_store

    queue(url, root, 1)
    first = start_workers(root, url, 1, lease=lease, concurrency=1)
    store = open_store(url)
    procs = list(first)
    try:
        limit = time.monotonic() + 60
        while len(store.events(run_id="b000000")) < 3 and time.monotonic() < limit:
            time.sleep(0.01)
        procs += start_workers(root, url, 1, lease=lease, concurrency=1)  # up and polling
        count = len(store.events(run_id="b000000"))
        if count > 6:
            raise RuntimeError("the run moved past its first step while the next worker started")
        first[0].send_signal(how)
        hit = time.monotonic()
        claimed = None
        while time.monotonic() < hit + 120:
            if claimed is None and any(x.epoch > 1 for x in store.leases(run_ids=["b000000"])):
                claimed = time.monotonic() - hit
            if len(store.events(run_id="b000000")) > count:
                return claimed if claimed is not None else float("nan"), time.monotonic() - hit
            time.sleep(0.01)
        raise RuntimeError("the run was never taken over")
    finally:
        store.close()
        stop(procs)


# -- side by side with another checkout ---------------------------------------------------------

#: One throughput sample of the tree in argv[1], in a process of its own (its code, its workers).
AGAINST_CHILD = textwrap.dedent('''
    import sys, tempfile
    from pathlib import Path
    tree, kind, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.path.insert(0, tree)
    from benchmarks import workers as W
    tmp = Path(tempfile.mkdtemp(prefix="ido-against-"))
    root = W.workspace(tmp / "ws")
    url = W.fresh_pg(W.pg_base(), "ido_against") if kind == "PostgreSQL" else f"sqlite:///{tmp / 'j.db'}"
    print(W.ido_throughput(root, url, 1, runs))
''')


def against(other: Path, runs: int, reps: int, kinds: list[str]) -> dict[str, dict[str, list[float]]]:
    """Return 1-worker steps/s of `other` and of this tree, by store kind, sampled alternately."""
    out: dict[str, dict[str, list[float]]] = {}
    for _ in range(reps):
        for kind in kinds:
            for name, tree in (("other", other), ("this", ROOT)):
                done = subprocess.run([sys.executable, "-c", AGAINST_CHILD, str(tree), kind, str(runs)],
                                      capture_output=True, text=True, timeout=900, cwd=tree)
                if done.returncode != 0:
                    raise RuntimeError(f"{tree}: {done.stderr.strip().splitlines()[-1:]}")
                out.setdefault(kind, {}).setdefault(name, []).append(float(done.stdout.split()[-1]))
    return out


def render_against(other: Path, found: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["", f"Side by side with `{other}` (1 worker, alternating fresh processes, steps/s, every sample):",
             "", "| store | other tree | this tree | this/other (medians) |", "|---|---|---|---:|"]
    for kind, by in found.items():
        old, new = by["other"], by["this"]
        ratio = statistics.median(new) / statistics.median(old)
        lines.append(f"| {kind} | {', '.join(f'{x:.0f}' for x in old)} | {', '.join(f'{x:.0f}' for x in new)} "
                     f"| {ratio:.2f}x |")
    return lines


# -- the report ---------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, one repetition")
    parser.add_argument("--runs", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-dbos", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    parser.add_argument("--against", type=Path, metavar="TREE",
                        help="also measure another checkout's 1-worker rows, alternating with this one")
    args = parser.parse_args()
    runs, reps = (150, 1) if args.quick else (args.runs, args.reps)
    base = pg_base()
    samples: dict[str, list[float]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp) / "ws")
        for rep in range(reps):
            for n in (1, 2, 3):
                url = f"sqlite:///{Path(tmp) / f'sq-{n}-{rep}.db'}"
                samples.setdefault(f"ido, {n} worker(s), SQLite", []).append(
                    ido_throughput(root, url, n, runs))
                if base:
                    url = fresh_pg(base, "ido_bench")
                    samples.setdefault(f"ido, {n} worker(s), PostgreSQL", []).append(
                        ido_throughput(root, url, n, runs))
            if base and not args.no_dbos:
                try:
                    url = fresh_pg(base, "dbos_bench")
                    samples.setdefault("DBOS, 1 process, PostgreSQL", []).append(
                        dbos_throughput(url, runs))
                except Exception as exc:  # reported, not fatal: the ido rows stand alone
                    notes.append(f"DBOS not measured: {exc}")
        slow = workspace(Path(tmp) / "slow", latency="6s")
        fail_rows: dict[str, list[tuple[float, float]]] = {}
        for lease in ("1s", "10s"):
            for how, name in ((signal.SIGKILL, "SIGKILL"), (signal.SIGSTOP, "SIGSTOP")):
                url = fresh_pg(base, "ido_bench") if base else f"sqlite:///{Path(tmp) / f'f-{lease}-{name}.db'}"
                fail_rows.setdefault(f"lease {lease}, {name}", []).append(failover(slow, url, lease, how))
    if not base:
        notes.append("PostgreSQL rows not measured: set IDO_BENCH_POSTGRES or run "
                     '`eval "$(bash .ci/postgres.sh)"` first')
    report = render(samples, fail_rows, runs, reps, "PostgreSQL" if base else "SQLite", notes)
    if args.against is not None:
        kinds = ["PostgreSQL", "SQLite"] if base else ["SQLite"]
        report += "\n" + "\n".join(render_against(args.against, against(args.against, runs, reps, kinds)))
    print(report)
    if not args.no_write:
        replace_section("workers", report)


def render(samples: dict[str, list[float]], fail_rows: dict[str, list[tuple[float, float]]], runs: int, reps: int,
           failover_store: str, notes: list[str]) -> str:
    med = {k: statistics.median(v) for k, v in samples.items()}
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}): {runs} runs of a three-step "
        f"intent of instantaneous capabilities, {IN_FLIGHT} in flight, median of {reps}.",
        "",
        "| configuration | durable steps/s | vs DBOS on PostgreSQL |",
        "|---|---:|---:|",
    ]
    dbos = med.get("DBOS, 1 process, PostgreSQL")
    for name, value in med.items():
        ratio = f"{value / dbos:.2f}x" if dbos else "-"
        lines.append(f"| {name} | {value:,.0f} | {ratio} |")
    lines += [
        "",
        "The row that counts against DBOS is **ido, 1 worker(s), PostgreSQL**: one process each, "
        "the same three durable steps per run end to end on the same server.",
        "",
        f"Failover on {failover_store} (one run of 6 s steps, the next worker already waiting; "
        "seconds from the kill or stop):",
        "",
        "| case | claimed by the next worker | its first event (after re-sending the 6 s step) |",
        "|---|---:|---:|",
    ]
    for name, values in fail_rows.items():
        claim = statistics.median(v[0] for v in values)
        first = statistics.median(v[1] for v in values)
        lines.append(f"| {name} | {claim:.2f} | {first:.2f} |")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines += ["", "SIGKILL: the worker is a process of this machine that no longer exists, so the next "
              "worker takes over at its next claim; SIGSTOP: alive but silent (as a worker on another "
              "machine looks), so the run moves when its lease expires.", "",
              f"Load average at the end: {load} (on a shared machine compare the ratios, not the rates).",
              *[f"- {n}" for n in notes]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
