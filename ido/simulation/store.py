"""The simulator's journal: `SimStore`, the in-memory store without the JSON round trip.

`ido.journal.MemoryStore` encodes every event to JSON so that it accepts and
rejects exactly what SQLite does; in a simulation of thousands of runs that
encoding was the largest single cost (a fifth of the wall time), and nothing
is ever read back from text. `SimStore` keeps the same contract (dense seqs,
a run row before its events, revisions by digest) with the objects
themselves. Used by `ido.simulation.runner`; `ido run --simulate` keeps the
caller's real store.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ido.errors import JournalError
from ido.journal._common import check_seqs, resolve_run_id
from ido.journal.base import Event, Lease, RunInfo, Store


class SimStore(Store):
    """A journal held in dicts of the engine's own (immutable) objects."""

    def __init__(self) -> None:
        self._runs: dict[str, RunInfo] = {}
        self._events: dict[str, list[Event]] = {}
        self._revisions: dict[str, tuple[str, Any]] = {}

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None
    ) -> None:
        """Store `events` and the `run` row; raises JournalError on bad seqs or a run with no row.

        A simulation is one process: nothing is leased, so a fenced write is refused.
        """
        if fence is not None:
            raise JournalError("the simulator's journal keeps no leases")
        check_seqs(events, {e.run_id: len(self._events.get(e.run_id, [])) for e in events})
        for e in events:
            if e.run_id not in self._runs and (run is None or run.run_id != e.run_id):
                raise JournalError(f"events for run {e.run_id}, which has no row")
        if run is not None:
            self._runs[run.run_id] = run
        for e in events:
            self._events.setdefault(e.run_id, []).append(e)

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
        """Return the run whose id is `run_id` or uniquely starts with it."""
        return self._runs[resolve_run_id(run_id, self._runs)]

    def list_runs(self, *, status: str | None = None, limit: int | None = None) -> list[RunInfo]:
        """Return runs newest first, optionally only those with `status`."""
        runs = [r for r in self._runs.values() if status is None or r.status == status]
        runs.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return runs if limit is None else runs[:limit]

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given)."""
        stored = self._events.get(run_id, [])
        if kinds is None:
            return list(stored)
        wanted = set(kinds)
        return [e for e in stored if e.kind in wanted]

    def close(self) -> None:
        """Nothing to release."""
