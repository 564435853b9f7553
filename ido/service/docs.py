"""The interactive API docs from vendored Swagger UI, and the one-time browser login.

FastAPI's own docs page loads Swagger UI from a CDN; many sites (and this
one) have no internet, so the files ship in `ido/service/static/`
(swagger-ui-dist, Apache-2.0, see VENDORED.txt) and `/api/v1/docs` serves
them. `/login?secret=...` is the one-time URL `ido serve` prints when no
token file is given: it sets the HttpOnly session cookie and sends the
browser to the explorer (`/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ido.service.auth import SESSION_COOKIE
from ido.service.errors import ApiError
from ido.service.state import ServiceDep

STATIC = Path(__file__).parent / "static"
#: Files of the docs page the service serves, and their media types.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "swagger-ui-LICENSE": "text/plain"}

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ido API</title>
<link rel="stylesheet" href="/api/v1/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/v1/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#ui", deepLinking: true});</script>
</body></html>
"""


@router.get("/api/v1/docs")
def docs() -> HTMLResponse:
    """The Swagger UI page, every asset served by this service."""
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})


@router.get("/api/v1/static/{name}")
def asset(name: str) -> Response:
    """One vendored file of the docs page; 404 for anything else."""
    if name not in ASSETS:
        raise ApiError(404, "not_found", f"no asset {name[:80]!r}")
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name],
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/")
def root() -> RedirectResponse:
    """Send browsers to the docs page."""
    return RedirectResponse("/api/v1/docs")


@router.get("/login")
def login(service: ServiceDep, secret: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Trade the one-time login secret for the HttpOnly session cookie; 403 once used or when wrong."""
    if not service.guard.login(secret):
        raise ApiError(403, "forbidden", "this login link is used or wrong; restart `ido serve` for a new one")
    response = RedirectResponse("/", status_code=303)  # the explorer's runs list
    response.set_cookie(SESSION_COOKIE, service.guard.session, httponly=True, samesite="strict", path="/")
    return response
