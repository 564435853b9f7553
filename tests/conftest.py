"""Shared test configuration: hypothesis profiles and the `files` fixture.

Engineers put area fixtures in ``tests/<area>/conftest.py``; this file only holds
what every test needs. ``HYPOTHESIS_PROFILE`` picks the profile ("default" keeps
runs short on the shared 2-core machine; "ci", which `.ci/run` sets, is wider). `files`
writes a small workspace of YAML files for a test.
"""

from __future__ import annotations

import contextlib
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The developer's fast suite (README's test command) stays short on a shared 2-core machine;
# CI (`.ci/run`) loads "ci": wider, and reproducible from its printed blobs.
settings.register_profile(
    "default",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Return a function writing `{relative path: YAML text}` below a fresh folder (dedented).

    The current folder is that folder, so problems carry short relative paths.
    """
    monkeypatch.chdir(tmp_path)

    def write(contents: dict[str, str] | None = None, **named: str) -> Path:
        for rel, text in {**(contents or {}), **named}.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return tmp_path

    return write


def postgres_url() -> str:
    """Return the URL of the PostgreSQL server the tests may use, after emptying its ido tables.

    `IDO_TEST_POSTGRES` names it (`eval "$(bash .ci/postgres.sh)"` starts one on
    127.0.0.1 and sets it). Without it the test is skipped with that instruction,
    unless `IDO_REQUIRE_POSTGRES=1` (CI sets it), where a missing server fails.
    """
    url = os.environ.get("IDO_TEST_POSTGRES", "").strip()
    if not url:
        message = 'no PostgreSQL server: run `eval "$(bash .ci/postgres.sh)"` to start one'
        if os.environ.get("IDO_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    import psycopg

    url = _checkout_database(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


def _checkout_database(url: str) -> str:
    """Return the URL of a database of this checkout's own on the server `url` names, made if missing.

    Several checkouts of ido on one machine (worktrees) may run their suites at
    once against one server; each empties its database before a test, so each
    needs its own. The name is the configured database's plus a digest of this
    checkout's path.
    """
    import hashlib

    import psycopg
    from psycopg import sql

    base, _, database = url.rpartition("/")
    database, query, options = database.partition("?")
    own = f"{database}_{hashlib.sha256(str(Path(__file__).resolve()).encode()).hexdigest()[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (own,)).fetchone() is None:
            # another test process of this checkout may make it meanwhile
            with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(own)))
    return f"{base}/{own}{query}{options}"


@pytest.fixture
def pg_url() -> str:
    """The URL of an empty PostgreSQL database for one test (see `postgres_url`)."""
    return postgres_url()
