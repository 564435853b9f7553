"""Fixtures of the simulation tests."""

from __future__ import annotations

import pytest

from ido.model import Observer


@pytest.fixture
def observer() -> Observer:
    """Return a sim observer watching `service.restarted`."""
    return Observer(name="service.status", facts=["service.restarted"], sim=True)
