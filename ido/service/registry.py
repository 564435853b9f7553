"""The registry over HTTP: read, register, replace and delete declarations at runtime; the service's health.

    GET    /api/v1/{capabilities|policies|intents}         the declarations of the newest revision
    GET    /api/v1/{capabilities|policies|intents}/{name}  one of them
    PUT    /api/v1/{capabilities|policies|intents}/{name}  body: one declaration, YAML or JSON
    DELETE /api/v1/{capabilities|policies|intents}/{name}

The registry lives in the store (`ido.journal.registry`, `ido.registry`): every
change is a new numbered revision, which workers of every process on the
store adopt at their next decision. Every answer carries `ETag: "N"`, the
registry revision it reflects; a write with `If-Match: "N"` is refused with
409 (and the current revision) when the registry moved past N. A PUT body is
checked as `ido validate FILE` checks a file (`ido.loading.single`): 422 with
located problems (path, line, column, field, message) and nothing changed;
the name in the URL must be the declaration's. A DELETE that would leave a
problem `ido validate` reports — an intent whose goal nothing else produces, a
policy naming the capability — is refused with 409 and those problems: delete
or change what needs it first. Writes need the `admin` scope (they change what
every run may do); reads need `read`. `/capabilities` holds capabilities and
observers: one name, one declaration.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ido.digest import digest_models
from ido.errors import Problem, RegistryConflict, ValidationError
from ido.service.auth import Scope
from ido.service.errors import ApiError, problem_json
from ido.service.models import Health, Registry, RegistryChanged
from ido.service.state import Service, ServiceDep, require
from ido.workspace import KINDS

router = APIRouter(prefix="/api/v1", tags=["registry"])

Kind = Literal["capabilities", "policies", "intents"]

#: The declaration kinds (workspace tables) of each collection.
TABLES: dict[str, tuple[str, ...]] = {
    "capabilities": ("capability", "observer"),
    "policies": ("policy",),
    "intents": ("intent",),
}

#: Content types a PUT body may have (YAML when none is given).
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain", ""}
JSON_TYPES = {"application/json"}

#: How often a PUT without If-Match re-checks and retries when another write landed meanwhile.
_RETRIES = 5


def declarations(service: Service, kind: Kind, ws: Any = None) -> list[Any]:
    """Return the models of one collection (capabilities include observers, as their revision does)."""
    ws = ws if ws is not None else service.declarations()
    return [model for table in TABLES[kind] for model in ws.table(table).values()]


def _name(model: Any) -> str:
    return str(getattr(model, "name", None) or getattr(model, "intent", ""))


def _etag(number: int) -> dict[str, str]:
    return {"ETag": f'"{number}"'}


def _if_match(request: Request) -> int | None:
    """Return the revision number `If-Match` names (None: absent or `*`); 400 when it names none."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise ApiError(400, "bad_if_match",
                       f"If-Match must be a registry revision as the ETag gives it (e.g. \"3\"), not {raw[:40]!r}")
    return int(text)


def _conflict(exc: RegistryConflict) -> ApiError:
    return ApiError(409, "registry_conflict", str(exc), headers=_etag(exc.current),
                    extra={"current": exc.current})


def _list(kind: Kind) -> Any:
    def listing(service: ServiceDep) -> JSONResponse:
        live = service.registry()
        ws = live.workspace()
        models = declarations(service, kind, ws)
        return JSONResponse({"revision": digest_models(models), "registry": live.number,
                             "items": [m.model_dump(mode="json") for m in models]}, headers=_etag(live.number))

    listing.__doc__ = (f"Every declaration in {kind}: the revision digest decisions made under them record, "
                       "and the registry revision number (also the ETag).")
    return listing


def _one(kind: Kind) -> Any:
    def one(name: str, service: ServiceDep) -> JSONResponse:
        live = service.registry()
        models = {_name(m): m for m in declarations(service, kind, live.workspace())}
        if name not in models:
            known = ", ".join(sorted(models)[:20]) or "none"
            raise ApiError(404, "unknown_declaration", f"no entry of {kind} named {name!r}; known: {known}",
                           headers=_etag(live.number))
        return JSONResponse(models[name].model_dump(mode="json"), headers=_etag(live.number))

    one.__doc__ = f"One declaration of {kind} by name (ETag: the registry revision); 404 naming the known ones."
    return one


def _put(kind: Kind) -> Any:
    async def put(name: str, request: Request, service: ServiceDep) -> JSONResponse:
        expect = _if_match(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in YAML_TYPES | JSON_TYPES:
            raise ApiError(415, "unsupported_media_type",
                           f"a declaration is YAML (application/yaml) or JSON (application/json), not {media!r}")
        body = await request.body()
        # validation and the store are blocking: off the event loop
        return await asyncio.to_thread(register, service, kind, name, body, media in JSON_TYPES, expect)

    put.__doc__ = (f"Register or replace one declaration of {kind} (body: YAML or JSON, as in a file). "
                   "422 with located problems and nothing changed when it is wrong; 409 when If-Match is stale.")
    return put


#: What a declaration may be named (`ido.model.values.Name`).
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,199}")


def register(service: Service, kind: Kind, name: str, body: bytes, is_json: bool, expect: int | None) -> JSONResponse:
    """Check `body` and commit it as the next registry revision; return the answer (see the module docstring)."""
    from ido.journal.registry import RegistryChange
    from ido.loading.single import read_declaration
    from ido.registry import content_of

    if not NAME.fullmatch(name):
        # the name becomes the path problems are located in: refuse what no declaration may be named
        message = (f"{name!r} is not a declaration name: use letters, digits, '.', '_' and '-', "
                   "starting with a letter or digit, at most 200 characters")
        raise ApiError(422, "invalid_declaration", message, problems=[
            {"path": None, "line": None, "column": None, "field": "name", "message": message}])
    live = service.registry()
    path = f"{kind}/{name}.{'json' if is_json else 'yaml'}"
    for attempt in range(_RETRIES):
        ws = live.workspace(fresh=True)
        seen = live.number
        _expected(expect, seen)
        try:
            model, _ = read_declaration(body, path=path, collection=kind, name=name, workspace=ws, is_json=is_json)
        except ValidationError as exc:
            count = len(exc.problems)
            raise ApiError(422, "invalid_declaration",
                           f"{count} problem{'s' if count != 1 else ''} found; nothing was changed",
                           problems=[problem_json(p) for p in exc.problems]) from None
        table = KINDS[type(model)]
        content = content_of(model)
        changes = [RegistryChange(kind=table, name=name, content=content)]
        changes += [RegistryChange(kind=t, name=name) for t in TABLES[kind] if t != table and name in ws.table(t)]
        existed = any(name in ws.table(t) for t in TABLES[kind])
        try:
            head = service.store.commit_registry(changes, expect=seen)
        except RegistryConflict as exc:
            if expect is not None or attempt == _RETRIES - 1:
                raise _conflict(exc) from None
            continue  # another write landed between our check and commit: check again against it
        live.workspace(fresh=True)
        answer = {"registry": head.number, "digest": head.digest, "kind": table, "name": name,
                  "changed": head.number != seen, "item": model.model_dump(mode="json")}
        return JSONResponse(answer, status_code=200 if existed else 201, headers=_etag(head.number))
    raise AssertionError("unreachable")  # the loop returns or raises


def _expected(expect: int | None, seen: int) -> None:
    """Raise the 409 of a stale If-Match: the registry is no longer at the revision the caller read."""
    if expect is not None and expect != seen:
        raise _conflict(RegistryConflict(
            f"the registry is at revision {seen}, not {expect}: it changed since you read it; "
            "read it again and retry", current=seen))


def _delete(kind: Kind) -> Any:
    def delete(name: str, request: Request, service: ServiceDep) -> JSONResponse:
        return unregister(service, kind, name, _if_match(request))

    delete.__doc__ = (f"Delete one declaration of {kind}. 409 naming what still needs it (as `ido validate` "
                      "would report after), or when If-Match is stale; 404 when there is none.")
    return delete


def unregister(service: Service, kind: Kind, name: str, expect: int | None) -> JSONResponse:
    """Delete a declaration as the next registry revision unless something still needs it."""
    from ido.journal.registry import RegistryChange

    live = service.registry()
    ws = live.workspace(fresh=True)
    seen = live.number
    _expected(expect, seen)
    tables = [t for t in TABLES[kind] if name in ws.table(t)]
    if not tables:
        known = ", ".join(sorted(_name(m) for m in declarations(service, kind, ws))[:20]) or "none"
        raise ApiError(404, "unknown_declaration", f"no entry of {kind} named {name!r}; known: {known}",
                       headers=_etag(seen))
    broken = _needed(ws, tables, name)
    if broken:
        raise ApiError(409, "declaration_in_use",
                       f"{kind[:-1] if kind != 'policies' else 'policy'} {name!r} is still needed: "
                       f"{len(broken)} problem(s) would follow; change or delete what needs it first",
                       problems=[problem_json(p) for p in broken], headers=_etag(seen))
    try:
        head = service.store.commit_registry([RegistryChange(kind=t, name=name) for t in tables], expect=seen)
    except RegistryConflict as exc:
        raise _conflict(exc) from None
    live.workspace(fresh=True)
    return JSONResponse({"registry": head.number, "digest": head.digest, "kind": tables[0], "name": name,
                         "changed": True, "item": None}, headers=_etag(head.number))


def _needed(ws: Any, tables: list[str], name: str) -> list[Problem]:
    """Return the problems the workspace would have without `name` that it does not have now."""
    from ido.workspace import Workspace

    without = Workspace(ws.root)
    for table in ("capability", "observer", "policy", "intent", "scenario"):
        without.table(table).update({k: v for k, v in ws.table(table).items()
                                     if not (table in tables and k == name)})
    without.origins.update({k: v for k, v in ws.origins.items() if not (k[0] in tables and k[1] == name)})
    before = Counter((p.field, p.message) for p in ws.problems())
    found = []
    for problem in without.problems():
        key = (problem.field, problem.message)
        if before[key] > 0:
            before[key] -= 1
        else:
            found.append(problem)
    return found


for _kind in ("capabilities", "policies", "intents"):
    router.add_api_route(f"/{_kind}", _list(_kind), methods=["GET"], response_model=Registry,
                         dependencies=[require(Scope.read)], name=f"list_{_kind}")
    router.add_api_route(f"/{_kind}/{{name}}", _one(_kind), methods=["GET"],
                         dependencies=[require(Scope.read)], name=f"get_{_kind}")
    router.add_api_route(
        f"/{_kind}/{{name}}", _put(_kind), methods=["PUT"], response_model=RegistryChanged,
        dependencies=[require(Scope.admin)], name=f"put_{_kind}",
        openapi_extra={"requestBody": {"required": True, "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}}}}},
        responses={409: {"description": "If-Match is stale"}, 413: {"description": "body too large"},
                   415: {"description": "neither YAML nor JSON"},
                   422: {"description": "the declaration is wrong; nothing changed"}},
    )
    router.add_api_route(f"/{_kind}/{{name}}", _delete(_kind), methods=["DELETE"], response_model=RegistryChanged,
                         dependencies=[require(Scope.admin)], name=f"delete_{_kind}",
                         responses={409: {"description": "still needed, or If-Match is stale"}})


@router.get("/health", response_model=Health, tags=["service"], dependencies=[require(Scope.read)])
def health(service: ServiceDep) -> JSONResponse:
    """The service is up: its journal, runs in each status, the workers holding leases, and each
    capability's health and circuit as the workers share them."""
    import time

    from ido.engine.shared_health import published_rows
    from ido.journal.postgres import redact_url

    store = service.store
    counts = store.count_runs()
    # held now: a lease row outlives its run, and an expired one's owner holds nothing
    owners = sorted({lease.owner for lease in store.leases(live_at=time.time()) if lease.owner})
    url = service.store_url
    shown = redact_url(url) if "://" in url and not url.startswith("sqlite") else url
    rows = store.health_rows()
    capabilities = {
        name: {**h.model_dump(mode="json"), "version": rows[name].version, "updated_at": rows[name].updated_at}
        for name, h in published_rows(rows, time.time()).items()
    }
    return JSONResponse({"status": "ok", "store": shown, "runs_by_status": dict(counts), "workers": owners,
                         "capabilities": capabilities})
