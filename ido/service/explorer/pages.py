"""The explorer's runs list and run page, with the run page's fragments (htmx swaps them in).

    GET /                                   runs list: filters status/intent/capability/verdict in the URL,
                                            paged with the API's cursor
    GET /runs/{id}                          the run page (outcome sentence, moves, faults, timeline ...)
    GET /runs/{id}/live                     the live part of the run page (the SSE listener refreshes it)
    GET /runs/{id}/decisions/{seq}          one decision's alternatives (loaded when opened, for long runs)
    GET /runs/{id}/why-not?capability=C     the why-not answer, rendered
    GET /ui/static/{path}                   vendored JavaScript and the explorer's own CSS/JS

The list is the API's own `list_runs` (same filters, same cursor); the run
page reads the run's explanation (`ido.explain`). Called by the app through
`ido.service.explorer.router`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ido.errors import UsageError
from ido.explain import ExplainedDecision, Explanation, why_not
from ido.journal.base import TERMINAL_STATUSES, RunStatus
from ido.planning.types import Verdict
from ido.service import runs as api_runs
from ido.service.auth import Scope
from ido.service.errors import ApiError
from ido.service.explorer import views
from ido.service.explorer.common import (
    error_page,
    explanation_of,
    guarded,
    page_run,
    render,
    service_of,
    static_files,
)
from ido.service.state import MAX_PAGE, Service

router = APIRouter(include_in_schema=False)

#: Runs on one page of the list.
PAGE_SIZE = 50
#: A run with more alternatives than this (over all decisions) loads each decision's when opened.
INLINE_ALTERNATIVES = 2000
#: Most names a filter's suggestion list offers.
SUGGESTIONS = 500
#: Decisions opened at first render of a long run (the rest open on demand).
OPEN_DECISIONS = 12

STATUSES: tuple[str, ...] = get_args(RunStatus)
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)

_FILES = static_files()


@router.get("/ui/static/{path:path}")
def static(path: str) -> Response:
    """A vendored or explorer file under static/; 404 for anything else (no path is built from input)."""
    found = _FILES.get(path)
    if found is None:
        raise ApiError(404, "not_found", f"no explorer asset {path[:80]!r}")
    file, media = found
    return Response(file.read_bytes(), media_type=media, headers={"Cache-Control": "public, max-age=3600"})


#: (run id, its row's update time) -> whether it switched providers, for finished runs (bounded)
_SWITCHED: dict[tuple[str, float], bool] = {}
_SWITCHED_SIZE = 10_000
_SWITCHED_LOCK = threading.Lock()  # pages are rendered on FastAPI's thread pool


def _switched(service: Service, row: dict[str, Any]) -> bool:
    """Return whether a decision of the run switched a provider (its records' structured `move`)."""
    key = (str(row["run_id"]), float(row["updated_at"]))
    with _SWITCHED_LOCK:
        found = _SWITCHED.get(key)
    if found is None:
        events = service.store.events(run_id=key[0], kinds=["decision"])
        found = any(e.data.get("move") == "switch" for e in events)
        if row["status"] in TERMINAL_STATUSES:  # a finished run's journal no longer changes
            with _SWITCHED_LOCK:
                if len(_SWITCHED) >= _SWITCHED_SIZE:
                    _SWITCHED.pop(next(iter(_SWITCHED)))
                _SWITCHED[key] = found
    return found


@router.get("/", response_class=HTMLResponse)
def runs_list(
    request: Request,
    status: Annotated[str, Query(max_length=40)] = "",
    intent: Annotated[str, Query(max_length=200)] = "",
    capability: Annotated[str, Query(max_length=200)] = "",
    verdict: Annotated[str, Query(max_length=40)] = "",
    cursor: Annotated[str, Query(max_length=400)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE_SIZE,
) -> Response:
    """The runs list, newest first; filters, the page size and the page's cursor are in the URL."""
    if (denied := guarded(request, Scope.read)) is not None:
        return denied
    service = service_of(request)
    filters = {"status": status, "intent": intent, "capability": capability, "verdict": verdict}
    problems = []
    if status and status not in STATUSES:
        problems.append({"field": "status", "message": f"status {status[:40]!r} is none of {', '.join(STATUSES)}"})
    if verdict and verdict not in VERDICTS:
        problems.append({"field": "verdict", "message": f"verdict {verdict[:40]!r} is none of {', '.join(VERDICTS)}"})
    if problems:
        return error_page(request, ApiError(400, "bad_filter", "a filter has a value the journal never holds",
                                            problems=problems))
    try:
        answer = api_runs.list_runs(
            service, status=status or None, intent=intent or None,  # type: ignore[arg-type]
            capability=capability or None, verdict=Verdict(verdict) if verdict else None,
            limit=limit, cursor=cursor or None, before=None,
        )
    except ApiError as exc:
        return error_page(request, exc)
    page = json.loads(bytes(answer.body))
    rows = [{**r, "switched": _switched(service, r)} for r in page["runs"]]
    declared = service.declarations()  # the registry's newest revision
    kept: dict[str, Any] = {k: v for k, v in filters.items() if v}
    if limit != PAGE_SIZE:
        kept["limit"] = limit
    next_url = "/?" + urlencode({**kept, "cursor": page["next_cursor"]}) if page["next_cursor"] else None
    return render(request, "runs.html", {
        "rows": rows, "filters": filters, "statuses": STATUSES, "verdicts": VERDICTS,
        "next_url": next_url, "first_url": "/?" + urlencode(kept) if cursor else None,
        # suggestions only: a registry of thousands would swell every page
        "intents": sorted(declared.intents)[:SUGGESTIONS],
        "capabilities": sorted(declared.capabilities)[:SUGGESTIONS],
        "corrupted": page.get("corrupted", []),
    })


def run_context(service: Service, explanation: Explanation) -> dict[str, Any]:
    """Return what the run page's templates need from the explanation."""
    decisions = explanation.decisions
    total = sum(len(d.alternatives) for d in decisions)
    lazy = total > INLINE_ALTERNATIVES
    last = decisions[-1] if decisions else None
    # the why-not box suggests what the run weighed (a registry can hold thousands more)
    capabilities = sorted({a.capability for d in decisions for a in d.alternatives} | {c for d in decisions for c in d.chosen})
    return {
        "run": explanation, "sentence": views.outcome_sentence(explanation),
        "switched": views.switched(explanation), "lazy": lazy, "open_decisions": OPEN_DECISIONS,
        "live": explanation.status not in TERMINAL_STATUSES,
        "waiting": explanation.status == "waiting_approval",
        "remaining": last.remaining if last is not None else None,
        "duration_s": views.duration_s(explanation),
        "capabilities": capabilities,
        "last_event": max((d.event_seq for d in decisions), default=0),
        "entries": [_entry(d, decisions[i - 1] if i else None, include=not lazy or i < OPEN_DECISIONS)
                    for i, d in enumerate(decisions)],
    }


def _entry(decision: ExplainedDecision, previous: ExplainedDecision | None, *, include: bool) -> dict[str, Any]:
    return {"d": decision, "groups": views.role_groups(decision, previous) if include else None,
            "alternatives": len(decision.alternatives)}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    """The run page: outcome sentence, moves, faults, remaining budget, why-not, what-if, timeline."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    explanation = explanation_of(service, info)
    from ido.service.explorer.whatif import declarations_for

    weighed = {a.capability for d in explanation.decisions for a in d.alternatives}
    declarations = declarations_for(service, weighed)
    # the what-if opens on the policy that decided most in this run (e.g. the GDPR one of the demo)
    decided = Counter(p for d in explanation.decisions for a in d.alternatives for p in a.policies)
    picked = next((f"policy:{name}" for name, _ in decided.most_common()
                   if any(d["kind"] == "policy" and d["name"] == name for d in declarations)), None)
    first = next((d for d in declarations if f"{d['kind']}:{d['name']}" == picked),
                 declarations[0] if declarations else None)
    return render(request, "run.html", {**run_context(service, explanation), "declarations": declarations,
                                        "picked": first})


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def run_live(request: Request, run_id: str) -> Response:
    """The live part of the run page (header, actions, timeline), re-read from the journal."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    explanation = explanation_of(service, info)
    return render(request, "run_live.html", run_context(service, explanation))


@router.get("/runs/{run_id}/decisions/{seq}", response_class=HTMLResponse)
def decision_body(request: Request, run_id: str, seq: int) -> Response:
    """One decision's alternatives grouped by role (a long run's page loads them when opened)."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    explanation = explanation_of(service, info)
    decisions = explanation.decisions
    index = next((i for i, d in enumerate(decisions) if d.seq == seq), None)
    if index is None:
        return error_page(request, ApiError(404, "unknown_decision",
                                            f"run {explanation.run_id} has no decision #{seq}"))
    entry = _entry(decisions[index], decisions[index - 1] if index else None, include=True)
    return render(request, "decision_body.html", {"run": explanation, "entry": entry})


@router.get("/runs/{run_id}/why-not", response_class=HTMLResponse)
def why_not_box(request: Request, run_id: str,
                capability: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Why a capability was (not) used in the run, decision by decision, rendered."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    name = capability.strip()
    if not name:
        return render(request, "why_not.html", {"answer": None, "error": "name a capability, e.g. payment.paypal-us"},
                      status=422)
    try:
        answer = why_not(service.store, info.run_id, name)
    except UsageError as exc:
        return render(request, "why_not.html", {"answer": None, "error": str(exc)}, status=422)
    return render(request, "why_not.html", {"answer": answer, "error": None, "run_id": info.run_id})
