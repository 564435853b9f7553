"""Plans shared across runs in step (issue 15): plan calls vs searches and CPU per run, now vs before.

    python benchmarks/plan_sharing.py                 # against main, 3 repetitions
    python benchmarks/plan_sharing.py --before REF --label "before" --reps 5 --no-write

The planner's memo keys a plan by the slack of its deadline and budget
comparisons and by what it reads of the state (`ido.planning.slack`,
`Planner.plan`), so runs in step under a deadline, each with its own elapsed
time and ids, share one search. Each repetition runs one fresh child process
per source tree, alternately (the earlier tree unpacked with `git archive`), and
measures, like `benchmarks/per_run.py`:

- five_memory: the 5-step example (`order-fulfilled`, instantaneous doors, memory
  journal), 500 runs all in flight: every run replans after each health change;
- sim: `simulate(payments-outage, adaptive)`, 1,000 runs.

Per row: CPU ms per run (medians), plan calls (`Planner.plan`) and searches (plans
made fresh: one explanation each, `ido.planning.reasons`). Prints a table and
replaces its section (`plan-sharing`) of benchmarks/RESULTS.md.
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
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.per_run import alternate  # noqa: E402
from benchmarks.results import replace_section  # noqa: E402

CHILD = r'''
import asyncio, json, sys, time
tree, sim_runs = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, tree)
from ido.loading import load_workspace
from ido.simulation.runner import simulate
from ido.engine.engine import Engine
from ido.journal import open_store
from ido.planning import planner as planner_module, reasons
from benchmarks.engine import InstantDoor

counts = {"calls": 0, "searches": 0}
plan = planner_module.Planner.plan
def counted_plan(self, *args, **kwargs):
    counts["calls"] += 1
    return plan(self, *args, **kwargs)
planner_module.Planner.plan = counted_plan
for name in ("feasible_explanation", "infeasible_explanation"):  # once per plan made fresh, in every tree
    def counted(*args, _f=getattr(reasons, name), **kwargs):
        counts["searches"] += 1
        return _f(*args, **kwargs)
    setattr(reasons, name, counted)

def measured(work):
    counts.update(calls=0, searches=0)
    cpu = time.process_time()
    runs = work()
    return {"cpu": (time.process_time() - cpu) / runs, **counts}

ws = load_workspace(tree)
simulate(ws, "payments-outage", runs=50, strategies=["adaptive"])
def sim_work():
    simulate(ws, "payments-outage", runs=sim_runs, strategies=["adaptive"])
    return sim_runs
sim = measured(sim_work)

async def five(runs):
    door = InstantDoor(0.0)
    store = open_store("memory://")
    engine = Engine(ws, store, executors={"sim": door, "http": door, "python": door}, prober=door,
                    fact_reader=door, keep_records=False)
    for run_id in [await engine.start("order-fulfilled", inputs={"order_id": f"w-{i}"}) for i in range(20)]:
        await engine.wait(run_id)
    async def go():
        ids = [await engine.start("order-fulfilled", inputs={"order_id": f"o-{i}"}) for i in range(runs)]
        results = [await engine.wait(run_id) for run_id in ids]
        assert all(r.status == "succeeded" for r in results)
    counts.update(calls=0, searches=0)
    cpu = time.process_time()
    await go()
    got = {"cpu": (time.process_time() - cpu) / runs, **counts}
    await engine.close()
    store.close()
    return got

print(json.dumps({"sim": sim, "five_memory": asyncio.run(five(500))}))
'''

NOTE = (
    "Left: a plan whose search had to run under a deadline or budget cap (a run near either), and every infeasible plan, is shared only at equal figures (`Slack.exact`: the comparisons inside that search are not recorded); none occurred in these rows. The simulator's remaining searches are runs in distinct situations (state, steps, attempts) under one health snapshot; a new snapshot starts the memo over."
)

ROWS = (
    ("five_memory", "5-step example, memory journal, 500 in flight"),
    ("sim", "simulator, `payments-outage` adaptive"),
)


def measure(tree: Path, sim_runs: int) -> dict[str, dict[str, float]]:
    """Return one child's figures per row (CPU seconds per run, plan calls, searches), code from `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(sim_runs)], check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def report(before: str, now: dict[str, list[dict[str, float]]], then: dict[str, list[dict[str, float]]],
           args: argparse.Namespace, load: tuple[float, float]) -> str:
    """Return the markdown section: per row, CPU per run and plan calls vs searches, before and now."""
    lines = [
        "## Plans shared across runs in step (`benchmarks/plan_sharing.py`)", "",
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {platform.platform()}, "
        f"{os.cpu_count()} CPUs shared with other jobs (load average {load[0]:.1f} before, {load[1]:.1f} "
        f"after), Python {platform.python_version()}. Medians of {args.reps} alternating fresh processes "
        f"per tree; {args.sim_runs:,} simulated runs. Searches: plans made fresh (the rest came from the "
        f"planner's memo, exactly as a fresh search would make them). Before: {before}.", "",
        "| what | ms CPU per run before | now | now/before | plan calls | searches before | searches now |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in ROWS:
        a = statistics.median(r["cpu"] for r in then[key]) * 1000
        b = statistics.median(r["cpu"] for r in now[key]) * 1000
        calls = statistics.median(r["calls"] for r in now[key])
        s_then = statistics.median(r["searches"] for r in then[key])
        s_now = statistics.median(r["searches"] for r in now[key])
        lines.append(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f} | {calls:,.0f} | {s_then:,.0f} | {s_now:,.0f} |")
    lines += ["", "CPU time on a loaded machine runs above a quiet one's (shared cores and caches): read the ratios.",
              NOTE]
    return "\n".join(lines)


def main() -> None:
    """Measure both trees alternately, print the table and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="main", help="the commit to compare with")
    parser.add_argument("--label", help="how the table names the earlier tree (default: --before)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sim-runs", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    now: dict[str, list[dict[str, float]]] = {k: [] for k, _ in ROWS}
    then: dict[str, list[dict[str, float]]] = {k: [] for k, _ in ROWS}
    alternate(args.before, args.reps, lambda tree: measure(tree, args.sim_runs), now, then)
    text = report(args.label or args.before, now, then, args, (load_before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        replace_section("plan-sharing", text)


if __name__ == "__main__":
    main()
