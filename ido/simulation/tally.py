"""One strategy's simulated runs folded into the report's aggregates as each run ends.

`ido.simulation.runner` records every finished run here (`Tally.add`) and drops
the run itself (its events, decision records and engine state), so a
simulation's memory does not grow with what its runs did, only with a few
numbers per run: the report's percentiles and time series are exact, so they
keep each run's arrival and latency. Numbers are kept in arrays indexed by the
run's arrival index, and summed in that order, so the report is the same
byte for byte whatever order the runs end in. `Tally.stats()` and
`Tally.series()` build the report's parts.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field

from ido.simulation.report import SeriesPoint, StrategyStats, percentile, rounded

#: The final statuses a run can end in, by the code stored per run (index into this tuple).
STATUSES = ("succeeded", "failed", "compensated", "compensation_failed", "unfinished")
_MISSING = 255  # a run that never ended (not counted)


@dataclass(slots=True)
class RunOutcome:
    """What one simulated run did, as the report counts it (built by the runner, then tallied)."""

    index: int
    arrival: float
    status: str
    cost: float
    latency_s: float
    replans: int
    steps: int
    decisions: int
    policy_violations: int
    budget_violation: bool
    deadline_violation: bool
    faults: set[str] = field(default_factory=set)


class Tally:
    """Per-run numbers in flat arrays, plus counters: about 40 bytes a run, nothing else kept."""

    __slots__ = (
        "arrival",
        "budget_violations",
        "cost",
        "deadline_violations",
        "decisions",
        "faults",
        "latency",
        "other_statuses",
        "policy_violations",
        "replans",
        "status",
        "steps",
    )

    def __init__(self, runs: int) -> None:
        self.arrival = array("d", bytes(8 * runs))
        self.latency = array("d", bytes(8 * runs))
        self.cost = array("d", bytes(8 * runs))
        self.replans = array("l", bytes(array("l").itemsize * runs))
        self.steps = array("l", bytes(array("l").itemsize * runs))
        self.decisions = array("l", bytes(array("l").itemsize * runs))
        self.status = bytearray([_MISSING]) * runs
        self.other_statuses: dict[int, str] = {}  # a status outside STATUSES, by run index
        self.policy_violations = 0
        self.budget_violations = 0
        self.deadline_violations = 0
        self.faults: Counter[str] = Counter()

    def add(self, run: RunOutcome) -> None:
        """Fold one finished run in (called once per run, in any order)."""
        i = run.index
        self.arrival[i] = run.arrival
        self.latency[i] = run.latency_s
        self.cost[i] = run.cost
        self.replans[i] = run.replans
        self.steps[i] = run.steps
        self.decisions[i] = run.decisions
        if run.status in STATUSES:
            self.status[i] = STATUSES.index(run.status)
        else:
            self.status[i] = len(STATUSES)
            self.other_statuses[i] = run.status
        self.policy_violations += run.policy_violations
        self.budget_violations += run.budget_violation
        self.deadline_violations += run.deadline_violation
        self.faults.update(run.faults)

    def _ended(self) -> list[int]:
        """Return the indices of the runs that ended, in arrival order."""
        return [i for i, code in enumerate(self.status) if code != _MISSING]

    def _status(self, i: int) -> str:
        code = self.status[i]
        return STATUSES[code] if code < len(STATUSES) else self.other_statuses[i]

    def last_end(self) -> float:
        """Return the latest arrival + latency over the runs (0 when none ended)."""
        return max((self.arrival[i] + self.latency[i] for i in self._ended()), default=0.0)

    def stats(self) -> StrategyStats:
        """Return the strategy's row of the report."""
        ended = self._ended()
        n = max(len(ended), 1)
        statuses = Counter(self._status(i) for i in ended)
        ok = statuses.get("succeeded", 0)
        latencies = [self.latency[i] for i in ended]
        return StrategyStats(
            succeeded=ok,
            failed=len(ended) - ok,
            success_rate=rounded(ok / n),
            cost_mean=rounded(sum(self.cost[i] for i in ended) / n),
            latency_p50_s=rounded(percentile(latencies, 0.5)),
            latency_p95_s=rounded(percentile(latencies, 0.95)),
            replans_mean=rounded(sum(self.replans[i] for i in ended) / n),
            policy_violations=self.policy_violations,
            budget_violations=self.budget_violations,
            deadline_violations=self.deadline_violations,
            compensated=statuses.get("compensated", 0),
            statuses=dict(sorted(statuses.items())),
            steps_mean=rounded(sum(self.steps[i] for i in ended) / n),
            decisions_mean=rounded(sum(self.decisions[i] for i in ended) / n),
            faults_seen=dict(sorted(self.faults.items())),
        )

    def series(self, width: float) -> list[SeriesPoint]:
        """Return success and median latency per arrival-time bucket of `width` seconds."""
        buckets: dict[int, list[int]] = {}
        for i in self._ended():
            buckets.setdefault(int(self.arrival[i] // width), []).append(i)
        points = []
        for b in sorted(buckets):
            group = buckets[b]
            points.append(SeriesPoint(
                t=rounded(b * width + width / 2),
                runs=len(group),
                success_rate=rounded(sum(self.status[i] == 0 for i in group) / len(group)),
                latency_p50_s=rounded(percentile([self.latency[i] for i in group], 0.5)),
            ))
        return points
