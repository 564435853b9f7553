"""Planning and rehearsing over HTTP: `POST /plans` (= `ido plan --json`), `POST /simulations` (= `ido simulate --json`).

A plan is made exactly as `ido plan` makes it (`ido.engine.plans.plan_intent`);
when none is admissible the answer is 409 with the explanation and the
infeasible plan (its blockers), as `ido plan` exits 3. A simulation runs
bounded: at most `MAX_SIMULATED_RUNS` runs per strategy and one simulation at
a time (429 while one runs), since it is CPU work on the service's cores.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ido.planning.types import Plan
from ido.service.auth import Scope
from ido.service.errors import ApiError, body
from ido.service.models import RunRequest, SimulationRequest
from ido.service.state import MAX_SIMULATED_RUNS, ServiceDep, require
from ido.simulation.report import Report

router = APIRouter(prefix="/api/v1", tags=["plans"])


@router.post("/plans", response_model=Plan, dependencies=[require(Scope.read)],
             responses={409: {"description": "no admissible plan: the error and the infeasible plan"}})
def make_plan(request: RunRequest, service: ServiceDep) -> JSONResponse:
    """The best admissible plan for the intent (`ido plan --json`); 409 with the explanation when none is."""
    from ido.engine.plans import plan_intent

    made = plan_intent(service.declarations(), request.intent, facts=request.set_facts, inputs=request.inputs)
    plan = made.plan.model_dump(mode="json")
    if not made.plan.feasible:
        return JSONResponse({**body("no_admissible_plan", made.plan.explanation), "plan": plan},
                            status_code=409)
    return JSONResponse(plan)


@router.post("/simulations", response_model=Report, dependencies=[require(Scope.operate)],
             responses={429: {"description": "another simulation is running"}})
def simulate(request: SimulationRequest, service: ServiceDep) -> JSONResponse:
    """Rehearse a scenario of the workspace (`ido simulate --json`), at most MAX_SIMULATED_RUNS runs per strategy."""
    from ido.simulation.runner import simulate as run_simulation

    scenario = service.declarations().scenario(request.scenario)
    runs = scenario.runs if request.runs is None else request.runs
    if runs > MAX_SIMULATED_RUNS:
        raise ApiError(422, "too_many_runs",
                       f"runs {runs}: at most {MAX_SIMULATED_RUNS} per request; use `ido simulate` for more")
    if not service.simulation_slot.acquire(blocking=False):
        raise ApiError(429, "busy", "another simulation is running; try again when it ends",
                       headers={"Retry-After": "5"})
    try:
        report = run_simulation(service.declarations(), scenario, runs=runs, seed=request.seed,
                                strategies=request.strategies)
    finally:
        service.simulation_slot.release()
    return JSONResponse(json.loads(report.to_json()))
