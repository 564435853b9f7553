"""Approvals, probes that lie, the pure decision function, static strategies, concurrency limits."""

from __future__ import annotations

import asyncio
from typing import Any

from engine_helpers import PAY, SHIP, engine, eu_only, http_capability, order_intent, workspace

from ido.engine import HealthConfig, comparable, decide, from_record
from ido.engine.decide import check
from ido.engine.strategies import fallback_chain
from ido.journal import MemoryStore
from ido.model import Capability, Policy
from ido.replay import replay
from ido.simulation.clock import run_virtual
from ido.testing.services import ServiceServer


def _approval_policy() -> Policy:
    return Policy.model_validate({
        "name": "big-spend", "because": "Expensive providers need a person's yes.",
        "require_approval": {"capability.cost": {"gte": 0.4}},
    })


def _sim(name: str, role: dict[str, Any], **fields: Any) -> Capability:
    return Capability.model_validate({"name": name, "invoke": "sim", "latency": 0.001, **role, **fields})


async def _wait_status(eng: Any, run_id: str, status: str) -> None:
    for _ in range(200):
        if eng.runs[run_id].status == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"run never reached {status}")


async def test_approval_pauses_the_run_until_approved() -> None:
    """A step a require_approval policy marks waits for approve(), then runs."""
    ws = workspace(_sim("pay.only", PAY, cost=0.5), _sim("ship", SHIP, cost=0.1), order_intent(), _approval_policy())
    eng = engine(ws)
    run_id = await eng.start("order", inputs={"order_id": "o"})
    await _wait_status(eng, run_id, "waiting_approval")
    assert eng.store.get_run(run_id=run_id).status == "waiting_approval"
    eng.approve(run_id, True, by="ana")
    result = await eng.wait(run_id)
    await eng.close()
    assert result.status == "succeeded"
    kinds = [e.kind for e in eng.store.events(run_id=run_id)]
    assert kinds.index("approval_requested") < kinds.index("approval_given")
    assert [r.action for r in result.records][:2] == ["await_approval", "dispatch"]
    assert result.records[1].trigger == "approval"


async def test_rejection_replans_without_the_capability() -> None:
    """Rejecting the expensive provider makes the engine take the other one."""
    ws = workspace(_sim("pay.pricey", PAY, cost=0.5, reliability=0.999), _sim("pay.other", PAY, cost=0.45, reliability=0.5),
                   _sim("ship", SHIP, cost=0.1), order_intent(objective={"cost": 1.0, "risk": 10.0}), _approval_policy())
    eng = engine(ws)
    run_id = await eng.start("order", inputs={"order_id": "o"})
    await _wait_status(eng, run_id, "waiting_approval")
    first = eng.runs[run_id].pending_approval
    assert first is not None
    eng.approve(run_id, False, by="ana")
    for _ in range(200):
        second = eng.runs[run_id].pending_approval
        if second is not None and second != first:
            break
        await asyncio.sleep(0.01)
    assert second is not None and second[1] != first[1]
    eng.approve(run_id, False)
    result = await eng.wait(run_id)
    await eng.close()
    assert result.status == "failed"
    assert "no admissible plan" in result.records[-1].reason


async def test_lying_probe_is_outweighed_by_failing_calls(server: ServiceServer) -> None:
    """A health endpoint that says up while calls fail does not keep the engine on that provider."""
    caps = [
        http_capability(server, "pay.liar", cost=0.1, tags={"region": "eu"},
                        probe={"http": server.health_url("pay.liar"), "interval": 0.02, "timeout": 0.1}, **PAY),
        http_capability(server, "pay.honest", cost=0.4, tags={"region": "eu"}, **PAY),
        http_capability(server, "ship.one", cost=0.1, tags={"region": "eu"}, **SHIP),
    ]
    ws = workspace(*caps, order_intent(), eu_only())
    server.set("pay.liar", status=503, healthy=True)
    eng = engine(ws, health_config=HealthConfig(backoff=30.0))  # only the probe could reopen it early
    results = []
    for i in range(5):
        results.append(await eng.run("order", inputs={"order_id": f"o-{i}"}))
        await asyncio.sleep(0.05)  # let the probe speak between runs
    await eng.close()
    assert all(r.status == "succeeded" for r in results)
    assert server.health_checks("pay.liar") > 5
    # 3 failures open the circuit; the probe gets one early trial, which fails; then it is ignored.
    assert len(server.requests("pay.liar")) <= 4
    assert "o-4" not in [r.body["order"] for r in server.requests("pay.liar")]
    assert len(server.side_effects("pay.honest")) == 5


async def test_decide_is_pure_and_replays_from_its_record() -> None:
    """Deciding again from a record's own inputs gives the same record (wall time aside)."""
    eu = {"region": "eu"}
    ws = workspace(_sim("pay.a", PAY, cost=0.2, reliability=0.3, tags=eu), _sim("pay.b", PAY, cost=0.3, tags=eu),
                   _sim("pay.us", PAY, cost=0.1, tags={"region": "us"}), _sim("ship", SHIP, cost=0.1, tags=eu),
                   order_intent(), eu_only())
    eng = engine(ws, seed=2)
    result = await eng.run("order", inputs={"order_id": "o"})
    await eng.close()
    intent = ws.intents["order"]
    assert len(result.records) >= 3
    for rec in result.records:
        again, _ = decide(from_record(rec, intent, eng.capabilities), eng.planner, eng.policies)
        assert comparable(again) == comparable(rec)
        assert again.inputs_digest == rec.inputs_digest
        assert check(rec, intent, eng.capabilities, eng.planner, eng.policies) == []
    changed = result.records[0].model_copy(update={"state": {**result.records[0].state, "order.paid": True}})
    differences = check(changed, intent, eng.capabilities, eng.planner, eng.policies)
    assert differences and differences[0].startswith(("action:", "chosen:", "dispatch:", "reason:"))


def test_static_never_switches_and_fallback_does() -> None:
    """static retries the planned provider only (1s, 2s, ... backoff); static-fallback moves on after 3 failures."""
    caps = [_sim("pay.broken", PAY, cost=0.1, reliability=0.000001), _sim("pay.fine", PAY, cost=0.3),
            _sim("ship", SHIP, cost=0.1)]
    ws = workspace(*caps, order_intent(constraints={"deadline": 20.0}, on_failure="stop"))

    async def run(strategy: str) -> Any:
        eng = engine(ws, strategy=strategy)
        try:
            return await eng.run("order", inputs={"order_id": "o"})
        finally:
            await eng.close()

    static = run_virtual(lambda: run("static"))
    assert static.status == "failed"
    gaps = [round(r.wake_at - r.now, 3) for r in static.records if r.action == "backoff"]
    assert gaps[:4] == [1.0, 2.0, 4.0, 8.0]  # Temporal's default policy
    assert {c for r in static.records for c in r.chosen} == {"pay.broken"}
    fallback = run_virtual(lambda: run("static-fallback"))
    assert fallback.status == "succeeded"
    chosen = [c for r in fallback.records if r.action == "dispatch" for c in r.chosen]
    assert chosen == ["pay.broken"] * 3 + ["pay.fine", "ship"]


async def test_fallback_chain_ranks_alternatives_by_score() -> None:
    """The chain starts at the planned provider and follows the initial plan's ranking."""
    ws = workspace(_sim("pay.a", PAY, cost=0.1), _sim("pay.b", PAY, cost=0.3), _sim("pay.c", PAY, cost=0.2),
                   _sim("ship", SHIP, cost=0.1), order_intent())
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o"})
    await eng.close()
    first = result.records[0]
    assert first.plan is not None
    plan = first.plan.model_copy(update={"alternatives": first.alternatives})  # records keep them once
    pay = next(i for i, s in enumerate(plan.steps) if s.provides == "payment")
    assert fallback_chain(plan, pay) == ["pay.a", "pay.c", "pay.b"]


async def test_max_concurrency_is_respected_across_runs() -> None:
    """A provider with max_concurrency 1 never serves two runs at once."""
    active = 0
    peak = 0

    async def pay(ctx: Any) -> dict[str, Any]:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return {}

    ws = workspace(order_intent())
    ws.capability(name="pay.one", max_concurrency=1, cost=0.1, **PAY)(pay)
    ws.add(_sim("ship", SHIP, cost=0.1))
    eng = engine(ws)
    ids = [await eng.start("order", inputs={"order_id": f"o-{i}"}) for i in range(5)]
    results = [await eng.wait(i) for i in ids]
    await eng.close()
    assert all(r.status == "succeeded" for r in results)
    assert peak == 1


def test_declared_quota_is_never_exceeded_across_runs() -> None:
    """A provider declaring 2 calls per second never gets a third within any second, whatever the runs."""
    calls: list[float] = []

    async def pay() -> dict[str, Any]:
        calls.append(asyncio.get_running_loop().time())
        return {}

    async def main() -> list[Any]:
        ws = workspace(order_intent(constraints={"deadline": 60}))
        ws.capability(name="pay.limited", quota={"calls": 2, "per": 1.0}, cost=0.1, **PAY)(pay)
        ws.add(_sim("ship", SHIP, cost=0.1))
        eng = engine(ws)
        try:
            ids = [await eng.start("order", inputs={"order_id": f"o-{i}"}) for i in range(7)]
            return [await eng.wait(i) for i in ids]
        finally:
            await eng.close()

    results = run_virtual(main)
    assert all(r.status == "succeeded" for r in results)
    assert len(calls) == 7
    for i, t in enumerate(calls):
        assert sum(1 for u in calls[i:] if u < t + 1.0 - 1e-9) <= 2


def test_static_fallback_keeps_a_provider_whose_idempotent_key_is_in_doubt() -> None:
    """static-fallback moves a step on after 3 failures, but not from a provider whose calls
    timed out: each may have acted there (its idempotency key is in doubt), and another
    provider could act a second time. It re-sends the same key to the same provider, which
    answers once it recovers; the other provider is never called."""
    sent: dict[str, list[str]] = {"pay.slow": [], "pay.other": []}

    def provider(name: str, answers_after: int) -> Any:
        async def pay(ctx: Any) -> dict[str, Any]:
            sent[name].append(ctx.idempotency_key)
            if len(sent[name]) <= answers_after:
                await asyncio.sleep(60)  # past its timeout: the caller cannot know if it acted
            return {}
        pay.__name__ = pay.__qualname__ = name.replace(".", "_")  # registered by name
        return pay

    ws = workspace(order_intent(constraints={"deadline": 120.0}, on_failure="stop"))
    ws.capability(name="pay.slow", cost=0.1, timeout=1.0, idempotent=True, **PAY)(provider("pay.slow", 4))
    ws.capability(name="pay.other", cost=0.3, timeout=1.0, idempotent=True, **PAY)(provider("pay.other", 0))
    ws.add(_sim("ship", SHIP, cost=0.1))

    store = MemoryStore()
    result = _static_fallback_run(ws, store)
    assert result.status == "succeeded"
    assert sent["pay.other"] == []
    assert len(sent["pay.slow"]) == 5 and len(set(sent["pay.slow"])) == 1  # one key, re-sent
    chosen = [c for r in result.records if r.action == "dispatch" for c in r.chosen]
    assert chosen == ["pay.slow"] * 5 + ["ship"]
    assert any(r.held for r in result.records)  # the records say what kept the role there
    report = replay(store, result.run_id)
    assert report.identical, report.differences


def test_static_fallback_moves_on_from_a_provider_that_refused() -> None:
    """A provider that refused (its calls did not act) is left after 3 failures as before."""
    sent: dict[str, int] = {"pay.refusing": 0, "pay.other": 0}

    def provider(name: str, fails: bool) -> Any:
        async def pay(ctx: Any) -> dict[str, Any]:
            sent[name] += 1
            if fails:
                raise RuntimeError("payment service unavailable")
            return {}
        pay.__name__ = pay.__qualname__ = name.replace(".", "_")  # registered by name
        return pay

    ws = workspace(order_intent(constraints={"deadline": 120.0}, on_failure="stop"))
    ws.capability(name="pay.refusing", cost=0.1, idempotent=True, **PAY)(provider("pay.refusing", True))
    ws.capability(name="pay.other", cost=0.3, idempotent=True, **PAY)(provider("pay.other", False))
    ws.add(_sim("ship", SHIP, cost=0.1))

    result = _static_fallback_run(ws, MemoryStore())
    assert result.status == "succeeded"
    assert sent == {"pay.refusing": 3, "pay.other": 1}


def _static_fallback_run(ws: Any, store: MemoryStore) -> Any:
    """Return the result of one `order` run of `ws` under static-fallback, in virtual time."""

    async def main() -> Any:
        eng = engine(ws, strategy="static-fallback", store=store)
        try:
            return await eng.run("order", inputs={"order_id": "o"})
        finally:
            await eng.close()

    return run_virtual(main)
