"""The order-fulfilment workspace of DESIGN.md section 3, built in Python for planner tests."""

from __future__ import annotations

from typing import Any

from ido.model import Capability, Intent, Policy


def cap(name: str, provides: str, requires: dict[str, Any], effects: dict[str, Any], **kw: Any) -> Capability:
    """Return a simulated capability (test shorthand)."""
    return Capability.model_validate(
        {"name": name, "provides": provides, "requires": requires, "effects": effects, "invoke": "sim", **kw}
    )


def capabilities() -> list[Capability]:
    """Return the order workspace's capabilities: reserve, pay (3 providers), ship (2), notify (2)."""
    return [
        cap("inventory.reserve", "reservation", {"order.reserved": False}, {"order.reserved": True},
            cost=0.01, latency="50ms", reliability=0.999, tags={"region": "eu"}),
        cap("payment.stripe-eu", "payment", {"order.reserved": True, "order.paid": False},
            {"order.paid": True}, cost=0.25, latency="300ms", reliability=0.995,
            tags={"region": "eu", "vendor": "stripe"}, reports={"payment.id": "id"}),
        cap("payment.adyen-eu", "payment", {"order.reserved": True, "order.paid": False},
            {"order.paid": True}, cost=0.30, latency="250ms", reliability=0.995,
            tags={"region": "eu", "vendor": "adyen"}),
        cap("payment.paypal-us", "payment", {"order.reserved": True, "order.paid": False},
            {"order.paid": True}, cost=0.10, latency="200ms", reliability=0.999,
            tags={"region": "us", "vendor": "paypal"}),
        cap("shipping.dhl", "shipping", {"order.paid": True, "order.shipped": False},
            {"order.shipped": True}, cost=0.50, latency="1s", reliability=0.99, tags={"region": "eu"}),
        cap("shipping.ups", "shipping", {"order.paid": True, "order.shipped": False},
            {"order.shipped": True}, cost=0.60, latency="800ms", reliability=0.99, tags={"region": "eu"}),
        cap("notify.email", "notification", {"order.paid": True, "customer.notified": False},
            {"customer.notified": True}, cost=0.001, latency="100ms", reliability=0.999,
            tags={"region": "eu"}),
        cap("notify.sms", "notification", {"order.paid": True, "customer.notified": False},
            {"customer.notified": True}, cost=0.05, latency="100ms", reliability=0.999,
            tags={"region": "eu"}),
    ]


def policies() -> list[Policy]:
    """Return the GDPR deny policy of DESIGN.md section 3."""
    return [
        Policy.model_validate({
            "name": "gdpr-data-stays-in-eu",
            "because": "Personal data of EU customers is processed in the EU only.",
            "applies_to": {"intent.tags.gdpr": True},
            "deny": {"capability.tags.region": {"not_in": ["eu"]}},
        })
    ]


def intent(**overrides: Any) -> Intent:
    """Return the order-fulfilled intent, with fields replaced by `overrides`."""
    data: dict[str, Any] = {
        "intent": "order-fulfilled",
        "inputs": {"order_id": "str", "amount": "float"},
        "given": {"order.reserved": False, "order.paid": False, "order.shipped": False,
                  "customer.notified": False},
        "goal": {"order.paid": True, "order.shipped": True, "customer.notified": True},
        "constraints": {"budget": 2.0, "deadline": "60s", "min_success": 0.95},
        "objective": {"cost": 1.0, "latency": 0.1, "risk": 10.0},
        "tags": {"gdpr": True},
    }
    data.update(overrides)
    return Intent.model_validate(data)
