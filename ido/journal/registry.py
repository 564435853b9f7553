"""The registry of declarations in the store: numbered revisions and a compare-and-set head.

Once a store holds a registry (seeded by `ido serve --workspace DIR`, changed by
`PUT`/`DELETE /api/v1/{capabilities|policies|intents}/{name}`), it is the source
of truth for the declarations of every process using that store. Revision `n`
is the whole set of declarations after the `n`-th change; the head is the
newest revision (its number, the digest of its declarations, when it was
written). Each declaration is one row per version, with the revision that
wrote it (`since`) and the one that replaced or deleted it (`until`, NULL while
current), so revision `n` is the rows with `since <= n < until`.

`commit(changes, expect=n)` writes a new revision atomically only if the head
is still `n` (`expect=0`: only if the store holds no registry yet), and raises
`RegistryConflict` carrying the current head number otherwise; a commit that
changes nothing writes no revision and returns the head. The memory store keeps
the same rows in lists (`MemoryRegistry`); SQLite and PostgreSQL run the SQL
here (`SqlRegistry`) in their own write transaction. Called through the
`Store.registry_*` methods by `ido.registry` (the engine's live view) and
`ido.service.registry` (the HTTP API).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import Field

from ido.digest import canonical_json, digest
from ido.errors import JournalCorrupted, RegistryConflict
from ido.model.values import Frozen

#: The kinds of declaration a registry holds (the workspace's tables).
REGISTRY_KINDS = ("capability", "observer", "policy", "intent", "scenario")


class RegistryHead(Frozen):
    """The newest registry revision: its number (1, 2, ...), the digest of its declarations, when."""

    number: int
    digest: str
    at: float


class RegistryEntry(Frozen):
    """One declaration of a revision: its kind, name and content (the model as JSON)."""

    kind: str
    name: str
    content: dict[str, Any] = Field(default_factory=dict)


class RegistryChange(Frozen):
    """One change of a commit: put `content` under (kind, name), or delete it (`content` None)."""

    kind: str
    name: str
    content: dict[str, Any] | None = None


class RegistrySnapshot(Frozen):
    """A registry revision: its head row and every declaration in it, by kind then name."""

    head: RegistryHead
    entries: list[RegistryEntry]


def snapshot_digest(entries: Mapping[tuple[str, str], str]) -> str:
    """Return the digest of a set of declarations given as (kind, name) -> canonical JSON."""
    return digest(sorted([kind, name, text] for (kind, name), text in entries.items()))


def _changed(current: Mapping[tuple[str, str], str], changes: Sequence[RegistryChange]) -> dict[tuple[str, str], str | None]:
    """Return the (kind, name) -> new text (None: delete) that really change `current`."""
    out: dict[tuple[str, str], str | None] = {}
    for change in changes:
        if change.kind not in REGISTRY_KINDS:
            raise ValueError(f"unknown registry kind {change.kind!r}; use one of {', '.join(REGISTRY_KINDS)}")
        key = (change.kind, change.name)
        text = None if change.content is None else canonical_json(change.content)
        out[key] = text
    return {k: v for k, v in out.items() if current.get(k) != v}


def _check(head: RegistryHead | None, expect: int | None) -> None:
    number = head.number if head is not None else 0
    if expect is not None and number != expect:
        raise RegistryConflict(
            f"the registry is at revision {number}, not {expect}: it changed since you read it; "
            "read it again and retry", current=number,
        )


class MemoryRegistry:
    """The registry rows of a `MemoryStore`, in lists under a lock."""

    def __init__(self) -> None:
        self._heads: list[RegistryHead] = []
        self._rows: list[tuple[str, str, int, int | None, str]] = []  # kind, name, since, until, text
        self._lock = threading.Lock()

    def head(self) -> RegistryHead | None:
        """Return the newest revision, or None when nothing was ever committed."""
        with self._lock:
            return self._heads[-1] if self._heads else None

    def snapshot(self, number: int | None = None) -> RegistrySnapshot | None:
        """Return revision `number` (the head when None), or None when there is no such revision."""
        with self._lock:
            head = _pick(self._heads, number)
            if head is None:
                return None
            rows = [(k, n, t) for k, n, s, u, t in self._rows if s <= head.number and (u is None or u > head.number)]
        return _snapshot(head, rows)

    def commit(self, changes: Sequence[RegistryChange], *, expect: int | None, now: float | None = None) -> RegistryHead:
        """Write a revision with `changes` if the head is `expect` (see the module docstring)."""
        with self._lock:
            head = self._heads[-1] if self._heads else None
            _check(head, expect)
            current = {(k, n): t for k, n, _, u, t in self._rows if u is None}
            changed = _changed(current, changes)
            if not changed and head is not None:
                return head
            number = (head.number if head is not None else 0) + 1
            for index, (kind, name, since, until, old) in enumerate(self._rows):
                if until is None and (kind, name) in changed:
                    self._rows[index] = (kind, name, since, number, old)
            for (kind, name), text in changed.items():
                if text is not None:
                    self._rows.append((kind, name, number, None, text))
                    current[(kind, name)] = text
                else:
                    current.pop((kind, name), None)
            new = RegistryHead(number=number, digest=snapshot_digest(current), at=time.time() if now is None else now)
            self._heads.append(new)
            return new


def _pick(heads: Sequence[RegistryHead], number: int | None) -> RegistryHead | None:
    if not heads:
        return None
    if number is None:
        return heads[-1]
    return next((h for h in heads if h.number == number), None)


def _snapshot(head: RegistryHead, rows: Iterable[tuple[str, str, str | bytes]]) -> RegistrySnapshot:
    entries = []
    for kind, name, text in sorted(rows, key=lambda r: (r[0], r[1])):
        try:
            content = json.loads(text)
        except ValueError:
            raise JournalCorrupted(f"registry revision {head.number}: {kind} {name!r} does not decode") from None
        entries.append(RegistryEntry(kind=kind, name=name, content=content))
    return RegistrySnapshot(head=head, entries=entries)


def registry_schema(prefix: str, real: str) -> str:
    """Return the CREATE statements of the registry tables (table names after `prefix`;
    `real`: the backend's float column type); part of each SQL store's schema."""
    return f"""
CREATE TABLE IF NOT EXISTS {prefix}registry_revisions (
    number INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS {prefix}registry_entries (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    since INTEGER NOT NULL,
    until INTEGER,
    content TEXT NOT NULL,
    PRIMARY KEY (kind, name, since)
);
CREATE INDEX IF NOT EXISTS {prefix}registry_current ON {prefix}registry_entries (until);
"""


class SqlRegistry:
    """The registry's SQL for SQLite (`?`, no prefix) and PostgreSQL (`%s`, tables `ido_*`).

    `read(sql, params)` runs a query on the store's reading connection;
    `write(work)` runs `work(conn)` in one write transaction that no other
    writer of the registry can interleave (SQLite's BEGIN IMMEDIATE; on
    PostgreSQL a lock on the revisions table, taken first by `commit`).
    """

    def __init__(self, *, mark: str, prefix: str, read: Callable[[str, Sequence[Any]], list[Any]],
                 write: Callable[[Callable[[Any], Any]], Any], lock_sql: str | None = None) -> None:
        self.mark = mark
        self.revisions = f"{prefix}registry_revisions"
        self.rows = f"{prefix}registry_entries"
        self._read = read
        self._write = write
        self._lock_sql = lock_sql

    def _head_sql(self) -> str:
        return f"SELECT number, digest, at FROM {self.revisions} ORDER BY number DESC LIMIT 1"

    def head(self) -> RegistryHead | None:
        """Return the newest revision, or None when nothing was ever committed."""
        rows = self._read(self._head_sql(), ())
        return _head(rows[0]) if rows else None

    def snapshot(self, number: int | None = None) -> RegistrySnapshot | None:
        """Return revision `number` (the head when None), or None when there is no such revision."""
        m = self.mark
        if number is None:
            found = self._read(self._head_sql(), ())
        else:
            found = self._read(f"SELECT number, digest, at FROM {self.revisions} WHERE number = {m}", (number,))
        if not found:
            return None
        head = _head(found[0])
        rows = self._read(
            f"SELECT kind, name, content FROM {self.rows} WHERE since <= {m} AND (until IS NULL OR until > {m})",
            (head.number, head.number),
        )
        return _snapshot(head, [(str(k), str(n), t) for k, n, t in rows])

    def commit(self, changes: Sequence[RegistryChange], *, expect: int | None, now: float | None = None) -> RegistryHead:
        """Write a revision with `changes` if the head is `expect` (see the module docstring)."""
        m = self.mark

        def work(conn: Any) -> RegistryHead:
            if self._lock_sql is not None:
                conn.execute(self._lock_sql)
            found = conn.execute(self._head_sql()).fetchall()
            head = _head(found[0]) if found else None
            _check(head, expect)
            current = {(str(k), str(n)): str(t) for k, n, t in
                       conn.execute(f"SELECT kind, name, content FROM {self.rows} WHERE until IS NULL").fetchall()}
            changed = _changed(current, changes)
            if not changed and head is not None:
                return head
            number = (head.number if head is not None else 0) + 1
            for (kind, name), text in changed.items():
                conn.execute(f"UPDATE {self.rows} SET until = {m} WHERE kind = {m} AND name = {m} AND until IS NULL",
                             (number, kind, name))
                if text is not None:
                    conn.execute(f"INSERT INTO {self.rows} (kind, name, since, until, content) "
                                 f"VALUES ({m}, {m}, {m}, NULL, {m})", (kind, name, number, text))
                    current[(kind, name)] = text
                else:
                    current.pop((kind, name), None)
            new = RegistryHead(number=number, digest=snapshot_digest(current), at=time.time() if now is None else now)
            conn.execute(f"INSERT INTO {self.revisions} (number, digest, at) VALUES ({m}, {m}, {m})",
                         (new.number, new.digest, new.at))
            return new

        result: RegistryHead = self._write(work)
        return result


def _head(row: Sequence[Any]) -> RegistryHead:
    return RegistryHead(number=int(row[0]), digest=str(row[1]), at=float(row[2]))
