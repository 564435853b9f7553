"""Live events of a run as server-sent events: `GET /api/v1/runs/{id}/events`.

Each journal event is one SSE message whose `id` is its journal seq, `event`
its kind and `data` the event's JSON (as `ido watch --json` prints it). A
client that reconnects with `Last-Event-ID: N` (or `?after=N`) gets exactly
the events after seq N: none lost, none twice, since seqs are dense per run.
The stream polls the run's row (every `POLL_S`) and reads its events only
when the row moved (every append writes it), so a watcher of a long run costs
the service a row read per poll rather than a decode of every event; it sends a comment line as a keep-alive when idle, and
ends after the run is terminal (a final `end` event with its status) or after
`timeout` seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from ido.journal.base import TERMINAL_STATUSES, RunInfo
from ido.service.auth import Scope
from ido.service.errors import ApiError
from ido.service.runs import find_run
from ido.service.state import Service, ServiceDep, require

router = APIRouter(prefix="/api/v1", tags=["runs"])

#: How often the stream looks for new events.
POLL_S = 0.2
#: The events are read again after this long even when the run's row did not move (a safety net
#: for two appends that wrote equal rows, e.g. under a simulated clock).
REREAD_S = 2.0
#: A keep-alive comment after this long without events (proxies close idle streams).
KEEPALIVE_S = 15.0
#: The longest a stream stays open; the client reconnects with Last-Event-ID.
MAX_STREAM_S = 3600.0


def sse(event_id: int | None, kind: str, data: object) -> bytes:
    """Return one server-sent event; `data` as compact JSON on one line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream(service: Service, run_id: str, after: int, timeout: float) -> AsyncIterator[bytes]:
    """Yield the run's events after seq `after` as SSE until the run ends or `timeout` passes."""
    store = service.store
    limit = time.monotonic() + timeout
    idle_since = time.monotonic()
    yield b"retry: 1000\n\n"
    seen: RunInfo | None = None
    read_at = 0.0
    while True:
        info = await asyncio.to_thread(store.get_run, run_id=run_id)
        if info != seen or info.status in TERMINAL_STATUSES or time.monotonic() - read_at >= REREAD_S:
            # every append writes the run's row with its events, so an unchanged row means nothing
            # new: the events (decoding them all costs ~200x the row) are read only when it moved
            seen, read_at = info, time.monotonic()
            for event in await asyncio.to_thread(store.events, run_id=run_id):
                if event.seq > after:
                    after = event.seq
                    idle_since = time.monotonic()
                    yield sse(event.seq, event.kind, event.model_dump(mode="json"))
        if info.status in TERMINAL_STATUSES:
            yield sse(None, "end", {"run_id": run_id, "status": info.status, "last_event_id": after})
            return
        now = time.monotonic()
        if now >= limit:
            return
        if now - idle_since >= KEEPALIVE_S:
            idle_since = now
            yield b": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


@router.get("/runs/{run_id}/events", dependencies=[require(Scope.read)],
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "one event per journal entry; id = journal seq"}})
def events(
    run_id: str, service: ServiceDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    timeout: Annotated[float, Query(gt=0, le=MAX_STREAM_S)] = MAX_STREAM_S,
) -> StreamingResponse:
    """Server-sent events of the run's journal from after `Last-Event-ID` (or `after`) until it ends."""
    info = find_run(service.store, run_id)
    start = after or 0
    if last_event_id is not None:
        try:
            start = int(last_event_id)
        except ValueError:
            raise ApiError(400, "bad_last_event_id",
                           f"Last-Event-ID {last_event_id[:40]!r} is not a journal seq (a number)") from None
        if start < 0:
            raise ApiError(400, "bad_last_event_id", "Last-Event-ID must be 0 or more")
    return StreamingResponse(stream(service, info.run_id, start, timeout), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
