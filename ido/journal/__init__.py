"""The journal: an append-only store of runs, their events and the declaration revisions used.

`open_store(url)` is the one factory: `memory://` gives a `MemoryStore`,
`sqlite:///PATH` or a plain file path a `SQLiteStore`, `postgresql://...` a
`PostgresStore` (each imported only then).
The engine appends; `ido runs`, `explain`, `why-not`, `replay` and `resume` read.
"""

from __future__ import annotations

from pathlib import Path

from ido.errors import JournalError
from ido.journal.base import TERMINAL_STATUSES, Event, RunInfo, RunStatus, Store
from ido.journal.memory import MemoryStore

SUPPORTED_URLS = (
    "memory://, sqlite:///RELATIVE/PATH, sqlite:////ABSOLUTE/PATH, a plain file path "
    "or postgresql://USER@HOST:PORT/DATABASE"
)


def open_store(url: str, *, synchronous: bool = False, must_exist: bool = False) -> Store:
    """Return the store `url` names; raises JournalError for an unsupported or unusable URL.

    `synchronous=True` makes SQLite appends write in the calling thread (the
    simulator's virtual-time loop must never wait on another thread).
    `must_exist=True` (commands that only read) refuses a missing or empty
    file, saying so, instead of creating a journal.
    Called by the CLI with `CliContext.store_location` and by the engine.
    """
    text = url.strip()
    if text.startswith("memory:"):
        return MemoryStore()
    path = sqlite_path(text)
    if path is None:
        scheme = text.split("://", 1)[0]
        if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
            from ido.journal.postgres import PostgresStore  # imported only when asked for

            return PostgresStore(text, synchronous=synchronous)
        raise JournalError(
            f"{url!r}: unknown journal URL scheme {scheme!r}; use one of {SUPPORTED_URLS}"
        )
    if not str(path) or str(path) == ".":
        raise JournalError(f"{url!r} names no file; use one of {SUPPORTED_URLS}")
    from ido.journal.sqlite import SQLiteStore  # imported only when asked for

    return SQLiteStore(path, synchronous=synchronous, must_exist=must_exist)


def sqlite_path(url: str) -> Path | None:
    """Return the file a SQLite journal URL (or plain path) names; None for other URLs.

    `sqlite:///rel/path` is relative, `sqlite:////abs/path` absolute (as in
    SQLAlchemy). Raises JournalError for a `sqlite:` URL of another shape
    (`sqlite://host/x`, `sqlite:/x`), which would otherwise name a surprising
    file. Used by `open_store` and by read-only commands that must not create
    a journal just to find it empty.
    """
    text = url.strip()
    if text.startswith("sqlite:"):
        if text.rstrip("/") == "sqlite:":
            return Path("")  # open_store: "names no file"
        if not text.startswith("sqlite:///"):
            raise JournalError(
                f"{url!r} is not a SQLite journal URL; write sqlite:///RELATIVE/PATH or sqlite:////ABSOLUTE/PATH"
            )
        return Path(text.removeprefix("sqlite:///"))
    if "://" in text or text.startswith("memory:"):
        return None
    return Path(text)


__all__ = [
    "SUPPORTED_URLS",
    "TERMINAL_STATUSES",
    "Event",
    "MemoryStore",
    "RunInfo",
    "RunStatus",
    "Store",
    "open_store",
    "sqlite_path",
]
