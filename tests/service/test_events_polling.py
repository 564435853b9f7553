"""The events stream reads a run's events only when its row moved: a watcher of a quiet run costs a row read.

Every append writes the run's row with its events, so the stream decodes the
events again only after the row changed (or `REREAD_S` passed, a safety net
this test turns off), and an event appended while it waits still arrives,
exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from service_helpers import make_service

from ido.engine.worker import queue_run
from ido.journal.base import Event
from ido.service import events as events_module
from ido.service.events import POLL_S, stream


def test_a_quiet_run_is_not_decoded_every_poll_and_a_new_event_still_arrives(
    finished: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events_module, "REREAD_S", 3600.0)  # no safety-net re-read within this test
    root, url, _ = finished
    service = make_service(root, url, None)
    store = service.store
    info = queue_run(store, service.workspace, "order-fulfilled", inputs={"order_id": "quiet-1"})
    reads: list[int] = []
    events_of = store.events

    def counted(**kwargs: Any) -> list[Event]:
        reads.append(1)
        return events_of(**kwargs)

    store.events = counted  # type: ignore[method-assign]
    async def watch(seconds: float) -> list[bytes]:
        got: list[bytes] = []
        async for chunk in stream(service, info.run_id, 0, timeout=seconds):
            got.append(chunk)
        return got

    try:
        quiet = asyncio.run(watch(6 * POLL_S))
        assert len(reads) == 1  # the row never moved: one read, not one per poll

        async def watch_and_append() -> list[bytes]:
            async def append_soon() -> None:
                await asyncio.sleep(3 * POLL_S)
                moved = info.model_copy(update={"updated_at": info.updated_at + 1})
                await store.append([Event(run_id=info.run_id, seq=1, kind="observation", at=moved.updated_at,
                                          data={"facts": {"note": "x"}, "source": "test"})], run=moved)

            task = asyncio.create_task(append_soon())
            got = await watch(25 * POLL_S)  # long past the append, even on a loaded machine
            await task
            return got

        reads.clear()
        loud = asyncio.run(watch_and_append())
    finally:
        service.close()
    assert not any(chunk.startswith(b"id: ") for chunk in quiet)
    assert [chunk.split(b"\n")[0] for chunk in loud if chunk.startswith(b"id: ")] == [b"id: 1"]
    assert len(reads) == 2  # the first poll, and the one after the row moved
