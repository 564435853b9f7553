"""Secrets never reach records, the journal or the JSON log; observers feed the state the plan starts from."""

from __future__ import annotations

import io
import json

from engine_helpers import PAY, SHIP, engine, http_capability, order_intent, workspace

from ido.engine import logging as engine_logging
from ido.journal import MemoryStore
from ido.model import Observer
from ido.testing.services import ServiceServer

SECRET = "tok_live_4242_super_secret"


async def test_secret_inputs_and_headers_stay_out_of_records_journal_and_logs(server: ServiceServer) -> None:
    """The provider receives the secret; no record, journal event or log line contains it."""
    pay = http_capability(server, "pay", cost=0.2, json={"card": "{inputs.card_token}"}, **PAY)
    pay = pay.model_copy(update={"invoke": pay.invoke.model_copy(update={
        "http": pay.invoke.http.model_copy(update={"headers": {"Authorization": f"Bearer {SECRET}-hdr"}}),  # type: ignore[union-attr]
    })})
    intent = order_intent(inputs={"order_id": "str", "card_token": {"type": "str", "secret": True}})
    ws = workspace(pay, http_capability(server, "ship", cost=0.1, **SHIP), intent)
    stream = io.StringIO()
    store = MemoryStore()
    eng = engine(ws, store=store, logger=engine_logging.configure(stream))
    engine_logging.disable()
    result = await eng.run("order", inputs={"order_id": "o-1", "card_token": SECRET})
    await eng.close()
    assert result.status == "succeeded"
    assert server.requests("pay")[0].body == {"card": SECRET}
    journal = json.dumps([e.model_dump(mode="json") for e in store.events(run_id=result.run_id)])
    records = json.dumps([r.model_dump(mode="json") for r in result.records])
    log = stream.getvalue()
    assert log.count('"decision"') == result.decisions
    for text in (journal, records, log, store.get_run(run_id=result.run_id).model_dump_json()):
        assert SECRET not in text
    assert result.records[0].inputs["card_token"] == "***"


async def test_observed_facts_override_given_and_shorten_the_plan(server: ServiceServer) -> None:
    """An observer saying the order is already paid makes the engine skip payment."""
    server.endpoint("orders", response={"order": {"paid": True}})
    observer = Observer(name="orders", facts=["order.paid"], http=server.url_for("orders"), interval=10)
    ws = workspace(http_capability(server, "pay", cost=0.2, **PAY), http_capability(server, "ship", cost=0.1, **SHIP),
                   observer, order_intent())
    store = MemoryStore()
    eng = engine(ws, store=store)
    result = await eng.run("order", inputs={"order_id": "o-2"})
    await eng.close()
    assert result.status == "succeeded"
    assert server.requests("pay") == []
    assert len(server.side_effects("ship")) == 1
    started = store.events(run_id=result.run_id, kinds=["run_started"])[0]
    assert started.data["state"]["order.paid"] is True
