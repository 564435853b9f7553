"""Answer a run's pending approval through the journal, from any process (`ido approve`).

`answer(store, run_id, approved, by)` appends an `approval_given` event to a
run waiting for approval. The engine waiting on that run notices it (it polls
the journal while it waits) and continues; if no engine is running it,
`ido resume RUN` continues it and applies the answer. Inside one process,
`Engine.approve` answers directly.
"""

from __future__ import annotations

import time

from ido.errors import UsageError
from ido.journal.base import Event, RunInfo, Store


async def answer(store: Store, run_id: str, approved: bool, by: str = "", note: str = "") -> RunInfo:
    """Return the run's row after recording the answer; UsageError when it waits for none."""
    info = store.get_run(run_id=run_id)
    if info.status != "waiting_approval":
        raise UsageError(
            f"run {info.run_id} is {info.status}, not waiting_approval; only a waiting run can be "
            "approved or rejected (see `ido runs --status waiting_approval`)"
        )
    events = store.events(run_id=info.run_id)
    pending = None
    for event in events:
        if event.kind == "approval_requested":
            pending = event
        elif event.kind == "approval_given":
            pending = None
    if pending is None:
        raise UsageError(f"run {info.run_id} has no unanswered approval request in its journal")
    answer_event = Event(
        run_id=info.run_id, seq=events[-1].seq + 1, kind="approval_given", at=time.time(),
        data={
            "decision_id": pending.data.get("decision_id"), "capability": pending.data.get("capability"),
            "approved": approved, "by": by, "note": note, "external": True,
        },
    )
    row = info.model_copy(update={"status": "running", "updated_at": time.time()})
    await store.append([answer_event], run=row)
    return row
