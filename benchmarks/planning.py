"""Planner benchmark: scale on generated registries, classic tasks against pyperplan, fleet allocation.

    python benchmarks/planning.py            # full run (about 25 minutes on 2 cores; 60 s timeouts dominate)
    python benchmarks/planning.py --quick    # smaller sizes, 10 s timeout

1. Scale: registries of 100 / 1,000 / 10,000 capabilities (most irrelevant to
   the goal, four providers per role, compensations, four policies) at plan
   depths 5 to 30. The registry is compiled once; every call gets a fresh
   health snapshot (random success rates and latencies, one open circuit), as
   the engine's calls do. Median and p95 per call, with and without the
   alternatives' verdicts, nodes expanded; compile time separately.
2. Classic tasks (gripper, blocksworld, logistics) at growing sizes, solved by
   pyperplan's optimal A* (best of h_max and LM-cut) and by ido, each call in a
   child process with a timeout: same optimal cost, time ratio, where each
   stops scaling.
3. Fleet allocation: 1,000 runs over 10 providers with quotas (CP-SAT).

Prints tables and replaces its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from benchmarks.classic import DOMAINS
from benchmarks.results import replace_section
from ido.health import CapabilityHealth, Circuit, HealthSnapshot
from ido.model import Capability, Intent, Policy
from ido.planning import Demand, Planner, PlanRequest, Provider, allocate

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- BEGIN planning -->", "<!-- END planning -->"
console = Console()


# -- 1. scale ------------------------------------------------------------------------

def scale_registry(n_caps: int, depth: int, seed: int = 7) -> tuple[list[Capability], list[Policy], Intent]:
    """Return a registry of `n_caps` capabilities where a goal of `depth` roles needs a chain
    (plus a side branch of depth/3 that runs in parallel), four providers per role, one
    compensation per role, and the rest irrelevant noise chains."""
    rng = random.Random(seed)
    caps: list[dict[str, Any]] = []

    def provider(name: str, role: str, requires: dict[str, Any], effects: dict[str, Any], region: str = "") -> None:
        caps.append({
            "name": name, "provides": role, "requires": requires, "effects": effects,
            "cost": round(rng.uniform(0.1, 1.0), 3), "latency": round(rng.uniform(0.05, 2.0), 3),
            "reliability": round(rng.uniform(0.9, 0.999), 4),
            "tags": {"region": region or rng.choice(["eu", "eu", "us"]), "vendor": f"v{rng.randrange(6)}"},
            "invoke": "sim",
        })

    side = max(1, depth // 3)
    for branch, length in (("main", depth - side), ("side", side)):
        for k in range(length):
            req = {f"{branch}.s{k - 1}": True} if k else {}
            req[f"{branch}.s{k}"] = False
            for p in range(4):
                # two EU providers per role at least, so one open circuit never blocks the goal
                provider(f"{branch}.r{k}.p{p}", f"{branch}-r{k}", req, {f"{branch}.s{k}": True},
                         region="eu" if p < 2 else "")
            provider(f"{branch}.r{k}.undo", f"{branch}-r{k}-undo", {f"{branch}.s{k}": True}, {f"{branch}.s{k}": False})
    j = 0
    while len(caps) < n_caps:
        chain = f"noise{j}"
        for k in range(10):
            if len(caps) >= n_caps:
                break
            req = {f"{chain}.s{k - 1}": True} if k else {}
            provider(f"{chain}.r{k}", f"{chain}-r{k % 3}", req, {f"{chain}.s{k}": True})
        j += 1
    policies = [Policy.model_validate(p) for p in (
        {"name": "gdpr", "because": "EU data stays in the EU.", "applies_to": {"intent.tags.gdpr": True},
         "deny": {"capability.tags.region": {"not_in": ["eu"]}}},
        {"name": "prefer-v1", "because": "Negotiated rates.", "prefer": {"capability.tags.vendor": "v1"}, "weight": 0.05},
        {"name": "five-attempts", "because": "Do not hammer.", "limit": {"attempts_per_capability": 5}},
        {"name": "approve-dear", "because": "Dear steps need a person.", "require_approval": {"capability.cost": {"gte": 0.99}}},
    )]
    goal = {f"main.s{depth - side - 1}": True, f"side.s{side - 1}": True}
    given = {f"{b}.s{k}": False for b, n in (("main", depth - side), ("side", side)) for k in range(n)}
    intent = Intent.model_validate({
        "intent": f"scale-{depth}", "given": given, "goal": goal, "tags": {"gdpr": True},
        "constraints": {"budget": float(depth), "deadline": f"{depth * 2}s", "min_success": 0.3},
        "objective": {"cost": 1.0, "latency": 0.1, "risk": 10.0},
    })
    return [Capability.model_validate(c) for c in caps], policies, intent


def _health(rng: random.Random, names: list[str], at: float) -> HealthSnapshot:
    """Return a fresh snapshot: 10% of providers with observed numbers, one circuit open."""
    snap: dict[str, CapabilityHealth] = {}
    for name in rng.sample(names, max(1, len(names) // 10)):
        snap[name] = CapabilityHealth(success_rate=rng.uniform(0.8, 1.0), latency_s=rng.uniform(0.05, 2.0), samples=5)
    snap[rng.choice(names)] = CapabilityHealth(circuit=Circuit.OPEN, retry_at=at + 30)
    return HealthSnapshot(at=at, capabilities=snap)


def bench_scale(quick: bool) -> list[dict[str, Any]]:
    """Return one row per (registry size, depth)."""
    rows = []
    sizes = (100, 1000) if quick else (100, 1000, 10_000)
    depths = (5, 10, 20) if quick else (5, 10, 20, 30)
    calls = 10 if quick else 30
    for n in sizes:
        for depth in depths:
            caps, policies, intent = scale_registry(n, depth)
            started = time.perf_counter()
            planner = Planner(caps, policies)
            compile_ms = (time.perf_counter() - started) * 1000
            relevant = [c.name for c in caps if c.name.startswith(("main.", "side."))]
            rng = random.Random(depth)
            timings: dict[bool, list[float]] = {True: [], False: []}
            expanded: list[int] = []
            steps = 0
            for i in range(calls):
                request = PlanRequest(state=dict(intent.given), now=float(i))
                for explain in (False, True):
                    # a fresh snapshot for each call: no cache carries over from the previous one
                    health = _health(rng, relevant, float(i))
                    t = time.perf_counter()
                    plan = planner.plan(intent, request, health, explain=explain)
                    timings[explain].append((time.perf_counter() - t) * 1000)
                    assert plan.feasible, plan.explanation
                    expanded.append(plan.metrics.nodes_expanded)
                steps = len(plan.steps)
            rows.append({
                "capabilities": n, "depth": depth, "steps": steps, "compile_ms": compile_ms,
                "relevant": plan.metrics.relevant_capabilities,
                "median_ms": statistics.median(timings[False]), "p95_ms": _p95(timings[False]),
                "explain_median_ms": statistics.median(timings[True]), "explain_p95_ms": _p95(timings[True]),
                "expanded": statistics.median(expanded),
            })
            console.print(f"scale {n:>6} caps depth {depth:>2}: {rows[-1]['median_ms']:.2f} ms median "
                          f"({rows[-1]['explain_median_ms']:.2f} ms with alternatives)")
    return rows


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# -- 2. classic tasks against pyperplan -------------------------------------------------

#: A call is repeated in its child process while the calls so far took less than this (s), up to
#: REPEATS calls; the median counts. The first call in a fresh process pays one-time costs (page
#: faults on memory shared with the parent after fork, cold caches) that a long-lived caller does
#: not; it is reported separately ("first call"). Both planners are timed the same way.
REPEAT_BUDGET_S = 1.0
REPEATS = 25

#: Interpreter hash seeds for cheap instances. pyperplan's search order follows set iteration
#: over strings, so its time on one instance changes with the interpreter's hash seed
#: (blocksworld 4: 1.75 to 3.1 ms over seeds 1-6 on this machine); ido orders by name and index
#: and does not depend on it. An instance whose call takes under SEEDED_BELOW_S is therefore
#: timed once per seed, each in a fresh interpreter, for both planners, and the median over the
#: seeds counts. Slower instances are timed once (the spread matters less next to their time).
SEEDS = (1, 2, 3, 4, 5)
SEEDED_BELOW_S = 0.1


def _repeat(solve: Any) -> dict[str, Any]:
    """Return the median call of `solve()` (by total), with the first call's total and the count."""
    runs = [solve()]
    while len(runs) < REPEATS and sum(r["total"] for r in runs) < REPEAT_BUDGET_S:
        runs.append(solve())
    ordered = sorted(runs, key=lambda r: r["total"])
    return ordered[(len(ordered) - 1) // 2] | {"first": runs[0]["total"], "calls": len(runs)}


def _solve_ido(domain: str, size: int, heuristic: str | None, out: Any) -> None:
    inst = DOMAINS[domain](size)

    def once() -> dict[str, Any]:
        t0 = time.perf_counter()
        caps, intent = inst.models()
        t1 = time.perf_counter()
        options = {} if heuristic is None else {"heuristic": heuristic}
        planner = Planner(caps, [], max_nodes=50_000_000, **options)
        t2 = time.perf_counter()
        plan = planner.plan(intent, PlanRequest(state=inst.state), explain=False)
        t3 = time.perf_counter()
        return {"cost": len(plan.steps) if plan.feasible else None, "prepare": t2 - t0, "search": t3 - t2,
                "total": t3 - t0, "expanded": plan.metrics.nodes_expanded, "models": t1 - t0}

    out.send(_repeat(once))


def _solve_pyperplan(domain: str, size: int, heuristic: str, out: Any) -> None:
    import logging

    from pyperplan import grounding
    from pyperplan.heuristics.lm_cut import LmCutHeuristic
    from pyperplan.heuristics.relaxation import hMaxHeuristic
    from pyperplan.pddl.parser import Parser
    from pyperplan.search import astar_search

    logging.disable(logging.CRITICAL)
    inst = DOMAINS[domain](size)
    with tempfile.TemporaryDirectory() as tmp:
        d, p = Path(tmp) / "domain.pddl", Path(tmp) / "problem.pddl"
        d.write_text(inst.domain)
        p.write_text(inst.problem)

        def once() -> dict[str, Any]:
            t0 = time.perf_counter()
            parser = Parser(str(d), str(p))
            task = grounding.ground(parser.parse_problem(parser.parse_domain()))
            t1 = time.perf_counter()
            h = LmCutHeuristic(task) if heuristic == "lmcut" else hMaxHeuristic(task)
            solution = astar_search(task, h)
            t2 = time.perf_counter()
            return {"cost": len(solution) if solution is not None else None, "prepare": t1 - t0,
                    "search": t2 - t1, "total": t2 - t0}

        out.send(_repeat(once))


def _timed(target: Any, args: tuple[Any, ...], timeout: float, seed: int | None = None) -> dict[str, Any] | None:
    """Return what `target` sent from a child process, or None when its median call took
    longer than `timeout` (the child is killed once it cannot be within it any more).

    The child is forked (sharing this process's hash seed) or, given `seed`, a fresh
    interpreter started with PYTHONHASHSEED=seed."""
    ctx = mp.get_context("fork" if seed is None else "spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(*args, send))
    saved = os.environ.get("PYTHONHASHSEED")
    if seed is not None:
        os.environ["PYTHONHASHSEED"] = str(seed)  # read by the spawned interpreter at start-up
    try:
        proc.start()
    finally:
        if seed is not None:
            if saved is None:
                del os.environ["PYTHONHASHSEED"]
            else:
                os.environ["PYTHONHASHSEED"] = saved
    # a child repeats calls while they took under REPEAT_BUDGET_S in all (`_repeat`): allow for
    # that, but count only a median call within `timeout` (a spawned child imports first)
    start_up = 0.0 if seed is None else 30.0
    limit = timeout + REPEAT_BUDGET_S + min(timeout, REPEAT_BUDGET_S) + start_up
    result = recv.recv() if recv.poll(limit) else None
    proc.join(0.5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result if result is not None and result["total"] <= timeout else None


def _measured(target: Any, args: tuple[Any, ...], timeout: float) -> dict[str, Any] | None:
    """Return `_timed` in a forked child or, for a call under SEEDED_BELOW_S, the median over
    SEEDS (each in a fresh interpreter) with every seed's time in `by_seed`."""
    once = _timed(target, args, timeout)
    if once is None or once["total"] >= SEEDED_BELOW_S:
        return once
    runs = [r for seed in SEEDS if (r := _timed(target, args, timeout, seed)) is not None]
    if not runs:
        return once
    ordered = sorted(runs, key=lambda r: r["total"])
    return ordered[(len(ordered) - 1) // 2] | {"by_seed": [r["total"] for r in runs]}


CLASSIC_SIZES = {
    "gripper": (2, 4, 6, 8, 10, 12),
    "blocksworld": (4, 5, 6, 7, 8, 9, 10),
    "logistics": (2, 3, 4, 5, 6),
}
QUICK_SIZES = {"gripper": (2, 4, 6), "blocksworld": (4, 5, 6), "logistics": (2, 3)}


def bench_classic(quick: bool, timeout: float) -> list[dict[str, Any]]:
    """Return one row per (domain, size) until both planners stop scaling."""
    rows = []
    for domain, sizes in (QUICK_SIZES if quick else CLASSIC_SIZES).items():
        ido_alive = pyp_alive = True
        for size in sizes:
            if not (ido_alive or pyp_alive):
                break
            ido = None
            if ido_alive:
                lm = _measured(_solve_ido, (domain, size, "lmcut"), timeout)
                hm = _measured(_solve_ido, (domain, size, "hmax"), _second_limit(lm, timeout))
                best = [r | {"heuristic": h} for r, h in ((lm, "lmcut"), (hm, "hmax")) if r]
                ido = min(best, key=lambda r: r["total"]) if best else None
                if ido is not None:
                    ido["default"] = lm["total"] if lm else None
                    ido["default_first"] = lm["first"] if lm else None
            pyp = None
            if pyp_alive:
                lm = _measured(_solve_pyperplan, (domain, size, "lmcut"), timeout)
                hm = _measured(_solve_pyperplan, (domain, size, "hmax"), _second_limit(lm, timeout))
                best = [r | {"heuristic": h} for r, h in ((lm, "lmcut"), (hm, "hmax")) if r]
                pyp = min(best, key=lambda r: r["total"]) if best else None
            ido_alive = ido is not None
            pyp_alive = pyp is not None
            row = {"domain": domain, "size": size, "ido": ido, "pyperplan": pyp}
            rows.append(row)
            console.print(f"{domain} {size}: ido {_fmt_s(ido)}, pyperplan {_fmt_s(pyp)}"
                          + (f" ({pyp['heuristic']})" if pyp else ""))
    return rows


def _second_limit(first: dict[str, Any] | None, timeout: float) -> float:
    """Return the per-call limit of the second heuristic: the first one's time (a slower one
    cannot be the best of two), never more than the timeout."""
    return timeout if first is None else min(timeout, first["total"] + 0.005)


def _ms(seconds: float) -> str:
    """Return seconds as milliseconds for the table: two decimals below 100 ms."""
    return f"{seconds * 1000:.2f}" if seconds < 0.1 else f"{seconds * 1000:,.0f}"


def _fmt_s(r: dict[str, Any] | None) -> str:
    return "timeout" if r is None else f"{r['total']:.3f}s (cost {r['cost']})"


# -- 3. fleet ---------------------------------------------------------------------------

def bench_fleet(quick: bool) -> dict[str, Any]:
    """Return median/p95 solve time of 1,000 runs over 10 providers with quotas."""
    times = []
    assigned = []
    for seed in range(3 if quick else 7):
        rng = random.Random(seed)
        providers = [
            Provider(f"{role}.p{i}", role, capacity=rng.randint(60, 140),
                     cost=round(rng.uniform(0.1, 1.0), 2), success=round(rng.uniform(0.9, 0.999), 3))
            for role in ("payment", "shipping") for i in range(5)
        ]
        eu = frozenset(p.name for p in providers if p.name.endswith(("p0", "p1", "p2", "p3")))
        demands = [
            Demand(f"run-{i:04d}", rng.choice(["payment", "shipping"]),
                   budget=rng.choice([None, 0.5, 0.8, 1.0]), allowed=rng.choice([None, eu]))
            for i in range(1000)
        ]
        result = allocate(demands, providers)
        assert result.optimal
        times.append(result.milliseconds)
        assigned.append(len(result.assignments))
    return {"median_ms": statistics.median(times), "p95_ms": _p95(times), "assigned": statistics.median(assigned)}


# -- report -----------------------------------------------------------------------------

def report(scale: list[dict[str, Any]], classic: list[dict[str, Any]], fleet: dict[str, Any], quick: bool, timeout: float) -> str:
    """Return the markdown section and print the tables."""
    lines = [
        "## Planning (`benchmarks/planning.py`)", "",
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; {platform.platform()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        + (" (--quick)" if quick else "") + ".", "",
        "### Scale: one plan call on a registry compiled once, fresh health every call", "",
        "| capabilities | depth | steps | relevant | compile ms | median ms | p95 ms | with alternatives: median ms | p95 ms | nodes expanded |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    table = Table(title="scale")
    for col in ("caps", "depth", "steps", "relevant", "compile ms", "median ms", "p95 ms", "alt median", "alt p95", "expanded"):
        table.add_column(col, justify="right")
    for r in scale:
        cells = [f"{r['capabilities']:,}", str(r["depth"]), str(r["steps"]), str(r["relevant"]),
                 f"{r['compile_ms']:.1f}", f"{r['median_ms']:.2f}", f"{r['p95_ms']:.2f}",
                 f"{r['explain_median_ms']:.2f}", f"{r['explain_p95_ms']:.2f}", f"{r['expanded']:.0f}"]
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    target = {(1000, 10): 20.0, (10_000, 10): 200.0}
    for (n, depth), bound in target.items():
        row = next((r for r in scale if r["capabilities"] == n and r["depth"] == depth), None)
        if row:
            lines.append("")
            lines.append(
                f"Target {n:,} capabilities at depth 10 under {bound:g} ms median: "
                f"**{row['median_ms']:.2f} ms** without, **{row['explain_median_ms']:.2f} ms** with the "
                f"alternatives' verdicts ({'met' if row['explain_median_ms'] < bound else 'missed'})."
            )
    lines += [
        "", f"### Classic tasks: ido vs pyperplan optimal A* (best of h_max and LM-cut), {timeout:g} s per call", "",
        "| domain | size | optimal cost | ido ms (search, h) | ido default (LM-cut) ms | pyperplan ms (search, h) "
        "| speed-up (best of two each) | speed-up (ido default) | first call in a fresh process: ido / pyperplan ms (speed-up) | ido nodes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ctable = Table(title="classic tasks")
    for col in ("domain", "size", "cost", "ido s", "pyperplan s", "speed-up"):
        ctable.add_column(col, justify="right")
    for r in classic:
        ido, pyp = r["ido"], r["pyperplan"]
        cost = str(ido["cost"] if ido else pyp["cost"] if pyp else "-")
        if ido and pyp and ido["cost"] != pyp["cost"]:
            cost = f"MISMATCH ido {ido['cost']} / pyperplan {pyp['cost']}"
        ido_s = f"{_ms(ido['total'])} ({_ms(ido['search'])}, {ido['heuristic']})" if ido else f"timeout (>{timeout:g} s)"
        default = ido.get("default") if ido else None
        default_s = _ms(default) if default else f"timeout (>{timeout:g} s)"
        pyp_s = f"{_ms(pyp['total'])} ({_ms(pyp['search'])}, {pyp['heuristic']})" if pyp else f"timeout (>{timeout:g} s)"
        ratio = f"{pyp['total'] / ido['total']:.1f}x" if ido and pyp else ("ido only" if ido else "-")
        ratio_default = f"{pyp['total'] / default:.1f}x" if default and pyp else "-"
        first = (f"{_ms(ido['first'])} / {_ms(pyp['first'])} ({pyp['first'] / ido['first']:.1f}x)"
                 if ido and pyp else "-")
        lines.append(
            f"| {r['domain']} | {r['size']} | {cost} | {ido_s} | {default_s} | {pyp_s} | {ratio} | {ratio_default} "
            f"| {first} | {ido['expanded'] if ido else '-'} |"
        )
        ctable.add_row(r["domain"], str(r["size"]), cost, ido_s, pyp_s, ratio)
    console.print(ctable)
    for domain in dict.fromkeys(r["domain"] for r in classic):
        rs = [r for r in classic if r["domain"] == domain]
        ido_max = max((r["size"] for r in rs if r["ido"]), default=None)
        pyp_max = max((r["size"] for r in rs if r["pyperplan"]), default=None)
        both = [r["pyperplan"]["total"] / r["ido"]["total"] for r in rs if r["ido"] and r["pyperplan"]]
        lines.append("")
        lines.append(
            f"{domain}: ido solves up to size {ido_max}, pyperplan up to {pyp_max} within {timeout:g} s; "
            + (f"speed-up min {min(both):.1f}x, median {statistics.median(both):.1f}x." if both else "no common size.")
        )
    both = [r for r in classic if r["ido"] and r["pyperplan"]]
    slow = [r for r in both if r["pyperplan"]["total"] < 3 * r["ido"]["total"]]
    lines.append("")
    if slow:
        worst = max(r["pyperplan"]["total"] for r in slow)
        lines.append(
            "Target (3x at every size both solve): **missed** at " + ", ".join(f"{r['domain']} {r['size']}" for r in slow)
            + f", all instances pyperplan solves in {worst * 1000:.0f} ms or less, where fixed per-call costs "
            "(building the capability models, compiling, setting up the heuristic) dominate."
        )
    elif both:
        lines.append(f"Target (3x at every size both solve): **met** at all {len(both)} sizes "
                     f"(least {min(r['pyperplan']['total'] / r['ido']['total'] for r in both):.1f}x).")
    seeded = [r for r in both if "by_seed" in r["pyperplan"]]
    if seeded:
        lines.append("")
        lines.append(
            f"Hash seeds (instances under {SEEDED_BELOW_S * 1000:g} ms, medians over seeds {', '.join(map(str, SEEDS))}): "
            + "; ".join(
                f"{r['domain']} {r['size']}: pyperplan {_ms(min(r['pyperplan']['by_seed']))}-"
                f"{_ms(max(r['pyperplan']['by_seed']))} ms, ido "
                + (f"{_ms(min(r['ido']['by_seed']))}-{_ms(max(r['ido']['by_seed']))} ms" if "by_seed" in r["ido"] else "-")
                for r in seeded
            )
            + "."
        )
    cold = [r for r in both if r["pyperplan"]["first"] < 3 * r["ido"]["first"]]
    if cold:
        lines.append("")
        lines.append(
            "Counting only the first call in a fresh process, below 3x: "
            + ", ".join(f"{r['domain']} {r['size']} ({r['pyperplan']['first'] / r['ido']['first']:.1f}x)" for r in cold)
            + "."
        )
    lines += [
        "", "Times are end to end per call (ido: building the capability models from dicts, compiling, "
        "planning; pyperplan: parsing, grounding, search); search-only in parentheses. Each planner runs in "
        f"a child process forked per (instance, heuristic); a call is repeated there (each time from "
        f"scratch, nothing reused) while the calls so far took under {REPEAT_BUDGET_S:g} s, up to {REPEATS} "
        "calls, and the median call counts; the first call of the fresh process, which also pays one-time "
        "costs of the process (page faults on memory shared with the parent, cold caches), is shown "
        f"separately. Calls under {SEEDED_BELOW_S * 1000:g} ms are timed again in a fresh interpreter per "
        "hash seed and the median over seeds counts (pyperplan's search order, and so its time, follows "
        "the hash seed; ido's does not). Both are optimal A*, each timed with h_max and with LM-cut, and the faster counts (as "
        "the issue defines pyperplan's side); the ido default column is LM-cut alone (`Planner()`'s "
        "default). ido's LM-cut is incremental (h_max values only fall after a cut) and evaluated lazily "
        "when a node is popped.",
        "", "### Fleet allocation (CP-SAT)", "",
        f"1,000 runs (2 roles, budgets, policy allow-lists) over 10 providers with quotas: median "
        f"**{fleet['median_ms']:.1f} ms**, p95 {fleet['p95_ms']:.1f} ms, {fleet['assigned']:.0f} runs assigned "
        "(lexicographic: expected successes, then cost; proven optimal).",
    ]
    console.print(f"fleet: median {fleet['median_ms']:.1f} ms, p95 {fleet['p95_ms']:.1f} ms")
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this benchmark's section of RESULTS.md (creating the file if needed)."""
    replace_section("planning", text, RESULTS)


def main() -> None:
    """Run the three parts, print tables, write RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and a 10 s timeout")
    parser.add_argument("--timeout", type=float, default=None, help="per-call timeout for classic tasks (s)")
    parser.add_argument("--skip-classic", action="store_true", help="skip the pyperplan comparison")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    timeout = args.timeout or (10.0 if args.quick else 60.0)
    scale = bench_scale(args.quick)
    classic = [] if args.skip_classic else bench_classic(args.quick, timeout)
    fleet = bench_fleet(args.quick)
    text = report(scale, classic, fleet, args.quick, timeout)
    if not args.no_write:
        write_section(text)
        console.print(f"wrote the planning section of {RESULTS}")


if __name__ == "__main__":
    main()
