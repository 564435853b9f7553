"""The plan DAG at one decision, with its critical path (Cytoscape + dagre draw it in the page).

    GET /runs/{id}/plan/{seq}    a fragment: the graph's JSON for the page's script, the critical
                                 path in words and the steps as a list (the graph's text alternative)

The plan is the one the decision recorded (`DecisionRecord.plan`); the
critical path is the chain of `after` edges with the largest total expected
latency, which bounds the plan's duration when steps run in parallel.
Called through `ido.service.explorer.router`.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ido.planning.types import Plan
from ido.service.errors import ApiError
from ido.service.explorer.common import error_page, page_run, render

router = APIRouter(include_in_schema=False)


def critical_path(plan: Plan) -> list[int]:
    """Return the step indices of the plan's longest-latency chain (earliest first); [] for no steps."""
    finish: dict[int, float] = {}
    via: dict[int, int | None] = {}
    remaining = set(range(len(plan.steps)))
    while remaining:  # steps' `after` point at earlier steps, but order is not assumed
        ready = [i for i in sorted(remaining) if all(a in finish for a in plan.steps[i].after
                                                     if 0 <= a < len(plan.steps))]
        if not ready:  # a cycle cannot be planned; take what is left in index order
            ready = sorted(remaining)
        for i in ready:
            before = [a for a in plan.steps[i].after if a in finish]
            start_from = max(before, key=lambda a: finish[a], default=None)
            finish[i] = (finish[start_from] if start_from is not None else 0.0) + plan.steps[i].latency_s
            via[i] = start_from
            remaining.discard(i)
    if not finish:
        return []
    node: int | None = max(finish, key=lambda i: (finish[i], -i))
    path: list[int] = []
    while node is not None:
        path.append(node)
        node = via[node]
    return path[::-1]


def graph(plan: Plan, dispatched: list[str]) -> dict[str, Any]:
    """Return the Cytoscape elements of the plan: a node per step, an edge per `after`, critical ones marked."""
    critical = critical_path(plan)
    on_path = set(critical)
    pairs = set(pairwise(critical))
    nodes = [{"data": {"id": f"s{i}", "label": f"{s.capability}\n{s.latency_s:.2f} s · {s.cost:g}"},
              "classes": " ".join(c for c in ("critical" if i in on_path else "",
                                              "sent" if s.capability in dispatched else "") if c)}
             for i, s in enumerate(plan.steps)]
    edges = [{"data": {"id": f"e{a}-{i}", "source": f"s{a}", "target": f"s{i}"},
              "classes": "critical" if (a, i) in pairs else ""}
             for i, s in enumerate(plan.steps) for a in s.after if 0 <= a < len(plan.steps)]
    return {"elements": [*nodes, *edges]}


@router.get("/runs/{run_id}/plan/{seq}", response_class=HTMLResponse)
def plan_at(request: Request, run_id: str, seq: int) -> Response:
    """The plan DAG the decision #seq made, with its critical path."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    record = next((e.data for e in service.store.events(run_id=info.run_id, kinds=["decision"])
                   if e.data.get("seq") == seq), None)
    if record is None:
        return error_page(request, ApiError(404, "unknown_decision", f"run {info.run_id} has no decision #{seq}"))
    raw = record.get("plan")
    plan = Plan.model_validate(raw) if raw else None
    if plan is None or not plan.steps:
        return render(request, "plan.html", {"seq": seq, "plan": None, "run_id": info.run_id})
    path = critical_path(plan)
    return render(request, "plan.html", {
        "seq": seq, "plan": plan, "run_id": info.run_id, "graph": graph(plan, list(record.get("chosen") or [])),
        "critical": [plan.steps[i] for i in path],
        "critical_s": sum(plan.steps[i].latency_s for i in path),
    })
