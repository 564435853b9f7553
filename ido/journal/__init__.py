"""The journal: an append-only store of runs, their events and the declaration revisions used.

`open_store(url)` is the one factory: `memory://` gives a `MemoryStore`,
`sqlite:///PATH` or a plain file path a `SQLiteStore` (imported only then).
The engine appends; `ido runs`, `explain`, `why-not`, `replay` and `resume` read.
"""

from __future__ import annotations

from ido.errors import JournalError
from ido.journal.base import TERMINAL_STATUSES, Event, RunInfo, RunStatus, Store
from ido.journal.memory import MemoryStore

SUPPORTED_URLS = "memory://, sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH or a plain file path"


def open_store(url: str, *, synchronous: bool = False) -> Store:
    """Return the store `url` names; raises JournalError for an unsupported or unusable URL.

    `synchronous=True` makes SQLite appends write in the calling thread (the
    simulator's virtual-time loop must never wait on another thread).
    Called by the CLI with `CliContext.store_location` and by the engine.
    """
    text = url.strip()
    if text.startswith("memory:"):
        return MemoryStore()
    if text.startswith("sqlite:"):
        path = text.removeprefix("sqlite:").removeprefix("//")
        path = path.removeprefix("/") if path.startswith("/") else path
        return _sqlite(path, url, synchronous)
    scheme = text.split("://", 1)[0] if "://" in text else None
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        raise JournalError(
            f"{url!r}: PostgreSQL is not supported yet; use one of {SUPPORTED_URLS}"
        )
    if scheme is not None:
        raise JournalError(f"{url!r}: unknown journal URL scheme {scheme!r}; use one of {SUPPORTED_URLS}")
    return _sqlite(text, url, synchronous)


def _sqlite(path: str, url: str, synchronous: bool) -> Store:
    if not path:
        raise JournalError(f"{url!r} names no file; use one of {SUPPORTED_URLS}")
    from ido.journal.sqlite import SQLiteStore  # imported only when asked for

    return SQLiteStore(path, synchronous=synchronous)


__all__ = [
    "SUPPORTED_URLS",
    "TERMINAL_STATUSES",
    "Event",
    "MemoryStore",
    "RunInfo",
    "RunStatus",
    "Store",
    "open_store",
]
