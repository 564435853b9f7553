"""Start-up benchmark: `ido --help` and `ido plan order-fulfilled` against `python -c pass`.

Each command runs in a fresh process N times; the table gives median wall and CPU
milliseconds (CPU from the child's rusage) and the machine's load average, since on a
shared machine wall time is what the other processes leave over. Targets (issue 15):
`ido --help` <= 150 ms wall and `ido plan order-fulfilled` <= 400 ms on a quiet machine.
With `--before REV` the same commands also run on ido as it was at REV (see
benchmarks/revision.py), side by side.

    python benchmarks/startup.py [--runs N] [--before REV] [--no-write]

Prints a table and replaces its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.results import replace_section  # noqa: E402 - after the path insert
from benchmarks.revision import commit_of, source_tree, tree_env  # noqa: E402

IDO = str(Path(sys.executable).with_name("ido"))
#: The CLI as a `python -c` program, so an earlier revision's tree runs the same way.
CLI = "from ido.cli.main import main; main()"
#: Children run here, not in the repository, so `python -c` imports ido from PYTHONPATH or
#: the installed package rather than from the current folder.
NEUTRAL = tempfile.gettempdir()
PLAN = ["--workspace", str(ROOT), "plan", "order-fulfilled"]
TARGETS_MS = {"ido --help": 150.0, "ido plan order-fulfilled": 400.0}


def measure(argv: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Return the median wall and CPU milliseconds of running `argv` `runs` times (after one warm-up)."""
    walls, cpus = [], []
    for index in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=NEUTRAL, env=env, capture_output=True, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
        if index:  # the first run warms the file cache and writes bytecode
            walls.append(wall * 1000)
            cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Run the benchmark, print the table and update benchmarks/RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (median reported)")
    parser.add_argument("--before", metavar="REV", help="also time ido at git revision REV")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    py = sys.executable
    commands: list[tuple[str, list[str]]] = [
        ("python -c pass", [py, "-c", "pass"]),
        ("python -c 'import ido.cli.main'", [py, "-c", "import ido.cli.main"]),
        ("ido --help", [IDO, "--help"]),
        ("ido plan order-fulfilled", [IDO, *PLAN]),
    ]
    rows: list[tuple[str, str, float, float]] = []
    load_before = os.getloadavg()[0]
    for name, argv in commands:
        wall, cpu = measure(argv, args.runs)
        rows.append((name, "now", wall, cpu))
        print(f"{name:40} now {wall:8.0f} ms wall {cpu:8.0f} ms CPU", flush=True)
    if args.before:
        label = f"at {commit_of(args.before)}"
        with source_tree(args.before) as tree:
            env = tree_env(tree)
            for name, argv in [
                ("python -c 'import ido.cli.main'", [py, "-c", "import ido.cli.main"]),
                ("ido --help", [py, "-c", CLI, "--help"]),
                ("ido plan order-fulfilled", [py, "-c", CLI, *PLAN]),
            ]:
                wall, cpu = measure(argv, args.runs, env)
                rows.append((name, label, wall, cpu))
                print(f"{name:40} {label} {wall:8.0f} ms wall {cpu:8.0f} ms CPU", flush=True)
    load_after = os.getloadavg()[0]
    report = _report(rows, args, (load_before, load_after))
    print(report)
    if not args.no_write:
        replace_section("startup", report)
        print("updated benchmarks/RESULTS.md")


def _report(rows: list[tuple[str, str, float, float]], args: argparse.Namespace, load: tuple[float, float]) -> str:
    base = next(cpu for name, _, _, cpu in rows if name == "python -c pass")
    base_wall = next(wall for name, _, wall, _ in rows if name == "python -c pass")
    lines = [
        "## Start-up: `ido --help` and `ido plan` against `python -c pass` (`benchmarks/startup.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.platform()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared; load average {load[0]:.1f} before, {load[1]:.1f} after), "
        f"Python {platform.python_version()}. Medians of {args.runs} fresh processes after one warm-up.",
        "",
        "| command | ido | wall ms | CPU ms | CPU ms over `python -c pass` | target (wall) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    busy = max(load) > (os.cpu_count() or 1)
    for name, which, wall, cpu in rows:
        target = TARGETS_MS.get(name)
        verdict = ""
        if target is not None and which == "now":
            # Wall time on a machine busier than its cores says more about the others' load.
            judged = "not judged: the machine was busy" if busy else ("met" if wall <= target else "missed")
            verdict = f"<= {target:.0f} ms: {judged}"
        lines.append(f"| {name} | {which} | {wall:.0f} | {cpu:.0f} | {cpu - base:.0f} | {verdict} |")
    now = {name: (wall, cpu) for name, which, wall, cpu in rows if which == "now"}
    before = {name: (wall, cpu) for name, which, wall, cpu in rows if which != "now"}
    lines.append("")
    if before:
        parts = []
        for name in ("ido --help", "ido plan order-fulfilled"):
            if name in before:
                parts.append(f"`{name}` {before[name][1] / now[name][1]:.1f}x less CPU than before")
        lines.append("; ".join(parts) + ".")
    if busy:
        lines.append(
            f"The load average exceeded the {os.cpu_count()} cores, so wall times mostly measure waiting; "
            "compare CPU columns and ratios, and judge the wall targets on a quiet machine."
        )
    lines.append(
        f"`python -c pass` itself takes {base_wall:.0f} ms wall here. `ido --help` imports no command "
        "module (the command index in ido/cli/main.py); OR-Tools, pandas, numpy, matplotlib, networkx "
        "and httpx load only where used (tests/test_cli_startup.py). What `ido plan` still pays is "
        "mostly building the pydantic models of ido.model at import (about half its CPU), then "
        "loading, planning and rich; `ido.engine` names its parts lazily, so planning does not load "
        "the engine. Tried and not kept: pydantic's `defer_build` on every declaration model (no "
        "measurable change: `ido plan` validates the models it would defer)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
