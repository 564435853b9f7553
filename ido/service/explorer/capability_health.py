"""Capability health over time, from the journal: outcomes and the health snapshots decisions recorded.

    GET /health[?capability=C]    a table per capability (outcomes, success rate, latency p50,
                                  circuit openings, last circuit and probe) and, for one
                                  capability, charts over time (uPlot): success rate and latency
                                  as decisions saw them, each outcome's latency, circuit state

Reads the newest `HEALTH_RUNS` runs only (a page, not the whole journal):
their `outcome` events (`ido.decisions.Outcome`: status, latency) and the
`health` each decision record kept (`ido.health.CapabilityHealth`: success
rate, latency, circuit, probe), all at the event's journal time. Called
through `ido.service.explorer.router`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from ido.decisions import Outcome
from ido.health import CapabilityHealth
from ido.journal.base import Store
from ido.service.auth import Scope
from ido.service.explorer.common import guarded, render, service_of

router = APIRouter(include_in_schema=False)

#: Runs (newest first) whose events the page reads.
HEALTH_RUNS = 200
#: circuit state -> the number the chart draws
CIRCUIT_LEVEL = {"closed": 0, "half_open": 1, "open": 2}


@dataclass
class Series:
    """One capability's evidence over time (epoch seconds)."""

    name: str
    #: (t, success rate or None, latency or None, circuit level, probe up or None) per decision snapshot
    seen: list[tuple[float, float | None, float | None, int, bool | None]] = field(default_factory=list)
    #: (t, succeeded, latency_s) per outcome
    outcomes: list[tuple[float, bool, float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Return the table row: outcomes, success rate, latency p50, circuit openings, last circuit/probe."""
        ok = [o for o in self.outcomes if o[1]]
        levels = [s[3] for s in sorted(self.seen)]
        openings = sum(1 for a, b in zip([0, *levels], levels, strict=False) if b == 2 and a != 2)
        last = sorted(self.seen)[-1] if self.seen else None
        return {
            "name": self.name, "outcomes": len(self.outcomes),
            "success": len(ok) / len(self.outcomes) if self.outcomes else None,
            "latency_p50": statistics.median(o[2] for o in self.outcomes) if self.outcomes else None,
            "openings": openings,
            "circuit": {v: k for k, v in CIRCUIT_LEVEL.items()}[last[3]] if last else "closed",
            "probe": last[4] if last else None,
        }

    def chart(self) -> dict[str, Any]:
        """Return the chart data: columns of times and values, as uPlot takes them."""
        seen = sorted(self.seen)
        outcomes = sorted(self.outcomes)
        return {
            "name": self.name,
            "seen": [[s[0] for s in seen], [s[1] for s in seen], [s[2] for s in seen], [s[3] for s in seen]],
            "outcomes": [[o[0] for o in outcomes], [o[2] for o in outcomes],
                         [1 if o[1] else 0 for o in outcomes]],
        }


def collect(store: Store, runs: int = HEALTH_RUNS) -> dict[str, Series]:
    """Return each capability's evidence in the newest `runs` runs of the journal."""
    series: dict[str, Series] = {}
    for info in store.list_runs(limit=runs):
        for event in store.events(run_id=info.run_id, kinds=["decision", "outcome"]):
            try:
                if event.kind == "outcome":
                    outcome = Outcome.model_validate({k: v for k, v in event.data.items() if k in Outcome.model_fields})
                    series.setdefault(outcome.capability, Series(outcome.capability)).outcomes.append(
                        (event.at, outcome.status == "succeeded", outcome.latency_s))
                    continue
                for name, raw in (event.data.get("health") or {}).items():
                    h = CapabilityHealth.model_validate(raw)
                    series.setdefault(name, Series(name)).seen.append(
                        (event.at, h.success_rate, h.latency_s, CIRCUIT_LEVEL.get(str(h.circuit), 0), h.probe_up))
            except ValidationError:
                continue  # a record this page cannot read says nothing about health; explain names it
    return series


@router.get("/health", response_class=HTMLResponse)
def health_page(request: Request, capability: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Capability health over time: a row per capability, and charts for the chosen one."""
    if (denied := guarded(request, Scope.read)) is not None:
        return denied
    service = service_of(request)
    series = collect(service.store)
    rows = sorted((s.summary() for s in series.values()), key=lambda r: (-r["openings"], r["name"]))
    chosen = capability or (rows[0]["name"] if rows else "")
    return render(request, "health.html", {
        "section": "health", "rows": rows, "chosen": chosen, "runs": HEALTH_RUNS,
        "chart": series[chosen].chart() if chosen in series else None,
        "unknown": bool(capability) and capability not in series,
    })
