"""Cancelling a run from any process: a request kept beside the journal, acted on by the run's owner.

The asking side (`ido cancel`, `POST /api/v1/runs/{id}/cancel`, the client):
`request_cancel(store, run_id, by=, note=)` keeps a cancel `Signal` in the
store — never an event in the run's journal, whose seqs and fencing belong to
the worker driving it. A queued run (no worker has started it) is cancelled
at once: the asker claims its lease, ends it `failed` (condition `Cancelled`)
and releases it. A finished run refuses (`ido.errors.RunEnded`).

The driving side: `SignalWatch` (one per engine on a shared journal) reads
the signals of the engine's live runs at most `POLL_S` apart, hands a waiting
run the answer to its approval request (`ido.engine.approvals.answer` keeps
answers to a run a live worker drives as signals too) and wakes each run
asked to stop; the engine's loop then records a decision with trigger
`cancel` naming who asked (made by `ido.engine.decide.decide`, so replay
re-derives it) and ends the run as a failing decision does: steps in flight
are abandoned, completed ones compensated per the intent's `on_failure`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from ido.engine.run import RunState
from ido.errors import IdoError, LeaseLost, RunEnded
from ido.journal.base import TERMINAL_STATUSES, Condition_, RunInfo, Signal, Store

#: How often an engine reads the cancel requests of its runs (seconds): the age bound of
#: what a decision knows of them, as the shared health's.
POLL_S = 0.25


def cause(signal: Signal) -> str:
    """Return the cause a cancel decision records: who asked, and their note."""
    who = signal.by or "someone"
    return f"cancel requested by {who}" + (f": {signal.note}" if signal.note else "")


async def request_cancel(store: Store, run_id: str, *, by: str = "", note: str = "") -> RunInfo:
    """Ask for run `run_id` to stop; return its row as it is after asking.

    Raises UsageError for an unknown run, `RunEnded` for one already finished.
    A queued run is ended here (status `failed`, condition `Cancelled`); any
    other run keeps its status until its worker acts on the request.
    """
    info = store.get_run(run_id=run_id)
    if info.status in TERMINAL_STATUSES:
        raise RunEnded(
            f"run {info.run_id} already ended ({info.status}); only an unfinished run can be cancelled"
        )
    signal = Signal(run_id=info.run_id, kind="cancel", by=by, note=note, at=time.time())
    store.put_signal(signal)
    if info.status == "queued":
        ended = await _cancel_queued(store, info, signal)
        if ended is not None:
            return ended
    return store.get_run(run_id=info.run_id)


async def _cancel_queued(store: Store, info: RunInfo, signal: Signal) -> RunInfo | None:
    """End a queued run nobody started; None when a worker holds it (it acts on the signal)."""
    owner = f"cancel:{signal.by or 'someone'}:{time.time_ns()}"
    leases = await asyncio.to_thread(store.claim, owner, lease_s=30.0, run_id=info.run_id)
    if not leases:
        return None
    try:
        now = store.get_run(run_id=info.run_id)
        if now.status != "queued" or store.events(run_id=info.run_id, kinds=["run_started"]):
            return None  # started meanwhile: its next owner acts on the signal
        ended = now.model_copy(update={
            "status": "failed", "updated_at": time.time(),
            "conditions": [Condition_(type="Progressing", status=False, reason="Cancelled",
                                      message=cause(signal) + " before a worker started it")],
        })
        try:
            await store.append([], run=ended, fence=leases[0])
        except LeaseLost:
            return None
        return ended
    finally:
        with contextlib.suppress(IdoError):
            store.release(leases)


class SignalSource(Protocol):
    """Where cancel requests are read (a `Store`)."""

    def signals(self, *, run_ids: Sequence[str]) -> list[Signal]:
        """Return the signals kept for `run_ids`, oldest first."""
        ...


class SignalWatch:
    """Reads the cancel requests of an engine's live runs and wakes the runs asked to stop."""

    def __init__(self, source: SignalSource, runs: Callable[[], Sequence[RunState]], *,
                 poll_s: float = POLL_S) -> None:
        self.source = source
        #: the engine's runs still driven (those without a cancel request are asked about).
        self.runs = runs
        self.poll_s = poll_s
        self.task: asyncio.Task[None] | None = None

    def check(self, run: RunState, found: Sequence[Signal] | None = None) -> None:
        """Hand `run` its requests before its first decision (a run launched or resumed here).

        `found`: its signals as the caller read them after taking the run (a worker
        reads those of all the runs of a claim at once); None reads them now.
        """
        self._apply([run], self.source.signals(run_ids=[run.run_id]) if found is None else found)

    def start(self) -> None:
        """Start polling in the background (once)."""
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._loop(), name="ido-signal-watch")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            runs = [r for r in self.runs() if not r.compensating]
            if not runs:
                continue
            try:
                found = await asyncio.to_thread(self.source.signals, run_ids=[r.run_id for r in runs])
            except IdoError:
                continue  # the journal is unreachable just now: ask again next round
            self._apply(runs, found)

    @staticmethod
    def _apply(runs: Sequence[RunState], found: Sequence[Signal]) -> None:
        """Hand each run its requests: a cancel, or the answer to the approval it waits for now."""
        by_id = {r.run_id: r for r in runs}
        for signal in found:
            run = by_id.get(signal.run_id)
            if run is None:
                continue
            if signal.kind == "cancel":
                if run.cancel is None:
                    run.cancel = signal
                    run.wake.set()
            elif (run.pending_approval is not None and run.answer is None
                  and signal.ref == run.pending_approval[0]):
                # an answer to an earlier request (dropped, or answered) names another decision
                run.answer, run.answer_note = (signal.kind == "approve", signal.by), signal.note
                run.wake.set()

    async def close(self) -> None:
        """Stop polling."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None
