"""Fixtures of the journal tests: every store backend, and helpers to build runs and events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ido.journal import MemoryStore, open_store
from ido.journal.base import Store


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend, opened fresh; the SQLite one on a real file."""
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        s = open_store(f"sqlite:///{tmp_path / 'ws' / '.ido' / 'journal.db'}")
    yield s
    s.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return the path of a (not yet created) SQLite journal file."""
    return tmp_path / ".ido" / "journal.db"
