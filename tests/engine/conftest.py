"""Fixtures of the engine tests: a real local HTTP service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.testing.services import ServiceServer


@pytest.fixture
def server() -> Iterator[ServiceServer]:
    """A controllable HTTP service on 127.0.0.1, stopped after the test."""
    with ServiceServer() as s:
        yield s
