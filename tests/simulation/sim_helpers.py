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


def mini_workspace(*, reliability: float = 1.0, min_success: float = 0.5) -> Any:
    """Return a small workspace: pay (a cheapest, b, us denied by policy) then ship (x, y)."""
    import ido.loading  # noqa: F401 - ido.workspace imported first hits the loader's import cycle
    from ido.model import Intent, Policy
    from ido.workspace import Workspace

    def cap(name: str, provides: str, requires: dict[str, Any], effects: dict[str, Any], cost: float,
            latency: str, region: str = "eu", compensate: str | None = None) -> Capability:
        return capability(
            name, provides=provides, requires=requires, effects=effects, cost=cost, latency=latency,
            reliability=reliability, tags={"region": region}, compensate=compensate, timeout="2s",
        )

    pay = {"order.paid": False}
    ship = {"order.paid": True, "order.shipped": False}
    ws = Workspace()
    ws.add(
        cap("pay.a", "payment", pay, {"order.paid": True}, 0.25, "300ms", compensate="pay.refund"),
        cap("pay.b", "payment", pay, {"order.paid": True}, 0.32, "350ms", compensate="pay.refund"),
        cap("pay.us", "payment", pay, {"order.paid": True}, 0.10, "200ms", region="us"),
        cap("pay.refund", "refund", {"order.paid": True}, {"order.paid": False}, 0.0, "200ms"),
        cap("ship.x", "shipping", ship, {"order.shipped": True}, 0.45, "1s"),
        cap("ship.y", "shipping", ship, {"order.shipped": True}, 0.52, "1200ms"),
        Intent.model_validate({
            "intent": "order", "given": {"order.paid": False, "order.shipped": False},
            "goal": {"order.paid": True, "order.shipped": True},
            "constraints": {"budget": 2.0, "deadline": "30s", "min_success": min_success},
            "objective": {"cost": 1.0, "latency": 0.1, "risk": 1.0},
            "tags": {"gdpr": True}, "on_failure": "compensate",
        }),
        Policy.model_validate({
            "name": "eu-only", "because": "Data stays in the EU.", "applies_to": {"intent.tags.gdpr": True},
            "deny": {"capability.tags.region": {"not_in": ["eu"]}},
        }),
    )
    return ws


def scenario(*faults: dict[str, Any], runs: int = 30, seed: int = 1, every: str = "1s",
             strategies: tuple[str, ...] = ("adaptive", "static", "static-fallback")) -> Any:
    """Return a scenario of the mini workspace's `order` intent with `faults`."""
    from ido.model import Scenario

    return Scenario.model_validate({
        "scenario": "test", "intent": "order", "runs": runs, "seed": seed, "arrivals": {"every": every},
        "faults": list(faults), "strategies": list(strategies),
    })
