"""The registry over HTTP (read side) and the service's health.

`GET /capabilities|policies|intents` return the workspace's declarations with
the revision digest decisions record (`Workspace.revisions`: capabilities and
observers together, policies, each intent), `GET /{kind}/{name}` one of them.
The registry is the workspace `ido serve` loaded at start (`--workspace`);
changing it at runtime (PUT/DELETE) is not built yet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ido.digest import digest_models
from ido.service.auth import Scope
from ido.service.errors import ApiError
from ido.service.models import Health, Registry
from ido.service.state import Service, ServiceDep, require

router = APIRouter(prefix="/api/v1", tags=["registry"])

Kind = Literal["capabilities", "policies", "intents"]


def declarations(service: Service, kind: Kind) -> list[Any]:
    """Return the models of one kind, by name (capabilities include observers, as their revision does)."""
    ws = service.workspace
    if kind == "capabilities":
        return [*ws.capabilities.values(), *ws.observers.values()]
    if kind == "policies":
        return list(ws.policies.values())
    return list(ws.intents.values())


def _name(model: Any) -> str:
    return str(getattr(model, "name", None) or getattr(model, "intent", ""))


def _list(kind: Kind) -> Any:
    def listing(service: ServiceDep) -> JSONResponse:
        models = declarations(service, kind)
        return JSONResponse({"revision": digest_models(models),
                             "items": [m.model_dump(mode="json") for m in models]})

    listing.__doc__ = f"Every declaration in {kind} with the revision digest decisions made under them record."
    return listing


def _one(kind: Kind) -> Any:
    def one(name: str, service: ServiceDep) -> JSONResponse:
        models = {_name(m): m for m in declarations(service, kind)}
        if name not in models:
            known = ", ".join(sorted(models)[:20]) or "none"
            raise ApiError(404, "unknown_declaration", f"no entry of {kind} named {name!r}; known: {known}")
        return JSONResponse(models[name].model_dump(mode="json"))

    one.__doc__ = f"One declaration of {kind} by name; 404 naming the known ones when there is none."
    return one


for _kind in ("capabilities", "policies", "intents"):
    router.add_api_route(f"/{_kind}", _list(_kind), methods=["GET"], response_model=Registry,
                         dependencies=[require(Scope.read)], name=f"list_{_kind}")
    router.add_api_route(f"/{_kind}/{{name}}", _one(_kind), methods=["GET"],
                         dependencies=[require(Scope.read)], name=f"get_{_kind}")


@router.get("/health", response_model=Health, tags=["service"], dependencies=[require(Scope.read)])
def health(service: ServiceDep) -> JSONResponse:
    """The service is up: its journal, runs in each status, the workers holding leases, and each
    capability's health and circuit as the workers share them."""
    import time

    from ido.engine.shared_health import published_rows
    from ido.journal.postgres import redact_url

    store = service.store
    counts = Counter(r.status for r in store.list_runs())
    owners = sorted({lease.owner for lease in store.leases() if lease.owner})
    url = service.store_url
    shown = redact_url(url) if "://" in url and not url.startswith("sqlite") else url
    rows = store.health_rows()
    capabilities = {
        name: {**h.model_dump(mode="json"), "version": rows[name].version, "updated_at": rows[name].updated_at}
        for name, h in published_rows(rows, time.time()).items()
    }
    return JSONResponse({"status": "ok", "store": shown, "runs_by_status": dict(counts), "workers": owners,
                         "capabilities": capabilities})
