"""The API's one error shape, and the handlers that turn every failure into it.

Every error body is `{"error": {"kind", "message", "problems": [...]}}`
(DESIGN.md section 6); `problems` carry `path`, `line`, `column`, `field`,
`message` as `ido validate` prints them. `install(app)` registers the
handlers: an `IdoError` becomes the 4xx its class means, a malformed body 400,
a body of the wrong shape 422, and anything else a 500 whose body names no
traceback (the traceback goes to the server's log only). Called by
`ido.service.app.create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ido.errors import (
    ExecutionError,
    IdoError,
    JournalCorrupted,
    JournalError,
    LeaseLost,
    NoAdmissiblePlan,
    Problem,
    ReferenceError_,
    ReplayMismatch,
    RunEnded,
    StalePlan,
    UsageError,
    ValidationError,
)

log = logging.getLogger("ido.service")

#: The HTTP status and error kind of each IdoError class; the first match (most specific) wins.
STATUSES: tuple[tuple[type[IdoError], int, str], ...] = (
    (ValidationError, 422, "invalid_declaration"),
    (ReferenceError_, 422, "unknown_reference"),
    (NoAdmissiblePlan, 409, "no_admissible_plan"),
    (StalePlan, 409, "stale_plan"),
    (ReplayMismatch, 409, "replay_mismatch"),
    (LeaseLost, 409, "lease_lost"),
    (RunEnded, 409, "run_ended"),
    (JournalCorrupted, 500, "journal_corrupted"),
    (JournalError, 503, "journal_unavailable"),
    (ExecutionError, 502, "execution_failed"),
    (UsageError, 400, "bad_request"),
)


class ApiError(Exception):
    """An error the service raises itself: its HTTP status, kind and message (and problems)."""

    def __init__(self, status: int, kind: str, message: str, *, problems: Sequence[dict[str, Any]] = (),
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        self.problems = list(problems)
        self.headers = headers
        self.extra = extra or {}
        super().__init__(message)


def body(kind: str, message: str, problems: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Return the error body `{"error": {"kind", "message", "problems"}}`."""
    return {"error": {"kind": kind, "message": message, "problems": list(problems)}}


def problem_json(problem: Problem) -> dict[str, Any]:
    """Return one located problem as the API shows it (the fields `ido validate` prints)."""
    return {"path": problem.path, "line": problem.line, "column": problem.column,
            "field": problem.field, "message": problem.message}


def status_of(exc: IdoError) -> tuple[int, str]:
    """Return the HTTP status and error kind for an IdoError (400 bad_request when nothing closer)."""
    for cls, status, kind in STATUSES:
        if isinstance(exc, cls):
            return status, kind
    return 400, "bad_request"


def install(app: FastAPI) -> None:
    """Register the handlers that give every failure the error shape; called by `create_app`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({**body(exc.kind, exc.message, exc.problems), **exc.extra},
                            status_code=exc.status, headers=exc.headers)

    @app.exception_handler(IdoError)
    async def ido_error(request: Request, exc: IdoError) -> JSONResponse:
        status, kind = status_of(exc)
        problems = [problem_json(p) for p in exc.problems] if isinstance(exc, ValidationError) else []
        if status >= 500:
            log.error("%s %s: %s: %s", request.method, request.url.path, kind, exc)
        return JSONResponse(body(kind, str(exc), problems), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            where = errors[0].get("ctx", {}).get("error", "") if errors else ""
            return JSONResponse(body("malformed_body", f"the body is not valid JSON: {where}".rstrip(": ")),
                                status_code=400)
        problems = [
            {"path": None, "line": None, "column": None,
             "field": ".".join(str(part) for part in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in errors
        ]
        return JSONResponse(body("invalid_request", f"{len(problems)} problem(s) in the request",
                                 problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(body(kind, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # the traceback goes to the server's log, never to the client
        log.exception("internal error in %s %s", request.method, request.url.path)
        return JSONResponse(body("internal", f"internal error ({type(exc).__name__}); see the "
                                             "server's log"), status_code=500)
