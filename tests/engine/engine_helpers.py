"""Helpers of the engine tests: capabilities on a real local HTTP service, small workspaces."""

from __future__ import annotations

from typing import Any

import ido.loading  # noqa: F401 - imported first: ido.workspace and ido.loading import each other
from ido.engine import Engine, HealthConfig
from ido.journal import MemoryStore
from ido.model import Capability, Intent, Policy
from ido.testing.services import ServiceServer
from ido.workspace import Workspace

#: circuits reopen quickly in tests (the default backoff is one second).
FAST_HEALTH = HealthConfig(backoff=0.05, backoff_cap=0.2)


def http_capability(server: ServiceServer, name: str, **fields: Any) -> Capability:
    """Return a capability invoked by POST on endpoint `name` of `server` (created here)."""
    server.endpoint(name, cost=fields.get("cost"))
    timeout = fields.pop("timeout", 0.3)
    body = fields.pop("json", {"order": "{inputs.order_id}"})
    return Capability.model_validate({
        "name": name,
        "invoke": {"http": {"method": "POST", "url": server.url_for(name), "timeout": timeout, "json": body}},
        **fields,
    })


def order_intent(**overrides: Any) -> Intent:
    """Return a two-role intent: pay (payment), then ship (shipping)."""
    data: dict[str, Any] = {
        "intent": "order",
        "inputs": {"order_id": "str"},
        "given": {"order.paid": False, "order.shipped": False},
        "goal": {"order.paid": True, "order.shipped": True},
        "constraints": {"budget": 5.0, "deadline": 3.0},
        "objective": {"cost": 1.0},
        "tags": {"gdpr": True},
        "on_failure": "compensate",
    }
    data.update(overrides)
    return Intent.model_validate(data)


PAY = {"provides": "payment", "requires": {"order.paid": False}, "effects": {"order.paid": True}}
SHIP = {"provides": "shipping", "requires": {"order.paid": True, "order.shipped": False},
        "effects": {"order.shipped": True}}
REFUND = {"provides": "refund", "requires": {"order.paid": True}, "effects": {"order.paid": False}}


def workspace(*models: Any) -> Workspace:
    """Return a workspace holding `models`."""
    return Workspace().add(*models)


def eu_only() -> Policy:
    """Return the GDPR policy of the examples: EU regions only for gdpr intents."""
    return Policy.model_validate({
        "name": "gdpr-data-stays-in-eu", "because": "Personal data of EU customers stays in the EU.",
        "applies_to": {"intent.tags.gdpr": True}, "deny": {"capability.tags.region": {"not_in": ["eu"]}},
    })


def engine(ws: Workspace, **kwargs: Any) -> Engine:
    """Return an engine over `ws` with a memory journal and fast circuits."""
    kwargs.setdefault("health_config", FAST_HEALTH)
    return Engine(ws, kwargs.pop("store", None) or MemoryStore(), **kwargs)
