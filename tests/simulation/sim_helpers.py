"""Helpers of the simulation tests: small capabilities and calls."""

from __future__ import annotations

from typing import Any

from ido.engine.doors import Call
from ido.model import Capability


def capability(name: str = "payment.a", **fields: Any) -> Capability:
    """Return a sim capability with sensible defaults, overridden by `fields`."""
    data: dict[str, Any] = {
        "name": name,
        "provides": "payment",
        "effects": {"order.paid": True},
        "cost": 0.25,
        "latency": "300ms",
        "reliability": 1.0,
        "tags": {"region": "eu"},
        "probe": {"sim": True, "interval": "5s"},
        "invoke": "sim",
    }
    data.update(fields)
    return Capability.model_validate(data)


def call(cap: Capability, run_id: str = "run-1", *, timeout: float = 2.0, attempt: int = 1) -> Call:
    """Return a Call of `cap` for run `run_id`."""
    return Call(
        capability=cap, run_id=run_id, step=0, attempt=attempt,
        idempotency_key=f"{run_id}:{cap.name}:{attempt}", inputs={}, facts={}, timeout=timeout,
    )
