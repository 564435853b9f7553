"""The simulation page: rehearse a scenario from the browser, adaptive vs static vs static-fallback.

    GET  /simulate     the form: a scenario of the workspace, runs per strategy, seed
    POST /simulate     runs it through the API's own `POST /api/v1/simulations` (same bounds:
                       at most 500 runs per strategy, one simulation at a time, 429 while one
                       runs) and answers a fragment: success, cost and latency per strategy as
                       bars, and success rate and latency over arrival time as uPlot charts
                       with the faults' windows listed

Called through `ido.service.explorer.router`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ido.service.auth import Scope
from ido.service.explorer.actions import call_api
from ido.service.explorer.common import Invalid, form_fields, guarded, render, service_of

router = APIRouter(include_in_schema=False)

#: runs per strategy the form proposes (the scenario's own count can be far larger)
DEFAULT_RUNS = 100


@router.get("/simulate", response_class=HTMLResponse)
def simulate_page(request: Request) -> Response:
    """The simulation form over the workspace's scenarios."""
    if (denied := guarded(request, Scope.read)) is not None:
        return denied
    service = service_of(request)
    scenarios = sorted(service.declarations().scenarios)
    return render(request, "simulate.html", {"section": "simulate", "scenarios": scenarios,
                                             "runs": DEFAULT_RUNS, "default": "payments-outage"})


def _number(raw: str, name: str) -> tuple[int | None, dict[str, Any] | None]:
    if not raw.strip():
        return None, None
    try:
        return int(raw), None
    except ValueError:
        return None, {"field": name, "message": f"{name} {raw[:20]!r} is not a whole number"}


@router.post("/simulate", response_class=HTMLResponse)
async def simulate_run(request: Request) -> Response:
    """Run the scenario through the API; the comparison of the strategies as a fragment."""
    if (denied := guarded(request, Scope.operate)) is not None:
        return denied
    try:
        fields = form_fields(await request.body())
    except Invalid as exc:
        return render(request, "simulation.html", {"error": exc.message, "problems": []}, status=422)
    runs, bad_runs = _number(fields.get("runs", ""), "runs")
    seed, bad_seed = _number(fields.get("seed", ""), "seed")
    problems = [p for p in (bad_runs, bad_seed) if p]
    if problems:
        return render(request, "simulation.html", {"error": "the form has values that are not numbers",
                                                   "problems": problems}, status=422)
    body = {"scenario": fields.get("scenario", ""), "runs": runs, "seed": seed}
    answer = await call_api(request, "POST", "/api/v1/simulations", {k: v for k, v in body.items() if v is not None})
    data = answer.json()
    if answer.status_code >= 400:
        error = data.get("error", {}) if isinstance(data, dict) else {}
        return render(request, "simulation.html", {"error": error.get("message", answer.text[:300]),
                                                   "problems": error.get("problems", [])},
                      status=answer.status_code)
    strategies = data["strategies"]
    best = {"cost": max((s["cost_mean"] for s in strategies.values()), default=0) or 1,
            "latency": max((s["latency_p95_s"] for s in strategies.values()), default=0) or 1}
    chart = {"series": {name: [[p["t"] for p in points], [p["success_rate"] for p in points],
                               [p["latency_p50_s"] for p in points]]
                        for name, points in data.get("series", {}).items()}}
    return render(request, "simulation.html", {"error": None, "report": data, "strategies": strategies,
                                               "best": best, "chart": chart})
