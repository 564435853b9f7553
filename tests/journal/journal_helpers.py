"""Builders shared by the journal tests: run rows and events."""

from __future__ import annotations

import sqlite3
from typing import Any

from ido.journal.base import Event, RunInfo


def run_info(run_id: str, *, status: str = "running", created_at: float = 1.0, **kw: Any) -> RunInfo:
    """Return a run row for tests."""
    return RunInfo(
        run_id=run_id, intent=kw.pop("intent", "order-fulfilled"), status=status,  # type: ignore[arg-type]
        created_at=created_at, updated_at=created_at, **kw,
    )


def event(run_id: str, seq: int, kind: str = "observation", **data: Any) -> Event:
    """Return an event for tests."""
    return Event(run_id=run_id, seq=seq, kind=kind, at=float(seq), data=data)  # type: ignore[arg-type]


def event_key(conn: sqlite3.Connection, run_id: str, seq: int) -> int:
    """Return the SQLite key of event `seq` of `run_id` (run_key << 32 | seq) in a journal file."""
    row = conn.execute("SELECT run_key FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    assert row is not None, f"no run {run_id}"
    return (int(row[0]) << 32) | seq
