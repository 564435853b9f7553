"""Engines follow the store's registry: a run in flight replans under a new revision, and replay stays exact."""

from __future__ import annotations

import asyncio
from typing import Any

from engine_helpers import PAY, SHIP, engine, order_intent, workspace

from ido.journal import MemoryStore
from ido.journal.registry import RegistryChange
from ido.model import Capability
from ido.registry import LiveRegistry, content_of, seed
from ido.replay import replay


def _sim(name: str, role: dict[str, Any], **fields: Any) -> Capability:
    return Capability.model_validate({"name": name, "invoke": "sim", "latency": 0.01, **role, **fields})


async def test_a_run_in_flight_adopts_a_capability_registered_meanwhile() -> None:
    store = MemoryStore()
    release = asyncio.Event()
    started = asyncio.Event()

    async def pay() -> dict[str, Any]:
        started.set()
        await release.wait()
        return {}

    ws = workspace(_sim("ship.slow", SHIP, cost=2.0), order_intent(constraints={"deadline": 30}))
    ws.capability(name="pay", cost=0.1, timeout=20, **PAY)(pay)
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    eng = engine(registry.workspace(), store=store, registry=registry)
    run_id = await eng.start("order", inputs={"order_id": "o-1"})
    await asyncio.wait_for(started.wait(), 10)
    # another process registers a cheaper shipper while the payment is in flight
    fast = _sim("ship.fast", SHIP, cost=0.1)
    head = store.commit_registry([RegistryChange(kind="capability", name="ship.fast", content=content_of(fast))])
    assert head.number == 2
    release.set()
    result = await asyncio.wait_for(eng.wait(run_id), 20)
    await eng.close()
    assert result.status == "succeeded"
    changed = [r for r in result.records if r.trigger == "revision_changed"]
    assert len(changed) == 1 and "added ship.fast" in changed[0].cause
    assert changed[0].chosen == ["ship.fast"]
    assert result.records[0].chosen == ["pay"]
    revisions = [e.data for e in store.events(run_id=run_id) if e.kind == "revision"]
    assert [r["kind"] for r in revisions] == ["capabilities"]
    assert store.get_run(run_id=run_id).revisions["capabilities"] == revisions[0]["digest"]
    # the records name the revision digests; the content is in the store, so replay is exact
    assert replay(store, run_id).identical


async def test_an_engine_without_a_registry_change_keeps_its_revision() -> None:
    store = MemoryStore()
    ws = workspace(_sim("pay", PAY, cost=0.1), _sim("ship", SHIP, cost=0.1), order_intent())
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    eng = engine(registry.workspace(), store=store, registry=registry)
    result = await eng.run("order", inputs={"order_id": "o-2"})
    await eng.close()
    assert result.status == "succeeded"
    assert all(r.trigger != "revision_changed" for r in result.records)
    assert not [e for e in store.events(run_id=result.run_id) if e.kind == "revision"]


async def test_a_run_started_after_a_change_works_under_it_from_the_start() -> None:
    store = MemoryStore()
    ws = workspace(_sim("pay", PAY, cost=0.1), _sim("ship.slow", SHIP, cost=2.0), order_intent())
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    eng = engine(registry.workspace(), store=store, registry=registry)
    store.commit_registry([RegistryChange(kind="capability", name="ship.fast",
                                          content=content_of(_sim("ship.fast", SHIP, cost=0.1)))])
    result = await eng.run("order", inputs={"order_id": "o-3"})
    await eng.close()
    assert result.status == "succeeded"
    assert [c for r in result.records for c in r.chosen] == ["pay", "ship.fast"]
    assert all(r.trigger != "revision_changed" for r in result.records)


async def test_a_blocked_run_is_woken_by_a_registry_change_that_gives_it_a_plan() -> None:
    """Blocked (no provider reliable enough), the run wakes when one is registered, not at the health recheck."""
    from ido.engine import HealthConfig

    store = MemoryStore()
    intent = order_intent(constraints={"deadline": None, "min_success": 0.9})
    ws = workspace(_sim("pay.flaky", PAY, cost=0.1, reliability=0.5), _sim("ship", SHIP, cost=0.1), intent)
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    # the health recheck of a blocked run comes only after a minute: only the registry can wake it sooner
    eng = engine(registry.workspace(), store=store, registry=registry,
                 health_config=HealthConfig(recovery_step=60.0))
    run_id = await eng.start("order", inputs={"order_id": "o-4"})
    for _ in range(500):
        if store.get_run(run_id=run_id).status == "blocked":
            break
        await asyncio.sleep(0.01)
    assert store.get_run(run_id=run_id).status == "blocked"
    good = _sim("pay.good", PAY, cost=0.2, reliability=0.999)
    store.commit_registry([RegistryChange(kind="capability", name="pay.good", content=content_of(good))])
    result = await asyncio.wait_for(eng.wait(run_id), 20)
    await eng.close()
    assert result.status == "succeeded"
    assert result.records[0].action == "block"
    woken = result.records[1]
    assert woken.trigger == "revision_changed" and woken.chosen == ["pay.good"]


async def _until(condition: Any, what: str) -> None:
    for _ in range(1000):  # bounded: 10 s at most
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_probes_follow_the_registry() -> None:
    """A capability registered with a probe is probed; one deleted is probed no more."""
    seen: list[str] = []

    class Prober:
        async def probe(self, capability: Capability) -> bool:
            seen.append(capability.name)
            return True

    store = MemoryStore()
    probe = {"sim": True, "interval": 0.01}
    ws = workspace(_sim("pay", PAY, cost=0.1, probe=probe), _sim("ship", SHIP, cost=0.1), order_intent())
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    eng = engine(registry.workspace(), store=store, registry=registry, prober=Prober())
    await eng.run("order", inputs={"order_id": "o-5"})  # probing starts with the first run
    await _until(lambda: "pay" in seen, "pay probed")
    store.commit_registry([
        RegistryChange(kind="capability", name="ship.probed",
                       content=content_of(_sim("ship.probed", SHIP, cost=0.2, probe=probe))),
        RegistryChange(kind="capability", name="pay.other",
                       content=content_of(_sim("pay.other", PAY, cost=0.2))),
    ])
    await _until(lambda: "ship.probed" in seen, "the registered capability probed")
    store.commit_registry([RegistryChange(kind="capability", name="pay")])
    # the engine's registry watch adopts the deletion and cancels pay's probe loop
    await _until(lambda: "pay" not in eng.capabilities, "the deletion adopted")
    await asyncio.sleep(0.05)  # a probe of pay already running when it was cancelled ends
    seen.clear()
    await _until(lambda: seen.count("ship.probed") >= 3, "probing goes on")
    await eng.close()
    assert "pay" not in seen


async def test_a_revision_that_does_not_decode_leaves_runs_on_the_last_good_one() -> None:
    """A stored declaration this ido cannot read (written by a newer one, say) does not crash runs."""
    store = MemoryStore()
    ws = workspace(_sim("pay", PAY, cost=0.1), _sim("ship", SHIP, cost=0.1), order_intent())
    seed(store, ws)
    registry = LiveRegistry(store, ws, interval_s=0.0)
    eng = engine(registry.workspace(), store=store, registry=registry)
    store.commit_registry([RegistryChange(kind="capability", name="bad", content={"name": "bad", "cost": "lots"})])
    result = await eng.run("order", inputs={"order_id": "o-6"})
    await eng.close()
    assert result.status == "succeeded"
    assert registry.number == 1  # still the last revision that decoded
