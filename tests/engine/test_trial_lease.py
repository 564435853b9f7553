"""One half-open trial per capability across every worker of a journal (SQLite file or PostgreSQL).

Two engines on one journal, each with its own connection and owner, as two
worker processes would be. The payment provider's circuit was opened in the
shared health row and its backoff has elapsed: both engines see it half-open
when a run starts on each. Exactly one trial call reaches the provider (a
counting HTTP service on 127.0.0.1, slow enough that both runs decide while
the trial is in flight); the other engine's run records the circuit open,
with a note naming the worker whose trial it waits for. The trial succeeds:
both engines then see the circuit closed, the second run pays, and both runs
replay identical.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from engine_helpers import PAY, http_capability, workspace

from ido.engine import Engine
from ido.engine.health import HealthConfig
from ido.engine.shared_health import OutcomeChange
from ido.health import Circuit
from ido.journal import open_store
from ido.journal.leases import LeasedStore
from ido.model import Intent
from ido.replay import replay
from ido.testing.services import ServiceServer
from tests.conftest import postgres_url

CONFIG = HealthConfig(failure_threshold=3, backoff=1.0, backoff_cap=1.0)


def _pay_intent() -> Intent:
    return Intent.model_validate({
        "intent": "pay", "inputs": {"order_id": "str"}, "given": {"order.paid": False},
        "goal": {"order.paid": True}, "constraints": {"deadline": 20.0},
    })


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_one_trial_reaches_a_half_open_provider_whatever_the_number_of_workers(
    kind: str, tmp_path: Path, server: ServiceServer,
) -> None:
    url = postgres_url() if kind == "postgresql" else f"sqlite:///{tmp_path / 'journal.db'}"
    ws = workspace(
        http_capability(server, "pay.only", cost=0.1, idempotent=True, timeout=1.0, **PAY), _pay_intent(),
    )
    server.set("pay.only", delay=0.4)  # the trial stays in flight while both runs decide
    stores = [open_store(url), open_store(url)]
    # three failures ten seconds ago opened the circuit for 1 s: it is half-open now, for everyone
    ago = time.time() - 10.0
    stores[0].update_health([OutcomeChange("pay.only", False, 0.01, ago + i * 0.01, config=CONFIG) for i in range(3)])
    engines = [
        Engine(ws, LeasedStore(store, owner=owner), health_config=CONFIG)
        for store, owner in zip(stores, ("worker-A", "worker-B"), strict=True)
    ]
    try:
        for eng in engines:
            assert eng.shared is not None
            assert eng.shared.snapshot(eng.clock.now()).of("pay.only").circuit is Circuit.HALF_OPEN
        run_ids = await asyncio.gather(*(
            eng.start("pay", inputs={"order_id": f"o-{i}"}) for i, eng in enumerate(engines)
        ))
        await asyncio.sleep(0.25)
        assert len(server.requests("pay.only")) == 1  # one trial in flight, not one per worker
        results = await asyncio.gather(*(eng.wait(r) for eng, r in zip(engines, run_ids, strict=True)))
        assert [r.status for r in results] == ["succeeded", "succeeded"]
        calls = server.requests("pay.only")
        assert len(calls) == 2  # the trial, then the waiting run's payment once the circuit closed
        trial = calls[0].idempotency_key
        tried, waited = (0, 1) if trial.startswith(run_ids[0]) else (1, 0)
        waiting = results[waited].records
        held = [r for r in waiting if r.health.get("pay.only") is not None
                and r.health["pay.only"].circuit is Circuit.OPEN]
        assert held, "the waiting run never recorded the circuit open"
        owner = ("worker-A", "worker-B")[tried]
        assert any(f"pay.only: its half-open trial is in flight in worker {owner}" in n for n in held[0].notes)
        unhealthy = next(a for a in held[0].alternatives if a.capability == "pay.only")
        assert unhealthy.verdict == "unhealthy" and "circuit open until" in unhealthy.reason
        await asyncio.sleep(0.3)  # older than a view's age bound: both read the rows again
        for eng in engines:
            assert eng.shared is not None
            assert eng.shared.snapshot(eng.clock.now()).of("pay.only").circuit is Circuit.CLOSED
        assert stores[1].health_rows()["pay.only"].state["breaker"]["state"] == "closed"
        for run_id in run_ids:
            report = replay(stores[0], run_id)
            assert report.identical, report.differences
    finally:
        for eng in engines:
            await eng.close()
        for store in stores:
            store.close()
