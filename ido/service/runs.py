"""Runs over HTTP: submit, list, get, decisions (= explain), why-not, approve, reject, cancel, replay.

Every body is what the matching CLI `--json` prints, built by the same
functions (`queued_run`, `explain`, `why_not`, `replay`, `answer`). A
submitted run is queued for `ido worker` processes (or the workers `ido
serve --workers N` runs). Most endpoints are plain functions: FastAPI runs
them on its thread pool, where the journal's blocking reads belong. The hot
ones are async and keep the loop free all the same: `submit` awaits the
journal's group commit, and `decisions` / `why-not` serve a finished run's
kept answer (built once, on a pool thread; see `ido.service.kept`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from ido.digest import digest
from ido.errors import UsageError
from ido.explain import Explanation, WhyNot, explain, why_not
from ido.journal.base import TERMINAL_STATUSES, RunInfo, RunStatus, Store
from ido.planning.types import Verdict
from ido.replay import ReplayReport, replay
from ido.service.auth import Scope
from ido.service.errors import ApiError
from ido.service.kept import DECISIONS, why_not_kind
from ido.service.models import Answer, ReplayRequest, RunRequest, RunsPage, Submitted
from ido.service.state import MAX_PAGE, Service, ServiceDep, require

router = APIRouter(prefix="/api/v1", tags=["runs"])

#: Most runs one page of `GET /runs?capability=&verdict=` reads the decisions of.
SCAN_LIMIT = 2000

#: The key of a queued run's options recording the request an Idempotency-Key was first used for.
IDEMPOTENCY = "idempotency"

#: Longest an answer about a run in flight is served again while its row has not moved (seconds).
LIVE_S = 2.0

#: Builds an answer about a run as JSON bytes (run on a pool thread: it reads the journal).
Builder = Callable[[Store, RunInfo], bytes]


def find_run(store: Store, run_id: str) -> RunInfo:
    """Return the run's row; 404 when no run has that id (or unique prefix)."""
    try:
        return store.get_run(run_id=run_id)
    except UsageError as exc:
        raise ApiError(404, "unknown_run", str(exc)) from None


def run_id_for_key(key: str) -> str:
    """Return the run id an Idempotency-Key stands for: the same key always names the same run."""
    return hashlib.sha256(b"ido-idempotency-key\0" + key.encode()).hexdigest()[:16]


@router.post("/runs", status_code=202, response_model=Submitted, dependencies=[require(Scope.operate)],
             responses={409: {"description": "the Idempotency-Key was used for another request"}})
async def submit(body: RunRequest, service: ServiceDep,
                 idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
    """Queue a run of the intent for a worker; 202 with its id. A retried Idempotency-Key returns the same run."""
    # async: the append awaits the journal's group commit on the loop, so concurrent submits share
    # one commit with no event loop of their own; the row is built on a pool thread, since the
    # registry's newest revision may need a journal read and a reload. The run id is derived
    # from the key, so retries to any `ido serve` on this journal name one run; the
    # check-then-queue is serialised within this process (two services racing on the very same
    # key at the same instant could both queue it; the later row would win).
    request = body.model_dump(mode="json", by_alias=True)
    options: dict[str, Any] = {"strategy": body.strategy, "workspace": str(service.workspace_root)}
    store = await service.opened()
    if idempotency_key is None:
        info = await asyncio.to_thread(_queued, service, body, options, None)
        await store.append([], run=info)
        return JSONResponse({"run_id": info.run_id, "status": info.status}, status_code=202)
    run_id = run_id_for_key(idempotency_key)
    async with service.submit_lock:
        existing = await asyncio.to_thread(_existing, store, run_id)
        if existing is None:
            options[IDEMPOTENCY] = {"request": digest(request)}
            info = await asyncio.to_thread(_queued, service, body, options, run_id)
            await store.append([], run=info)
            return JSONResponse({"run_id": info.run_id, "status": info.status}, status_code=202)
    if (existing.options.get(IDEMPOTENCY) or {}).get("request") != digest(request):
        raise ApiError(409, "idempotency_key_reused",
                       "this Idempotency-Key was used for a different request; use a new key")
    return JSONResponse({"run_id": existing.run_id, "status": existing.status}, status_code=202)


def _queued(service: Service, body: RunRequest, options: dict[str, Any], run_id: str | None) -> RunInfo:
    """Return the queued row of `body`'s run under the registry's newest revision (a pool thread calls it)."""
    from ido.engine.worker import queued_run

    return queued_run(service.declarations(), body.intent, inputs=body.inputs, set_facts=body.set_facts,
                      options=options, run_id=run_id)


def _existing(store: Store, run_id: str) -> RunInfo | None:
    try:
        info = store.get_run(run_id=run_id)
    except UsageError:
        return None
    return info if info.run_id == run_id else None


def encode_cursor(info: RunInfo) -> str:
    """Return the opaque cursor after `info` in the newest-first order of `GET /runs`."""
    return base64.urlsafe_b64encode(json.dumps([info.created_at, info.run_id]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, str]:
    """Return (created_at, run_id) of a cursor; 400 for one this service did not make."""
    try:
        created, run_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return float(created), str(run_id)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ApiError(400, "bad_cursor", f"cursor {cursor[:40]!r} is not one this API returned ({exc})") from None


@router.get("/runs", response_model=RunsPage, dependencies=[require(Scope.read)])
def list_runs(
    service: ServiceDep, status: RunStatus | None = None,
    intent: Annotated[str | None, Query(max_length=200)] = None,
    capability: Annotated[str | None, Query(max_length=200)] = None,
    verdict: Annotated[Verdict | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    before: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """Runs newest first (the body of `ido runs --json`), filtered, a page at a time.

    The next page: `cursor=next_cursor`, or `before=next_before` as `ido runs --before RUN`.

    `capability` keeps runs where a decision weighed it (chosen or rejected),
    `verdict` runs where an alternative got that verdict; both: that capability
    got that verdict. Those two read each run's decisions, so one page examines
    at most SCAN_LIMIT runs and, when it stops there, gives a cursor to go on.
    """
    store = service.store
    after = decode_cursor(cursor) if cursor else None
    if before is not None and after is None:
        start = find_run(store, before)
        after = (start.created_at, start.run_id)
    if capability is None and verdict is None:
        rows = store.list_runs(status=status, intent=intent, before=after, limit=limit + 1)
        page = rows[:limit]
        last = page[-1] if len(rows) > limit and page else None
    else:
        rows = store.list_runs(status=status, intent=intent, before=after)
        page, last = _weighed(service, rows, limit, capability, verdict.value if verdict else None)
    return JSONResponse({
        "runs": [r.model_dump(mode="json") for r in page],
        "next_cursor": encode_cursor(last) if last is not None else None,
        "next_before": last.run_id if last is not None else None,
        "corrupted": list(getattr(store, "corrupted_runs", [])),
    })


def _weighed(service: Service, rows: list[RunInfo], limit: int, capability: str | None,
             verdict: str | None) -> tuple[list[RunInfo], RunInfo | None]:
    """Return up to `limit` rows whose decisions match, and the row to continue after (None: the end)."""
    page: list[RunInfo] = []
    for examined, info in enumerate(rows, start=1):
        if _matches(json.loads(_decisions_of(service, info)), capability, verdict):
            if len(page) == limit:
                return page, page[-1]
            page.append(info)
        if examined >= SCAN_LIMIT and examined < len(rows):
            return page, info
    return page, None


def _matches(explanation: dict[str, Any], capability: str | None, verdict: str | None) -> bool:
    for decision in explanation.get("decisions", []):
        for alternative in decision.get("alternatives", []):
            if capability is not None and alternative.get("capability") != capability:
                continue
            got = alternative.get("verdict")
            if (verdict is None and got != "not_needed") or (verdict is not None and got == verdict):
                return True
    return False


def _decisions_of(service: Service, info: RunInfo) -> bytes:
    """Return the run's explanation as JSON bytes, built once for a finished run."""
    return _kept_or_built(service, DECISIONS, info, _explained)


def _explained(store: Store, info: RunInfo) -> bytes:
    return explain(store, info.run_id).model_dump_json().encode()


def _kept_or_built(service: Service, kind: str, info: RunInfo, build: Builder) -> bytes:
    """Return the kept answer `kind` about the run, or `build` it and keep it.

    A finished run's answer is kept for good (`service.finished`). A run in
    flight's is kept under its row as read (`service.live`) for at most
    `LIVE_S`: every append writes the run's row with its events, so while the
    row has not moved the answer has not either (the time bound covers two
    appends writing equal rows, e.g. under a simulated clock). `info` is read
    before the build, so a newer journal is never kept under an older row.
    """
    if info.status in TERMINAL_STATUSES:
        key = (kind, info.run_id)
        found = service.finished.get(key)
        if found is None:
            # a finished run's journal no longer changes: its answer is built once
            found = build(service.store, info)
            service.finished.put(key, found)
        return found
    row = hashlib.sha256(info.model_dump_json().encode()).hexdigest()
    live = (kind, f"{info.run_id} {row} {int(time.monotonic() // LIVE_S)}")
    found = service.live.get(live)
    if found is None:
        found = build(service.store, info)
        service.live.put(live, found)
    return found


async def _served(service: Service, kind: str, run_id: str, build: Builder) -> Response:
    """Return the answer `kind` about `run_id` as pre-encoded JSON; called by the read endpoints.

    A kept answer (a finished run's, asked for by its full id) is usually sent
    before routing by `ido.service.kept`; here it is a dict lookup. Anything
    else (a prefix, a run in flight, a first read) reads the journal (at
    least the run's row) on a pool thread, never on the loop. A prefix is
    never a key: a new run may make it ambiguous.
    """
    found = service.finished.get((kind, run_id))
    if found is None:
        found = await asyncio.to_thread(
            lambda: _kept_or_built(service, kind, find_run(service.store, run_id), build))
    return Response(found, media_type="application/json")


@router.get("/runs/{run_id}", response_model=RunInfo, dependencies=[require(Scope.read)])
def get_run(run_id: str, service: ServiceDep) -> JSONResponse:
    """The run's row, as `ido runs --json` lists it."""
    return JSONResponse(find_run(service.store, run_id).model_dump(mode="json"))


@router.get("/runs/{run_id}/decisions", response_model=Explanation, dependencies=[require(Scope.read)])
async def decisions(run_id: str, service: ServiceDep) -> Response:
    """The run's decision timeline: the JSON of `ido explain RUN --json`."""
    return await _served(service, DECISIONS, run_id, _explained)


@router.get("/runs/{run_id}/why-not/{capability}", response_model=WhyNot,
            dependencies=[require(Scope.read)])
async def why_not_capability(run_id: str, capability: str, service: ServiceDep) -> Response:
    """Why CAPABILITY was or was not used, decision by decision: `ido why-not RUN CAP --json`."""
    return await _served(service, why_not_kind(capability), run_id,
                         lambda store, info: why_not(store, info.run_id, capability).model_dump_json().encode())


def _answer(service: Service, run_id: str, approved: bool, body: Answer | None) -> JSONResponse:
    from ido.engine.approvals import answer

    info = find_run(service.store, run_id)
    given = body or Answer()
    row = asyncio.run(answer(service.store, info.run_id, approved, by=given.by, note=given.note))
    return JSONResponse(row.model_dump(mode="json"))


@router.post("/runs/{run_id}/approve", response_model=RunInfo, dependencies=[require(Scope.operate)])
def approve(run_id: str, service: ServiceDep, body: Answer | None = None) -> JSONResponse:
    """Approve the step the run waits for (as `ido approve`); the run's row after it."""
    return _answer(service, run_id, True, body)


@router.post("/runs/{run_id}/reject", response_model=RunInfo, dependencies=[require(Scope.operate)])
def reject(run_id: str, service: ServiceDep, body: Answer | None = None) -> JSONResponse:
    """Reject the step the run waits for (as `ido reject`); the run replans without it."""
    return _answer(service, run_id, False, body)


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunInfo,
             dependencies=[require(Scope.operate)],
             responses={409: {"description": "the run already ended"}})
def cancel(run_id: str, service: ServiceDep, body: Answer | None = None) -> JSONResponse:
    """Ask the run to stop (as `ido cancel --no-wait`); 202 with its row: a queued run ends at once,
    a running one at its worker's next decision, compensating per its on_failure; 409 when it ended."""
    from ido.engine.cancel import request_cancel

    info = find_run(service.store, run_id)
    given = body or Answer()
    row = asyncio.run(request_cancel(service.store, info.run_id, by=given.by, note=given.note))
    return JSONResponse(row.model_dump(mode="json"), status_code=202)


@router.post("/runs/{run_id}/replay", response_model=ReplayReport, dependencies=[require(Scope.read)])
def replay_run(run_id: str, service: ServiceDep, body: ReplayRequest | None = None) -> JSONResponse:
    """Re-derive every decision: identical, or (what_if) what would change under the service's workspace."""
    info = find_run(service.store, run_id)
    what_if = body is not None and body.what_if
    report = replay(service.store, info.run_id, workspace=service.declarations() if what_if else None)
    return JSONResponse(report.model_dump(mode="json"))
