"""Benchmark: what shared health costs — the snapshot read per decision, and durable steps/s with it on and off.

Read cost. A store holding the health rows of 10 capabilities: the median
time of `Store.health_rows()` (the read a decision makes when its view is
older than 250 ms, or after this engine's own outcomes committed), and of
`SharedHealth.snapshot()` when its view is fresh (a cache hit: the decision's
usual case) and when it reads the rows again (a miss).

Throughput. One `Worker` in this process (100 runs in flight), then three
worker processes (34 each: the health rows are then written by three
processes at once), drive RUNS runs of the three-step intent of instantaneous
capabilities from `workers.py`, on SQLite and on PostgreSQL, with shared
health on (each outcome's health change in its append's transaction,
decisions reading the rows) and off (each engine's own tracker, as before):
durable steps/s from the journal's own times, alternating on/off, median of
REPS. Also: how many row reads the engine made per decision (in process).

    eval "$(bash .ci/postgres.sh)"
    python benchmarks/shared_health.py [--quick] [--runs N] [--reps N] [--no-write]

Prints a table and replaces its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402 - after the path insert
from benchmarks.workers import fresh_pg, pg_base, queue, span, workspace  # noqa: E402

CAPS = 10


def _median_us(fn: object, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def read_costs(url: str, n: int) -> dict[str, float]:
    """Return the median microseconds of a row read, a fresh snapshot and a re-read snapshot."""
    from ido.clock import Clock
    from ido.engine.health import HealthTracker
    from ido.engine.shared_health import OutcomeChange, SharedHealth
    from ido.journal import open_store

    store = open_store(url)
    try:
        store.update_health([
            OutcomeChange(f"cap{i}", i % 3 != 0, 0.05, time.time(), 0.1, 0.99) for i in range(CAPS)
        ])
        fresh = SharedHealth(store, HealthTracker(), Clock())
        fresh.snapshot(0.0)
        stale = SharedHealth(store, HealthTracker(), Clock(), max_age_s=-1.0)
        return {
            "Store.health_rows()": _median_us(store.health_rows, n),
            "SharedHealth.snapshot(), view fresh (cache hit)": _median_us(lambda: fresh.snapshot(1.0), n),
            "SharedHealth.snapshot(), rows read again": _median_us(lambda: stale.snapshot(1.0), n),
        }
    finally:
        store.close()


def throughput(root: Path, url: str, runs: int, shared: bool) -> tuple[float, float]:
    """Return (durable steps/s, row reads per decision) of one in-process worker driving `runs` runs."""
    from ido.engine.worker import Worker
    from ido.journal import open_store
    from ido.loading import load_workspace

    queue(url, root, runs)
    store = open_store(url)
    try:
        worker = Worker(load_workspace(root), store, concurrency=100, poll_s=0.05,
                        engine_options={"shared_health": shared})
        asyncio.run(worker.serve(once=True))
        decisions = sum(r.decisions for r in store.list_runs(limit=None))
        reads = worker.engine.shared.reads if worker.engine.shared is not None else 0
    finally:
        store.close()
    seconds, ok = span(url)
    assert ok == runs, f"{ok} of {runs} runs succeeded"
    return 3 * runs / seconds, reads / max(decisions, 1)


WORKER = """
import asyncio, sys
import ido.loading
from ido.engine.worker import Worker
from ido.journal import open_store
from ido.loading import load_workspace
store = open_store(sys.argv[2])
worker = Worker(load_workspace(sys.argv[1]), store, concurrency=34, poll_s=0.05,
                engine_options={"shared_health": sys.argv[3] == "on"})
asyncio.run(worker.serve(once=True))
store.close()
"""


def processes(root: Path, url: str, runs: int, shared: bool) -> float:
    """Return durable steps/s of three worker processes driving `runs` queued runs."""
    queue(url, root, runs)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), url, "on" if shared else "off"],
                              env=env) for _ in range(3)]
    for proc in procs:
        assert proc.wait(timeout=600) == 0
    seconds, ok = span(url)
    assert ok == runs, f"{ok} of {runs} runs succeeded"
    return 3 * runs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and reads, one repetition")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()
    runs, reps, n = (100, 1, 300) if args.quick else (args.runs, args.reps, 2000)
    base = pg_base()
    reads: dict[str, dict[str, float]] = {}
    rates: dict[tuple[str, bool], list[float]] = {}
    per_decision: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = workspace(Path(tmp) / "ws")
        stores = {"SQLite": lambda name: f"sqlite:///{Path(tmp) / name}.db"}
        if base:
            stores["PostgreSQL"] = lambda name: fresh_pg(base, "ido_bench_health")
        for kind, make in stores.items():
            reads[kind] = read_costs(make("reads"), n)
            for rep in range(reps):
                for shared in (True, False) if rep % 2 else (False, True):
                    rate, per = throughput(root, make(f"t-{rep}-{shared}"), runs, shared)
                    rates.setdefault((kind, shared), []).append(rate)
                    per_decision.setdefault((kind, shared), []).append(per)
                    rate = processes(root, make(f"p-{rep}-{shared}"), runs, shared)
                    rates.setdefault((f"{kind}, 3 processes", shared), []).append(rate)
    report = render(reads, rates, per_decision, runs, reps, base is not None)
    print(report)
    if not args.no_write:
        replace_section("shared-health", report)


def render(reads: dict[str, dict[str, float]], rates: dict[tuple[str, bool], list[float]],
           per_decision: dict[tuple[str, bool], list[float]], runs: int, reps: int, with_pg: bool) -> str:
    kinds = list(reads)
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}); load average "
        f"{os.getloadavg()[0]:.1f} at the end (the machine is shared: compare the ratios, not the rates).",
        "",
        f"Reading shared health ({CAPS} capability rows; median µs per call):",
        "",
        "| read | " + " | ".join(kinds) + " |",
        "|---|" + "---:|" * len(kinds),
    ]
    for what in reads[kinds[0]]:
        lines.append(f"| {what} | " + " | ".join(f"{reads[k][what]:.0f}" for k in kinds) + " |")
    lines += [
        "",
        f"{runs} runs of three instantaneous steps, 100 in flight, on/off alternating, median of {reps}:",
        "",
        "| workers | shared health | durable steps/s | ratio to off | row reads per decision |",
        "|---|---|---:|---:|---:|",
    ]
    for kind in dict.fromkeys(k for k, _ in rates):
        off = statistics.median(rates[(kind, False)])
        for shared in (False, True):
            rate = statistics.median(rates[(kind, shared)])
            per = per_decision.get((kind, shared))
            shown = f"{statistics.median(per):.2f}" if per else "-"
            label = kind if "processes" in kind else f"{kind}, 1 in process"
            lines.append(f"| {label} | {'on' if shared else 'off'} | {rate:.0f} | {rate / off:.2f}x | {shown} |")
    if not with_pg:
        lines += ["", "PostgreSQL not measured: run `eval \"$(bash .ci/postgres.sh)\"` first."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
