"""`ido replay`: exact replay of real engine runs, tampering detected, what-if under edited policies."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_helpers import event_key

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.cli.main import main
from ido.engine import Engine, HealthConfig
from ido.errors import JournalError
from ido.journal import MemoryStore
from ido.journal.sqlite import SQLiteStore
from ido.model import Capability, Intent, Policy
from ido.replay import replay
from ido.simulation.clock import run_virtual
from ido.testing.services import ServiceServer
from ido.workspace import Workspace

PAY = {"provides": "payment", "requires": {"order.paid": False}, "effects": {"order.paid": True}}
SHIP = {"provides": "shipping", "requires": {"order.paid": True, "order.shipped": False},
        "effects": {"order.shipped": True}}
FAST = HealthConfig(backoff=0.05, backoff_cap=0.2)


@pytest.fixture
def server() -> Iterator[ServiceServer]:
    """A controllable HTTP service on 127.0.0.1, stopped after the test."""
    with ServiceServer() as s:
        yield s


def _intent() -> Intent:
    return Intent.model_validate({
        "intent": "order", "given": {"order.paid": False, "order.shipped": False},
        "goal": {"order.paid": True, "order.shipped": True},
        "constraints": {"budget": 5.0, "deadline": 3.0}, "on_failure": "stop",
    })


def _http(server: ServiceServer, name: str, **fields: Any) -> Capability:
    server.endpoint(name)
    return Capability.model_validate({
        "name": name, "invoke": {"http": {"method": "POST", "url": server.url_for(name), "timeout": 0.3}},
        **fields,
    })


def _write_yaml_workspace(folder: Path, ws: Workspace, extra_policies: list[dict[str, Any]]) -> Path:
    """Write `ws`'s declarations (plus `extra_policies`) as YAML files below `folder`."""
    for sub in ("intents", "capabilities", "policies"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "intents" / "order.yaml").write_text(json.dumps(_dump(ws.intents["order"])))
    (folder / "capabilities" / "all.yaml").write_text(json.dumps(
        {"capabilities": [_dump(c) for c in ws.capabilities.values()]}))
    (folder / "policies" / "all.yaml").write_text(json.dumps(
        {"policies": [_dump(p) for p in ws.policies.values()] + extra_policies}))
    return folder


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)


@pytest.fixture
async def recorded(server: ServiceServer, tmp_path: Path) -> tuple[Path, str, Workspace]:
    """Return (folder with .ido/journal.db, run id, workspace) of a run through a 503 outage."""
    ws = Workspace().add(
        _http(server, "pay.primary", cost=0.2, **PAY), _http(server, "pay.backup", cost=0.5, **PAY),
        _http(server, "ship.one", cost=0.3, **SHIP), _intent(),
    )
    server.set("pay.primary", status=503)
    store = SQLiteStore(tmp_path / ".ido" / "journal.db")
    eng = Engine(ws, store, health_config=FAST)
    result = await eng.run("order")
    await eng.close()
    store.close()
    assert result.status == "succeeded"
    return tmp_path, result.run_id, ws


async def test_exact_replay_is_identical(recorded: tuple[Path, str, Workspace],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Every decision of a real run re-derives identically; `ido replay` exits 0."""
    folder, run_id, _ = recorded
    store = SQLiteStore(folder / ".ido" / "journal.db")
    report = replay(store, run_id)
    store.close()
    assert report.identical and report.decisions >= 4 and report.differences == []
    assert main(["--workspace", str(folder), "replay", run_id[:6]]) == 0
    assert "identical" in capsys.readouterr().out


async def test_altered_record_names_the_first_difference(recorded: tuple[Path, str, Workspace],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A decision whose record was altered makes replay exit 1 naming that decision and field."""
    folder, run_id, _ = recorded
    db = folder / ".ido" / "journal.db"
    store = SQLiteStore(db)
    events = store.events(run_id=run_id)
    store.close()
    decisions = [e for e in events if e.kind == "decision"]
    seq, record = decisions[1].seq, dict(decisions[1].data)
    original = record["chosen"]
    record["chosen"] = ["pay.backup"] if original != ["pay.backup"] else ["pay.primary"]
    # Rows are deflated against the run's rows before them, so the altered one and those after
    # it are rewritten as rows of plain JSON text (format 1), which are read as such.
    conn = sqlite3.connect(db)
    for e in events:
        if e.seq >= seq:
            data = record if e.seq == seq else e.data
            conn.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(data), event_key(conn, run_id, e.seq)))
    conn.commit()
    conn.close()
    assert main(["--workspace", str(folder), "replay", run_id]) == 1
    out = capsys.readouterr().out
    assert f"decision {record['seq']} chose {original[0]}, the journal recorded {record['chosen'][0]}" in out
    assert main(["--workspace", str(folder), "replay", run_id, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["identical"] is False and data["differences"][0]["seq"] == record["seq"]
    assert data["differences"][0]["field"].startswith("chosen")


async def test_what_if_shows_decisions_a_new_policy_changes(recorded: tuple[Path, str, Workspace],
                                                            tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Replaying under a workspace that denies the primary lists each decision that chose it."""
    folder, run_id, ws = recorded
    same = _write_yaml_workspace(tmp_path / "same", ws, [])
    assert main(["--workspace", str(folder), "replay", run_id, "--against", str(same)]) == 0
    assert "none of its" in capsys.readouterr().out
    deny = {"name": "retire-primary", "because": "The primary provider is being retired.",
            "deny": {"capability.name": "pay.primary"}}
    edited = _write_yaml_workspace(tmp_path / "edited", ws, [deny])
    assert main(["--workspace", str(folder), "replay", run_id, "--against", str(edited), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    store = SQLiteStore(folder / ".ido" / "journal.db")
    chose_primary = [
        e.data["seq"] for e in store.events(run_id=run_id, kinds=["decision"])
        if e.data["chosen"] == ["pay.primary"]
    ]
    store.close()
    assert chose_primary
    assert [d["seq"] for d in data["differences"]] == chose_primary
    assert all("retire-primary" in d["message"] for d in data["differences"])


async def test_missing_revision_is_a_clear_error(recorded: tuple[Path, str, Workspace]) -> None:
    """A journal that lost a revision's content says which decision cannot be replayed exactly."""
    folder, run_id, _ = recorded
    db = folder / ".ido" / "journal.db"
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM revisions WHERE kind = 'policies'")
    conn.commit()
    conn.close()
    store = SQLiteStore(db)
    with pytest.raises(JournalError, match=r"policies revision .* which the journal does not hold"):
        replay(store, run_id)
    store.close()


def test_replay_of_unknown_run_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido replay` of a run the journal does not hold exits 2."""
    store = SQLiteStore(tmp_path / ".ido" / "journal.db")
    store.close()
    assert main(["--workspace", str(tmp_path), "replay", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


# -- the property: replay is identical for any registry and failure pattern ------------------

ROLES = ["payment", "shipping", "notify"]


@st.composite
def registries(draw: st.DrawFn) -> tuple[list[Any], int]:
    """Return (declarations, seed): a chain of 1-3 roles, 1-3 sim providers each, maybe a deny policy."""
    roles = ROLES[: draw(st.integers(1, 3))]
    facts = [f"{r}.done" for r in roles]
    models: list[Any] = []
    for i, role in enumerate(roles):
        requires: dict[str, Any] = {facts[i]: False}
        if i:
            requires[facts[i - 1]] = True
        for p in range(draw(st.integers(1, 3))):
            models.append(Capability.model_validate({
                "name": f"{role}.p{p}", "provides": role, "requires": requires, "effects": {facts[i]: True},
                "cost": draw(st.sampled_from([0.1, 0.2, 0.5])),
                "latency": draw(st.sampled_from([0.01, 0.1])),
                "reliability": draw(st.sampled_from([0.000001, 0.5, 0.9, 1.0])),
                "tags": {"region": draw(st.sampled_from(["eu", "us"]))},
                "invoke": {"sim": {}},
            }))
    models.append(Intent.model_validate({
        "intent": "order", "given": dict.fromkeys(facts, False), "goal": dict.fromkeys(facts, True),
        "constraints": {"budget": 3.0, "deadline": 5.0}, "tags": {"gdpr": True},
        "on_failure": draw(st.sampled_from(["stop", "compensate"])),
    }))
    if draw(st.booleans()):
        models.append(Policy.model_validate({
            "name": "eu-only", "because": "EU data stays in the EU.", "applies_to": {"intent.tags.gdpr": True},
            "deny": {"capability.tags.region": {"not_in": ["eu"]}},
        }))
    return models, draw(st.integers(0, 10_000))


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(registries(), st.sampled_from(["adaptive", "static", "static-fallback"]))
def test_replay_is_identical_for_any_registry_and_failures(
    registry: tuple[list[Any], int], strategy: str,
) -> None:
    """Whatever the registry, policies, strategy and failures, every run replays identically."""
    models, seed = registry
    ws = Workspace().add(*models)
    store = MemoryStore()

    async def go() -> str:
        eng = Engine(ws, store, strategy=strategy, seed=seed, health_config=FAST)
        try:
            return (await eng.run("order")).run_id
        finally:
            await eng.close()

    run_id = run_virtual(go)
    report = replay(store, run_id)
    assert report.decisions >= 1
    assert report.identical, report.differences
