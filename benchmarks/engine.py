"""Benchmark: the engine's decision overhead and its throughput of concurrent runs.

1. *Decision overhead*: the time from a step's outcome (its executor returns)
   to the next step's dispatch (the next executor call) — fold the outcome,
   observe, snapshot health, decide (plan or reuse), write the decision and
   the `dispatched` event to the journal, start the step. Registries of 100
   and 1,000 capabilities: a chain of 5 roles, each offered by N/5
   providers with varied cost, latency, reliability and region, under an
   EU-only policy; runs one at a time, memory journal; with every call
   succeeding, and with 10% of calls failing (so failures trigger replans).
   Target: p99 under 5 ms at 1,000 capabilities.
2. *Throughput*: many runs in flight at once of the example `order-fulfilled`
   intent (workspace at the repository root) with instantaneous in-process
   capabilities; runs/s and steps/s with the memory journal and with SQLite
   (WAL, a commit per append shared by concurrent runs), for the adaptive
   strategy and the static baseline.

    python benchmarks/engine.py [--quick] [--no-write]

Prints a table and replaces its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ido.loading  # noqa: E402,F401 - first: ido.workspace and ido.loading import each other
from ido.engine import Engine  # noqa: E402
from ido.engine.doors import Call, Result  # noqa: E402
from ido.errors import ExecutionError  # noqa: E402
from ido.journal import MemoryStore, open_store  # noqa: E402
from ido.loading import load_workspace  # noqa: E402
from ido.model import Capability, Intent, Policy  # noqa: E402
from ido.workspace import Workspace  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN engine -->", "<!-- END engine -->"
ROLES = 5


class InstantDoor:
    """An executor that answers at once (or fails with `fail_rate`), timing the gaps between calls."""

    def __init__(self, fail_rate: float = 0.0, seed: int = 1) -> None:
        self.fail_rate = fail_rate
        self.rng = random.Random(seed)
        self.last_end: dict[str, float] = {}
        self.gaps: list[float] = []
        #: the same gaps minus the planner's own search time (seconds), filled by `planned`.
        self.engine_gaps: list[float] = []
        self.planning: dict[str, float] = {}
        self.calls = 0

    def planned(self, run_id: str, milliseconds: float) -> None:
        """Note planner time spent for `run_id` since its last call returned."""
        self.planning[run_id] = self.planning.get(run_id, 0.0) + milliseconds / 1000

    async def execute(self, call: Call) -> Result:
        start = time.perf_counter()
        previous = self.last_end.pop(call.run_id, None)
        planned = self.planning.pop(call.run_id, 0.0)
        if previous is not None:
            self.gaps.append(start - previous)
            self.engine_gaps.append(max(0.0, start - previous - planned))
        self.calls += 1
        if self.rng.random() < self.fail_rate:
            self.last_end[call.run_id] = time.perf_counter()
            raise ExecutionError(f"{call.capability.name}: injected failure", kind="server", status=503)
        self.last_end[call.run_id] = time.perf_counter()
        return Result()

    async def probe(self, capability: Capability) -> bool:
        return True

    async def observe(self, observer: Any) -> dict[str, Any]:
        return {}


def registry(size: int, seed: int = 7) -> Workspace:
    """Return a workspace: a chain of ROLES roles, size/ROLES providers each, an EU-only policy."""
    rng = random.Random(seed)
    per_role = size // ROLES
    caps = []
    for r in range(ROLES):
        for p in range(per_role):
            caps.append(Capability.model_validate({
                "name": f"role{r}.provider{p:04d}", "provides": f"role{r}", "invoke": "sim",
                "requires": {f"step{r - 1}.done": True} if r else {},
                "effects": {f"step{r}.done": True},
                "cost": round(rng.uniform(0.05, 1.0), 3),
                "latency": round(rng.uniform(0.05, 2.0), 3),
                "reliability": round(rng.uniform(0.95, 0.9999), 4),
                "tags": {"region": rng.choice(["eu", "eu", "us"])},
            }))
    intent = Intent.model_validate({
        "intent": "chain", "given": {f"step{r}.done": False for r in range(ROLES)},
        "goal": {f"step{ROLES - 1}.done": True},
        "constraints": {"budget": 50.0, "deadline": "10m"},
        "objective": {"cost": 1.0, "latency": 0.1, "risk": 10.0}, "tags": {"gdpr": True}, "on_failure": "stop",
    })
    policy = Policy.model_validate({
        "name": "eu-only", "because": "data stays in the EU", "applies_to": {"intent.tags.gdpr": True},
        "deny": {"capability.tags.region": {"not_in": ["eu"]}},
    })
    return Workspace().add(*caps, intent, policy)


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def overhead(size: int, runs: int, fail_rate: float) -> dict[str, Any]:
    """Return decision-overhead percentiles (ms) for runs one at a time on a registry of `size`."""
    ws = registry(size)
    door = InstantDoor(fail_rate)
    engine = Engine(ws, MemoryStore(), executors={"sim": door, "http": door, "python": door}, prober=door,
                    fact_reader=door, keep_records=False)
    planner_ms: list[float] = []
    decisions = 0

    def listen(record: Any) -> None:
        nonlocal decisions
        decisions += 1
        if record.plan is not None and not record.plan_reused and record.metrics.milliseconds:
            planner_ms.append(record.metrics.milliseconds)
            door.planned(record.run_id, record.metrics.milliseconds)

    engine.listeners.append(listen)
    statuses: dict[str, int] = {}
    try:
        for _ in range(runs):
            result = await engine.run("chain")
            statuses[result.status] = statuses.get(result.status, 0) + 1
    finally:
        await engine.close()
    gaps = [g * 1000 for g in door.gaps]
    engine_only = [g * 1000 for g in door.engine_gaps]
    return {
        "e50": percentile(engine_only, 0.5), "e99": percentile(engine_only, 0.99),
        "size": size, "fail_rate": fail_rate, "runs": runs, "gaps": len(gaps), "decisions": decisions,
        "p50": percentile(gaps, 0.5), "p99": percentile(gaps, 0.99), "max": max(gaps),
        "plans": len(planner_ms), "plan_p50": percentile(planner_ms, 0.5) if planner_ms else 0.0,
        "statuses": statuses,
    }


async def throughput(runs: int, store_url: str, strategy: str) -> dict[str, Any]:
    """Return runs/s and steps/s for `runs` concurrent runs of the example order intent."""
    ws = load_workspace(ROOT)
    door = InstantDoor(0.0)
    store = open_store(store_url)
    engine = Engine(ws, store, executors={"sim": door, "http": door, "python": door}, prober=door,
                    fact_reader=door, strategy=strategy, keep_records=False)
    started = time.perf_counter()
    try:
        ids = [await engine.start("order-fulfilled", inputs={"order_id": f"o-{i}"}) for i in range(runs)]
        results = [await engine.wait(i) for i in ids]
    finally:
        await engine.close()
        store.close()
    wall = time.perf_counter() - started
    steps = sum(r.steps_executed for r in results)
    ok = sum(r.status == "succeeded" for r in results)
    return {"runs": runs, "store": store_url.split(":", 1)[0], "strategy": strategy, "wall": wall,
            "runs_s": runs / wall, "steps_s": steps / wall, "succeeded": ok}


def main() -> None:
    """Run the benchmark, print the table and update benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    overhead_runs = 10 if args.quick else 60
    concurrent = 100 if args.quick else 500
    rows = []
    for size in (100, 1000):
        for fail_rate in (0.0, 0.1):
            row = asyncio.run(overhead(size, overhead_runs, fail_rate))
            rows.append(row)
            print(f"overhead size={size} fail={fail_rate:.0%}: p50 {row['p50']:.2f} ms, p99 {row['p99']:.2f} ms, "
                  f"engine only p50 {row['e50']:.2f} ms p99 {row['e99']:.2f} ms "
                  f"({row['gaps']} gaps, {row['plans']} plans, planner p50 {row['plan_p50']:.2f} ms)", flush=True)
    tputs = []
    with tempfile.TemporaryDirectory() as tmp:
        for url, strategy in (("memory://", "adaptive"), ("memory://", "static"),
                              (f"sqlite:///{tmp}/a.db", "adaptive"), (f"sqlite:///{tmp}/s.db", "static")):
            t = asyncio.run(throughput(concurrent, url, strategy))
            tputs.append(t)
            print(f"throughput {t['store']} {strategy}: {t['runs_s']:.0f} runs/s, {t['steps_s']:.0f} steps/s "
                  f"({t['succeeded']}/{t['runs']} succeeded)", flush=True)
    report = _report(rows, tputs, overhead_runs, concurrent)
    print()
    print(report)
    if not args.no_write:
        _write_section(report)
        print(f"\nupdated {RESULTS.relative_to(ROOT)}")


def _report(rows: list[dict[str, Any]], tputs: list[dict[str, Any]], overhead_runs: int, concurrent: int) -> str:
    by = {(r["size"], r["fail_rate"]): r for r in rows}
    lines = [
        "## Engine: decision overhead and throughput (`benchmarks/engine.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Shared machine: other jobs ran at the same time.",
        "",
        "| registry | failing calls | outcome -> next dispatch p50 | p99 | max | without the planner's search p50 | p99 | decisions | plans made (p50 ms each) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['fail_rate']:.0%} | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {r['max']:.1f} ms | "
            f"{r['e50']:.2f} ms | {r['e99']:.2f} ms | {r['decisions']} | {r['plans']} ({r['plan_p50']:.2f}) |"
        )
    small, big = by[(100, 0.0)], by[(1000, 0.0)]
    verdict = "met" if big["p99"] < 5.0 else "not met"
    lines += [
        "",
        f"Target p99 < 5 ms at 1,000 capabilities (no failures): **{verdict}** ({big['p99']:.2f} ms end to end; "
        f"{big['e99']:.2f} ms without the planner's search, whose reasons for ~1,000 alternatives dominate a replan); "
        f"p99 at 1,000 is {big['p99'] / max(small['p99'], 1e-9):.1f}x the p99 at 100. "
        f"{overhead_runs} runs of a 5-role chain per row, one at a time, memory journal; a gap is the "
        "time from one executor call's return to the next call of the same run (fold, observe, health "
        "snapshot, decide, journal append, dispatch). Replans (after failures or health changes) pay "
        "the planner; other decisions reuse the plan.",
        "",
        "| journal | strategy | runs in flight | runs/s | steps/s | succeeded |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in tputs:
        lines.append(f"| {t['store']} | {t['strategy']} | {t['runs']} | {t['runs_s']:.0f} | {t['steps_s']:.0f} | "
                     f"{t['succeeded']}/{t['runs']} |")
    mem = next(t for t in tputs if t["store"] == "memory" and t["strategy"] == "adaptive")
    sql = next(t for t in tputs if t["store"] == "sqlite" and t["strategy"] == "adaptive")
    static = next(t for t in tputs if t["store"] == "memory" and t["strategy"] == "static")
    lines += [
        "",
        f"{concurrent} concurrent runs of `order-fulfilled` (example workspace, 5 steps each) with "
        "instantaneous in-process capabilities. SQLite/memory throughput ratio (adaptive): "
        f"{sql['runs_s'] / mem['runs_s']:.2f}; static/adaptive (memory): {static['runs_s'] / mem['runs_s']:.2f} "
        "(static plans once per run; adaptive replans when health changes).",
    ]
    return "\n".join(lines)


def _write_section(report: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = f"{BEGIN}\n{report}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()


