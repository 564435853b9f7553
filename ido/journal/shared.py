"""The store's tables beside the journal: capability health rows, probe and trial leases, run signals.

Shared by the SQLite and PostgreSQL journals (`ido.journal.sqlite`,
`ido.journal.postgres`), which differ here only in their placeholders and
table prefix (`SharedTables`). Health rows are written inside the journal's
own transactions, so an outcome and its health change commit together: by
`apply_health` in SQLite's group commit (its write lock covers the rows), by
`ido.journal.pg_write.HealthFolds` on PostgreSQL (which never waits for a row
another transaction holds: that change lands with the writer's next one);
probe leases and signals are small transactions of their own. Kept apart
from the event tables: nothing here is part of a run's journal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ido.journal.base import SIGNAL_KINDS, HealthChange, HealthRow, Signal, TrialLease


@dataclass(frozen=True)
class SharedTables:
    """The SQL of the shared tables for one dialect: `mark` is the placeholder, `prefix` the tables'."""

    mark: str
    prefix: str
    #: PostgreSQL's dialect: row locks (`apply_health` locks a row while folding into it; SQLite's
    #: write lock covers it), DOUBLE PRECISION and BIGSERIAL in the schema.
    lock_rows: bool

    def schema(self) -> list[str]:
        """Return the CREATE statements (idempotent) of the shared tables."""
        p = self.prefix
        real = "DOUBLE PRECISION" if self.lock_rows else "REAL"
        key = "BIGSERIAL PRIMARY KEY" if self.lock_rows else "INTEGER PRIMARY KEY AUTOINCREMENT"
        return [
            f"CREATE TABLE IF NOT EXISTS {p}capability_health (capability TEXT PRIMARY KEY, "
            f"state TEXT NOT NULL, version BIGINT NOT NULL, updated_at {real} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {p}probe_leases (capability TEXT PRIMARY KEY, "
            f"owner TEXT NOT NULL, until {real} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {p}trial_leases (capability TEXT PRIMARY KEY, "
            f"owner TEXT NOT NULL, trial_of {real} NOT NULL, until {real} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {p}run_signals (id {key}, run_id TEXT NOT NULL, "
            f"kind TEXT NOT NULL, by_whom TEXT NOT NULL, note TEXT NOT NULL, at {real} NOT NULL, "
            "ref TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {p}run_signals_by_run ON {p}run_signals (run_id)",
        ]

    def _sql(self, text: str) -> str:
        return text.replace("?", self.mark).replace("{p}", self.prefix)

    def apply_health(self, conn: Any, changes: Sequence[HealthChange], at: float) -> None:
        """Fold `changes` into their rows inside the caller's open transaction.

        One read and one write per capability, whatever the number of changes
        (group commit brings many outcomes of few capabilities). Rows are taken
        in capability order, so two processes folding into the same rows never
        wait on each other in a cycle. A missing row is inserted empty first, so
        changes are always folded into the state as committed.
        """
        grouped: dict[str, list[HealthChange]] = {}
        for change in changes:
            grouped.setdefault(change.capability, []).append(change)
        lock = " FOR UPDATE" if self.lock_rows else ""
        for capability in sorted(grouped):
            conn.execute(self._sql(
                "INSERT INTO {p}capability_health (capability, state, version, updated_at) "
                "VALUES (?, '{}', 0, ?) ON CONFLICT (capability) DO NOTHING"
            ), (capability, at))
            row = conn.execute(self._sql(
                "SELECT state FROM {p}capability_health WHERE capability = ?" + lock
            ), (capability,)).fetchone()
            state: dict[str, Any] | None = json.loads(row[0]) if row and row[0] not in (None, "{}") else None
            for change in grouped[capability]:
                state = change.apply(state)
            conn.execute(self._sql(
                "UPDATE {p}capability_health SET state = ?, version = version + ?, updated_at = ? "
                "WHERE capability = ?"
            ), (json.dumps(state, separators=(",", ":"), allow_nan=False), len(grouped[capability]), at,
                capability))

    def health_rows(self, rows: Sequence[Any]) -> dict[str, HealthRow]:
        """Return the rows `SELECT_HEALTH` read as `HealthRow`s (an undecodable state reads as empty)."""
        out = {}
        for capability, state, version, updated_at in rows:
            try:
                data = json.loads(state)
            except (TypeError, ValueError):
                data = {}
            out[capability] = HealthRow(
                capability=capability, state=data if isinstance(data, dict) else {},
                version=int(version), updated_at=float(updated_at),
            )
        return out

    def select_health(self) -> str:
        """Return the query `health_rows` reads."""
        return self._sql("SELECT capability, state, version, updated_at FROM {p}capability_health")

    def claim_probe(self, conn: Any, capability: str, owner: str, until: float, now: float) -> bool:
        """Take or renew the probe lease of `capability` for `owner`; return whether it holds it."""
        cur = conn.execute(self._sql(
            "INSERT INTO {p}probe_leases (capability, owner, until) VALUES (?, ?, ?) "
            "ON CONFLICT (capability) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE {p}probe_leases.until < ? OR {p}probe_leases.owner = excluded.owner"
        ), (capability, owner, until, now))
        return bool(cur.rowcount)

    def claim_trial(self, conn: Any, capability: str, owner: str, trial_of: float, until: float,
                    now: float) -> bool:
        """Take or renew the trial lease of `capability` for `owner`; return whether it holds it.

        One conditional upsert: it lands when the row is free, expired, the
        owner's own, or held for an earlier open period (see `TrialLease`).
        """
        cur = conn.execute(self._sql(
            "INSERT INTO {p}trial_leases (capability, owner, trial_of, until) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (capability) DO UPDATE SET owner = excluded.owner, trial_of = excluded.trial_of, "
            "until = excluded.until WHERE {p}trial_leases.until < ? OR {p}trial_leases.owner = excluded.owner "
            "OR {p}trial_leases.trial_of < excluded.trial_of"
        ), (capability, owner, trial_of, until, now))
        return bool(cur.rowcount)

    def release_trial(self, conn: Any, capability: str, owner: str) -> None:
        """Delete `owner`'s trial lease of `capability` (another's is left alone)."""
        conn.execute(self._sql("DELETE FROM {p}trial_leases WHERE capability = ? AND owner = ?"),
                     (capability, owner))

    def select_trials(self) -> str:
        """Return the query `trial_leases` reads."""
        return self._sql("SELECT capability, owner, trial_of, until FROM {p}trial_leases")

    def put_signal(self, conn: Any, signal: Signal) -> None:
        """Insert `signal`."""
        conn.execute(self._sql(
            "INSERT INTO {p}run_signals (run_id, kind, by_whom, note, at, ref) VALUES (?, ?, ?, ?, ?, ?)"
        ), (signal.run_id, signal.kind, signal.by, signal.note, signal.at, signal.ref))

    def select_signals(self, count: int) -> str:
        """Return the query of the signals of `count` runs, oldest first."""
        marks = ", ".join("?" for _ in range(count)) or "NULL"
        return self._sql(
            f"SELECT run_id, kind, by_whom, note, at, ref FROM {{p}}run_signals WHERE run_id IN ({marks}) "
            "ORDER BY id"
        )

    @staticmethod
    def signals(rows: Sequence[Any]) -> list[Signal]:
        """Return the rows `select_signals` read as `Signal`s (unknown kinds, from a newer ido, skipped)."""
        return [
            Signal(run_id=r[0], kind=r[1], by=r[2], note=r[3], at=float(r[4]), ref=r[5])
            for r in rows if r[1] in SIGNAL_KINDS
        ]


SQLITE = SharedTables(mark="?", prefix="", lock_rows=False)
POSTGRES = SharedTables(mark="%s", prefix="ido_", lock_rows=True)


class SharedRows:
    """The shared-health, probe- and trial-lease and signal methods of a SQL store, written once.

    Mixed into `SQLiteStore` and `PostgresStore`, which set `SHARED` (their
    dialect) and provide `_read(sql, params)` (rows from the reading
    connection) and `_leasing(work)` (`work(conn)` in one write transaction).
    """

    SHARED: ClassVar[SharedTables]
    _read: Callable[..., list[Any]]
    _leasing: Callable[..., Any]

    def health_rows(self) -> dict[str, HealthRow]:
        """Return every capability's shared health row (see `Store.health_rows`)."""
        return self.SHARED.health_rows(self._read(self.SHARED.select_health()))

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Apply probe answers to the health rows in a transaction of their own."""
        if changes:
            self._leasing(lambda conn: self.SHARED.apply_health(conn, changes, time.time()))

    def claim_probe(self, capability: str, owner: str, *, lease_s: float, now: float | None = None) -> bool:
        """Take or renew the probe lease of `capability` (see `Store.claim_probe`)."""
        at = time.time() if now is None else now
        return bool(self._leasing(lambda conn: self.SHARED.claim_probe(conn, capability, owner, at + lease_s, at)))

    def claim_trial(
        self, capability: str, owner: str, *, trial_of: float, lease_s: float, now: float | None = None,
    ) -> bool:
        """Take or renew the trial lease of `capability` (see `Store.claim_trial`)."""
        at = time.time() if now is None else now
        return bool(self._leasing(
            lambda conn: self.SHARED.claim_trial(conn, capability, owner, trial_of, at + lease_s, at)))

    def release_trial(self, capability: str, owner: str) -> None:
        """Give up `owner`'s trial lease of `capability` (see `Store.release_trial`)."""
        self._leasing(lambda conn: self.SHARED.release_trial(conn, capability, owner))

    def trial_leases(self) -> dict[str, TrialLease]:
        """Return the trial leases (see `Store.trial_leases`)."""
        return {
            str(r[0]): TrialLease(capability=r[0], owner=r[1], trial_of=float(r[2]), until=float(r[3]))
            for r in self._read(self.SHARED.select_trials())
        }

    def put_signal(self, signal: Signal) -> None:
        """Keep `signal` for the run's worker (see `Store.put_signal`)."""
        self._leasing(lambda conn: self.SHARED.put_signal(conn, signal))

    def signals(self, *, run_ids: Sequence[str]) -> list[Signal]:
        """Return the signals kept for `run_ids`, oldest first."""
        ids = list(run_ids)
        return self.SHARED.signals(self._read(self.SHARED.select_signals(len(ids)), ids)) if ids else []
