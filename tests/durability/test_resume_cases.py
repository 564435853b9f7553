"""Resume edge cases: a deadline passed during the crash; a crash in the middle of compensation."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from durability_helpers import write_shop

from ido.engine import Engine
from ido.journal.sqlite import SQLiteStore
from ido.loading import load_workspace
from ido.testing.services import ServiceServer


async def test_step_in_flight_at_crash_is_answered_and_compensated_after_the_deadline(
    tmp_path: Path, shop: ServiceServer,
) -> None:
    """A payment in flight at the crash, resumed past the deadline, is re-sent with its key and refunded."""
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="1s"))
    store = SQLiteStore(tmp_path / "j.db")
    shop.set("pay.acme", hang=True)
    first = Engine(ws, store)
    run_id = await first.start("order", inputs={"order_id": "o-1"})
    while not shop.requests("pay.acme"):
        await asyncio.sleep(0.01)
    await first.close()  # the process dies: nothing more is written
    await asyncio.sleep(1.1)  # the deadline passes before anyone resumes
    shop.set("pay.acme", hang=False)
    second = Engine(ws, store)
    result = await second.resume(run_id)
    await second.close()
    events = store.events(run_id=run_id)
    store.close()
    assert result.status == "compensated"
    pay = [e.data for e in events if e.kind == "outcome" and e.data["capability"] == "pay.acme"]
    assert [(o["status"], o["idempotency_key"]) for o in pay] == [("succeeded", f"{run_id}:pay.acme:1")]
    assert shop.side_effects("pay.acme") == [f"{run_id}:pay.acme:1"]
    assert len(shop.side_effects("pay.refund")) == 1 and len(shop.side_effects("stock.release")) == 1
    resumed = next(r for r in result.records if r.trigger == "resume")
    assert "re-sending pay.acme with the same keys: pay.acme succeeded" in resumed.cause


async def test_crash_during_compensation_never_undoes_a_step_twice(tmp_path: Path, shop: ServiceServer) -> None:
    """Killed while releasing stock after the refund landed, resume releases once and never refunds again.

    The completed notification has no undo: the journal fold must drop the step
    the refund undid (the payment), not merely the latest completed one.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="1.5s"))
    store = SQLiteStore(tmp_path / "j.db")
    shop.set("ship.parcel", status=503)
    shop.set("stock.release", hang=True)
    first = Engine(ws, store)
    run_id = await first.start("order", inputs={"order_id": "o-2"})
    while not shop.requests("stock.release"):
        await asyncio.sleep(0.01)
    await first.close()
    shop.set("stock.release", hang=False)
    second = Engine(ws, store)
    result = await second.resume(run_id)
    await second.close()
    store.close()
    assert result.status == "compensated"
    assert len(shop.side_effects("notify.mail")) == 1
    assert len(shop.requests("pay.refund")) == 1 and len(shop.side_effects("pay.refund")) == 1
    assert shop.side_effects("stock.release") == [f"{run_id}:stock.release:1"]


async def test_a_resent_step_refused_after_the_crash_keeps_its_key(tmp_path: Path, shop: ServiceServer) -> None:
    """The payment acted but the crash hid it; its re-send is refused (503): the next try keeps the key.

    A refusal of the re-send says nothing of the first send. Moving on to a new
    key (as after a definite failure) would make the provider charge twice.
    """
    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="8s"))
    store = SQLiteStore(tmp_path / "j.db")
    shop.set("pay.acme", delay=0.5)
    shop.set("pay.backup", status=503)  # only the first provider can take the payment
    first = Engine(ws, store)
    run_id = await first.start("order", inputs={"order_id": "o-3"})
    while not shop.requests("pay.acme"):
        await asyncio.sleep(0.01)
    await first.close()  # the process dies; the provider still acts on the request it has
    while not shop.side_effects("pay.acme"):
        await asyncio.sleep(0.01)
    shop.set("pay.acme", delay=0.0, fail_next=1)  # the re-send is refused once
    second = Engine(ws, store)
    result = await second.resume(run_id)
    await second.close()
    events = store.events(run_id=run_id)
    store.close()
    assert result.status == "succeeded"
    pay = [(e.data["status"], e.data["idempotency_key"], e.data.get("resent")) for e in events
           if e.kind == "outcome" and e.data["capability"] == "pay.acme"]
    key = f"{run_id}:pay.acme:1"
    assert pay[0] == ("failed", key, True) and pay[-1] == ("succeeded", key, None), pay
    assert shop.side_effects("pay.acme") == [key]


async def test_a_payment_in_doubt_after_the_crash_is_not_sent_to_the_backup(tmp_path: Path, shop: ServiceServer) -> None:
    """The payment acted but the crash hid it; its re-send is refused (503), which opens its circuit, and a
    backup provider is up. The role stays on the first provider (the records say why the backup lost)
    until a re-send of the same key answers: one charge, none at the backup, and replay is identical."""
    from ido.engine.health import HealthConfig
    from ido.replay import replay

    ws = load_workspace(write_shop(tmp_path / "ws", shop, deadline="8s"))
    store = SQLiteStore(tmp_path / "j.db")
    shop.set("pay.acme", delay=0.5)
    first = Engine(ws, store)
    run_id = await first.start("order", inputs={"order_id": "o-4"})
    while not shop.requests("pay.acme"):
        await asyncio.sleep(0.01)
    await first.close()  # the process dies; the provider still acts on the request it has
    while not shop.side_effects("pay.acme"):
        await asyncio.sleep(0.01)
    shop.set("pay.acme", delay=0.0, fail_next=1)  # the re-send is refused once
    second = Engine(ws, store, health_config=HealthConfig(failure_threshold=1, backoff=0.3, backoff_cap=0.3))
    result = await second.resume(run_id)
    await second.close()
    try:
        assert result.status == "succeeded"
        assert shop.requests("pay.backup") == []
        key = f"{run_id}:pay.acme:1"
        assert {r.idempotency_key for r in shop.requests("pay.acme")} == {key}
        assert shop.side_effects("pay.acme") == [key]
        held = next(r for r in result.records if r.held)
        assert held.trigger == "resume" and held.health["pay.acme"].circuit == "open"
        backup = next(a for a in held.alternatives if a.capability == "pay.backup")
        assert backup.reason.startswith(f"held: idempotency key {key} in doubt at pay.acme")
        assert replay(store, run_id).identical
    finally:
        store.close()
    root = Path(__file__).resolve().parents[2]
    code = subprocess.run(
        [sys.executable, "-m", "ido", "--workspace", str(tmp_path / "ws"), "--store", f"sqlite:///{tmp_path / 'j.db'}",
         "replay", run_id], cwd=root, env={**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=120,
    )
    assert code.returncode == 0, code.stdout + code.stderr
