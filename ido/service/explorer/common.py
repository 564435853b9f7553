"""What every explorer page shares: the templates, the browser guard, the vendored files, the run reads.

`render(request, name, context, status)` renders a Jinja2 template of
`templates/`; `guarded(request, scope)` is the API's guard for a browser (the
session cookie of the login URL, or a loopback script), answering an HTML
page instead of JSON when refused; `explanation_of(service, info)` reads a
run's explanation once per journal state. Called by the page modules of
`ido.service.explorer`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from ido.explain import Explanation, explain
from ido.journal.base import TERMINAL_STATUSES, RunInfo
from ido.service import runs as api_runs
from ido.service.auth import SESSION_COOKIE, Scope
from ido.service.errors import ApiError
from ido.service.state import Service

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def when(timestamp: float) -> str:
    """Return an epoch time as `YYYY-MM-DD HH:MM:SS` in UTC (the pages say UTC)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["when"] = when


def compile_templates() -> int:
    """Compile every template now (Jinja2 keeps them); return how many. Called once at import."""
    names = templates.env.list_templates(extensions=["html"])
    for name in names:
        templates.env.get_template(name)
    return len(names)


# At import, i.e. while `ido serve` starts: compiling them all costs a first page ~0.2-0.9 s
# (benchmarks/explorer.py), which the person opening it would otherwise wait for.
compile_templates()

#: media types of the files under static/ (anything else is not served)
_MEDIA = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain", ".svg": "image/svg+xml",
          "": "text/plain"}

#: Content-Security-Policy of every page: nothing is loaded from anywhere but this service.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def static_files() -> dict[str, tuple[Path, str]]:
    """Return every servable static file: its path under static/ -> (file, media type)."""
    found: dict[str, tuple[Path, str]] = {}
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in _MEDIA:
            found[path.relative_to(STATIC).as_posix()] = (path, _MEDIA[path.suffix])
    return found


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """Return the template `name` rendered with `context` (and the request) as an HTML response."""
    response: HTMLResponse = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    return response


#: The HttpOnly cookie holding the token a person signed in with (`--token-file` mode only).
TOKEN_COOKIE = "ido_explorer_token"


def refused(request: Request, status: int, message: str) -> HTMLResponse:
    """Return the page telling a browser it may not see this, and how to get in."""
    service: Service = request.app.state.service
    return render(request, "refused.html", {"message": message, "tokens": bool(service.guard.tokens)},
                  status=status)


def authorization(request: Request) -> str | None:
    """Return the request's credentials: its Authorization header, or the signed-in token's cookie."""
    header = request.headers.get("authorization")
    if header:
        return header
    token = request.cookies.get(TOKEN_COOKIE)
    return f"Bearer {token}" if token else None


def denial(request: Request, needed: Scope) -> tuple[int, str] | None:
    """Return None when the request may act with `needed`, else the status and message refusing it."""
    service: Service = request.app.state.service
    denied = service.guard.check(
        needed, client=request.client.host if request.client else None,
        authorization=authorization(request), cookie=request.cookies.get(SESSION_COOKIE),
        origin=request.headers.get("origin"), host=request.headers.get("host"),
    )
    return None if denied is None else (denied.status, denied.message)


def guarded(request: Request, needed: Scope) -> HTMLResponse | None:
    """Return None when the request may act with `needed`, else the HTML page refusing it."""
    denied = denial(request, needed)
    return None if denied is None else refused(request, *denied)


def error_page(request: Request, error: ApiError) -> HTMLResponse:
    """Return an API error (unknown run, bad filter ...) as an HTML page with its status."""
    return render(request, "error.html", {"kind": error.kind, "message": error.message,
                                          "problems": error.problems}, status=error.status)


def service_of(request: Request) -> Service:
    """Return the app's `Service`."""
    service: Service = request.app.state.service
    return service


def page_run(request: Request, run_id: str, needed: Scope = Scope.read) -> tuple[Service, RunInfo] | HTMLResponse:
    """Return the service and the run a page is about (found by id or unique prefix), or the
    page to answer instead: refused (the guard) or not found. Called by every run page."""
    if (denied := guarded(request, needed)) is not None:
        return denied
    service = service_of(request)
    try:
        return service, api_runs.find_run(service.store, run_id)
    except ApiError as exc:
        return error_page(request, exc)


class _Explanations:
    """A small LRU of parsed explanations of finished runs (whose journal no longer changes)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, str, float], Explanation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, service: Service, info: RunInfo) -> Explanation:
        key = (id(service), info.run_id, info.updated_at)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = explain(service.store, info.run_id)
        if info.status in TERMINAL_STATUSES:
            with self._lock:
                self._items[key] = made
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return made


_explanations = _Explanations()


def explanation_of(service: Service, info: RunInfo) -> Explanation:
    """Return the run's explanation, built once for a finished run."""
    return _explanations.get(service, info)


class Invalid(Exception):
    """A form the explorer cannot act on: a message and the located problems (a 422 page)."""

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def form_fields(raw: bytes, most: int = 20) -> dict[str, str]:
    """Return a urlencoded form's fields (the last value of each); Invalid beyond `most` fields."""
    try:
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=most)
    except ValueError:
        raise Invalid(f"the form has more than {most} fields") from None
    return {k: v[-1] for k, v in fields.items()}
