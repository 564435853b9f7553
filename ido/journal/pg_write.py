"""The PostgreSQL journal's write path: a batch of appends in two round trips, health folded without waiting.

Called by `ido.journal.postgres.PostgresStore` from its group-commit writer
thread. `commit_batch` writes every append of a batch in one transaction:
one pipelined round trip locks the batch's lease rows and reads each run's
last seq, the checks (seqs, run rows, fences) run here in Python, and a
second round trip writes every accepted append's lease, run row and events
with one statement each (`unnest` of arrays) and commits. A refused append
writes nothing of itself and its caller gets why. Should the server refuse
the batch (a duplicate key from a writer that holds no lease, e.g. two
processes queueing one run id), `commit_each` writes it again one append per
savepoint, so that only the offending append fails.

Health rows (`HealthFolds`) are folded inside the same transaction, but a
row another transaction holds is skipped (`FOR UPDATE SKIP LOCKED`), never
waited for: its changes are kept and folded by this writer's next
transaction (a retry timer of the store when no append comes). A worker
frozen in the middle of a commit (SIGSTOP, a paused VM) therefore stalls no
other worker; the server ends its session after `IDLE_IN_TRANSACTION_MS`.
Why an outcome may then commit a moment before its health change: the
health rows are a shared estimate that steers decisions, not part of any
run's journal; each decision records the snapshot it read, so replay stays
exact whichever moment a change landed; a writer that dies in between loses
that one sample, as if the outcome had come a moment after it died.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ido.errors import JournalError
from ido.journal._common import check_fence, check_seqs, lease_from_row
from ido.journal.base import Event, HealthChange, Lease, RunInfo

if TYPE_CHECKING:
    import asyncio

    import psycopg

#: How long creating a capability's health row may wait for another transaction creating it.
CREATE_ROW_TIMEOUT_MS = 200


@dataclass
class Append:
    """One caller's append, encoded in the caller's thread, waiting for the writer."""

    rows: Sequence[tuple[str, int, str, float, str]]
    events: Sequence[Event]
    run: RunInfo | None
    run_row: tuple[str, str, str, float, float, str] | None
    fence: Lease | None = None
    health: Sequence[HealthChange] = ()
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    error: JournalError | None = field(default=None)


# Array parameters are sent in binary (%b): psycopg's text form escapes each element with a
# regular expression, which cost more CPU than the rest of the writer together.
_LOCK_LEASES = (
    "SELECT run_id, owner, epoch, until FROM ido_leases WHERE run_id = ANY(%b::text[]) "
    "ORDER BY run_id FOR UPDATE"
)
# after the lease lock (statements of a pipeline run in order): a seq written by the lease's
# previous holder has committed before this reads it
_HEADS = (
    "SELECT r.id, (SELECT max(e.seq) FROM ido_events e WHERE e.run_id = r.id), "
    "EXISTS (SELECT 1 FROM ido_runs x WHERE x.run_id = r.id) FROM unnest(%b::text[]) AS r(id)"
)
_PUT_LEASES = (
    "INSERT INTO ido_leases (run_id, owner, epoch, until) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::float8[]) "
    "ON CONFLICT (run_id) DO UPDATE SET until = excluded.until"
)
_PUT_LEASE = (
    "INSERT INTO ido_leases (run_id, owner, epoch, until) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (run_id) DO UPDATE SET until = excluded.until"
)
_RUN_UPDATE = (
    " ON CONFLICT (run_id) DO UPDATE SET intent = excluded.intent, status = excluded.status, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at, info = excluded.info"
)
_PUT_RUNS = (
    "INSERT INTO ido_runs (run_id, intent, status, created_at, updated_at, info) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], %b::text[])"
    + _RUN_UPDATE
)
_PUT_RUN = (
    "INSERT INTO ido_runs (run_id, intent, status, created_at, updated_at, info) "
    "VALUES (%s, %s, %s, %s, %s, %s)" + _RUN_UPDATE
)
_PUT_EVENTS = (
    "INSERT INTO ido_events (run_id, seq, kind, at, data) "
    "SELECT * FROM unnest(%b::text[], %b::int[], %b::text[], %b::float8[], %b::text[])"
)


class _Heads:
    """What the batch's checks know of each run: last seq, whether it has a row, its lease."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.has_row: dict[str, bool] = {}
        self.held: dict[str, Lease | None] = {}

    def check(self, item: Append) -> dict[str, int]:
        """Return each run's last seq after `item`; raise JournalError (LeaseLost) when it may not write."""
        new_last = check_seqs(item.events, self.last)
        for run_id in {e.run_id for e in item.events}:
            if not self.has_row.get(run_id) and (item.run is None or item.run.run_id != run_id):
                raise JournalError(
                    f"events for run {run_id}, which has no row: pass run=RunInfo(...) "
                    "with the run's first append"
                )
        fence = item.fence
        if fence is not None:
            creates = self.last.get(fence.run_id, 0) == 0 and any(e.seq == 1 for e in item.events)
            check_fence(fence, self.held.get(fence.run_id), creates=creates)
        return new_last

    def accept(self, item: Append, new_last: dict[str, int]) -> None:
        """Note what `item` writes, for the checks of the batch's later appends."""
        self.last.update(new_last)
        if item.run is not None:
            self.has_row[item.run.run_id] = True
        if item.fence is not None:  # the row holds the fence's owner and epoch, until extended
            self.held[item.fence.run_id] = item.fence


def commit_batch(conn: psycopg.Connection[Any], batch: Sequence[Append], health: HealthFolds,
                 at: float) -> list[HealthChange]:
    """Write `batch` in one transaction of two round trips; return the health changes left for later.

    A refused append gets its `error` and writes nothing. Raises psycopg's
    error (the transaction rolled back, nothing written) when the server
    refuses a write: the caller then tries `commit_each`.
    """
    runs = sorted({e.run_id for item in batch for e in item.events})
    fenced = sorted({item.fence.run_id for item in batch if item.fence is not None})
    pending = health.pending(batch)
    with conn.pipeline(), conn.transaction():
        leases = conn.execute(_LOCK_LEASES, (fenced,)) if fenced else None
        heads = conn.execute(_HEADS, (runs,)) if runs else None
        rows = health.lock(conn, pending)
        known = _Heads()
        for row in leases.fetchall() if leases is not None else ():
            known.held[row[0]] = lease_from_row(row)
        for run_id, last, has_row in heads.fetchall() if heads is not None else ():
            known.last[run_id] = int(last or 0)
            known.has_row[run_id] = bool(has_row)
        lease_rows: dict[str, tuple[str, str, int, float]] = {}
        run_rows: dict[str, tuple[str, str, str, float, float, str]] = {}
        event_rows: list[tuple[str, int, str, float, str]] = []
        for item in batch:
            try:
                new_last = known.check(item)
            except JournalError as exc:
                item.error = exc
                continue
            known.accept(item, new_last)
            if item.fence is not None:
                f = item.fence
                lease_rows[f.run_id] = (f.run_id, f.owner, f.epoch, f.until)
            if item.run_row is not None:
                run_rows[item.run_row[0]] = item.run_row
            event_rows.extend(item.rows)
        # rows locked in run id order, as `_LOCK_LEASES` does: two writers never wait in a cycle
        if lease_rows:
            conn.execute(_PUT_LEASES, _columns((lease_rows[r] for r in sorted(lease_rows)), 4))
        if run_rows:
            conn.execute(_PUT_RUNS, _columns((run_rows[r] for r in sorted(run_rows)), 6))
        if event_rows:
            conn.execute(_PUT_EVENTS, _columns(event_rows, 5))
        return health.fold(conn, rows, health.pending(batch), at)


def commit_each(conn: psycopg.Connection[Any], batch: Sequence[Append], health: HealthFolds,
                at: float) -> list[HealthChange]:
    """Write `batch` in one transaction, each append in a savepoint; return the health changes left.

    The slow path, after the server refused `commit_batch`'s writes: the
    append that caused it fails alone (psycopg's IntegrityError becomes its
    JournalError), the others are written.
    """
    import psycopg

    known = _Heads()
    with conn.transaction():
        for item in batch:
            item.error = None
            runs = sorted({e.run_id for e in item.events} - set(known.last))
            if runs:
                for run_id, last, has_row in conn.execute(_HEADS, (runs,)).fetchall():
                    known.last[run_id] = int(last or 0)
                    known.has_row[run_id] = bool(has_row)
            try:
                with conn.transaction():  # a savepoint inside the batch
                    fence = item.fence
                    if fence is not None:
                        row = conn.execute(_LOCK_LEASES, ([fence.run_id],)).fetchone()
                        known.held[fence.run_id] = lease_from_row(row)
                    new_last = known.check(item)
                    if fence is not None:
                        conn.execute(_PUT_LEASE, (fence.run_id, fence.owner, fence.epoch, fence.until))
                    if item.run_row is not None:
                        conn.execute(_PUT_RUN, item.run_row)
                    if item.rows:
                        conn.execute(_PUT_EVENTS, _columns(item.rows, 5))
            except JournalError as exc:
                item.error = exc
                continue
            except psycopg.errors.IntegrityError as exc:
                item.error = JournalError(f"cannot append to the journal: {_first_line(exc)}")
                known.last = {}  # read again: what is stored is not what this writer thought
                continue
            known.accept(item, new_last)
        pending = health.pending(batch)
        return health.fold(conn, health.lock(conn, pending), pending, at)


def _columns(rows: Any, width: int) -> tuple[list[Any], ...]:
    """Return `rows` (tuples of `width`) as `width` lists: the arrays an `unnest` insert takes."""
    columns: tuple[list[Any], ...] = tuple([] for _ in range(width))
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_LOCK_HEALTH = (
    "SELECT capability, state FROM ido_capability_health WHERE capability = ANY(%b::text[]) "
    "ORDER BY capability FOR UPDATE SKIP LOCKED"
)
_PUT_HEALTH = (
    "UPDATE ido_capability_health h SET state = u.state, version = h.version + u.n, "
    "updated_at = %s FROM unnest(%b::text[], %b::text[], %b::int[]) AS u(capability, state, n) "
    "WHERE h.capability = u.capability"
)
_SOME_HEALTH = "SELECT capability FROM ido_capability_health WHERE capability = ANY(%b::text[])"
_NEW_HEALTH = (
    "INSERT INTO ido_capability_health (capability, state, version, updated_at) "
    "SELECT c, '{}', 0, %s FROM unnest(%b::text[]) AS c ON CONFLICT (capability) DO NOTHING"
)


class HealthFolds:
    """The writer's health changes waiting for their rows: folded without waiting for a held row.

    Owned by one store's writer (used under its write lock). `deferred` are
    the changes whose row another transaction held when they came; they are
    folded first by the next transaction, in the order they came.
    """

    def __init__(self) -> None:
        self.deferred: list[HealthChange] = []
        #: capabilities whose row exists (rows are never deleted): no need to create them again.
        self.known: set[str] = set()

    def pending(self, batch: Sequence[Append]) -> list[HealthChange]:
        """Return the changes to fold now: those deferred, then the batch's appends' not refused."""
        return [*self.deferred, *(c for item in batch if item.error is None for c in item.health)]

    def create_rows(self, conn: psycopg.Connection[Any], changes: Sequence[HealthChange], at: float) -> None:
        """Create (empty) the rows of capabilities first seen, in a short transaction of their own.

        Called before the batch's transaction, on a connection in autocommit.
        A row another transaction is creating at this instant is waited for at
        most CREATE_ROW_TIMEOUT_MS; its changes are then deferred.
        """
        import psycopg

        new = sorted({c.capability for c in changes} - self.known)
        if not new:
            return
        # rows that exist are not inserted again: an insert would wait for a transaction holding them
        self.known.update(row[0] for row in conn.execute(_SOME_HEALTH, (new,)).fetchall())
        new = [name for name in new if name not in self.known]
        if not new:
            return
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = {CREATE_ROW_TIMEOUT_MS}")
                conn.execute(_NEW_HEALTH, (at, new))
        except psycopg.errors.LockNotAvailable:
            return
        self.known.update(new)

    def lock(self, conn: psycopg.Connection[Any], changes: Sequence[HealthChange]) -> psycopg.Cursor[Any] | None:
        """Send the lock of the rows of `changes` not held by another transaction; return its cursor."""
        names = sorted({c.capability for c in changes})
        return conn.execute(_LOCK_HEALTH, (names,)) if names else None

    def fold(self, conn: psycopg.Connection[Any], locked: psycopg.Cursor[Any] | None,
             changes: Sequence[HealthChange], at: float) -> list[HealthChange]:
        """Fold `changes` into the rows `locked` holds (one statement); return the others, for later."""
        if locked is None:
            return []
        states: dict[str, dict[str, Any] | None] = {}
        for capability, state in locked.fetchall():
            states[capability] = json.loads(state) if state not in (None, "{}") else None
        counts: dict[str, int] = {}
        later: list[HealthChange] = []
        for change in changes:
            name = change.capability
            if name not in states:  # held by another transaction (or not created yet)
                later.append(change)
                continue
            states[name] = change.apply(states[name])
            counts[name] = counts.get(name, 0) + 1
        if counts:
            names = sorted(counts)
            conn.execute(_PUT_HEALTH, (
                at, names,
                [json.dumps(states[n], separators=(",", ":"), allow_nan=False) for n in names],
                [counts[n] for n in names],
            ))
        return later
