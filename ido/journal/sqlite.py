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

Format (`FORMAT_VERSION`, in the meta table): rows are packed by
`ido.journal.codec`, events keyed by `run_key << 32 | seq`; a journal of an
older format is migrated when opened, one of a newer format refused naming
both versions. What each row is deflated against (the run's previous
events, a long value's previous versions, a seed per intent) is remembered
by the writer only once committed. The seed of an intent is the texts of
the first run of it this journal saw to its end (its first `_SEED_MAX`
bytes), stored once as a blob named in the meta table (`runseed.INTENT`)
and never replaced: runs of one intent repeat one another (the same plan,
alternatives, reasons, field names), so each later row of the intent
stores mostly what is its own. Opened by `ido.journal.open_store`.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError as PydanticError

from ido.errors import JournalCorrupted, JournalError
from ido.journal._common import check_fence, check_seqs, lease_from_row, resolve_run_id
from ido.journal.base import (
    TERMINAL_STATUSES,
    Event,
    HealthChange,
    Lease,
    RunInfo,
    Store,
)
from ido.journal.codec import (
    BLOB_CHAIN,
    ZDICT_1,
    Packed,
    Packer,
    blob_key,
    digest,
    kind_code,
    kind_name,
    load,
    ref_digest,
    ref_text,
    same_at,
    unpack,
    with_same_at,
)
from ido.journal.group import GroupCommit
from ido.journal.registry import (
    RegistryChange,
    RegistryHead,
    RegistrySnapshot,
    SqlRegistry,
    registry_schema,
)
from ido.journal.shared import SQLITE as SHARED
from ido.journal.shared import SharedRows

#: the journal format this code writes. 1: JSON text rows keyed by run id (ido up to
#: 0.x of 2026-12); 2: packed rows (`ido.journal.codec`) keyed by an integer run key, blobs;
#: 3: rows raw-deflated with a checksum, deflated against their intent's seed (a whole
#: earlier run) rather than a seed named in each row; 4: a long top-level list stored in runs
#: of entries (`ido.journal.codec.CHUNKS`, which a format-3 reader would not resolve).
#: Format-2 and format-3 rows read as they are.
FORMAT_VERSION = 4
SCHEMA_VERSION = FORMAT_VERSION  # the name format 1 used; kept in meta so format-1 idos refuse us

_T = TypeVar("_T")
_REGISTRY_TABLES = ("registry_revisions", "registry_entries")
_HEADER = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000
_HEAD_READS = 5  # a file being created by another process is re-read this often at most
#: an event's row key is run_key << 32 | seq: one integer, the rowid, no second index.
_SEQ_BITS = 32
_SEQ_MASK = (1 << _SEQ_BITS) - 1
#: how many of a run's previous events a row is deflated against (decisions are a few apart).
_CHAIN = 6
#: at most this many bytes of a run's event texts make the seed of its intent: with the
#: run's previous events (`_CHAIN`) and the field-name dictionary it fits zlib's 32 KiB window.
_SEED_MAX = 20_000
#: decoded blobs kept per store (many decisions share them); a dict, cleared when full.
_BLOB_CACHE = 4096


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """Return whether SQLite refused because another connection holds a lock."""
    message = str(exc).lower()
    return "locked" in message or "busy" in message


# Rows hold packed bytes (`ido.journal.codec`); a TEXT value is a format-1 row (plain JSON)
# carried over by the migration, read as it was. Events are keyed by one integer
# (run_key << 32 | seq) so that a run's events are one range of the rowid b-tree, appended
# at its end, and rows up to a page long stay on their leaf page.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_key INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    intent TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    info BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at);
CREATE INDEX IF NOT EXISTS runs_by_intent ON runs (intent, created_at);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (key INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    until REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revisions (
    digest TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    content BLOB NOT NULL
) WITHOUT ROWID;
""" + registry_schema("", "REAL") + ";\n".join(SHARED.schema()) + ";\n"

#: the tables a journal of this format has (a journal without one gets it, `CREATE ... IF NOT EXISTS`).
_TABLES = frozenset({
    "runs", "events", "revisions", "blobs", "leases", "capability_health", "probe_leases", "trial_leases",
    "run_signals",
    *_REGISTRY_TABLES,
})

#: format 1 -> 2: the same rows under the new keys; their JSON text is kept as it is.
_MIGRATE_1 = """
DROP INDEX IF EXISTS runs_by_status;
DROP INDEX IF EXISTS runs_by_intent;
DROP INDEX IF EXISTS runs_by_created;
ALTER TABLE runs RENAME TO runs_v1;
ALTER TABLE events RENAME TO events_v1;
ALTER TABLE revisions RENAME TO revisions_v1;
{schema}
INSERT INTO runs (run_key, run_id, intent, status, created_at, updated_at, info)
    SELECT rowid, run_id, intent, status, created_at, updated_at, info FROM runs_v1;
INSERT INTO events (id, kind, at, data)
    SELECT (r.run_key << 32) | e.seq, e.kind, e.at, e.data
    FROM events_v1 AS e JOIN runs AS r ON r.run_id = e.run_id;
INSERT INTO revisions (digest, kind, content) SELECT digest, kind, content FROM revisions_v1;
DROP TABLE runs_v1;
DROP TABLE events_v1;
DROP TABLE revisions_v1
"""


@dataclass
class _Append:
    """One caller's append, packed in the caller's thread, waiting for the writer."""

    events: Sequence[Event]
    packed: Sequence[Packed]
    run: RunInfo | None
    run_info: bytes | None  # JSON, sealed by the writer (against its intent's seed)
    fence: Lease | None = None
    health: Sequence[HealthChange] = ()
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    error: JournalError | None = field(default=None)


class SQLiteStore(SharedRows, Store):
    """A journal in one SQLite file; safe to share between the engine's tasks and threads."""

    SHARED = SHARED  # the shared tables' SQL in this dialect (`SharedRows`)

    def __init__(self, path: str | Path, *, synchronous: bool = False, must_exist: bool = False) -> None:
        """Open (creating unless `must_exist`) the journal at `path`, migrating an older format.

        Raises JournalError when the file is not an ido journal, is empty or cut
        short, or was written by a newer ido. `must_exist=True` is for commands
        that only read: an empty file is then reported as such, not as no runs.
        """
        self.path = Path(path)
        self.synchronous = synchronous
        #: transactions committed by `append` (group commit makes this < appends).
        self.commits = 0
        #: calls to `append` that were committed.
        self.appends = 0
        #: run ids whose row did not decode in the last `list_runs` (they were left out).
        self.corrupted_runs: list[str] = []
        #: the journal format the file had when opened (older ones are migrated at open).
        self.opened_format: int | None = None
        self._closed = False
        self._wlock = threading.Lock()
        self._rlock = threading.Lock()
        self._group: GroupCommit[_Append] = GroupCommit(
            self._commit, name=f"ido-journal-writer:{self.path.name}",
            failed=lambda exc: JournalError(f"cannot write the journal {self.path}: {type(exc).__name__}: {exc}"),
        )
        # writer-side memory, only ever updated after a COMMIT (a rolled-back row is never a base)
        self._run_keys: dict[str, int] = {}
        self._recent: dict[str, list[tuple[int, bytes, float]]] = {}  # run -> its last (seq, text, at)s
        self._stored_blobs: set[bytes] = set()
        # top-level key -> (the last blob stored under it, the texts of its chain)
        self._blob_bases: dict[str, tuple[bytes, tuple[bytes, ...]]] = {}
        self._blob_texts: dict[bytes, bytes] = {}
        self._blob_parents: dict[bytes, bytes | None] = {}
        self._intents: dict[str, str | None] = {}  # run -> intent, for runs this store writes
        self._seeds: dict[str, bytes | None] = {}  # intent -> its seed's text (writer side)
        # run -> its event texts from seq 1, while its intent has no seed (a seed to be)
        self._candidates: dict[str, tuple[bytes, ...]] = {}
        self._read_seeds: dict[str, bytes] = {}  # intent -> its seed's text (reader side)
        self._blob_cache: dict[bytes, Any] = {}
        self._check_file(must_exist=must_exist)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._open_writer()
            self._reader = self._connect()
            self._packer = self._load_packer()
            self._registry = SqlRegistry(mark="?", prefix="", read=self._read, write=self._leasing)
        except sqlite3.DatabaseError as exc:
            raise self._not_a_journal(str(exc)) from None
        except OSError as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None

    # -- opening -------------------------------------------------------------------------------

    def _not_a_journal(self, reason: str) -> JournalError:
        return JournalError(
            f"{self.path} is not an ido journal: {reason}; move it aside or pass --store"
        )

    def _check_file(self, *, must_exist: bool) -> None:
        """Refuse files that are not SQLite databases, cut short, empty (when `must_exist`) or
        left by a crash without their write-ahead log, before SQLite sees them."""
        if self.path.is_dir():
            raise self._not_a_journal("it is a folder")
        try:
            head, size = self._read_head()
        except FileNotFoundError:
            if must_exist:
                raise JournalError(f"there is no journal at {self.path}; pass --store") from None
            return
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc}") from None
        if size == 0:
            if must_exist:
                raise self._not_a_journal(
                    "it is an empty file (0 bytes): nothing was ever written to it, or it was "
                    "emptied; runs recorded in it, if any, are lost"
                )
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
        wal, shm = Path(f"{self.path}-wal"), Path(f"{self.path}-shm")
        # With a write-ahead log beside it, the file may be in the middle of a checkpoint by a
        # live process (its first page, with the new page count, written before the pages that
        # extend the file): SQLite reads such a file through the log, so it is not cut short.
        if counter_valid and pages and size < pages * page_size and not wal.exists():
            raise self._not_a_journal(
                f"it is truncated: its header counts {pages} pages of {page_size} bytes "
                f"({pages * page_size} bytes) but the file has {size} bytes"
            )
        # A clean close checkpoints the log into the file and deletes both. A crash leaves
        # both; the shared-memory index without its log means the log was lost or not copied,
        # and with it every transaction committed since the last checkpoint.
        if shm.exists() and not wal.exists() and shm.stat().st_size > 0:
            raise JournalError(
                f"the journal {self.path} lost its write-ahead log: {shm.name} is there but "
                f"{wal.name} is not, so runs committed since the last checkpoint are missing "
                f"from it; put {wal.name} back next to it (copy journals with both files), or "
                f"delete {shm.name} to open the journal without them"
            )

    def _read_head(self) -> tuple[bytes, int]:
        """Return the file's first 100 bytes and its size, read so that they agree.

        A process creating the journal at this instant writes its first page in one call; a
        header read before that call and a size taken after it would make a file being
        created look cut short, so the pair is read again until the size explains the head.
        """
        for _ in range(_HEAD_READS):
            with self.path.open("rb") as fh:
                head = fh.read(100)
                size = os.fstat(fh.fileno()).st_size
            if len(head) == min(size, 100):
                break
        return head, size

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
        # small pages: a journal's tables and indexes take a page each at least, and rows are
        # a few hundred bytes; only takes effect on a file not yet written
        conn.execute("PRAGMA page_size = 1024")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"cannot put the journal {self.path} in WAL mode (got {mode!r})")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise self._not_a_journal(
                f"it is a SQLite database without ido's tables (it has {', '.join(sorted(tables))})"
            )
        version = FORMAT_VERSION
        if "meta" in tables:
            version = self._stored_format(conn)
            if tables >= _TABLES and version == FORMAT_VERSION:
                self.opened_format = version
                return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if "meta" in tables:  # another process may have migrated it meanwhile
                version = self._stored_format(conn)
            self.opened_format = version
            if version == 1 and "events" in tables:
                for statement in _MIGRATE_1.format(schema=_SCHEMA).split(";"):
                    if statement.strip():
                        conn.execute(statement)
            else:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
            # named by its digest (format 2 kept its text, read as such): 2 KB less in every journal
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('zdict.1', ?)", (digest(ZDICT_1.encode()),))
            for key in ("format_version", "schema_version"):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, str(FORMAT_VERSION)),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _stored_format(self, conn: sqlite3.Connection) -> int:
        """Return the format the journal's meta table names; JournalError when newer or missing."""
        rows = dict(conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('format_version', 'schema_version')"
        ).fetchall())
        numbers = [int(str(v)) for v in rows.values() if str(v).isdigit()]
        if not numbers:
            raise self._not_a_journal("its meta table holds no format version")
        version = max(numbers)
        if version > FORMAT_VERSION:
            raise JournalError(
                f"{self.path} was written by a newer ido (journal format {version}; this ido "
                f"reads formats 1 to {FORMAT_VERSION}): upgrade ido to read it, or pass --store "
                "to use another journal"
            )
        return version

    def _load_packer(self) -> Packer:
        rows = self._reader.execute("SELECT key, value FROM meta WHERE key LIKE 'zdict.%'").fetchall()
        dictionaries = {}
        for k, v in rows:
            number = int(k.split(".", 1)[1])
            try:
                dictionaries[number] = _dictionary(number, v)
            except (ValueError, zlib.error) as exc:
                raise JournalCorrupted(f"the journal {self.path} names a preset dictionary {number} "
                                       f"this ido cannot use: {exc}; move it aside or pass --store") from None
        return Packer(dictionaries, current=max(dictionaries, default=0))

    # -- writing -------------------------------------------------------------------------------

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Write `events`, the `run` row and the `health` changes in one transaction; return once fsynced.

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

    def _encode(self, events: Sequence[Event], run: RunInfo | None) -> _Append:
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
        packed = [self._packer.pack(e.data, what=f"event {e.seq} of run {e.run_id}") for e in events]
        for e in events:
            if not 1 <= e.seq <= _SEQ_MASK:
                raise JournalError(
                    f"event seq {e.seq} of run {e.run_id} is out of range: seqs run from 1 to {_SEQ_MASK}"
                )
        info = None if run is None else run.model_dump_json().encode()
        return _Append(events=events, packed=packed, run=run, run_info=info)

    def _commit(self, batch: list[_Append]) -> None:
        """Apply every item of `batch` in one transaction; a rejected item sets its `error`."""
        with self._wlock:
            conn = self._writer
            done = _Written()
            try:
                conn.execute("BEGIN IMMEDIATE")
                last: dict[str, int] = {}
                for item in batch:
                    self._apply(conn, item, last, done)
                # the health changes of the appends written, in this same transaction
                SHARED.apply_health(
                    conn, [c for item in batch if item.error is None for c in item.health], time.time()
                )
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
            self._remember(done)

    def _remember(self, done: _Written) -> None:
        """Keep what a committed transaction wrote that later appends build on."""
        if len(self._stored_blobs) > 200_000:
            self._stored_blobs.clear()
        self._stored_blobs |= done.blobs
        self._blob_bases.update(done.blob_bases)
        self._run_keys.update(done.run_keys)
        if len(self._recent) > 20_000:
            self._recent.clear()
        self._recent.update(done.recent)
        self._seeds.update(done.seeds)
        if len(self._candidates) > 1_000:  # runs handed to other processes never finish here;
            self._candidates.clear()  # dropping their texts only puts the seed off
        self._candidates.update(done.candidates)
        for run_id in [r for r in self._candidates if r in done.finished or self._intents.get(r) in done.seeds]:
            del self._candidates[run_id]
        for run_id in done.finished:
            self._run_keys.pop(run_id, None)
            self._intents.pop(run_id, None)
            self._recent.pop(run_id, None)

    def _run_key(self, conn: sqlite3.Connection, run_id: str, done: _Written) -> int | None:
        key = done.run_keys.get(run_id, self._run_keys.get(run_id))
        if key is None:
            row = conn.execute("SELECT run_key FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            key = None if row is None else int(row[0])
        return key

    def _apply(self, conn: sqlite3.Connection, item: _Append, last: dict[str, int], done: _Written) -> None:
        """Write one caller's rows inside a savepoint, so a rejected caller leaves no trace."""
        keys: dict[str, int | None] = {}
        for run_id in {e.run_id for e in item.events}:
            keys[run_id] = self._run_key(conn, run_id, done)
            if run_id not in last:
                key = keys[run_id]
                if key is None:
                    last[run_id] = 0
                else:
                    row = conn.execute(
                        "SELECT max(id) FROM events WHERE id BETWEEN ? AND ?",
                        (key << _SEQ_BITS, (key << _SEQ_BITS) | _SEQ_MASK),
                    ).fetchone()
                    last[run_id] = 0 if row[0] is None else int(row[0]) & _SEQ_MASK
        try:
            new_last = check_seqs(item.events, last)
            for run_id in keys:
                if keys[run_id] is None and (item.run is None or item.run.run_id != run_id):
                    raise JournalError(
                        f"events for run {run_id}, which has no row: pass run=RunInfo(...) "
                        "with the run's first append"
                    )
            fence = item.fence
            if fence is not None:
                held = lease_from_row(conn.execute(
                    "SELECT run_id, owner, epoch, until FROM leases WHERE run_id = ?", (fence.run_id,)
                ).fetchone())
                creates = last.get(fence.run_id, 0) == 0 and any(e.seq == 1 for e in item.events)
                check_fence(fence, held, creates=creates)
        except JournalError as exc:
            item.error = exc
            return
        # Blobs are content-addressed and immutable: written outside the item's savepoint, a
        # blob of a rejected item is merely unused, never wrong.
        for packed in item.packed:
            self._put_blobs(conn, packed, done)
        conn.execute("SAVEPOINT item")
        recent: dict[str, list[tuple[int, bytes, float]]] = {}
        candidates: dict[str, tuple[bytes, ...] | None] = {}
        run_keys: dict[str, int] = {}
        intents = {run_id: self._intent(conn, run_id) for run_id in keys}
        if item.run is not None:
            intents[item.run.run_id] = item.run.intent
        try:
            if item.fence is not None:
                conn.execute(
                    "INSERT INTO leases (run_id, owner, epoch, until) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (run_id) DO UPDATE SET until = excluded.until",
                    (item.fence.run_id, item.fence.owner, item.fence.epoch, item.fence.until),
                )
            if item.run is not None and item.run_info is not None:
                run = item.run
                row = conn.execute(
                    "INSERT INTO runs (run_id, intent, status, created_at, updated_at, info) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                    "intent = excluded.intent, status = excluded.status, "
                    "created_at = excluded.created_at, updated_at = excluded.updated_at, "
                    "info = excluded.info RETURNING run_key",
                    (run.run_id, run.intent, run.status, run.created_at, run.updated_at,
                     self._packer.seal(item.run_info, (), self._seed(conn, run.intent, done))),
                ).fetchone()
                keys[run.run_id] = run_keys[run.run_id] = int(row[0])
            rows = []
            for event, packed in zip(item.events, item.packed, strict=True):
                run_id = event.run_id
                before = recent.get(run_id) or done.recent.get(run_id) or self._recent.get(run_id, [])
                # deflate against the run's events just before this one, when they are known
                # (committed by this store) and contiguous; otherwise against none
                follows = bool(before) and before[-1][0] == event.seq - 1
                chain = [t for _, t, _ in before] if follows else []
                seed = self._seed(conn, intents.get(run_id), done)
                data = self._packer.seal(packed.text, chain, seed)
                at = event.at
                if follows and before[-1][2] == at:  # one append's events share a time: store it once
                    data, at = with_same_at(data), 0.0
                key = keys[run_id]
                assert key is not None
                rows.append(((key << _SEQ_BITS) | event.seq, kind_code(event.kind), at, data))
                recent[run_id] = ([*before[-(_CHAIN - 1):], (event.seq, packed.text, event.at)]
                                  if chain else [(event.seq, packed.text, event.at)])
                if seed is None:  # the run's texts from seq 1 may become its intent's seed
                    so_far = () if event.seq == 1 else candidates.get(
                        run_id, done.candidates.get(run_id, self._candidates.get(run_id)))
                    candidates[run_id] = None if so_far is None else (*so_far, packed.text)
            conn.executemany("INSERT INTO events (id, kind, at, data) VALUES (?, ?, ?, ?)", rows)
        except sqlite3.IntegrityError as exc:
            conn.execute("ROLLBACK TO item")
            conn.execute("RELEASE item")
            item.error = JournalError(f"cannot append to the journal {self.path}: {exc}")
            return
        conn.execute("RELEASE item")
        last.update(new_last)
        done.recent.update(recent)
        self._intents.update((r, i) for r, i in intents.items() if i is not None)
        finished = item.run.run_id if item.run is not None and item.run.status in TERMINAL_STATUSES else None
        for run_id, texts in candidates.items():
            intent = intents.get(run_id)
            if texts is None or intent is None:
                continue
            done.candidates[run_id] = texts
            if run_id == finished or sum(len(t) + 1 for t in texts) >= _SEED_MAX:
                self._make_seed(conn, intent, texts, done)
        done.run_keys.update(run_keys)
        if finished is not None:
            done.finished.add(finished)

    def _put_blobs(self, conn: sqlite3.Connection, packed: Packed, done: _Written) -> None:
        """Insert the blobs of `packed` not yet stored; a long value is deflated against the
        previous one stored under the same top-level key (a changed alternatives list or plan
        against the one before it), at most `BLOB_CHAIN` deep."""
        for key_bytes, (path, text) in packed.blobs.items():
            if key_bytes in self._stored_blobs or key_bytes in done.blobs:
                continue
            base = (done.blob_bases.get(path) or self._blob_base(conn, path)) if path else None
            row, depth = self._packer.seal_blob(text, base)
            cursor = conn.execute("INSERT OR IGNORE INTO blobs (key, data) VALUES (?, ?)", (blob_key(key_bytes), row))
            done.blobs.add(key_bytes)
            # Already stored (by another process, or before this one started): its row may
            # stand on another chain than `base`, so it must not become the next one's base.
            if path and cursor.rowcount == 1:
                done.blob_bases[path] = (key_bytes, (*base[1], text) if base and depth else (text,))
                # kept in the file so the next process (the next `ido run`) continues the chain
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (f"base.{path}", f"{ref_text(key_bytes)} {depth}"),
                )

    def _intent(self, conn: sqlite3.Connection, run_id: str) -> str | None:
        """Return the intent of `run_id` (None when it has no row yet), as its row names it."""
        if run_id not in self._intents:
            row = conn.execute("SELECT intent FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                return None
            self._intents[run_id] = str(row[0])
        return self._intents[run_id]

    def _seed(self, conn: sqlite3.Connection, intent: str | None, done: _Written) -> bytes | None:
        """Return the text of the seed of `intent` (None: it has none yet) that rows of its
        runs are deflated against; the meta table names it once, and a reader finds it there."""
        if intent is None:
            return None
        if intent in done.seeds:  # made in this transaction
            return done.seeds[intent]
        if self._seeds.get(intent) is None:
            # read through the writing connection: what it sees is committed, as a seed this
            # transaction made is in `done.seeds`; an absent seed is looked for again next time
            self._seeds[intent] = self._stored_seed(conn, intent)
        return self._seeds[intent]

    def _stored_seed(self, conn: sqlite3.Connection, intent: str) -> bytes | None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"runseed.{intent}",)).fetchone()
        if row is None:
            return None
        try:
            return self._blob_text(ref_digest(str(row[0])))
        except (ValueError, JournalCorrupted):
            return None  # damaged: new rows go without it (the rows that used it will not read)

    def _make_seed(self, conn: sqlite3.Connection, intent: str, texts: Sequence[bytes], done: _Written) -> None:
        """Store `texts` (a run's event texts from seq 1) as the seed of `intent`, unless it
        has one (another process may have stored one meanwhile: that one stands)."""
        if self._seed(conn, intent, done) is not None:
            return
        text = b"\n".join(texts)[:_SEED_MAX]
        key = digest(text)
        cursor = conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                              (f"runseed.{intent}", ref_text(key)))
        if cursor.rowcount != 1:
            return
        conn.execute("INSERT OR IGNORE INTO blobs (key, data) VALUES (?, ?)",
                     (blob_key(key), self._packer.seal(text)))
        done.seeds[intent] = text

    def _blob_base(self, conn: sqlite3.Connection, path: str) -> tuple[bytes, tuple[bytes, ...]] | None:
        """Return the last blob stored under top-level key `path` (key, its chain's texts), if known."""
        hit = self._blob_bases.get(path)
        if hit is not None:
            return hit
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (f"base.{path}",)).fetchone()
        if row is None:
            return None
        try:
            key = ref_digest(str(row[0]).split()[0])
            return key, tuple(self._blob_chain(key))
        except (ValueError, JournalCorrupted):
            return None  # a damaged hint only costs compression

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
        """Claim up to `limit` claimable runs, started ones first, oldest first (see `Store.claim`)."""
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
        # started runs first: a taken-over run's deadline is running; a queued one waits its turn
        sql += " ORDER BY r.status = 'queued', r.created_at, r.run_id LIMIT ?"
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

    def leases(self, *, run_ids: Sequence[str] | None = None, live_at: float | None = None) -> list[Lease]:
        """Return the current leases (see `Store.leases`)."""
        where: list[str] = []
        params: list[Any] = []
        if run_ids is not None:
            ids = list(run_ids)
            where.append(f"run_id IN ({', '.join('?' for _ in ids) or 'NULL'})")
            params = ids
        if live_at is not None:
            where.append("until >= ?")
            params.append(live_at)
        sql = "SELECT run_id, owner, epoch, until FROM leases" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [lease for row in self._read(sql + " ORDER BY run_id", params) if (lease := lease_from_row(row))]

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
        # stored under its kind: a new set of alternatives or capabilities is deflated
        # against the previous one
        packed = self._packer.pack_shared(content, path=f"revision.{kind}", what=f"revision {digest}")
        if self._closed:
            raise JournalError(f"the journal {self.path} is closed")
        if self._read_one("SELECT 1 FROM revisions WHERE digest = ?", (digest,)) is not None:
            return
        with self._wlock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                done = _Written()
                self._put_blobs(conn, packed, done)
                conn.execute(
                    "INSERT OR IGNORE INTO revisions (digest, kind, content) VALUES (?, ?, ?)",
                    (digest, kind, self._packer.seal(packed.text)),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(f"cannot write the journal {self.path}: {exc}") from None
            self._remember(done)

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

    def _blob_text(self, key: bytes) -> bytes:
        """Return a blob's packed JSON text, checked against its digest; JournalCorrupted otherwise."""
        hit = self._blob_texts.get(key)
        if hit is not None:
            return hit
        return self._blob_chain(key)[-1]

    def _blob_chain(self, key: bytes, depth: int = 0) -> list[bytes]:
        """Return the texts of a blob's chain: from the blob stored alone to this one."""
        text = self._blob_texts.get(key)
        if text is not None and key in self._blob_parents:
            parent = self._blob_parents[key]
            return ([] if parent is None else self._blob_chain(parent, depth + 1)) + [text]
        name = f"shared part {ref_text(key)}"
        if depth > BLOB_CHAIN:
            raise JournalCorrupted(f"{name} in {self.path} is deflated against too many others (damaged)")
        row = self._read_one("SELECT data FROM blobs WHERE key = ?", (blob_key(key),))
        if row is None:
            raise JournalCorrupted(f"{name} is missing from the journal {self.path}")
        data = bytes(row[0])
        parent = Packer.blob_base(data)
        chain = [] if parent is None else self._blob_chain(parent, depth + 1)
        text = self._packer.body(data, what=name, previous=chain)
        if digest(text) != key:
            raise JournalCorrupted(f"{name} in {self.path} does not match its digest (damaged)")
        if len(self._blob_texts) >= _BLOB_CACHE:
            self._blob_texts.clear()
            self._blob_parents.clear()
        self._blob_texts[key] = text
        self._blob_parents[key] = parent
        return [*chain, text]

    def _blob(self, key: bytes) -> Any:
        """Return a blob's packed JSON, parsed (cached: many decisions share one)."""
        hit = self._blob_cache.get(key)
        if hit is not None:
            return hit
        value = load(self._blob_text(key), what=f"shared part {ref_text(key)}")
        if len(self._blob_cache) >= _BLOB_CACHE:
            self._blob_cache.clear()
        self._blob_cache[key] = value
        return value

    def _unpack_top(self, parsed: Any) -> Any:
        if isinstance(parsed, dict):  # a packed dict's own keys are never escaped
            return {k: unpack(v, self._blob) for k, v in parsed.items()}
        return unpack(parsed, self._blob)

    def get_revision(self, *, digest: str) -> Any:
        """Return the content stored under `digest`; JournalError when unknown or undecodable."""
        row = self._read_one("SELECT content FROM revisions WHERE digest = ?", (digest,))
        if row is None:
            raise JournalError(f"no revision {digest} in the journal {self.path}")
        what = f"revision {digest} in {self.path}"
        try:
            if isinstance(row[0], str):  # format 1: the content's JSON text
                return load(row[0], what=what)
            return unpack(load(self._packer.body(bytes(row[0]), what=what), what=what), self._blob)
        except JournalCorrupted as exc:
            raise JournalCorrupted(f"revision {digest}: {exc}") from None

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; UsageError otherwise."""
        row = self._read_one("SELECT run_id, info, intent FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            matches = [
                r[0] for r in self._read(
                    "SELECT run_id FROM runs WHERE run_id >= ? AND substr(run_id, 1, ?) = ? "
                    "ORDER BY run_id LIMIT 9",
                    (run_id, len(run_id), run_id),
                )
            ] if run_id else []
            if len(matches) != 1:
                known = matches or [
                    r[0] for r in self._read("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 8")
                ]
                resolve_run_id(run_id, known)  # raises the ambiguous / unknown UsageError
            row = self._read_one("SELECT run_id, info, intent FROM runs WHERE run_id = ?", (matches[0],))
        return self._decode_run(row[0], row[1], row[2])

    def _intent_seed(self, intent: str) -> bytes | None:
        """Return the text of the seed of `intent` (None: it has none), read from the journal."""
        hit = self._read_seeds.get(intent)
        if hit is not None:
            return hit
        row = self._read_one("SELECT value FROM meta WHERE key = ?", (f"runseed.{intent}",))
        if row is None:
            return None
        try:
            key = ref_digest(str(row[0]))
        except ValueError:
            raise JournalCorrupted(f"the seed of intent {intent} is not named by a digest "
                                   f"({str(row[0])[:40]!r}): the meta table is damaged") from None
        text = self._blob_text(key)
        self._read_seeds[intent] = text  # never replaced once stored: safe to keep
        return text

    def _decode_run(self, run_id: str, info: str | bytes, intent: str) -> RunInfo:
        what = f"the row of run {run_id} in {self.path}"
        try:
            if isinstance(info, str):
                return RunInfo.model_validate_json(info)
            data = bytes(info)
            base = Packer.blob_base(data)  # format 2: a seed named in the row
            previous = [] if base is None else [self._blob_text(base)]
            seed = self._intent_seed(intent) if Packer.seeded(data) else None
            return RunInfo.model_validate_json(self._packer.body(data, what=what, previous=previous, seed=seed))
        except PydanticError as exc:
            reason = _first_error(exc)
        except JournalCorrupted as exc:
            reason = str(exc).removeprefix(f"{what} does not decode: ")
        raise JournalCorrupted(
            f"{what} does not decode: {reason}; the other runs are unaffected", run_id=run_id
        ) from None

    def count_runs(self) -> dict[str, int]:
        """Return how many runs are in each status, counted by the database (no row decoded)."""
        return {str(status): int(n) for status, n in self._read(
            "SELECT status, COUNT(*) FROM runs GROUP BY status")}

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first (by created_at, then run id), filtered and limited in SQL.

        `before=(created_at, run_id)` starts after that run (a cursor: pass the last
        run of a page to get the next). Rows that do not decode are left out and
        named in `corrupted_runs`.
        """
        sql = "SELECT run_id, info, intent FROM runs"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if intent is not None:
            where.append("intent = ?")
            params.append(intent)
        if before is not None:
            where.append("(created_at < ? OR (created_at = ? AND run_id < ?))")
            params.extend((before[0], before[0], before[1]))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(min(limit, 2**63 - 1))
        runs, bad = [], []
        for run_id, info, intent in self._read(sql, params):
            try:
                runs.append(self._decode_run(run_id, info, intent))
            except JournalCorrupted:
                bad.append(run_id)
        self.corrupted_runs = bad
        return runs

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given); JournalCorrupted on a bad row.

        Every row of the run is read, whatever `kinds`: a row is deflated against
        the run's events before it.
        """
        row = self._read_one("SELECT run_key, intent FROM runs WHERE run_id = ?", (run_id,))
        wanted = None if kinds is None else set(kinds)
        if row is None or wanted == set():
            return []
        key, intent = int(row[0]), str(row[1])
        rows = self._read(
            "SELECT id, kind, at, data FROM events WHERE id BETWEEN ? AND ? ORDER BY id",
            (key << _SEQ_BITS, (key << _SEQ_BITS) | _SEQ_MASK),
        )
        texts: dict[int, bytes] = {}  # seq -> packed JSON text, what later rows deflate against
        out = []
        timed: tuple[int, float] | None = None  # the previous row's (seq, at)
        for rowid, stored_kind, stored_at, data in rows:
            seq = int(rowid) & _SEQ_MASK
            try:
                kind, unknown = kind_name(str(stored_kind)), None
            except ValueError as exc:
                kind, unknown = str(stored_kind), exc
            what = f"event {seq} ({kind}) of run {run_id} in {self.path}"
            try:
                if unknown is not None:
                    raise unknown
                at = float(stored_at)
                if isinstance(data, str):  # format 1: the data's JSON text
                    value = load(data, what=what)
                    texts[seq] = data.encode()
                else:
                    if same_at(bytes(data)):
                        if timed is None or timed[0] != seq - 1:
                            raise ValueError(f"its time is event {seq - 1}'s, which is missing")
                        at = timed[1]
                    timed = (seq, at)
                    chain = Packer.chained(bytes(data))
                    previous = [texts[s] for s in range(seq - chain, seq) if s in texts]
                    base = Packer.blob_base(bytes(data))  # format 2: a seed named in the row
                    if base is not None:
                        previous.insert(0, self._blob_text(base))
                    seed = self._intent_seed(intent) if Packer.seeded(bytes(data)) else None
                    text = self._packer.body(bytes(data), what=what, previous=previous, seed=seed)
                    texts[seq] = text
                    if wanted is not None and kind not in wanted:
                        continue
                    value = self._unpack_top(load(text, what=what))
                timed = (seq, at)
                if wanted is None or kind in wanted:
                    out.append(Event(run_id=run_id, seq=seq, kind=kind, at=at, data=value))
            except (JournalCorrupted, PydanticError, TypeError, ValueError) as exc:
                if isinstance(exc, PydanticError):
                    reason = _first_error(exc)
                else:
                    reason = str(exc).removeprefix(f"{what} does not decode: ")
                raise JournalCorrupted(
                    f"{what} does not decode: {reason}; the other runs are unaffected",
                    run_id=run_id,
                ) from None
        return out

    def close(self) -> None:
        """Wait for queued appends to commit, stop the writer thread and close both connections."""
        if self._closed:
            return
        self._closed = True
        self._group.close(JournalError(f"the journal {self.path} is closed"))
        with self._wlock:
            self._writer.close()
        with self._rlock:
            self._reader.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r}, synchronous={self.synchronous})"


@dataclass
class _Written:
    """What one transaction wrote that later appends build on, kept once it commits."""

    blobs: set[bytes] = field(default_factory=set)
    run_keys: dict[str, int] = field(default_factory=dict)
    recent: dict[str, list[tuple[int, bytes, float]]] = field(default_factory=dict)
    blob_bases: dict[str, tuple[bytes, tuple[bytes, ...]]] = field(default_factory=dict)
    seeds: dict[str, bytes] = field(default_factory=dict)
    candidates: dict[str, tuple[bytes, ...]] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)


#: the preset dictionaries ido deflates with, by id: part of the journal format (append only).
_DICTIONARIES = {1: ZDICT_1.encode()}


def _dictionary(number: int, stored: str | bytes) -> bytes:
    """Return preset dictionary `number` as the meta table keeps it: its 8-byte digest naming
    one of `_DICTIONARIES` (format 3), its text (format 2), or deflated (early format 3).
    Raises ValueError when the digest names none this ido knows."""
    if isinstance(stored, str):
        return stored.encode()
    if len(stored) != 8:
        return zlib.decompress(stored)
    known = _DICTIONARIES.get(number)
    if known is None or digest(known) != stored:
        raise ValueError(f"its digest {ref_text(stored)} is not that of a dictionary this ido has "
                         "(written by a newer ido?)")
    return known


def _first_error(exc: PydanticError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
