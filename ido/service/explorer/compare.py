"""Two runs side by side: where their decisions diverged, and why.

    GET /compare?a=RUN&b=RUN    each run's outcome sentence, then their decisions in pairs (by
                                position); a pair diverges when the action, the steps sent or the
                                providers its plan kept differ, and for each side's choice the page shows the other run's
                                verdict and reason on it (e.g. B did not take stripe-eu because it
                                was unhealthy: circuit open)

Called through `ido.service.explorer.router`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ido.explain import ExplainedDecision, Explanation
from ido.planning.types import Verdict
from ido.service import runs as api_runs
from ido.service.auth import Scope
from ido.service.errors import ApiError
from ido.service.explorer import views
from ido.service.explorer.common import error_page, explanation_of, guarded, render, service_of

router = APIRouter(include_in_schema=False)

#: Recent runs offered in the form's pickers.
RECENT = 50


@dataclass
class Pair:
    """The decisions at one position of both runs, and why their choices differ."""

    index: int
    a: ExplainedDecision | None
    b: ExplainedDecision | None
    diverged: bool = False
    #: for each capability only one side chose: (who chose it, capability, the other's verdict, reason)
    why: list[tuple[str, str, str, str]] = field(default_factory=list)


def _verdict(decision: ExplainedDecision | None, capability: str) -> tuple[str, str]:
    if decision is None:
        return "", "the run had ended"
    alt = next((x for x in decision.alternatives if x.capability == capability), None)
    if alt is None:
        return "", "not weighed at this decision"
    return str(alt.verdict), alt.reason


def planned(decision: ExplainedDecision | None) -> set[str]:
    """Return what the decision chose: the steps it sent and every provider its plan kept (verdict chosen)."""
    if decision is None:
        return set()
    return set(decision.chosen) | {a.capability for a in decision.alternatives if a.verdict == Verdict.CHOSEN}


def pairs(a: Explanation, b: Explanation) -> list[Pair]:
    """Return the two runs' decisions paired by position, divergences marked and explained."""
    out = []
    for index, (da, db) in enumerate(zip_longest(a.decisions, b.decisions)):
        pair = Pair(index, da, db)
        chose_a, chose_b = planned(da), planned(db)
        action_a = da.action if da is not None else None
        action_b = db.action if db is not None else None
        pair.diverged = chose_a != chose_b or action_a != action_b
        for who, mine, other, theirs in (("A", chose_a, chose_b, db), ("B", chose_b, chose_a, da)):
            for capability in sorted(mine - other):
                verdict, reason = _verdict(theirs, capability)
                pair.why.append((who, capability, verdict, reason))
        out.append(pair)
    return out


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, a: Annotated[str, Query(max_length=200)] = "",
                 b: Annotated[str, Query(max_length=200)] = "") -> Response:
    """The comparison of runs `a` and `b` (the form alone when either is missing)."""
    if (denied := guarded(request, Scope.read)) is not None:
        return denied
    service = service_of(request)
    recent = service.store.list_runs(limit=RECENT)
    context: dict[str, Any] = {"section": "compare", "a": a, "b": b, "recent": recent, "result": None}
    if a and b:
        try:
            left = explanation_of(service, api_runs.find_run(service.store, a))
            right = explanation_of(service, api_runs.find_run(service.store, b))
        except ApiError as exc:
            return error_page(request, exc)
        matched = pairs(left, right)
        context["result"] = {
            "left": left, "right": right, "pairs": matched,
            "left_sentence": views.outcome_sentence(left), "right_sentence": views.outcome_sentence(right),
            "first": next((p.index for p in matched if p.diverged), None),
        }
    return render(request, "compare.html", context)
