"""The simulator's journal: `SimStore`, the in-memory store without the JSON round trip.

`ido.journal.MemoryStore` encodes every event to JSON so that it accepts and
rejects exactly what SQLite does; in a simulation of thousands of runs that
encoding was the largest single cost (a fifth of the wall time), and nothing
is ever read back from text. `SimStore` keeps the same contract (dense seqs,
a run row before its events, revisions by digest) with the objects
themselves. Used by `ido.simulation.runner`; `ido run --simulate` keeps the
caller's real store.

It stays bounded however many runs a simulation starts: once the runner has
counted a finished run, `finish(run_id)` drops its events and row and keeps a
summary (how many events, its status), so a late append is still checked and a
finished run is still listed.

Its `decision` events hold only what folding them reads (`reads_decisions`):
counting a run needs its records, which the engine returns whole.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ido.errors import JournalError
from ido.journal._common import check_seqs, resolve_run_id, select_runs
from ido.journal.base import Event, HealthChange, Lease, RunInfo, Store


class Summary:
    """What `SimStore` keeps of a finished run: its id, status, creation time and event count."""

    __slots__ = ("created_at", "events", "run_id", "status")

    def __init__(self, run: RunInfo, events: int) -> None:
        self.run_id = run.run_id
        self.status = run.status
        self.created_at = run.created_at
        self.events = events


class SimStore(Store):
    """A journal held in dicts of the engine's own (immutable) objects."""

    #: the runner counts runs from their `RunResult` records and reads back only `run_started`
    #: and `dispatched` events: the engine gives decision events only what folding them reads.
    reads_decisions = False

    def __init__(self) -> None:
        self._runs: dict[str, RunInfo] = {}
        self._events: dict[str, list[Event]] = {}
        self._revisions: dict[str, tuple[str, Any]] = {}
        #: finished runs the runner has counted: run id -> summary (`finish`)
        self.finished: dict[str, Summary] = {}

    def finish(self, run_id: str) -> None:
        """Drop the events and row of run `run_id`, which has ended and been counted, keeping its
        `Summary`; called by the runner once per finished run. Unknown runs are ignored."""
        run = self._runs.pop(run_id, None)
        if run is not None:
            self.finished[run_id] = Summary(run, len(self._events.pop(run_id, ())))

    def _next_seq(self, run_id: str) -> int:
        events = self._events.get(run_id)
        if events is not None:
            return len(events) + (self.finished[run_id].events if run_id in self.finished else 0)
        summary = self.finished.get(run_id)
        return summary.events if summary is not None else 0

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Store `events` and the `run` row; raises JournalError on bad seqs or a run with no row.

        A simulation is one process: nothing is leased, so a fenced write is refused,
        and its health stays in the engine's tracker (`health` changes are not kept).
        """
        if fence is not None:
            raise JournalError("the simulator's journal keeps no leases")
        last: dict[str, int] = {}  # run id -> its last seq so far (the engine appends one run's events)
        for e in events:
            seq = last.get(e.run_id)
            if seq is None:
                seq = self._next_seq(e.run_id)
            if e.seq != seq + 1:
                check_seqs(events, {e.run_id: self._next_seq(e.run_id) for e in events})  # raises, as journals do
            last[e.run_id] = e.seq
        for run_id in last:
            if run_id not in self._runs and run_id not in self.finished and (run is None or run.run_id != run_id):
                raise JournalError(f"events for run {run_id}, which has no row")
        if run is not None:
            self._runs[run.run_id] = run
        for e in events:
            stored = self._events.get(e.run_id)
            if stored is None:
                stored = self._events[e.run_id] = []
            stored.append(e)

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store `content` under `digest` unless already there."""
        self._revisions.setdefault(digest, (kind, copy.deepcopy(content)))

    def get_revision(self, *, digest: str) -> Any:
        """Return a copy of the content stored under `digest`; JournalError when unknown."""
        try:
            return copy.deepcopy(self._revisions[digest][1])
        except KeyError:
            raise JournalError(f"no revision {digest} in the journal") from None

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; JournalError for a
        finished run (`finish` kept only its summary)."""
        if run_id in self.finished and run_id not in self._runs:
            raise JournalError(f"run {run_id} has finished and was summarised: the simulation keeps no finished run whole")
        return self._runs[resolve_run_id(run_id, self._runs)]

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return the runs not yet finished (`finished` has the others) newest first, filtered as
        `Store.list_runs` says."""
        return select_runs(self._runs.values(), status=status, limit=limit, intent=intent, before=before)

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given); a finished run's are dropped."""
        stored = self._events.get(run_id, [])
        if kinds is None:
            return list(stored)
        wanted = set(kinds)
        return [e for e in stored if e.kind in wanted]

    def close(self) -> None:
        """Nothing to release."""
