"""Test-suite cost: wall and CPU seconds of the fast suite, per test file, slowest first.

    python benchmarks/suite_times.py                 # the fast suite (README's test command)
    python benchmarks/suite_times.py -m slow         # the slow sweeps instead
    python benchmarks/suite_times.py --top 15 tests/durability

Runs pytest in a child process with this module loaded as a plugin (`-p suite_times`),
which records for every test its wall seconds, the CPU seconds of the pytest process
and those of the child processes it waited for (servers, `python -m ido`, drivers;
`resource.getrusage(RUSAGE_CHILDREN)`). On a shared machine wall time is inflated by
the other load while CPU time is not, so CPU time says what a quiet machine would need:
a quiet wall time is roughly the CPU total plus the tests' own waiting (deadlines,
leases, polls), which the table's "wall - CPU" column bounds from above (it also
holds the time spent waiting for a core). Prints the table and replaces its section
of benchmarks/RESULTS.md (between the suite-times markers). Processes the pytest
process never waits for (the PostgreSQL server, Chromium's renderers reaped by
Playwright's driver) are not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: where the plugin half writes its rows (set by the script half for its child pytest).
ROWS_ENV = "IDO_SUITE_TIMES_ROWS"

_rows: list[tuple[str, float, float, float]] = []


def _cpu() -> tuple[float, float]:
    """Return (CPU seconds of this process, CPU seconds of its waited-for children)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, None]:
    """Plugin hook (pytest calls it per test): record the test's wall, own CPU and children's CPU."""
    own0, children0 = _cpu()
    wall0 = time.perf_counter()
    yield
    own1, children1 = _cpu()
    _rows.append((item.nodeid, time.perf_counter() - wall0, own1 - own0, children1 - children0))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Plugin hook (pytest calls it once at the end): write the rows where the script half reads them."""
    out = os.environ.get(ROWS_ENV)
    if out:
        Path(out).write_text(json.dumps(_rows))


def per_file(rows: list[list[Any]]) -> list[tuple[str, float, float, float, int]]:
    """Return (file, wall, own CPU, children CPU, tests) per test file, the longest wall first."""
    files: dict[str, list[float]] = {}
    for nodeid, wall, own, children in rows:
        total = files.setdefault(nodeid.split("::")[0], [0.0, 0.0, 0.0, 0.0])
        total[0] += wall
        total[1] += own
        total[2] += children
        total[3] += 1
    return sorted(((f, w, o, c, int(n)) for f, (w, o, c, n) in files.items()), key=lambda r: -r[1])


def main(argv: list[str] | None = None) -> int:
    """Run the suite once, print the table, record it in RESULTS.md; return pytest's exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-m", dest="marker", default=None, help="pytest -m expression (default: the fast suite)")
    parser.add_argument("--top", type=int, default=20, help="files shown in the table")
    parser.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("paths", nargs="*", help="test paths (default: all)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        rows_file = Path(scratch) / "rows.json"
        env = {**os.environ, ROWS_ENV: str(rows_file),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "suite_times", *args.paths]
        if args.marker:
            command += ["-m", args.marker]
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        code = subprocess.call(command, cwd=ROOT, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter() - started
        rows = json.loads(rows_file.read_text()) if rows_file.exists() else []
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    load = os.getloadavg()[0]
    files = per_file(rows)
    lines = [
        "| test file | tests | wall s | CPU s (pytest) | CPU s (children) | wall - CPU s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, w, own, children, n in files[: args.top]:
        lines.append(f"| {name} | {n} | {w:.1f} | {own:.1f} | {children:.1f} | {max(0.0, w - own - children):.1f} |")
    suite = f"-m {args.marker}" if args.marker else "the fast suite"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join([
        f"## Test suite cost: {suite} (`benchmarks/suite_times.py`)",
        "",
        f"{stamp}; {platform.platform()}, {os.cpu_count()} CPUs (shared; load average {load:.1f} at the end), "
        f"Python {platform.python_version()}. {len(rows)} tests; exit code {code}.",
        "",
        f"**wall {wall:.0f} s; CPU {cpu:.0f} s** (pytest and every process it waited for).",
        "",
        *lines,
    ])
    print(report)
    if not args.no_record:
        sys.path.insert(0, str(ROOT))
        from benchmarks.results import replace_section

        replace_section("suite-times" if not args.marker else f"suite-times {args.marker}", report)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
