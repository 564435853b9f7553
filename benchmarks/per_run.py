"""Per-run CPU cost of the engine and the simulator, now against an earlier commit, side by side.

    python benchmarks/per_run.py                     # against e408817 (before issue 15's engine work)
    python benchmarks/per_run.py --before REF --reps 5
    python benchmarks/per_run.py --no-write

Each repetition runs one fresh child process per source tree, alternately (the
earlier tree is unpacked with `git archive` into a temporary folder), so load
on the shared machine hits both alike; medians of the repetitions are quoted.
A child measures CPU seconds (`time.process_time`, every thread) of:

- the simulator: `simulate(payments-outage, adaptive)` for `--sim-runs` runs;
- the engine end to end as `benchmarks/journal.py` drives it (three instantaneous
  `sim` steps, SQLite journal): 500 runs with 100 in flight and 100 runs one at a time;
- the 5-step example (`order-fulfilled` of this workspace, instantaneous doors, as
  `benchmarks/engine.py`'s throughput rows): 500 runs all in flight, memory and SQLite journals.

Targets (issue 15): >= 1,000 simulated runs per CPU second; >= 500 runs/s per core for
the 5-step example (<= 2 ms CPU per run). Prints a table and replaces its section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402

BEFORE = "e408817"

CHILD = r'''
import asyncio, json, sys, tempfile, time
tree, sim_runs = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
from pathlib import Path
from ido.loading import load_workspace
from ido.simulation.runner import simulate
from ido.engine.engine import Engine
from ido.journal import open_store
from ido.journal.sqlite import SQLiteStore
from benchmarks.journal import _workspace, engine_run, _drive
from benchmarks.engine import InstantDoor

ws = load_workspace(tree)
simulate(ws, "payments-outage", runs=50, strategies=["adaptive"])
cpu = time.process_time()
simulate(ws, "payments-outage", runs=sim_runs, strategies=["adaptive"])
sim = (time.process_time() - cpu) / sim_runs

async def three(runs, in_flight):
    store = SQLiteStore(Path(tempfile.mkdtemp(prefix="per-run-")) / "j.db")
    engine = Engine(_workspace(), store, keep_records=False)
    await _drive(20, in_flight, lambda i: engine_run(engine, i))
    cpu = time.process_time()
    await _drive(runs, in_flight, lambda i: engine_run(engine, i))
    used = time.process_time() - cpu
    await engine.close()
    store.close()
    return used / runs

async def five(runs, url):
    door = InstantDoor(0.0)
    store = open_store(url)
    engine = Engine(ws, store, executors={"sim": door, "http": door, "python": door}, prober=door,
                    fact_reader=door, keep_records=False)
    for run_id in [await engine.start("order-fulfilled", inputs={"order_id": f"w-{i}"}) for i in range(20)]:
        await engine.wait(run_id)
    cpu = time.process_time()
    ids = [await engine.start("order-fulfilled", inputs={"order_id": f"o-{i}"}) for i in range(runs)]
    results = [await engine.wait(run_id) for run_id in ids]
    used = time.process_time() - cpu
    await engine.close()
    store.close()
    assert all(r.status == "succeeded" for r in results)
    return used / runs

print(json.dumps({
    "sim": sim, "three_100": asyncio.run(three(500, 100)), "three_1": asyncio.run(three(100, 1)),
    "five_memory": asyncio.run(five(500, "memory://")),
    "five_sqlite": asyncio.run(five(500, f"sqlite:///{tempfile.mkdtemp(prefix='per-run-')}/five.db")),
}))
'''

ROWS = (
    ("sim", "simulator, `payments-outage` adaptive, per simulated run"),
    ("three_100", "engine end to end, 3 steps, SQLite, 100 in flight"),
    ("three_1", "engine end to end, 3 steps, SQLite, sequential"),
    ("five_memory", "5-step example, memory journal, 500 in flight"),
    ("five_sqlite", "5-step example, SQLite journal, 500 in flight"),
)


def unpack(ref: str, into: Path) -> Path:
    """Return a folder holding the repository's files at `ref` (git archive)."""
    archive = into / "src.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", ref], cwd=ROOT, stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def alternate(before: str, reps: int, measure_tree: Callable[[Path], dict[str, Any]],
              now: dict[str, list[Any]], then: dict[str, list[Any]]) -> None:
    """Measure the tree at `before` and this one `reps` times, alternately (so that load on the
    shared machine hits both alike), appending each row's figure to `then` and `now`.
    Called by this script and `benchmarks/plan_sharing.py`."""
    with tempfile.TemporaryDirectory(prefix="per-run-") as tmp:
        old = unpack(before, Path(tmp))
        for rep in range(reps):
            for tree, into in ((old, then), (ROOT, now)):
                got = measure_tree(tree)
                for key in into:
                    into[key].append(got[key])
            print(f"repetition {rep + 1}/{reps} done", file=sys.stderr)


def measure(tree: Path, sim_runs: int) -> dict[str, float]:
    """Return one child's CPU seconds per run for each row, the code imported from `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(sim_runs)], check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def report(before: str, now: dict[str, list[float]], then: dict[str, list[float]], args: argparse.Namespace,
           load: tuple[float, float]) -> str:
    """Return the markdown section: ms CPU per run before and now, the ratio, runs per CPU second."""
    lines = [
        "## Per-run CPU cost: engine and simulator, now vs before (`benchmarks/per_run.py`)", "",
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {platform.platform()}, "
        f"{os.cpu_count()} CPUs shared with other jobs (load average {load[0]:.1f} before, {load[1]:.1f} "
        f"after), Python {platform.python_version()}. CPU time of every thread, medians of {args.reps} "
        f"alternating fresh processes per tree; {args.sim_runs:,} simulated runs.", "",
        f"| what | ms CPU per run at {before} | ms CPU per run now | now/before | runs per CPU second now |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, label in ROWS:
        a, b = statistics.median(then[key]) * 1000, statistics.median(now[key]) * 1000
        lines.append(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f} | {1000 / b:.0f} |")
    sim, five = statistics.median(now["sim"]), statistics.median(now["five_memory"])
    lines += [
        "",
        f"Targets: >= 1,000 simulated runs per CPU second: {1 / sim:.0f} (not met); >= 500 runs/s per core "
        f"for the 5-step example: {1 / five:.0f} (not met)." if 1 / sim < 1000 or 1 / five < 500 else
        f"Targets: >= 1,000 simulated runs per CPU second: {1 / sim:.0f}; 5-step example {1 / five:.0f} runs/s "
        "per core: met.",
        "CPU time on a loaded machine runs above a quiet one's (shared cores and caches): read the ratios.",
    ]
    return "\n".join(lines)


def main() -> None:
    """Measure both trees alternately, print the table and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sim-runs", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    now: dict[str, list[float]] = {k: [] for k, _ in ROWS}
    then: dict[str, list[float]] = {k: [] for k, _ in ROWS}
    alternate(args.before, args.reps, lambda tree: measure(tree, args.sim_runs), now, then)
    text = report(args.before, now, then, args, (load_before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        replace_section("per-run", text)


if __name__ == "__main__":
    main()
