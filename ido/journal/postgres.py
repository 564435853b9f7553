"""A journal on a PostgreSQL server (`--store postgresql://USER@HOST:PORT/DB`), shared by processes.

The same contract as the SQLite journal (`ido.journal.sqlite`): appends are
durable when they return, concurrent appends share one transaction (group
commit, on a writer thread with its own connection: `ido.journal.pg_write`
writes a batch in two round trips), a rejected append writes nothing of
itself, seqs are dense per run. Data are stored as the same JSON
text the other backends store (TEXT, not JSONB: JSONB reorders keys, and a
replayed record must read back byte for byte). The schema is created on first
use, under an advisory lock so processes opening one new database at once do
not race, and carries a version in `ido_meta`.

Needs psycopg 3 (`pip install 'ido[postgres]'`); `ido.journal.open_store`
imports this module only for a `postgresql://` URL. Used by `ido worker`,
`ido serve` and any command given such a `--store`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError as PydanticError

from ido.errors import JournalCorrupted, JournalError
from ido.journal._common import encode, lease_from_row, resolve_run_id
from ido.journal.base import (
    TERMINAL_STATUSES,
    Event,
    HealthChange,
    Lease,
    RunInfo,
    Store,
)
from ido.journal.group import GroupCommit
from ido.journal.pg_write import Append, HealthFolds, commit_batch, commit_each
from ido.journal.registry import (
    RegistryChange,
    RegistryHead,
    RegistrySnapshot,
    SqlRegistry,
    registry_schema,
)
from ido.journal.shared import POSTGRES as SHARED
from ido.journal.shared import SharedRows

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 1

#: How long the server lets a session sit inside a transaction without a statement.
IDLE_IN_TRANSACTION_MS = 5_000

#: How soon health changes left for later (their row was held elsewhere) are tried again
#: when no append's transaction comes to fold them first (seconds).
HEALTH_RETRY_S = 0.05

#: How long `close` keeps trying to fold health changes whose row is held elsewhere (seconds).
CLOSE_HEALTH_S = 2.0

_T = TypeVar("_T")

#: An arbitrary constant naming ido's schema-creation lock among the server's advisory locks.
_SCHEMA_LOCK = 0x1D0_5C4E

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ido_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ido_runs (
    run_id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    info TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ido_runs_by_status ON ido_runs (status, created_at);
CREATE INDEX IF NOT EXISTS ido_runs_by_intent ON ido_runs (intent, created_at);
CREATE INDEX IF NOT EXISTS ido_runs_by_created ON ido_runs (created_at);
CREATE TABLE IF NOT EXISTS ido_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS ido_leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    until DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS ido_revisions (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    content TEXT NOT NULL
);
""" + registry_schema("ido_", "DOUBLE PRECISION") + ";\n".join(SHARED.schema()) + ";\n"


def redact_url(url: str) -> str:
    """Return `url` with its password (if any) replaced by `***`: for messages and repr."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://***"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def connection_url(url: str) -> str:
    """Return the libpq URL for ido's `--store` URL (`postgresql+psycopg://` and `postgres://` accepted)."""
    text = url.strip()
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql://" + text.removeprefix(prefix)
    return text


class PostgresStore(SharedRows, Store):
    """A journal in one PostgreSQL database; safe to share between tasks, threads and processes."""

    SHARED = SHARED  # the shared tables' SQL in this dialect (`SharedRows`)

    def __init__(self, url: str, *, synchronous: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise JournalError(
                "a postgresql:// journal needs psycopg 3: pip install 'ido[postgres]'"
            ) from None
        self.url = connection_url(url)
        self.synchronous = synchronous
        #: transactions committed by `append` (group commit makes this < appends).
        self.commits = 0
        #: calls to `append` that were committed.
        self.appends = 0
        #: run ids whose row did not decode in the last `list_runs` (they were left out).
        self.corrupted_runs: list[str] = []
        self._psycopg = psycopg
        self._closed = False
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._health = HealthFolds()
        self._shut = False
        self._timer_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._group: GroupCommit[Append] = GroupCommit(
            self._commit, name="ido-journal-writer:postgresql",
            failed=lambda exc: JournalError(f"cannot write the journal {redact_url(self.url)}: {type(exc).__name__}: {_one_line(exc)}"),
        )
        # EXCLUSIVE: other commits of the registry wait, readers do not
        self._registry = SqlRegistry(mark="%s", prefix="ido_", read=self._read, write=self._leasing,
                                     lock_sql="LOCK TABLE ido_registry_revisions IN EXCLUSIVE MODE")
        self._writer = self._connect()
        try:
            self._init_schema(self._writer)
            self._reader = self._connect()
        except BaseException:
            self._writer.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r})"

    # -- opening -------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            # A process frozen inside a transaction (SIGSTOP, a debugger, a paused VM) would
            # hold its lease rows locked, and claimers skip locked rows: the server ends such
            # a session after a while, so its runs can be taken over.
            return self._psycopg.connect(
                self.url, autocommit=True, connect_timeout=10,
                options=f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
            )
        except self._psycopg.Error as exc:
            raise JournalError(
                f"cannot open the journal {redact_url(self.url)}: {_one_line(exc)}"
            ) from None

    def _alive(self, conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
        """Return `conn`, or a new connection when the server ended it (a restart, or the idle
        timeout after this process was frozen): the call that met the dead one failed, the
        next one goes through."""
        if not conn.closed and not conn.broken:
            return conn
        with contextlib.suppress(Exception):
            conn.close()
        return self._connect()

    def _init_schema(self, conn: psycopg.Connection[Any]) -> None:
        """Create ido's tables unless there; refuse a database written by a newer ido."""
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                found = conn.execute("SELECT to_regclass('ido_meta')").fetchone()
                if found is not None and found[0] is not None:
                    row = conn.execute(
                        "SELECT value FROM ido_meta WHERE key = 'schema_version'"
                    ).fetchone()
                    version = int(row[0]) if row and str(row[0]).isdigit() else None
                    if version is None:
                        raise JournalError(
                            f"{redact_url(self.url)} has an ido_meta table without a schema "
                            "version; it is not an ido journal: pass another --store"
                        )
                    if version > SCHEMA_VERSION:
                        raise JournalError(
                            f"{redact_url(self.url)} was written by a newer ido (journal schema "
                            f"{version}, this ido reads up to {SCHEMA_VERSION}); upgrade ido"
                        )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO ido_meta (key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (str(SCHEMA_VERSION),),
                )
        except self._psycopg.Error as exc:
            raise JournalError(
                f"cannot prepare the journal {redact_url(self.url)}: {_one_line(exc)}"
            ) from None

    # -- writing -------------------------------------------------------------------------------

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Write `events`, the `run` row and the `health` changes in one transaction; return once committed.

        Concurrent callers share a transaction (group commit). Raises
        JournalError, having written nothing of this call, on a duplicate or
        gapped seq, on events of a run with no row yet, or on data that is not
        JSON; LeaseLost when `fence` no longer holds. If the caller is
        cancelled while waiting, the write still lands.
        """
        item = self._encode(events, run)
        item.fence = fence
        item.health = tuple(health)
        if self.synchronous:
            self._commit([item])
        else:
            await self._group.submit(item)
            return
        if item.error is not None:
            raise item.error

    def _encode(self, events: Sequence[Event], run: RunInfo | None) -> Append:
        if self._closed:
            raise JournalError(f"the journal {redact_url(self.url)} is closed")
        rows = [
            (e.run_id, e.seq, e.kind, e.at, encode(e.data, what=f"event {e.seq} of run {e.run_id}"))
            for e in events
        ]
        run_row = None
        if run is not None:
            run_row = (
                run.run_id, run.intent, run.status, run.created_at, run.updated_at,
                run.model_dump_json(),
            )
        return Append(rows=rows, events=events, run=run, run_row=run_row)

    def _commit(self, batch: list[Append], *, counted: bool = True) -> None:
        """Apply every item of `batch` in one transaction (`ido.journal.pg_write`); a rejected item sets its `error`.

        `counted`: the batch is appends (`commits`, `appends`), not probe answers or a retry.
        """
        with self._wlock:
            if self._shut:
                return
            conn = self._writer = self._alive(self._writer)
            at = time.time()
            try:
                self._health.create_rows(conn, self._health.pending(batch), at)
                try:
                    later = commit_batch(conn, batch, self._health, at)
                except self._psycopg.errors.IntegrityError:  # one append collides: it fails alone
                    later = commit_each(conn, batch, self._health, at)
            except self._psycopg.Error as exc:  # nothing of the batch is written
                error = JournalError(
                    f"cannot write the journal {redact_url(self.url)}: {_one_line(exc)}"
                )
                for item in batch:
                    item.error = item.error or error
                later = self._health.deferred  # still to fold, when the server answers again
            else:
                self._health.deferred = later
                if counted:
                    self.commits += 1
                    self.appends += sum(1 for item in batch if item.error is None)
        if later:
            self._retry_health_later()

    def _retry_health_later(self) -> None:
        """Fold the deferred health changes in a while, unless an append's transaction does it first."""
        with self._timer_lock:
            if self._timer is not None or self._closed:
                return
            self._timer = threading.Timer(HEALTH_RETRY_S, self._retry_health)
            self._timer.daemon = True
            self._timer.start()

    def _retry_health(self) -> None:
        with self._timer_lock:
            self._timer = None
        if self._closed or not self._health.deferred:
            return
        self._commit([], counted=False)

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Fold probe answers into the health rows now, or (a row held elsewhere) at the next commit."""
        if not changes:
            return
        if self._closed:
            raise JournalError(f"the journal {redact_url(self.url)} is closed")
        item = Append(rows=(), events=(), run=None, run_row=None, health=tuple(changes))
        self._commit([item], counted=False)
        if item.error is not None:
            raise item.error

    # -- leases ----------------------------------------------------------------------------------

    def _leasing(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Return `work(conn)` run in one transaction of the writing connection."""
        if self._closed:
            raise JournalError(f"the journal {redact_url(self.url)} is closed")
        with self._wlock:
            try:
                self._writer = self._alive(self._writer)
                with self._writer.transaction():
                    return work(self._writer)
            except self._psycopg.Error as exc:
                raise JournalError(
                    f"cannot write the journal {redact_url(self.url)}: {_one_line(exc)}"
                ) from None

    def claim(
        self, owner: str, *, lease_s: float, limit: int = 1, run_id: str | None = None,
        now: float | None = None, steal_from: Sequence[str] = (),
    ) -> list[Lease]:
        """Claim up to `limit` claimable runs, started ones first, oldest first (see `Store.claim`).

        `FOR UPDATE SKIP LOCKED` lets claimers on many machines pass each other
        without waiting: each takes runs no other transaction holds.
        """
        at = time.time() if now is None else now
        dead = list(steal_from)
        only = "AND r.run_id = %(run_id)s" if run_id is not None else ""
        sql = f"""
            WITH candidates AS (
                SELECT r.run_id FROM ido_runs r LEFT JOIN ido_leases l ON l.run_id = r.run_id
                WHERE r.status <> ALL(%(terminal)s)
                  AND (l.run_id IS NULL OR l.until < %(now)s OR l.owner = ANY(%(dead)s)) {only}
                ORDER BY r.status = 'queued', r.created_at, r.run_id
                LIMIT %(limit)s
                FOR UPDATE OF r SKIP LOCKED
            )
            INSERT INTO ido_leases (run_id, owner, epoch, until)
            SELECT run_id, %(owner)s, 1, %(until)s FROM candidates
            ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner,
                epoch = ido_leases.epoch + 1, until = excluded.until
            WHERE ido_leases.until < %(now)s OR ido_leases.owner = ANY(%(dead)s)
            RETURNING run_id, owner, epoch, until
        """
        params = {
            "terminal": sorted(TERMINAL_STATUSES), "now": at, "dead": dead, "run_id": run_id,
            "limit": limit, "owner": owner, "until": at + lease_s,
        }

        def work(conn: psycopg.Connection[Any]) -> list[Lease]:
            rows = conn.execute(sql, params).fetchall()
            return sorted((lease for row in rows if (lease := lease_from_row(row))), key=lambda x: x.run_id)

        return self._leasing(work)

    def renew(self, leases: Sequence[Lease], *, until: float) -> list[str]:
        """Extend the leases still held to `until`; return the run ids whose lease was lost.

        One statement for all of them (a worker renews every run it drives at each heartbeat).
        """
        def work(conn: psycopg.Connection[Any]) -> list[str]:
            rows = conn.execute(_RENEW, (until, *_lease_columns(leases))).fetchall()
            kept = {row[0] for row in rows}
            return [lease.run_id for lease in leases if lease.run_id not in kept]

        return self._leasing(work) if leases else []

    def release(self, leases: Sequence[Lease]) -> None:
        """Expire the leases still held (the epoch stays, so the next claim goes above it)."""
        if leases:
            self._leasing(lambda conn: conn.execute(_RELEASE, _lease_columns(leases)))

    def leases(self, *, run_ids: Sequence[str] | None = None, live_at: float | None = None) -> list[Lease]:
        """Return the current leases (see `Store.leases`)."""
        where: list[str] = []
        params: list[Any] = []
        if run_ids is not None:
            where.append("run_id = ANY(%s)")
            params.append(list(run_ids))
        if live_at is not None:
            where.append("until >= %s")
            params.append(live_at)
        rows = self._read(
            "SELECT run_id, owner, epoch, until FROM ido_leases"
            + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY run_id", params,
        )
        return [lease for row in rows if (lease := lease_from_row(row))]

    # -- the registry (`ido.journal.registry`) ------------------------------------------------

    def registry_head(self) -> RegistryHead | None:
        """Return the registry's newest revision, or None (see `Store.registry_head`)."""
        return self._registry.head()

    def registry_snapshot(self, *, number: int | None = None) -> RegistrySnapshot | None:
        """Return a registry revision with its declarations (see `Store.registry_snapshot`)."""
        return self._registry.snapshot(number)

    def commit_registry(self, changes: Sequence[RegistryChange], *, expect: int | None = None) -> RegistryHead:
        """Write the next registry revision if the head is `expect` (see `Store.commit_registry`)."""
        return self._registry.commit(changes, expect=expect)

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store `content` under `digest` once, durably; a second call with the digest is a no-op."""
        text = encode(content, what=f"revision {digest}")
        if self._closed:
            raise JournalError(f"the journal {redact_url(self.url)} is closed")
        with self._wlock:
            try:
                self._writer = self._alive(self._writer)
                self._writer.execute(
                    "INSERT INTO ido_revisions (digest, kind, content) VALUES (%s, %s, %s) "
                    "ON CONFLICT (digest) DO NOTHING",
                    (digest, kind, text),
                )
            except self._psycopg.Error as exc:
                raise JournalError(
                    f"cannot write the journal {redact_url(self.url)}: {_one_line(exc)}"
                ) from None

    # -- reading -------------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._closed:
            raise JournalError(f"the journal {redact_url(self.url)} is closed")
        with self._rlock:
            try:
                self._reader = self._alive(self._reader)
                return self._reader.execute(sql, params).fetchall()
            except self._psycopg.Error as exc:
                raise JournalError(
                    f"cannot read the journal {redact_url(self.url)}: {_one_line(exc)}"
                ) from None

    def _read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    def get_revision(self, *, digest: str) -> Any:
        """Return the content stored under `digest`; JournalError when unknown or undecodable."""
        row = self._read_one("SELECT content FROM ido_revisions WHERE digest = %s", (digest,))
        if row is None:
            raise JournalError(f"no revision {digest} in the journal {redact_url(self.url)}")
        try:
            return json.loads(row[0])
        except (json.JSONDecodeError, TypeError) as exc:
            raise JournalCorrupted(f"revision {digest} does not decode: {exc}") from None

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; UsageError otherwise."""
        row = self._read_one("SELECT run_id, info FROM ido_runs WHERE run_id = %s", (run_id,))
        if row is None:
            matches = [
                r[0] for r in self._read(
                    "SELECT run_id FROM ido_runs WHERE starts_with(run_id, %s) LIMIT 9", (run_id,)
                )
            ] if run_id else []
            if len(matches) != 1:
                known = matches or [
                    r[0] for r in self._read(
                        "SELECT run_id FROM ido_runs ORDER BY created_at DESC LIMIT 8"
                    )
                ]
                resolve_run_id(run_id, known)  # raises the ambiguous / unknown UsageError
            row = self._read_one(
                "SELECT run_id, info FROM ido_runs WHERE run_id = %s", (matches[0],)
            )
        return self._decode_run(row[0], row[1])

    def _decode_run(self, run_id: str, info: str) -> RunInfo:
        try:
            return RunInfo.model_validate_json(info)
        except PydanticError as exc:
            raise JournalCorrupted(
                f"the row of run {run_id} does not decode: {exc.errors()[0].get('msg')}; "
                "the other runs are unaffected",
                run_id=run_id,
            ) from None

    def look_runs(self, run_ids: Sequence[str]) -> dict[str, tuple[RunInfo, bool]]:
        """Return the rows of `run_ids` and whether each is still to be started, in one query
        (see `Store.look_runs`); rows that do not decode are left out."""
        out: dict[str, tuple[RunInfo, bool]] = {}
        for run_id, info, to_start in self._read(_LOOK_RUNS, (list(run_ids),)) if run_ids else ():
            with contextlib.suppress(JournalCorrupted):
                out[run_id] = (self._decode_run(run_id, info), bool(to_start))
        return out

    def count_runs(self) -> dict[str, int]:
        """Return how many runs are in each status, counted by the database (no row decoded)."""
        return {str(status): int(n) for status, n in self._read(
            "SELECT status, COUNT(*) FROM ido_runs GROUP BY status")}

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first, filtered and limited in SQL (see `Store.list_runs`); rows
        that do not decode are left out and named in `corrupted_runs`."""
        sql = "SELECT run_id, info FROM ido_runs"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = %s")
            params.append(status)
        if intent is not None:
            where.append("intent = %s")
            params.append(intent)
        if before is not None:
            where.append("(created_at, run_id) < (%s, %s)")
            params.extend(before)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        runs, bad = [], []
        for run_id, info in self._read(sql, params):
            try:
                runs.append(self._decode_run(run_id, info))
            except JournalCorrupted:
                bad.append(run_id)
        self.corrupted_runs = bad
        return runs

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given); JournalCorrupted on a bad row."""
        sql = "SELECT seq, kind, at, data FROM ido_events WHERE run_id = %s"
        params: list[Any] = [run_id]
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            sql += " AND kind = ANY(%s)"
            params.append(kinds)
        sql += " ORDER BY seq"
        out = []
        for seq, kind, at, data in self._read(sql, params):
            try:
                out.append(Event(run_id=run_id, seq=seq, kind=kind, at=at, data=json.loads(data)))
            except (json.JSONDecodeError, TypeError, PydanticError) as exc:
                raise JournalCorrupted(
                    f"event {seq} ({kind}) of run {run_id} does not decode: {_one_line(exc)}; "
                    "the other runs are unaffected",
                    run_id=run_id,
                ) from None
        return out

    def close(self) -> None:
        """Wait for queued appends to commit, stop the writer thread and close both connections."""
        if self._closed:
            return
        self._closed = True
        self._group.close(JournalError(f"the journal {redact_url(self.url)} is closed"))
        with self._timer_lock:
            if self._timer is not None:
                self._timer.cancel()
        # changes whose row was held elsewhere: tried for a moment (the holder commits), then given up
        give_up = time.monotonic() + CLOSE_HEALTH_S
        while self._health.deferred and time.monotonic() < give_up:
            self._commit([], counted=False)
            if self._health.deferred:
                time.sleep(HEALTH_RETRY_S)
        with self._wlock:
            self._shut = True  # a retry timer that fired meanwhile finds nothing to write with
            self._writer.close()
        with self._rlock:
            self._reader.close()


# to be started: queued and no `run_started` yet (the same test as `Store.look_runs`'s, in one query)
_LOOK_RUNS = (
    "SELECT r.run_id, r.info, r.status = 'queued' AND NOT EXISTS (SELECT 1 FROM ido_events e "
    "WHERE e.run_id = r.run_id AND e.kind = 'run_started') FROM ido_runs r WHERE r.run_id = ANY(%b::text[])"
)

# the leases still held: (run_id, owner, epoch) as arrays, sent in binary (see `ido.journal.pg_write`)
_HELD = "FROM unnest(%b::text[], %b::text[], %b::int[]) AS h(run_id, owner, epoch) " \
    "WHERE l.run_id = h.run_id AND l.owner = h.owner AND l.epoch = h.epoch"
_RENEW = "UPDATE ido_leases l SET until = %s " + _HELD + " RETURNING l.run_id"
_RELEASE = "UPDATE ido_leases l SET until = 0 " + _HELD


def _lease_columns(leases: Sequence[Lease]) -> tuple[list[str], list[str], list[int]]:
    """Return the run ids, owners and epochs of `leases`, as `_HELD` takes them."""
    return [x.run_id for x in leases], [x.owner for x in leases], [x.epoch for x in leases]


def _one_line(exc: BaseException) -> str:
    """Return the first line of an exception's message (psycopg adds DETAIL/HINT lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
