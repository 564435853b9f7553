"""The outcome of a simulation: `Report`, its JSON form and its side-by-side table.

Built by `ido.simulation.runner.simulate`; printed by `ido simulate` (a rich
table, or `--json` with the keys of DESIGN.md section 4) and drawn by
`ido.simulation.plot`. Floats are rounded to 6 decimals so the same seed
gives a byte-identical JSON report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ido.model.values import Frozen

#: Decimal places kept in reports (well below anything a person reads; keeps JSON stable).
PRECISION = 6


def _r(value: float) -> float:
    return round(float(value), PRECISION) if math.isfinite(value) else 0.0


class StrategyStats(Frozen):
    """One strategy's results over every run of a scenario."""

    succeeded: int
    failed: int
    success_rate: float
    cost_mean: float
    latency_p50_s: float
    latency_p95_s: float
    replans_mean: float
    policy_violations: int
    budget_violations: int
    deadline_violations: int
    compensated: int
    #: runs per final status (succeeded, failed, compensated, compensation_failed, unfinished).
    statuses: dict[str, int] = Field(default_factory=dict)
    steps_mean: float = 0.0
    decisions_mean: float = 0.0
    #: the injected fault labels that touched at least one run, with how many runs each.
    faults_seen: dict[str, int] = Field(default_factory=dict)


class SeriesPoint(Frozen):
    """Runs that arrived in one time bucket: how many, how many succeeded, their latency."""

    t: float
    runs: int
    success_rate: float
    latency_p50_s: float


class FaultWindow(Frozen):
    """When a fault was in force (end None: until the end), for plots and readers."""

    label: str
    kind: str
    target: str
    start: float
    end: float | None


class Report(Frozen):
    """A scenario's results per strategy on identical arrivals, faults and luck."""

    scenario: str
    intent: str
    runs: int
    seed: int
    strategies: dict[str, StrategyStats]
    #: strategy -> success and latency over arrival time (for the plot).
    series: dict[str, list[SeriesPoint]] = Field(default_factory=dict)
    faults: list[FaultWindow] = Field(default_factory=list)
    #: simulated seconds from the first arrival to the last run's end.
    horizon_s: float = 0.0

    def to_json(self) -> str:
        """Return the report as canonical JSON (sorted keys, fixed precision): byte-stable per seed."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"


def percentile(values: Sequence[float], q: float) -> float:
    """Return the `q` (0..1) percentile of `values` by linear interpolation; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rounded(value: float) -> float:
    """Return `value` rounded to the report's precision (non-finite values become 0)."""
    return _r(value)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def render(report: Report) -> Any:
    """Return a rich renderable: the strategies side by side, then the faults injected."""
    names = list(report.strategies)
    table = Table(
        title=f"{report.scenario}: {report.runs} runs of {report.intent} per strategy (seed {report.seed})",
        title_justify="left",
    )
    table.add_column("", style="bold")
    for name in names:
        table.add_column(name, justify="right")
    rows: list[tuple[str, Any]] = [
        ("success rate", lambda s: _pct(s.success_rate)),
        ("succeeded / failed", lambda s: f"{s.succeeded} / {s.failed}"),
        ("compensated", lambda s: str(s.compensated)),
        ("cost mean", lambda s: f"{s.cost_mean:.4f}"),
        ("latency p50", lambda s: f"{s.latency_p50_s:.3f}s"),
        ("latency p95", lambda s: f"{s.latency_p95_s:.3f}s"),
        ("replans mean", lambda s: f"{s.replans_mean:.2f}"),
        ("steps mean", lambda s: f"{s.steps_mean:.2f}"),
        ("policy violations", lambda s: str(s.policy_violations)),
        ("budget violations", lambda s: str(s.budget_violations)),
        ("deadline violations", lambda s: str(s.deadline_violations)),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(report.strategies[n]) for n in names))
    parts: list[Any] = [table]
    if report.faults:
        lines = Text("faults injected:\n", style="bold")
        for window in report.faults:
            until = "the end" if window.end is None else f"{window.end:g}s"
            lines.append(f"  {window.kind} on {window.target}: {window.start:g}s to {until}\n")
        parts.append(lines)
    else:
        parts.append(Text("no faults injected (control)"))
    return Group(*parts)
