"""Fixtures of the journal tests: every store backend, and helpers to build runs and events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ido.journal import MemoryStore, open_store
from ido.journal.base import Store
from tests.conftest import postgres_url


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every backend, opened fresh; SQLite on a real file, PostgreSQL on a real server."""
    if request.param == "memory":
        s: Store = MemoryStore()
    elif request.param == "postgresql":
        s = open_store(postgres_url())
    else:
        s = open_store(f"sqlite:///{tmp_path / 'ws' / '.ido' / 'journal.db'}")
    yield s
    s.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return the path of a (not yet created) SQLite journal file."""
    return tmp_path / ".ido" / "journal.db"
