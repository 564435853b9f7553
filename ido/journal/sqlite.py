"""The SQLite journal, ido's default store (`WORKSPACE/.ido/journal.db`).

Durability: the file is in WAL mode with `synchronous=FULL`, so `append`
returns only after its transaction's WAL frames are fsynced: a committed
event survives a process crash *and* a power loss. Throughput comes from
group commit, not from weaker syncing: one writer thread drains everything
queued by concurrent callers into a single `BEGIN IMMEDIATE ... COMMIT` (one
fsync), then wakes each caller on its own event loop. With
`synchronous=True` (the simulator's virtual-time loop, which must never wait
on a thread) `append` commits in the calling thread instead.

Readers (`get_run`, `list_runs`, `events`, `get_revision`) use their own
connection and see every committed transaction. A row that does not decode
raises `JournalCorrupted` naming the run and seq; other runs stay readable.
A file that is not an ido journal is refused at open with what is wrong.
Opened by `ido.journal.open_store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError as PydanticError

from ido.errors import JournalCorrupted, JournalError
from ido.journal._common import check_fence, check_seqs, encode, resolve_run_id
from ido.journal.base import TERMINAL_STATUSES, Event, Lease, RunInfo, Store

SCHEMA_VERSION = 1

_T = TypeVar("_T")
_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Return whether SQLite refused because another connection holds a lock."""
    message = str(exc).lower()
    return "locked" in message or "busy" in message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    intent TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    info TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at);
CREATE INDEX IF NOT EXISTS runs_by_intent ON runs (intent, created_at);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    until REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revisions (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    content TEXT NOT NULL
) WITHOUT ROWID;
"""


@dataclass
class _Append:
    """One caller's append, encoded in the caller's thread, waiting for the writer."""

    rows: Sequence[tuple[str, int, str, float, str]]
    events: Sequence[Event]
    run: RunInfo | None
    run_row: tuple[str, str, str, float, float, str] | None
    fence: Lease | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    error: JournalError | None = field(default=None)


class SQLiteStore(Store):
    """A journal in one SQLite file; safe to share between the engine's tasks and threads."""

    def __init__(self, path: str | Path, *, synchronous: bool = False) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        #: transactions committed by `append` (group commit makes this < appends).
        self.commits = 0
        #: calls to `append` that were committed.
        self.appends = 0
        #: run ids whose row did not decode in the last `list_runs` (they were left out).
        self.corrupted_runs: list[str] = []
        self._closed = False
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._queue: queue.SimpleQueue[_Append | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._open_writer()
            self._reader = self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._not_a_journal(str(exc)) from None
        except OSError as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None

    # -- opening -------------------------------------------------------------------------------

    def _not_a_journal(self, reason: str) -> JournalError:
        return JournalError(
            f"{self.path} is not an ido journal: {reason}; move it aside or pass --store"
        )

    def _check_file(self) -> None:
        """Refuse files that are not SQLite databases or that were cut short, before SQLite sees them."""
        if self.path.is_dir():
            raise self._not_a_journal("it is a folder")
        try:
            with self.path.open("rb") as fh:
                head = fh.read(100)
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from None
        if size == 0:
            return
        if len(head) < 100:
            if head == _HEADER[: len(head)] or head.startswith(_HEADER):
                raise self._not_a_journal(f"it is truncated ({size} bytes, shorter than a header)")
            raise self._not_a_journal("it is not a SQLite database (wrong file header)")
        if not head.startswith(_HEADER):
            raise self._not_a_journal("it is not a SQLite database (wrong file header)")
        page_size = int.from_bytes(head[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(head[28:32], "big")
        counter_valid = head[24:28] == head[92:96]
        if counter_valid and pages and size < pages * page_size:
            raise self._not_a_journal(
                f"it is truncated: its header counts {pages} pages of {page_size} bytes "
                f"({pages * page_size} bytes) but the file has {size} bytes"
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        """Return the writing connection, with the file in WAL mode and ido's tables created.

        Processes opening one new journal at once can meet in SQLite's rollback mode,
        where two connections that both read and then both want to write are a deadlock
        SQLite breaks by answering one of them "database is locked" at once, without
        waiting (the busy timeout does not apply). Switching to WAL and creating the
        tables is idempotent, so that answer is retried with a short backoff for as long
        as the busy timeout would have waited.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
        pause = 0.005
        while True:
            conn = self._connect()
            try:
                self._init_schema(conn)
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if not _is_busy(exc) or time.monotonic() + pause > deadline:
                    raise
            except BaseException:
                conn.close()
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"cannot put the journal {self.path} in WAL mode (got {mode!r})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise self._not_a_journal(
                f"it is a SQLite database without ido's tables (it has {', '.join(sorted(tables))})"
            )
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
            if version is None:
                raise self._not_a_journal("its meta table holds no schema version")
            if version > SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path} was written by a newer ido (journal schema {version}, this ido "
                    f"reads up to {SCHEMA_VERSION}); upgrade ido or pass --store"
                )
            if {"runs", "events", "revisions", "leases"} <= tables:
                return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- writing -------------------------------------------------------------------------------

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None
    ) -> None:
        """Write `events` and the `run` row in one transaction; return once fsynced.

        Concurrent callers share a transaction (group commit). Raises
        JournalError, having written nothing of this call, on a duplicate or
        gapped seq, on events of a run with no row yet, or on data that is not
        JSON; LeaseLost when `fence` no longer holds. If the caller is
        cancelled while waiting, the write still lands.
        """
        item = self._encode(events, run)
        item.fence = fence
        if self.synchronous:
            self._commit([item])
        else:
            loop = asyncio.get_running_loop()
            item.loop, item.future = loop, loop.create_future()
            self._ensure_writer()
            self._queue.put(item)
            await item.future
            return
        if item.error is not None:
            raise item.error

    def _encode(self, events: Sequence[Event], run: RunInfo | None) -> _Append:
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
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
        return _Append(rows=rows, events=events, run=run, run_row=run_row)

    def _ensure_writer(self) -> None:
        if self._thread is not None:
            return
        with self._thread_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._writer_loop, name=f"ido-journal-writer:{self.path.name}", daemon=True
                )
                self._thread.start()

    def _writer_loop(self) -> None:
        """Drain the queue into one transaction at a time until `close` sends None."""
        while True:
            first = self._queue.get()
            batch: list[_Append] = [] if first is None else [first]
            stop = first is None
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                try:
                    self._commit(batch)
                except Exception as exc:  # even ROLLBACK failed: never leave a caller waiting
                    for item in batch:
                        item.error = item.error or JournalError(
                            f"cannot write the journal {self.path}: {type(exc).__name__}: {exc}"
                        )
                for item in batch:
                    assert item.loop is not None and item.future is not None
                    # RuntimeError: the caller's loop is closed, nobody waits any more.
                    with contextlib.suppress(RuntimeError):
                        item.loop.call_soon_threadsafe(_settle, item.future, item.error)
            if stop:
                return

    def _commit(self, batch: list[_Append]) -> None:
        """Apply every item of `batch` in one transaction; a rejected item sets its `error`."""
        with self._wlock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                last: dict[str, int] = {}
                has_row: dict[str, bool] = {}
                for item in batch:
                    self._apply(conn, item, last, has_row)
                conn.execute("COMMIT")
            except Exception as exc:  # sqlite3.Error (disk full, I/O) or a bug: nothing is written
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                error = JournalError(f"cannot write the journal {self.path}: {exc}")
                for item in batch:
                    item.error = item.error or error
                return
            self.commits += 1
            self.appends += sum(1 for item in batch if item.error is None)

    def _apply(
        self, conn: sqlite3.Connection, item: _Append, last: dict[str, int], has_row: dict[str, bool]
    ) -> None:
        """Write one caller's rows inside a savepoint, so a rejected caller leaves no trace."""
        for run_id in {e.run_id for e in item.events}:
            if run_id not in last:
                row = conn.execute("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
                last[run_id] = int(row[0] or 0)
            if run_id not in has_row:
                found = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                has_row[run_id] = found is not None
        try:
            new_last = check_seqs(item.events, last)
            for run_id in new_last:
                if not has_row[run_id] and (item.run is None or item.run.run_id != run_id):
                    raise JournalError(
                        f"events for run {run_id}, which has no row: pass run=RunInfo(...) "
                        "with the run's first append"
                    )
            fence = item.fence
            if fence is not None:
                held = _lease(conn.execute(
                    "SELECT run_id, owner, epoch, until FROM leases WHERE run_id = ?", (fence.run_id,)
                ).fetchone())
                creates = last.get(fence.run_id, 0) == 0 and any(e.seq == 1 for e in item.events)
                check_fence(fence, held, creates=creates)
        except JournalError as exc:
            item.error = exc
            return
        conn.execute("SAVEPOINT item")
        try:
            if item.fence is not None:
                conn.execute(
                    "INSERT INTO leases (run_id, owner, epoch, until) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET until = excluded.until",
                    (item.fence.run_id, item.fence.owner, item.fence.epoch, item.fence.until),
                )
            if item.run_row is not None:
                conn.execute(
                    "INSERT INTO runs (run_id, intent, status, created_at, updated_at, info) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                    "intent = excluded.intent, status = excluded.status, "
                    "created_at = excluded.created_at, updated_at = excluded.updated_at, "
                    "info = excluded.info",
                    item.run_row,
                )
            conn.executemany(
                "INSERT INTO events (run_id, seq, kind, at, data) VALUES (?, ?, ?, ?, ?)", item.rows
            )
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK TO item")
            conn.execute("RELEASE item")
            item.error = JournalError(f"cannot append to the journal {self.path}: {exc}")
            return
        conn.execute("RELEASE item")
        last.update(new_last)
        if item.run is not None:
            has_row[item.run.run_id] = True

    # -- leases ----------------------------------------------------------------------------------

    def _leasing(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """Return `work(conn)` run in one BEGIN IMMEDIATE transaction of the writing connection.

        BEGIN IMMEDIATE takes SQLite's write lock first, so claims of several
        processes on one file are serialized: two never take the same run.
        """
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
        with self._wlock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from None

    def claim(
        self, owner: str, *, lease_s: float, limit: int = 1, run_id: str | None = None,
        now: float | None = None, steal_from: Sequence[str] = (),
    ) -> list[Lease]:
        """Claim up to `limit` claimable runs, oldest first (see `Store.claim`)."""
        at = time.time() if now is None else now
        dead = list(steal_from)
        terminal = sorted(TERMINAL_STATUSES)
        sql = (
            "SELECT r.run_id, l.epoch FROM runs r LEFT JOIN leases l ON l.run_id = r.run_id "
            f"WHERE r.status NOT IN ({', '.join('?' for _ in terminal)}) "
            f"AND (l.run_id IS NULL OR l.until < ? OR l.owner IN ({', '.join('?' for _ in dead) or 'NULL'}))"
        )
        params: list[Any] = [*terminal, at, *dead]
        if run_id is not None:
            sql += " AND r.run_id = ?"
            params.append(run_id)
        sql += " ORDER BY r.created_at, r.run_id LIMIT ?"
        params.append(limit)

        def work(conn: sqlite3.Connection) -> list[Lease]:
            claimed = []
            for rid, epoch in conn.execute(sql, params).fetchall():
                lease = Lease(run_id=rid, owner=owner, epoch=int(epoch or 0) + 1, until=at + lease_s)
                conn.execute(
                    "INSERT INTO leases (run_id, owner, epoch, until) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, "
                    "epoch = excluded.epoch, until = excluded.until",
                    (lease.run_id, lease.owner, lease.epoch, lease.until),
                )
                claimed.append(lease)
            return claimed

        return self._leasing(work)

    def renew(self, leases: Sequence[Lease], *, until: float) -> list[str]:
        """Extend the leases still held to `until`; return the run ids whose lease was lost."""
        def work(conn: sqlite3.Connection) -> list[str]:
            lost = []
            for lease in leases:
                cur = conn.execute(
                    "UPDATE leases SET until = ? WHERE run_id = ? AND owner = ? AND epoch = ?",
                    (until, lease.run_id, lease.owner, lease.epoch),
                )
                if cur.rowcount == 0:
                    lost.append(lease.run_id)
            return lost

        return self._leasing(work) if leases else []

    def release(self, leases: Sequence[Lease]) -> None:
        """Expire the leases still held (the epoch stays, so the next claim goes above it)."""
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE leases SET until = 0 WHERE run_id = ? AND owner = ? AND epoch = ?",
                [(lease.run_id, lease.owner, lease.epoch) for lease in leases],
            )

        if leases:
            self._leasing(work)

    def leases(self, *, run_ids: Sequence[str] | None = None) -> list[Lease]:
        """Return the current leases (of `run_ids` if given), expired ones included."""
        sql = "SELECT run_id, owner, epoch, until FROM leases"
        params: list[Any] = []
        if run_ids is not None:
            ids = list(run_ids)
            sql += f" WHERE run_id IN ({', '.join('?' for _ in ids) or 'NULL'})"
            params = ids
        return [lease for row in self._read(sql + " ORDER BY run_id", params) if (lease := _lease(row))]

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store `content` under `digest` once, durably; a second call with the digest is a no-op."""
        text = encode(content, what=f"revision {digest}")
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
        if self._read_one("SELECT 1 FROM revisions WHERE digest = ?", (digest,)) is not None:
            return
        with self._wlock:
            try:
                self._writer.execute(
                    "INSERT OR IGNORE INTO revisions (digest, kind, content) VALUES (?, ?, ?)",
                    (digest, kind, text),
                )
            except sqlite3.Error as exc:
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from None

    # -- reading -------------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
        with self._rlock:
            try:
                return self._reader.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise JournalCorrupted(
                    f"the journal {self.path} cannot be read: {exc}; move it aside or pass --store"
                ) from None

    def _read_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read(sql, params)
        return rows[0] if rows else None

    def get_revision(self, *, digest: str) -> Any:
        """Return the content stored under `digest`; JournalError when unknown or undecodable."""
        row = self._read_one("SELECT content FROM revisions WHERE digest = ?", (digest,))
        if row is None:
            raise JournalError(f"no revision {digest} in the journal {self.path}")
        try:
            return json.loads(row[0])
        except (json.JSONDecodeError, TypeError) as exc:
            raise JournalCorrupted(
                f"revision {digest} in {self.path} does not decode: {exc}"
            ) from None

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; UsageError otherwise."""
        row = self._read_one("SELECT run_id, info FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            matches = [
                r[0] for r in self._read(
                    "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ?",
                    (len(run_id), run_id),
                )
            ] if run_id else []
            if len(matches) != 1:
                known = matches or [
                    r[0] for r in self._read("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 8")
                ]
                resolve_run_id(run_id, known)  # raises the ambiguous / unknown UsageError
            row = self._read_one("SELECT run_id, info FROM runs WHERE run_id = ?", (matches[0],))
        return self._decode_run(row[0], row[1])

    def _decode_run(self, run_id: str, info: str) -> RunInfo:
        try:
            return RunInfo.model_validate_json(info)
        except PydanticError as exc:
            raise JournalCorrupted(
                f"the row of run {run_id} in {self.path} does not decode: "
                f"{_first_error(exc)}; the other runs are unaffected",
                run_id=run_id,
            ) from None

    def list_runs(self, *, status: str | None = None, limit: int | None = None) -> list[RunInfo]:
        """Return runs newest first; rows that do not decode are left out and named in `corrupted_runs`."""
        sql = "SELECT run_id, info FROM runs"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        sql += " ORDER BY created_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
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
        sql = "SELECT seq, kind, at, data FROM events WHERE run_id = ?"
        params: list[Any] = [run_id]
        if kinds is not None:
            kinds = list(kinds)
            if not kinds:
                return []
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params.extend(kinds)
        sql += " ORDER BY seq"
        out = []
        for seq, kind, at, data in self._read(sql, params):
            try:
                out.append(Event(run_id=run_id, seq=seq, kind=kind, at=at, data=json.loads(data)))
            except (json.JSONDecodeError, TypeError, PydanticError) as exc:
                reason = _first_error(exc) if isinstance(exc, PydanticError) else str(exc)
                raise JournalCorrupted(
                    f"event {seq} ({kind}) of run {run_id} in {self.path} does not decode: "
                    f"{reason}; the other runs are unaffected",
                    run_id=run_id,
                ) from None
        return out

    def close(self) -> None:
        """Wait for queued appends to commit, stop the writer thread and close both connections."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        # An append that raced with close may have queued behind the stop signal: fail it
        # rather than leave its caller waiting forever.
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item.loop is not None and item.future is not None:
                with contextlib.suppress(RuntimeError):
                    item.loop.call_soon_threadsafe(
                        _settle, item.future, JournalError(f"the journal {self.path} is closed")
                    )
        with self._wlock:
            self._writer.close()
        with self._rlock:
            self._reader.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, synchronous={self.synchronous})"


def _lease(row: Any) -> Lease | None:
    """Return the lease a `leases` row holds (None for no row)."""
    if row is None:
        return None
    return Lease(run_id=row[0], owner=row[1], epoch=int(row[2]), until=float(row[3]))


def _settle(future: asyncio.Future[None], error: JournalError | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _first_error(exc: PydanticError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
