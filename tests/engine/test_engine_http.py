"""The engine against real HTTP services on 127.0.0.1: outages, timeouts, compensation, keys."""

from __future__ import annotations

import asyncio

from engine_helpers import (
    PAY,
    REFUND,
    SHIP,
    engine,
    eu_only,
    http_capability,
    order_intent,
    workspace,
)

from ido.journal import MemoryStore
from ido.testing.services import ServiceServer


def _registry(server: ServiceServer, **pay_fields: object) -> list[object]:
    return [
        http_capability(server, "pay.primary", cost=0.2, tags={"region": "eu"}, compensate="refund.primary",
                        reports={"payment.id": "id"}, **PAY, **pay_fields),
        http_capability(server, "pay.backup", cost=0.5, tags={"region": "eu"}, **PAY),
        http_capability(server, "pay.cheap-us", cost=0.05, tags={"region": "us"}, **PAY),
        http_capability(server, "ship.one", cost=0.3, tags={"region": "eu"}, **SHIP),
        http_capability(server, "refund.primary", cost=0.0, tags={"region": "eu"}, **REFUND),
    ]


async def test_primary_503_switches_to_the_alternative(server: ServiceServer) -> None:
    """A primary answering 503 is abandoned for the next admissible provider, and the run succeeds."""
    ws = workspace(*_registry(server), order_intent(), eu_only())
    server.set("pay.primary", status=503)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-1"})
    await eng.close()
    assert result.status == "succeeded"
    assert len(server.side_effects("pay.backup")) == 1
    assert server.side_effects("pay.primary") == []
    assert server.requests("pay.cheap-us") == []  # denied by the GDPR policy
    switch = [r for r in result.records if r.trigger == "step_failed" and r.action == "dispatch"]
    assert switch and switch[-1].chosen == ["pay.backup"]
    assert "pay.primary" in switch[-1].cause


async def test_primary_hang_times_out_then_switches(server: ServiceServer) -> None:
    """A hanging primary times out (its timeout, not the deadline) and the engine switches."""
    ws = workspace(*_registry(server, timeout=0.1), order_intent(), eu_only())
    server.set("pay.primary", hang=True)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-2"})
    await eng.close()
    assert result.status == "succeeded"
    kinds = [r.cause for r in result.records if r.trigger == "step_failed"]
    assert any("timeout" in k for k in kinds)
    assert len(server.side_effects("pay.backup")) == 1
    assert result.elapsed_s < 3.0


async def test_no_admissible_path_fails_cleanly_and_compensates(server: ServiceServer) -> None:
    """When shipping is down for good, the run fails at its deadline and the payment is refunded."""
    ws = workspace(*_registry(server), order_intent(constraints={"budget": 5.0, "deadline": 0.8}), eu_only())
    server.set("ship.one", status=503)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-3"})
    await eng.close()
    assert result.status == "compensated"
    assert len(server.side_effects("pay.primary")) == 1
    assert len(server.side_effects("refund.primary")) == 1
    assert result.records[-1].trigger == "compensation"
    assert "undid step 1 (pay.primary)" in result.records[-1].reason


async def test_compensation_runs_in_reverse_order(server: ServiceServer) -> None:
    """Completed steps are undone last-first through their compensate capabilities."""
    caps = [
        http_capability(server, "reserve", cost=0.1, provides="reserve", requires={"order.reserved": False},
                        effects={"order.reserved": True}, compensate="release"),
        # undo actions cost a little, so no optimal plan adds them as free no-op steps
        http_capability(server, "release", cost=0.01, provides="release", effects={"order.reserved": False}),
        http_capability(server, "pay", cost=0.2, provides="payment", requires={"order.reserved": True, "order.paid": False},
                        effects={"order.paid": True}, compensate="refund"),
        http_capability(server, "refund", cost=0.01, provides="refund", effects={"order.paid": False}),
        http_capability(server, "ship", cost=0.3, **SHIP),
    ]
    intent = order_intent(given={"order.reserved": False, "order.paid": False, "order.shipped": False},
                          constraints={"deadline": 0.6})
    ws = workspace(*caps, intent)
    server.set("ship", status=500)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-4"})
    await eng.close()
    assert result.status == "compensated"
    undo = [r.chosen[0] for r in result.records if r.action == "compensate" and r.chosen]
    assert undo == ["refund", "release"]
    assert server.requests("refund")[0].at <= server.requests("release")[0].at


async def test_compensation_failure_names_the_step(server: ServiceServer) -> None:
    """A refund that keeps failing ends the run compensation_failed, naming the step not undone."""
    ws = workspace(*_registry(server), order_intent(constraints={"deadline": 0.6}), eu_only())
    server.set("ship.one", status=503)
    server.set("refund.primary", status=500)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-5"})
    await eng.close()
    assert result.status == "compensation_failed"
    last = result.records[-1]
    assert "could not undo step 1 (pay.primary)" in last.reason
    assert len(server.requests("refund.primary")) == 3


async def test_one_side_effect_per_idempotency_key(server: ServiceServer) -> None:
    """An idempotent call that timed out is retried with the same key, so the provider acts once."""
    ws = workspace(*_registry(server, timeout=0.15, idempotent=True), order_intent(), eu_only())
    server.set("pay.backup", status=503)  # the primary stays the only admissible payment
    server.set("pay.primary", delay=0.3)  # answers after the caller gave up: a side effect happened
    eng = engine(ws)
    task = asyncio.create_task(eng.run("order", inputs={"order_id": "o-6"}))
    while len(server.requests("pay.primary")) < 1:
        await asyncio.sleep(0.01)
    server.set("pay.primary", delay=0.0)
    result = await task
    await eng.close()
    assert result.status == "succeeded"
    keys = [r.idempotency_key for r in server.requests("pay.primary")]
    assert len(keys) >= 2 and len(set(keys)) == 1
    assert len(server.side_effects("pay.primary")) == 1
    for name in ("pay.primary", "pay.backup", "ship.one"):
        effects = server.side_effects(name)
        assert len(effects) == len(set(effects))


async def test_non_idempotent_action_is_not_called_again_after_a_timeout(server: ServiceServer) -> None:
    """A non-idempotent payment whose outcome is unknown is never re-sent; the backup is used."""
    ws = workspace(*_registry(server, timeout=0.1), order_intent(), eu_only())
    server.set("pay.primary", hang=True)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-11"})
    await eng.close()
    assert result.status == "succeeded"
    assert len(server.requests("pay.primary")) == 1
    assert "pay.primary" in result.records[-1].exclude


async def test_budget_is_never_exceeded(server: ServiceServer) -> None:
    """No step is dispatched unless spent + in flight + its cost fits the budget; the total fits too."""
    ws = workspace(*_registry(server), order_intent(constraints={"budget": 0.55, "deadline": 1.0}), eu_only())
    server.set("ship.one", status=503)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-7"})
    await eng.close()
    assert result.status in ("failed", "compensated")
    dispatches = [r for r in result.records if r.action == "dispatch" and r.plan]
    assert dispatches
    for r in dispatches:
        committed = r.remaining.spent + sum(f.cost for f in r.in_flight)
        assert committed + sum(r.plan.steps[i].cost for i in r.dispatch) <= 0.55 + 1e-9
    assert result.cost <= 0.55 + 1e-9


async def test_deadline_bounds_the_run(server: ServiceServer) -> None:
    """Steps in flight at the deadline are abandoned; the run ends soon after its deadline."""
    ws = workspace(*_registry(server, timeout=2.0), order_intent(constraints={"deadline": 0.4}, on_failure="stop"),
                   eu_only())
    server.set("pay.primary", hang=True)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-8"})
    await eng.close()
    assert result.status == "failed"
    assert result.elapsed_s < 0.4 + 0.3
    assert "deadline" in result.records[-1].reason


async def test_policy_denied_capability_is_never_called(server: ServiceServer) -> None:
    """The cheapest provider is outside the EU: it is never requested, even when the others fail."""
    ws = workspace(*_registry(server), order_intent(constraints={"deadline": 0.5}), eu_only())
    server.set("pay.primary", status=503)
    server.set("pay.backup", status=503)
    eng = engine(ws)
    result = await eng.run("order", inputs={"order_id": "o-9"})
    await eng.close()
    assert result.status == "failed"
    assert server.requests("pay.cheap-us") == []
    verdicts = {a.verdict for r in result.records for a in r.alternatives if a.capability == "pay.cheap-us"}
    assert verdicts == {"denied"}


async def test_journal_holds_dispatch_before_outcome(server: ServiceServer) -> None:
    """Every outcome follows its dispatched event, and the run row ends with the final status."""
    store = MemoryStore()
    ws = workspace(*_registry(server), order_intent(), eu_only())
    eng = engine(ws, store=store)
    result = await eng.run("order", inputs={"order_id": "o-10"})
    await eng.close()
    events = store.events(run_id=result.run_id)
    seen: set[int] = set()
    for e in events:
        if e.kind == "dispatched":
            seen.add(e.data["step"])
        if e.kind == "outcome":
            assert e.data["step"] in seen
    assert store.get_run(run_id=result.run_id).status == "succeeded"
    assert events[0].kind == "run_started"
    decisions = [e for e in events if e.kind == "decision"]
    assert len(decisions) == result.decisions


NOTIFY = {"provides": "notification", "requires": {"order.shipped": True, "customer.notified": False},
          "effects": {"customer.notified": True}}


def _late_shipping_workspace(server: ServiceServer, *, notify: bool) -> object:
    caps = [
        http_capability(server, "pay", cost=0.2, **PAY, compensate="refund"),
        http_capability(server, "refund", cost=0.01, **REFUND),
        http_capability(server, "ship", cost=0.3, **SHIP, compensate="ship.cancel", timeout=3.0),
        http_capability(server, "ship.cancel", cost=0.01, provides="ship-cancel",
                        requires={"order.shipped": True}, effects={"order.shipped": False}),
        http_capability(server, "notify", cost=0.01, **NOTIFY),
    ]
    given = {"order.paid": False, "order.shipped": False, "customer.notified": False}
    goal = {"order.paid": True, "order.shipped": True, **({"customer.notified": True} if notify else {})}
    server.set("ship", delay=1.2)
    return workspace(*caps, order_intent(given=given, goal=goal, constraints={"deadline": 0.8}))


async def test_a_step_in_flight_at_the_deadline_is_awaited_and_undone(server: ServiceServer) -> None:
    """A request already sent when the deadline passes may still take effect: the run waits for
    its answer and compensation undoes it, instead of abandoning it with a shipment booked."""
    eng = engine(_late_shipping_workspace(server, notify=True))
    result = await eng.run("order", inputs={"order_id": "o-9"})
    await eng.close()
    assert result.status == "compensated"
    assert len(server.side_effects("ship")) == 1  # the provider did book it
    assert len(server.side_effects("ship.cancel")) == 1  # and the run undid it
    assert len(server.side_effects("refund")) == 1
    assert not server.requests("notify")  # nothing new is started after the deadline
    assert server.requests("ship.cancel")[0].at <= server.requests("refund")[0].at


async def test_a_step_in_flight_at_the_deadline_that_completes_the_goal_succeeds_late(
    server: ServiceServer,
) -> None:
    """When the awaited step completes the goal, the run succeeds and its record says it was late."""
    eng = engine(_late_shipping_workspace(server, notify=False))
    result = await eng.run("order", inputs={"order_id": "o-10"})
    await eng.close()
    assert result.status == "succeeded"
    assert "after the deadline" in result.records[-1].reason
    assert not server.requests("ship.cancel") and not server.requests("refund")
