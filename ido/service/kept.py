"""Kept answers served before routing: a finished run's decisions and why-not, as bytes.

A finished run's journal never changes, so `ido.service.runs` builds its
answers once and keeps them in `Service.finished` under (kind, full run id).
`KeptAnswers`, an ASGI middleware installed by `create_app` inside the body
limit, answers a `GET /api/v1/runs/RUN/decisions` or
`/api/v1/runs/RUN/why-not/CAPABILITY` whose answer is kept and whose
credentials the guard accepts (`refusal`, the same check as the routes'),
with the bytes and headers the route would send, but without FastAPI's
routing and dependency solving, which cost more than the answer itself
(benchmarks/serve.py). Everything else (a refused credential, a run-id
prefix, a run in flight, a first read) goes on to the routes unchanged, so
errors keep their one shape.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from ido.service.auth import Scope
from ido.service.state import Service, refusal

#: The kind of a run's decision timeline (`GET /runs/{id}/decisions`).
DECISIONS = "decisions"

RUNS = "/api/v1/runs/"
_HEADERS = [(b"content-type", b"application/json")]


def why_not_kind(capability: str) -> str:
    """Return the kind of the answer `GET /runs/{id}/why-not/{capability}`."""
    return f"why-not {capability}"


def kept_key(path: str) -> tuple[str, str] | None:
    """Return the (kind, run id) a decisions or why-not path asks for, or None for any other path.

    Segments are those the routes match (`[^/]+`); a trailing slash or an
    empty segment is left to the router.
    """
    if not path.startswith(RUNS):
        return None
    parts = path[len(RUNS):].split("/")
    if not all(parts):
        return None
    if len(parts) == 2 and parts[1] == "decisions":
        return DECISIONS, parts[0]
    if len(parts) == 3 and parts[1] == "why-not":
        return why_not_kind(parts[2]), parts[0]
    return None


class KeptAnswers:
    """Answer GETs whose answer the service keeps, before routing; see the module docstring."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            key = kept_key(scope["path"])
            found = self.service.finished.get(key) if key is not None else None
            if found is not None and refusal(self.service, Scope.read, HTTPConnection(scope)) is None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(len(found)).encode()), *_HEADERS]})
                await send({"type": "http.response.body", "body": found})
                return
        await self.app(scope, receive, send)
