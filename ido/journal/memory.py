"""An in-memory journal: same contract as SQLite, nothing on disk (`--store memory://`).

Used by simulations that do not need a file and by unit tests. Data are
stored as JSON text, exactly as the SQLite backend stores them, so whatever
one backend accepts or rejects the other does too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ido.errors import JournalError
from ido.journal._common import check_seqs, encode, resolve_run_id, select_runs
from ido.journal.base import Event, RunInfo, Store


class MemoryStore(Store):
    """A journal held in dicts; `append` is durable as soon as it returns (for this process)."""

    def __init__(self) -> None:
        self._runs: dict[str, str] = {}  # run_id -> RunInfo JSON
        self._events: dict[str, list[tuple[Event, str]]] = {}  # run_id -> [(event, data JSON)]
        self._revisions: dict[str, tuple[str, str]] = {}  # digest -> (kind, content JSON)
        self.commits = 0  # number of appends applied: one "transaction" each

    async def append(self, events: Sequence[Event], *, run: RunInfo | None = None) -> None:
        """Store `events` and the `run` row atomically; return at once (nothing to flush).

        Raises JournalError (and stores nothing) on a duplicate or gapped seq, on
        events of a run that has no row yet, or on data that is not JSON.
        """
        self._apply(events, run)

    def _apply(self, events: Sequence[Event], run: RunInfo | None) -> None:
        encoded = [(e, encode(e.data, what=f"event {e.seq} of run {e.run_id}")) for e in events]
        row = run.model_dump_json() if run is not None else None
        last = {e.run_id: len(self._events.get(e.run_id, [])) for e in events}
        check_seqs(events, last)
        for e in events:
            if e.run_id not in self._runs and (run is None or run.run_id != e.run_id):
                raise JournalError(
                    f"events for run {e.run_id}, which has no row: pass run=RunInfo(...) "
                    "with the run's first append"
                )
        if run is not None and row is not None:
            self._runs[run.run_id] = row
        for event, data in encoded:
            self._events.setdefault(event.run_id, []).append((event, data))
        self.commits += 1

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store `content` under `digest` unless already there (idempotent)."""
        text = encode(content, what=f"revision {digest}")
        self._revisions.setdefault(digest, (kind, text))

    def get_revision(self, *, digest: str) -> Any:
        """Return a fresh copy of the content stored under `digest`; JournalError when unknown."""
        try:
            _, text = self._revisions[digest]
        except KeyError:
            raise JournalError(f"no revision {digest} in the journal") from None
        return json.loads(text)

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; UsageError otherwise."""
        return RunInfo.model_validate_json(self._runs[resolve_run_id(run_id, self._runs)])

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first (by created_at, then run id), filtered as `Store.list_runs` says."""
        runs = (RunInfo.model_validate_json(text) for text in self._runs.values())
        return select_runs(runs, status=status, limit=limit, intent=intent, before=before)

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given); [] for none."""
        stored = self._events.get(run_id, [])
        wanted = set(kinds) if kinds is not None else None
        return [
            e.model_copy(update={"data": json.loads(data)})
            for e, data in stored
            if wanted is None or e.kind in wanted
        ]

    def close(self) -> None:
        """Nothing to release; the data stay readable until the object is dropped."""
