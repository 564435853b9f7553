"""Adaptivity benchmark: every scenario, every strategy, side by side; and simulator throughput.

    python benchmarks/adaptivity.py            # 1,000 runs per scenario and strategy, 10,000-run throughput
    python benchmarks/adaptivity.py --quick    # 100 runs each, 2,000-run throughput
    python benchmarks/adaptivity.py --scenario payments-outage --runs 300

Prints one table per scenario (success rate, cost mean, latency p50/p95,
replans, violations per strategy), checks the issue's targets, and replaces
its own section of benchmarks/RESULTS.md (between the adaptivity markers):

- wherever an admissible path exists, adaptive succeeds >= 99% and at least
  as often as static-fallback;
- in `control`, adaptive's mean cost is within 1% of static's;
- 10,000 simulated runs of the order intent take under 60 s of wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402 - after the path insert
from ido.loading import load_workspace  # noqa: E402
from ido.simulation.report import Report  # noqa: E402
from ido.simulation.runner import simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- BEGIN adaptivity -->", "<!-- END adaptivity -->"
STRATEGIES = ["adaptive", "static", "static-fallback"]
#: scenarios in which no admissible path exists by construction (success is not expected).
NO_PATH = {"no-admissible-path"}
THROUGHPUT_LIMIT_S = 60.0


def scenario_names(workspace: object) -> list[str]:
    """Return the names of every scenario in the workspace, control first."""
    names = sorted(workspace.scenarios)  # type: ignore[attr-defined]
    return sorted(names, key=lambda n: (n != "control", n))


def check_targets(name: str, report: Report) -> list[tuple[str, bool]]:
    """Return (target description, met) pairs for one scenario's report."""
    s = report.strategies
    checks: list[tuple[str, bool]] = []
    if name not in NO_PATH:
        a = s["adaptive"].success_rate
        checks.append((f"{name}: adaptive success {a:.1%} >= 99%", a >= 0.99))
        if "static-fallback" in s:
            f = s["static-fallback"].success_rate
            checks.append((f"{name}: adaptive {a:.1%} >= static-fallback {f:.1%}", a >= f))
    if name == "control" and "static" in s:
        ca, cs = s["adaptive"].cost_mean, s["static"].cost_mean
        within = abs(ca - cs) <= 0.01 * cs
        checks.append((f"control: adaptive cost {ca:.4f} within 1% of static {cs:.4f}", within))
    violations = sum(v.policy_violations + v.budget_violations + v.deadline_violations for v in s.values())
    checks.append((f"{name}: policy/budget/deadline violations = {violations}", violations == 0))
    return checks


def table(name: str, report: Report, wall: float) -> Table:
    """Return the side-by-side table of one scenario."""
    t = Table(title=f"{name} ({report.runs} runs per strategy, seed {report.seed}, {wall:.1f}s wall)",
              title_justify="left")
    t.add_column("strategy")
    for col in ("success", "cost mean", "p50 s", "p95 s", "replans", "compensated", "policy v.", "budget v.",
                "deadline v."):
        t.add_column(col, justify="right")
    for strategy, s in report.strategies.items():
        t.add_row(strategy, f"{s.success_rate:.1%}", f"{s.cost_mean:.4f}", f"{s.latency_p50_s:.2f}",
                  f"{s.latency_p95_s:.2f}", f"{s.replans_mean:.3f}", str(s.compensated),
                  str(s.policy_violations), str(s.budget_violations), str(s.deadline_violations))
    return t


def markdown(rows: list[tuple[str, Report, float]], checks: list[tuple[str, bool]],
             throughput: tuple[int, float] | None, runs: int) -> str:
    """Return this benchmark's RESULTS.md section."""
    lines = [
        BEGIN,
        "## Adaptivity: adaptive vs static vs static-fallback (`benchmarks/adaptivity.py`)",
        "",
        f"{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs. {runs} runs per scenario and strategy, identical arrivals, faults and "
        "per-call luck for every strategy; simulated on the virtual clock.",
        "",
        "| scenario | strategy | success | cost mean | latency p50 s | p95 s | replans | compensated "
        "| policy v. | budget v. | deadline v. |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, report, _ in rows:
        for strategy, s in report.strategies.items():
            lines.append(
                f"| {name} | {strategy} | {s.success_rate:.1%} | {s.cost_mean:.4f} | {s.latency_p50_s:.2f} "
                f"| {s.latency_p95_s:.2f} | {s.replans_mean:.3f} | {s.compensated} | {s.policy_violations} "
                f"| {s.budget_violations} | {s.deadline_violations} |"
            )
    lines += ["", "Ratios (adaptive vs static): " + "; ".join(
        f"{name} success x{_ratio(r.strategies['adaptive'].success_rate, r.strategies['static'].success_rate)}"
        for name, r, _ in rows if "static" in r.strategies and name not in NO_PATH
    ) + ".", ""]
    walls = sorted(w for _, _, w in rows)
    if walls:
        lines.append(f"Wall time per scenario (all strategies): median {walls[len(walls) // 2]:.1f}s, "
                     f"max {walls[-1]:.1f}s.")
    if throughput is not None:
        count, seconds = throughput
        lines.append(
            f"Throughput: {count} simulated runs of order-fulfilled (adaptive, payments-outage) in "
            f"{seconds:.1f}s wall ({count / seconds:.0f} runs/s); target {count} runs < "
            f"{THROUGHPUT_LIMIT_S * count / 10000:.0f}s."
        )
    lines += ["", "Targets:"]
    lines += [f"- [{'x' if ok else ' '}] {text}" for text, ok in checks]
    lines += ["", END]
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return "inf" if b == 0 else f"{a / b:.2f}"


def write_section(section: str) -> None:
    """Replace this benchmark's section of RESULTS.md (`section` carries its own markers)."""
    replace_section("adaptivity", section.removeprefix(BEGIN + "\n").removesuffix("\n" + END), RESULTS)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 0 when every target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 runs per scenario, 2,000-run throughput")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario and strategy")
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    runs = args.runs or (100 if args.quick else 1000)
    console = Console(width=150)
    workspace = load_workspace(ROOT)
    names = args.scenario or scenario_names(workspace)
    rows: list[tuple[str, Report, float]] = []
    checks: list[tuple[str, bool]] = []
    for name in names:
        started = time.perf_counter()
        report = simulate(workspace, name, runs=runs, strategies=STRATEGIES)
        wall = time.perf_counter() - started
        rows.append((name, report, wall))
        console.print(table(name, report, wall))
        checks += check_targets(name, report)
    throughput: tuple[int, float] | None = None
    if not args.scenario:
        count = 2000 if args.quick else 10000
        started = time.perf_counter()
        simulate(workspace, "payments-outage", runs=count, strategies=["adaptive"])
        seconds = time.perf_counter() - started
        throughput = (count, seconds)
        limit = THROUGHPUT_LIMIT_S * count / 10000
        checks.append((f"{count} simulated runs in {seconds:.1f}s (< {limit:.0f}s)", seconds < limit))
    for text, ok in checks:
        console.print(f"[{'green' if ok else 'red'}]{'met' if ok else 'MISSED'}[/]: {text}")
    if not args.no_write:
        write_section(markdown(rows, checks, throughput, runs))
        console.print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
