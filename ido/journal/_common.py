"""Rules every journal backend shares: seq checks, run-id prefix resolution, JSON codecs.

Called by `ido.journal.memory` and `ido.journal.sqlite`, so both backends
accept and reject exactly the same appends and resolve run ids the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ido.errors import JournalError, LeaseLost, UsageError
from ido.journal.base import Event, Lease, RunInfo
from ido.journal.jsontext import compact_json, compact_record

#: How many candidate run ids an error message lists before "...".
_SHOWN = 8


def encode(data: Any, *, what: str) -> str:
    """Return `data` as compact JSON; raises JournalError naming `what` when it is not JSON-able."""
    try:
        try:
            if type(data) is dict:  # a record sharing frozen values: their text made once
                spliced = compact_record(data)
                if spliced is not None:
                    return spliced
            return compact_json(data)
        except RecursionError:  # a cycle, or nested too deep: json.dumps says which
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise JournalError(
            f"{what} cannot be stored: {exc}; journal data must be plain JSON "
            "(dicts, lists, strings, numbers, booleans, null)"
        ) from None


def check_seqs(events: Sequence[Event], last_seq: Mapping[str, int]) -> dict[str, int]:
    """Return each run's new last seq after `events`; raises JournalError on a gap or duplicate.

    `last_seq` gives each run's last stored seq (missing: 0). Seqs are dense per
    run and start at 1, so the next event of a run must carry last + 1.
    """
    last = dict(last_seq)
    for event in events:
        expected = last.get(event.run_id, 0) + 1
        if event.seq != expected:
            problem = "duplicates a stored event" if event.seq < expected else "leaves a gap"
            raise JournalError(
                f"event seq {event.seq} of run {event.run_id} ({event.kind}) {problem}: "
                f"the next seq of that run is {expected}; seqs are dense per run, starting at 1"
            )
        last[event.run_id] = event.seq
    return last


def lease_from_row(row: Any) -> Lease | None:
    """Return the lease a `(run_id, owner, epoch, until)` row holds; None for no row.

    Called by the SQLite and PostgreSQL journals, whose lease tables have those columns.
    """
    if row is None:
        return None
    return Lease(run_id=row[0], owner=row[1], epoch=int(row[2]), until=float(row[3]))


def check_fence(fence: Lease, held: Lease | None, *, creates: bool) -> None:
    """Raise LeaseLost unless `fence` may write: it is the lease `held`, or none is held and the write creates the run.

    Called by every backend inside the transaction of a fenced append, so the
    check and the write are one atomic step.
    """
    if held is None:
        if creates:
            return
        raise LeaseLost(
            f"run {fence.run_id} has no lease any more (released or never claimed); "
            f"{fence.owner} stops driving it", run_id=fence.run_id,
        )
    if (held.owner, held.epoch) != (fence.owner, fence.epoch):
        raise LeaseLost(
            f"run {fence.run_id} was claimed by {held.owner} (epoch {held.epoch}) after "
            f"{fence.owner} (epoch {fence.epoch}); the late write is refused",
            run_id=fence.run_id,
        )


def resolve_run_id(run_id: str, known: Iterable[str]) -> str:
    """Return the one known run id equal to `run_id` or starting with it.

    Raises UsageError listing the candidates when the prefix is ambiguous, or
    some known runs when it matches none. Called by every backend's `get_run`.
    """
    ids = sorted(known)
    if run_id in ids:
        return run_id
    matches = [r for r in ids if r.startswith(run_id)] if run_id else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(
            f"run id {run_id!r} is ambiguous: it starts {len(matches)} runs "
            f"({_listing(matches)}); give more characters"
        )
    if not ids:
        raise UsageError(f"no run {run_id!r}: the journal holds no runs yet")
    raise UsageError(
        f"no run {run_id!r} in the journal; known runs: {_listing(ids)} (see `ido runs`)"
    )


def _listing(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return shown + (f", ... ({len(ids) - _SHOWN} more)" if len(ids) > _SHOWN else "")


def select_runs(
    runs: Iterable[RunInfo], *, status: str | None, limit: int | None, intent: str | None,
    before: tuple[float, str] | None,
) -> list[RunInfo]:
    """Return `runs` as `Store.list_runs` does: filtered, newest first, at most `limit`.

    Used by the in-memory stores; SQLite does the same in its query.
    """
    out = [
        r for r in runs
        if (status is None or r.status == status) and (intent is None or r.intent == intent)
        and (before is None or (r.created_at, r.run_id) < before)
    ]
    out.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
    return out if limit is None else out[:limit]
