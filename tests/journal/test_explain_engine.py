"""explain and why-not on a run the real engine journaled to SQLite, against real HTTP services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.cli.main import main
from ido.engine import Engine, HealthConfig
from ido.explain import explain, why_not
from ido.explain_text import render_explanation, to_text
from ido.journal.sqlite import SQLiteStore
from ido.model import Capability, Intent, Policy
from ido.testing.services import ServiceServer
from ido.workspace import Workspace

PAY = {"provides": "payment", "requires": {"order.paid": False}, "effects": {"order.paid": True}}
SHIP = {"provides": "shipping", "requires": {"order.paid": True, "order.shipped": False},
        "effects": {"order.shipped": True}}


@pytest.fixture
def server() -> Iterator[ServiceServer]:
    """A controllable HTTP service on 127.0.0.1, stopped after the test."""
    with ServiceServer() as s:
        yield s


def _cap(server: ServiceServer, name: str, **fields: Any) -> Capability:
    server.endpoint(name)
    return Capability.model_validate({
        "name": name,
        "invoke": {"http": {"method": "POST", "url": server.url_for(name), "timeout": 0.3}},
        **fields,
    })


def _workspace(server: ServiceServer) -> Workspace:
    intent = Intent.model_validate({
        "intent": "order", "given": {"order.paid": False, "order.shipped": False},
        "goal": {"order.paid": True, "order.shipped": True},
        "constraints": {"budget": 5.0, "deadline": 3.0}, "tags": {"gdpr": True}, "on_failure": "stop",
    })
    policy = Policy.model_validate({
        "name": "gdpr-data-stays-in-eu", "because": "Personal data of EU customers stays in the EU.",
        "applies_to": {"intent.tags.gdpr": True}, "deny": {"capability.tags.region": {"not_in": ["eu"]}},
    })
    return Workspace().add(
        _cap(server, "pay.primary", cost=0.2, tags={"region": "eu"}, **PAY),
        _cap(server, "pay.backup", cost=0.5, tags={"region": "eu"}, **PAY),
        _cap(server, "pay.cheap-us", cost=0.05, tags={"region": "us"}, **PAY),
        _cap(server, "pay.wallet", cost=0.01, tags={"region": "eu"}, provides="payment",
             requires={"wallet.linked": True}, effects={"order.paid": True}),
        _cap(server, "ship.one", cost=0.3, tags={"region": "eu"}, **SHIP),
        _cap(server, "giftwrap", cost=0.1, provides="wrapping", effects={"order.wrapped": True}),
        intent, policy,
    )


@pytest.fixture
async def recorded(server: ServiceServer, tmp_path: Path) -> tuple[Path, str]:
    """Return (workspace folder, run id) of a run whose primary payment provider answers 503."""
    db = tmp_path / ".ido" / "journal.db"
    store = SQLiteStore(db)
    ws = _workspace(server)
    server.set("pay.primary", status=503)
    eng = Engine(ws, store, health_config=HealthConfig(backoff=0.05, backoff_cap=0.2))
    result = await eng.run("order")
    await eng.close()
    store.close()
    assert result.status == "succeeded"
    return tmp_path, result.run_id


async def test_explain_shows_why_the_failing_provider_was_abandoned(recorded: tuple[Path, str]) -> None:
    """The timeline holds the failed outcome of the primary and a later decision choosing the backup."""
    folder, run_id = recorded
    store = SQLiteStore(folder / ".ido" / "journal.db")
    e = explain(store, run_id)
    store.close()
    assert e.status == "succeeded"
    failed = [o for d in e.decisions for o in d.outcomes if o.capability == "pay.primary"]
    assert failed and all(o.status == "failed" and not o.hit for o in failed)
    switch = [d for d in e.decisions if d.trigger == "step_failed" and d.chosen == ["pay.backup"]]
    assert switch, [(d.trigger, d.chosen) for d in e.decisions]
    primary = [a for a in switch[-1].alternatives if a.capability == "pay.primary"]
    assert primary and primary[0].verdict != "chosen"
    text = to_text(render_explanation(e))
    assert "pay.primary failed" in text and "prediction missed" in text


async def test_why_not_answers_for_every_capability(recorded: tuple[Path, str]) -> None:
    """why-not gives a verdict per decision for denied, unused and never-needed capabilities."""
    folder, run_id = recorded
    store = SQLiteStore(folder / ".ido" / "journal.db")
    denied = why_not(store, run_id, "pay.cheap-us")
    assert denied.reasons and {r.verdict for r in denied.reasons} == {"denied"}
    assert any("gdpr-data-stays-in-eu" in r.reason for r in denied.reasons)
    wallet = why_not(store, run_id, "pay.wallet")
    assert wallet.reasons and all(r.verdict in {"precondition", "not_needed"} for r in wallet.reasons)
    wrap = why_not(store, run_id, "giftwrap")
    assert wrap.reasons and {r.verdict for r in wrap.reasons} == {"not_needed"}
    store.close()


async def test_cli_reads_the_engine_run(recorded: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    """`ido runs`, `explain --json` and `why-not --json` work on the engine's journal."""
    folder, run_id = recorded
    assert main(["--workspace", str(folder), "runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_id"] for r in runs] == [run_id]
    assert main(["--workspace", str(folder), "explain", run_id[:6], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == run_id and data["decisions"]
    assert main(["--workspace", str(folder), "why-not", run_id, "pay.cheap-us", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["capability"] == "pay.cheap-us" and data["reasons"]
