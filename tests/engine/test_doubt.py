"""A role whose idempotent call is in doubt stays on that provider: no second provider, no second charge.

Real HTTP services on 127.0.0.1. The payment's first call times out (the
service acted, late), so its key is in doubt; the provider's circuit opens on
that failure and a cheaper provider of the same role is admissible. Without
the hold the run would pay there too. With it the run waits for the first
provider, re-sends the same key once its circuit half-opens, and is charged
once; the records say why the cheaper provider lost, and replay is identical.
"""

from __future__ import annotations

import asyncio
import socket

from engine_helpers import PAY, SHIP, engine, http_capability, order_intent, workspace

from ido.engine.health import HealthConfig
from ido.journal import MemoryStore
from ido.model import Capability
from ido.planning.types import Verdict
from ido.replay import replay
from ido.testing.services import ServiceServer

#: one failure opens a circuit, for 0.3 s: long enough that the cheaper provider is the only one up.
ONE_STRIKE = HealthConfig(failure_threshold=1, backoff=0.3, backoff_cap=0.3)


def _registry(server: ServiceServer) -> list[object]:
    return [
        # the reliable one wins at first (risk weighs 10); `pay.cheap` costs less
        http_capability(server, "pay.sure", cost=0.3, reliability=0.99, idempotent=True, timeout=0.15, **PAY),
        http_capability(server, "pay.cheap", cost=0.25, reliability=0.9, idempotent=True, **PAY),
        http_capability(server, "ship.one", cost=0.3, **SHIP),
    ]


async def test_a_payment_in_doubt_is_resent_to_its_provider_and_never_sent_to_another(
    server: ServiceServer,
) -> None:
    store = MemoryStore()
    ws = workspace(*_registry(server), order_intent(objective={"cost": 1.0, "risk": 10.0}))
    server.set("pay.sure", delay=0.4)  # answers after the caller gave up: its charge happened
    eng = engine(ws, store=store, health_config=ONE_STRIKE)
    task = asyncio.create_task(eng.run("order", inputs={"order_id": "o-1"}))
    while len(server.requests("pay.sure")) < 1:
        await asyncio.sleep(0.01)
    server.set("pay.sure", delay=0.0)
    result = await task
    await eng.close()

    assert result.status == "succeeded"
    assert server.requests("pay.cheap") == []  # never, although cheaper and up while pay.sure was open
    keys = [r.idempotency_key for r in server.requests("pay.sure")]
    assert len(keys) >= 2 and len(set(keys)) == 1  # the same key re-sent
    assert len(server.side_effects("pay.sure")) == 1

    held = [r for r in result.records if r.held]
    assert held, "no decision recorded the hold"
    first = held[0]
    assert [(h.role, h.capability, h.key) for h in first.held] == [("payment", "pay.sure", keys[0])]
    assert "pay.cheap" in first.exclude
    assert first.health["pay.sure"].circuit == "open"  # the provider looked unhealthy: the switch was tempting
    cheap = next(a for a in first.alternatives if a.capability == "pay.cheap")
    assert cheap.verdict is Verdict.EXCLUDED
    assert cheap.reason.startswith(f"held: idempotency key {keys[0]} in doubt at pay.sure")
    assert first.action in ("backoff", "block")  # waiting for pay.sure, not sending elsewhere
    # once pay.sure answered, nothing is held any more
    assert not result.records[-1].held
    report = replay(store, result.run_id)
    assert report.identical, report.differences


async def test_a_role_in_doubt_at_a_provider_that_never_answers_waits_until_the_deadline(
    server: ServiceServer,
) -> None:
    """The hold is kept while the provider stays unreachable: the run fails at its deadline, uncharged elsewhere."""
    store = MemoryStore()
    ws = workspace(*_registry(server), order_intent(objective={"cost": 1.0, "risk": 10.0},
                                                    constraints={"budget": 5.0, "deadline": 1.0}))
    server.set("pay.sure", hang=True)
    eng = engine(ws, store=store, health_config=ONE_STRIKE)
    result = await eng.run("order", inputs={"order_id": "o-2"})
    await eng.close()
    server.set("pay.sure", hang=False)
    assert result.status == "failed"
    assert server.requests("pay.cheap") == []
    assert len({r.idempotency_key for r in server.requests("pay.sure")}) == 1
    assert replay(store, result.run_id).identical


async def test_a_definite_refusal_is_not_in_doubt_and_the_role_may_move(server: ServiceServer) -> None:
    """A 503 on a first send says the call did not act: no hold, the cheaper provider takes the role."""
    ws = workspace(*_registry(server), order_intent(objective={"cost": 1.0, "risk": 10.0}))
    server.set("pay.sure", status=503)
    eng = engine(ws, health_config=ONE_STRIKE)
    result = await eng.run("order", inputs={"order_id": "o-3"})
    await eng.close()
    assert result.status == "succeeded"
    assert len(server.side_effects("pay.cheap")) == 1
    assert not any(r.held for r in result.records)


def _closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_refused_connection_is_not_in_doubt_and_the_role_moves(server: ServiceServer) -> None:
    """A provider that refuses the connection was never sent the call, so it cannot have acted:
    the outcome says `unreachable`, nothing is held, and the cheaper provider takes the role."""
    down = Capability.model_validate({
        "name": "pay.sure", "cost": 0.3, "reliability": 0.99, "idempotent": True, **PAY,
        "invoke": {"http": {"method": "POST", "url": f"http://127.0.0.1:{_closed_port()}/pay", "timeout": 1.0}},
    })
    ws = workspace(down, http_capability(server, "pay.cheap", cost=0.25, reliability=0.9, idempotent=True, **PAY),
                   http_capability(server, "ship.one", cost=0.3, **SHIP),
                   order_intent(objective={"cost": 1.0, "risk": 10.0}))
    store = MemoryStore()
    eng = engine(ws, store=store, health_config=ONE_STRIKE)
    result = await eng.run("order", inputs={"order_id": "o-4"})
    await eng.close()
    assert result.status == "succeeded"
    outcomes = [e.data for e in store.events(run_id=result.run_id) if e.kind == "outcome"]
    assert [(o["capability"], o["error_kind"]) for o in outcomes if o["status"] == "failed"] == [
        ("pay.sure", "unreachable")
    ]
    assert [r.chosen for r in result.records if r.action == "dispatch"] == [["pay.sure"], ["pay.cheap"], ["ship.one"]]
    assert not any(r.held for r in result.records)
    assert len(server.side_effects("pay.cheap")) == 1
    assert replay(store, result.run_id).identical
