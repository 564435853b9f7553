"""Resume after a crash: same idempotency keys for unanswered dispatches, approvals, new revisions."""

from __future__ import annotations

import asyncio
from typing import Any

from engine_helpers import PAY, SHIP, engine, http_capability, order_intent, workspace

from ido.engine.approvals import answer
from ido.journal import MemoryStore
from ido.model import Capability, Policy
from ido.testing.services import ServiceServer


async def _crash(eng: Any) -> None:
    """Kill the engine's tasks without letting it write anything more (like SIGKILL)."""
    await eng.close()


async def test_unanswered_dispatch_is_resent_with_the_same_key(server: ServiceServer) -> None:
    """A step in flight at the crash is re-sent with its key; the provider acts once; the run ends."""
    store = MemoryStore()
    ws = workspace(http_capability(server, "pay", cost=0.2, timeout=5.0, **PAY),
                   http_capability(server, "ship", cost=0.1, **SHIP), order_intent(constraints={"deadline": 30}))
    server.set("pay", hang=True)
    first = engine(ws, store=store)
    run_id = await first.start("order", inputs={"order_id": "o-1"})
    while not server.requests("pay"):
        await asyncio.sleep(0.01)
    await _crash(first)
    server.set("pay", hang=False)
    second = engine(ws, store=store)
    result = await second.resume(run_id[:8])
    await second.close()
    assert result.status == "succeeded"
    keys = [r.idempotency_key for r in server.requests("pay")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(server.side_effects("pay")) == 1
    assert len(server.side_effects("ship")) == 1
    resumed = [r for r in result.records if r.trigger == "resume"]
    assert resumed and "re-sending pay" in resumed[0].cause


async def test_completed_steps_are_not_repeated_and_revision_change_is_recorded(server: ServiceServer) -> None:
    """After a crash between steps, a new capabilities revision is noted and done steps stay done."""
    store = MemoryStore()
    pay = http_capability(server, "pay", cost=0.2, **PAY)
    ship = http_capability(server, "ship", cost=0.1, timeout=5.0, **SHIP)
    ws = workspace(pay, ship, order_intent(constraints={"deadline": 30}))
    server.set("ship", hang=True)
    first = engine(ws, store=store)
    run_id = await first.start("order", inputs={"order_id": "o-2"})
    while not server.requests("ship"):
        await asyncio.sleep(0.01)
    await _crash(first)
    server.set("ship", hang=False)
    faster = http_capability(server, "ship.fast", cost=0.05, **SHIP)
    ws2 = workspace(pay, ship, faster, order_intent(constraints={"deadline": 30}))
    second = engine(ws2, store=store)
    result = await second.resume(run_id)
    await second.close()
    assert result.status == "succeeded"
    assert len(server.requests("pay")) == 1
    changed = result.records[0]
    assert changed.trigger == "revision_changed"
    assert "added ship.fast" in changed.cause
    assert any(e.kind == "revision" for e in store.events(run_id=run_id))


async def test_waiting_approval_survives_a_restart_and_takes_an_answer_from_the_journal() -> None:
    """A run waiting for approval keeps waiting after a restart; `answer` in the journal continues it."""
    store = MemoryStore()
    policy = Policy.model_validate({"name": "ask", "because": "a person decides", "require_approval": {"capability.name": "pay"}})
    caps = [Capability.model_validate({"name": "pay", "invoke": "sim", "cost": 0.2, **PAY}),
            Capability.model_validate({"name": "ship", "invoke": "sim", "cost": 0.1, **SHIP})]
    ws = workspace(*caps, policy, order_intent(constraints={"deadline": 30}))
    first = engine(ws, store=store)
    run_id = await first.start("order", inputs={"order_id": "o-3"})
    while store.get_run(run_id=run_id).status != "waiting_approval":
        await asyncio.sleep(0.01)
    await _crash(first)
    await answer(store, run_id, True, by="ana")
    second = engine(ws, store=store)
    result = await second.resume(run_id)
    await second.close()
    assert result.status == "succeeded"
    kinds = [e.kind for e in store.events(run_id=run_id)]
    assert kinds.count("approval_requested") == 1
    assert kinds.count("approval_given") == 1


async def test_crash_during_compensation_resumes_the_undoing(server: ServiceServer) -> None:
    """A run killed while refunding is not left 'failed': resume finishes the refund, with the same key."""
    store = MemoryStore()
    caps = [
        http_capability(server, "pay", cost=0.2, compensate="refund", **PAY),
        http_capability(server, "refund", cost=0.01, timeout=5.0, idempotent=True, provides="refund",
                        requires={"order.paid": True}, effects={"order.paid": False}),
        http_capability(server, "ship", cost=0.1, **SHIP),
    ]
    ws = workspace(*caps, order_intent(constraints={"deadline": 0.5}))
    server.set("ship", status=503)
    server.set("refund", hang=True)
    first = engine(ws, store=store)
    run_id = await first.start("order", inputs={"order_id": "o-4"})
    while not server.requests("refund"):
        await asyncio.sleep(0.01)
    await _crash(first)
    assert store.get_run(run_id=run_id).status not in ("failed", "compensated")
    server.set("refund", hang=False)
    second = engine(ws, store=store)
    result = await second.resume(run_id)
    await second.close()
    assert result.status == "compensated"
    keys = [r.idempotency_key for r in server.requests("refund")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(server.side_effects("refund")) == 1
    assert len(server.side_effects("pay")) == 1
