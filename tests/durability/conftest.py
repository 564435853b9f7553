"""Fixtures of the durability tests: the shop's HTTP endpoints (see `durability_helpers`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from durability_helpers import ENDPOINTS

from ido.testing.services import ServiceServer


@pytest.fixture
def shop() -> Iterator[ServiceServer]:
    """The shop's HTTP endpoints on 127.0.0.1 (each a little slow), stopped after the test."""
    with ServiceServer() as server:
        for name, (cost, delay) in ENDPOINTS.items():
            server.endpoint(name, cost=cost, delay=delay)
        yield server
