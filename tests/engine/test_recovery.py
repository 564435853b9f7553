"""A run whose goal is unreachable only while circuits are open waits for them; it does not give up."""

from __future__ import annotations

from typing import Any

from engine_helpers import PAY, SHIP, engine, order_intent, workspace

from ido.model import Capability
from ido.simulation.clock import run_virtual


def _sim(name: str, role: dict[str, Any], **fields: Any) -> Capability:
    return Capability.model_validate({"name": name, "invoke": "sim", "latency": 0.001, **role, **fields})


def test_open_circuits_beside_a_never_possible_precondition_back_off_instead_of_failing() -> None:
    """Mixed blockers (one provider's circuit open, another's precondition never met) are transient.

    The only usable payment provider fails its first calls and opens its circuit; a
    voucher payment needs a fact nothing produces. Failing the run on that mix would
    give up on an outage that heals well within the deadline.
    """
    calls = {"n": 0}
    ws = workspace(
        _sim("ship", SHIP, cost=0.1),
        _sim("pay.voucher", {**PAY, "requires": {"order.paid": False, "voucher.valid": True}}, cost=0.05),
        order_intent(constraints={"deadline": 30.0}, on_failure="stop"),
    )

    @ws.capability(name="pay.card", **PAY, cost=0.2)
    def pay_card() -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] <= 4:
            raise RuntimeError("card processor unavailable")
        return {}

    async def run() -> Any:
        eng = engine(ws)
        try:
            return await eng.run("order", inputs={"order_id": "o"})
        finally:
            await eng.close()

    result = run_virtual(run)
    assert result.status == "succeeded"
    assert calls["n"] == 5
    actions = [r.action for r in result.records]
    assert "fail" not in actions
    assert "backoff" in actions or "block" in actions
