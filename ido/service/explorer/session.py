"""Signing a browser in with a token, and the run's event stream for the page.

    GET  /sign-in                 a form for a token of `--token-file` (when the service has tokens)
    POST /sign-in                 checks the token with the API's guard; sets it in an HttpOnly,
                                  SameSite=Strict cookie and goes to the runs list (401 page if unknown)
    POST /sign-out                forgets it
    GET  /runs/{id}/events        the API's server-sent events of the run (`ido.service.events.stream`),
                                  behind the explorer's guard, which also reads that cookie

A browser sends no bearer header, so with `--token-file` the explorer keeps
the token a person typed in a cookie only this site receives and uses it as
the request's credentials (`common.authorization`). The token is never put in
a page, a URL or a log. Without tokens, the one-time login URL is the way in.
Called through `ido.service.explorer.router`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ido.service import events as api_events
from ido.service.auth import Scope
from ido.service.explorer.common import (
    TOKEN_COOKIE,
    Invalid,
    form_fields,
    page_run,
    render,
    service_of,
)

router = APIRouter(include_in_schema=False)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    """The token form (the service has tokens), or how to sign in without them."""
    return render(request, "sign_in.html", {"tokens": bool(service_of(request).guard.tokens), "error": None})


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Keep the token in the cookie when the guard knows it; the runs list next."""
    service = service_of(request)
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.headers.get("host"):
        # another site's page cannot sign this browser in (with its own token)
        return render(request, "sign_in.html", {"tokens": bool(service.guard.tokens),
                                                "error": "sign in from this service's own page"}, status=403)
    try:
        token = form_fields(await request.body(), most=4).get("token", "").strip()
    except Invalid as exc:
        return render(request, "sign_in.html", {"tokens": True, "error": exc.message}, status=422)
    denied = service.guard.check(Scope.read, client=request.client.host if request.client else None,
                                 authorization=f"Bearer {token}", cookie=None, origin=None, host=None)
    if not service.guard.tokens or not token or len(token) > 400 or denied is not None:
        message = "this service has no tokens; open the login URL it printed" if not service.guard.tokens \
            else "unknown token"  # the token itself is never echoed
        return render(request, "sign_in.html", {"tokens": bool(service.guard.tokens), "error": message},
                      status=401)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


@router.post("/sign-out")
def sign_out() -> Response:
    """Forget the signed-in token."""
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


@router.get("/runs/{run_id}/events")
def run_events(request: Request, run_id: str,
               after: Annotated[int, Query(ge=0)] = 0) -> Response:
    """The run's journal events as server-sent events, as `GET /api/v1/runs/{id}/events` sends them."""
    if isinstance(found := page_run(request, run_id), HTMLResponse):
        return found
    service, info = found
    last = request.headers.get("last-event-id", "")
    start = int(last) if last.isdigit() else after
    return StreamingResponse(api_events.stream(service, info.run_id, start, api_events.MAX_STREAM_S),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
