"""Approve, reject or cancel a run from its page, through the API's own endpoints.

    POST /runs/{id}/act/{approve|reject|cancel}   -> a fragment saying what happened

The button posts here and this module sends the same request to
`POST /api/v1/runs/{id}/{action}` inside the process (an ASGI call, with the
browser's credentials), so the explorer acts exactly as the API does, with
its checks and answers. An endpoint this service does not have (404 for the
route itself, e.g. cancel on a service without it) is said in words. Called
through `ido.service.explorer.router`.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ido.service.auth import SESSION_COOKIE, Scope
from ido.service.explorer.common import authorization, guarded, render

router = APIRouter(include_in_schema=False)

#: what each action did, as the page says it (a cancel is a request its worker acts on at its next decision).
ACTIONS = {"approve": "approved", "reject": "rejected", "cancel": "cancel requested"}


async def call_api(request: Request, method: str, path: str, body: Any = None) -> httpx.Response:
    """Return the app's own answer to `method path` sent with this request's credentials."""
    credentials = authorization(request)  # a bearer header, or the token a person signed in with
    headers = {"authorization": credentials} if credentials else {}
    cookies = {SESSION_COOKIE: request.cookies[SESSION_COOKIE]} if SESSION_COOKIE in request.cookies else {}
    transport = httpx.ASGITransport(app=request.app, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", cookies=cookies) as client:
        return await client.request(method, path, json=body, headers=headers)


@router.post("/runs/{run_id}/act/{action}", response_class=HTMLResponse)
async def act(request: Request, run_id: str, action: str) -> Response:
    """Approve, reject or cancel the run through the API; the answer as a line on the page."""
    if (denied := guarded(request, Scope.operate)) is not None:
        return denied
    if action not in ACTIONS:
        return render(request, "action.html", {"ok": False, "message": f"no action {action[:40]!r}; "
                                               "approve, reject or cancel"}, status=404)
    answer = await call_api(request, "POST", f"/api/v1/runs/{run_id}/{action}", {"by": "explorer"})
    if answer.status_code < 300:
        status = answer.json().get("status", "")
        return render(request, "action.html", {"ok": True, "message": f"{ACTIONS[action]}; the run is now {status}"})
    error = _error(answer)
    if answer.status_code in (404, 405) and error.get("kind") in ("", "not_found", None):
        return render(request, "action.html", {"ok": False, "message": f"this service cannot {action} runs yet"},
                      status=404)
    return render(request, "action.html", {"ok": False, "message": error.get("message") or answer.text[:300]},
                  status=answer.status_code)


def _error(answer: httpx.Response) -> dict[str, Any]:
    try:
        found = answer.json().get("error") or {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
