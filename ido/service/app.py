"""The ido HTTP API as a FastAPI app: `create_app(service)`, served by `ido serve` on uvicorn.

The routes are in `runs` (submit, list, get, decisions, why-not, approve,
reject, replay), `events` (server-sent events of a run), `plans` (plans and
simulations), `registry` (declarations and health), `docs` (the vendored
docs page and the browser login) and `explorer` (the decision explorer's pages at `/`). OpenAPI 3.1 is at `/api/v1/openapi.json`.
Errors have one shape (`ido.service.errors`); bodies over the limit get 413
(`ido.service.limits`); kept answers of finished runs are sent before routing
(`ido.service.kept`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from ido.service import docs, errors, events, explorer, plans, registry, runs
from ido.service.kept import KeptAnswers
from ido.service.limits import BodyLimit
from ido.service.state import Service


def _version() -> str:
    try:
        return version("ido")
    except PackageNotFoundError:
        return "0"


def create_app(service: Service) -> FastAPI:
    """Return the API app serving `service`; the journal is closed when the app shuts down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="ido", version=_version(), lifespan=lifespan,
        description="Intent-driven orchestration: submit intents, read the decisions and why.",
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.service = service
    errors.install(app)
    # the explorer first: its `/` (the runs list) takes the place of docs' redirect to the API docs
    app.include_router(explorer.router)
    for module in (runs, events, plans, registry, docs):
        app.include_router(module.router)
    # added first, so it runs inside the body limit: a finished run's kept answer, before routing
    app.add_middleware(KeptAnswers, service=service)
    app.add_middleware(BodyLimit, limit=service.max_body_bytes)
    return app
