"""`ido apply PLANFILE`: a fresh saved plan runs as planned; a stale one is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from durability_helpers import shop_capabilities, write_shop

from ido.cli.main import main
from ido.journal.sqlite import SQLiteStore
from ido.testing.services import ServiceServer

FORWARD = ("stock.reserve", "pay.acme", "pay.backup", "ship.parcel", "notify.mail")


def _ido(root: Path, db: Path, *args: str) -> int:
    return main(["--workspace", str(root), "--store", f"sqlite:///{db}", *args])


def _plan(root: Path, db: Path, out: Path, *extra: str) -> None:
    assert _ido(root, db, "plan", "order", "--input", "order_id=o-1", "--out", str(out), *extra) == 0


def _nothing_dispatched(shop: ServiceServer, db: Path) -> None:
    assert all(not shop.requests(name) for name in FORWARD)
    store = SQLiteStore(db)
    try:
        assert store.list_runs() == []
    finally:
        store.close()


def test_fresh_plan_applies_as_planned_and_succeeds(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """The run's first decision dispatches the saved plan's ready steps, noted as applied; the goal holds."""
    root, db, out = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    saved = json.loads(out.read_text())
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "succeeded"
    assert set(summary) >= {"run_id", "status", "steps_executed", "decisions", "cost", "elapsed_s"}
    store = SQLiteStore(db)
    try:
        events = store.events(run_id=summary["run_id"])
        info = store.get_run(run_id=summary["run_id"])
    finally:
        store.close()
    first = next(e.data for e in events if e.kind == "decision")
    assert first["trigger"] == "start" and first["action"] == "dispatch" and first["plan_reused"]
    assert any(n.startswith("applied saved plan ") for n in first["notes"])
    planned = [s["capability"] for s in saved["plan"]["steps"]]
    ready = [s["capability"] for s in saved["plan"]["steps"] if not s["after"]]
    assert first["chosen"] == ready
    assert info.options["saved_plan"] in first["notes"][0]
    done = [e.data["capability"] for e in events if e.kind == "outcome" and e.data["status"] == "succeeded"]
    assert sorted(done) == sorted(planned)
    for name in planned:
        assert len(shop.side_effects(name)) == 1
    assert _ido(root, db, "replay", summary["run_id"]) == 0  # the pinned first decision re-derives


def test_apply_adapts_after_a_step_fails(tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str]) -> None:
    """After the saved plan's payment provider fails, the run replans as usual and still reaches the goal."""
    root, db, out = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    assert [s["capability"] for s in json.loads(out.read_text())["plan"]["steps"]][1] == "pay.acme"
    shop.set("pay.acme", status=503)
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 0
    text = capsys.readouterr().out
    assert text.startswith("applying saved plan ")
    assert "step failed: pay.acme failed" in text
    assert len(shop.side_effects("pay.backup")) == 1 and not shop.side_effects("pay.acme")


def test_edited_capability_cost_refuses_naming_the_capabilities_revision(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """A capability whose cost changed after `--out` makes apply exit 2 naming the revision and the capability."""
    root, db, out = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    (root / "capabilities" / "shop.yaml").write_text(shop_capabilities(shop, pay_cost=0.25))
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 2
    err = capsys.readouterr().err
    assert "capabilities revision changed" in err
    assert "changed pay.acme" in err and "stock.reserve" not in err
    assert "Traceback" not in err
    _nothing_dispatched(shop, db)


def test_different_given_state_refuses(tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str]) -> None:
    """An intent whose given facts changed after `--out` refuses, naming the intent revision and the fact."""
    root, db, out = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    intent = root / "intents" / "order.yaml"
    intent.write_text(intent.read_text().replace("order.reserved: false", "order.reserved: true"))
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 2
    err = capsys.readouterr().err
    assert "intent: the intent revision changed" in err
    assert "state: the state the plan assumed differs now: order.reserved: false then, true now" in err
    _nothing_dispatched(shop, db)


def test_set_facts_are_part_of_the_assumed_state(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """A plan made with --set applies with those facts (not refused); the run starts from them."""
    root, db, out = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out, "--set", "order.reserved=true")
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out), "--json") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    assert not shop.requests("stock.reserve")


def test_observed_state_change_refuses(tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str]) -> None:
    """When an observer now reports a fact the plan assumed otherwise, apply refuses on the state alone."""
    shop.endpoint("stock.level", response={"stock.available": True})
    root = write_shop(tmp_path / "ws", shop)
    caps = shop_capabilities(shop).replace(
        "requires: {order.reserved: false}", "requires: {order.reserved: false, stock.available: true}")
    (root / "capabilities" / "shop.yaml").write_text(
        caps + f"observers:\n  - name: stock.level\n    facts: [stock.available]\n"
               f"    http: {shop.url_for('stock.level')}\n")
    intent = root / "intents" / "order.yaml"
    intent.write_text(intent.read_text().replace("given:\n", "given:\n  stock.available: true\n"))
    db, out = tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    shop.set("stock.level", response={"stock.available": False})
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 2
    err = capsys.readouterr().err
    assert "stock.available: true then, false now" in err
    assert "revision" not in err
    _nothing_dispatched(shop, db)


def test_probe_down_for_a_planned_capability_refuses(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """A planned capability whose probe answers down at apply time makes the plan stale (health)."""
    root = write_shop(tmp_path / "ws", shop)
    caps = shop_capabilities(shop).replace(
        "    compensate: ship.cancel\n",
        f"    compensate: ship.cancel\n    probe: {{http: {shop.health_url('ship.parcel')}, interval: 5s}}\n")
    (root / "capabilities" / "shop.yaml").write_text(caps)
    db, out = tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out)
    shop.set("ship.parcel", healthy=False)
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 2
    err = capsys.readouterr().err
    assert "health: ship.parcel's probe says it is down now" in err
    assert shop.health_checks("ship.parcel") >= 1
    _nothing_dispatched(shop, db)


@pytest.mark.parametrize(("content", "says"), [
    (None, "does not exist"),
    ("{not json", "is not JSON"),
    ("[1, 2]", "holds a JSON list"),
    ('{"format_version": 1, "intent": "order"}', "lacks plan, request, revisions, state"),
    ('{"format_version": 99, "intent": "order", "plan": {}, "request": {}, "revisions": {}, "state": {}}',
     "format_version 99"),
    ('{"format_version": 1, "intent": "order", "plan": {"intent": "order"}, "request": {"state": {}},'
     ' "revisions": {}, "state": {}}', "is malformed"),
])
def test_bad_plan_file_exits_2_with_a_message(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str], content: str | None, says: str,
) -> None:
    """A missing, non-JSON, foreign or malformed plan file exits 2 saying what is wrong, no traceback."""
    root, db, path = write_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    assert _ido(root, db, "apply", str(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err, err
    assert "Traceback" not in err


SECRET = "tok_live_4242_super_secret"


def _secret_shop(root: Path, shop: ServiceServer) -> Path:
    """Write the shop with a secret input `card_token` that every call sends in its body."""
    write_shop(root, shop)
    intent = root / "intents" / "order.yaml"
    intent.write_text(intent.read_text().replace(
        "  order_id: {type: str}\n", "  order_id: {type: str}\n  card_token: {type: str, secret: true}\n"))
    caps = root / "capabilities" / "shop.yaml"
    caps.write_text(caps.read_text().replace(
        'json: {order: "{inputs.order_id}"}', 'json: {order: "{inputs.order_id}", card: "{inputs.card_token}"}'))
    return root


def _no_file_holds_the_secret(tmp_path: Path) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_plan_file_holds_secret_inputs_redacted_and_apply_input_supplies_them(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """The PLANFILE holds `***` for a secret input; apply --input sends the real one; no file ever holds it."""
    root, db, out = _secret_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out, "--input", f"card_token={SECRET}")
    assert SECRET.encode() not in out.read_bytes()
    assert json.loads(out.read_text())["request"]["inputs"] == {"order_id": "o-1", "card_token": "***"}
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out), "--input", f"card_token={SECRET}", "--input", "order_id=o-1",
                "--json") == 0
    printed = capsys.readouterr()
    summary = json.loads(printed.out)
    assert summary["status"] == "succeeded"
    assert shop.requests("pay.acme")[0].body == {"order": "o-1", "card": SECRET}
    store = SQLiteStore(db)
    try:
        journal = json.dumps([e.model_dump(mode="json") for e in store.events(run_id=summary["run_id"])])
        info = store.get_run(run_id=summary["run_id"])
    finally:
        store.close()
    assert SECRET not in journal and SECRET not in info.model_dump_json() and SECRET not in printed.err
    assert info.inputs == {"order_id": "o-1", "card_token": "***"}
    _no_file_holds_the_secret(tmp_path)
    assert _ido(root, db, "replay", summary["run_id"]) == 0


def test_apply_without_a_required_secret_input_exits_2_naming_it(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """Left out, a redacted required secret input makes apply exit 2 saying which `--input` to add."""
    root, db, out = _secret_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out, "--input", f"card_token={SECRET}")
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "secret input 'card_token'" in err
    assert f"ido apply {out} --input card_token=..." in err
    assert "Traceback" not in err
    _nothing_dispatched(shop, db)


def test_apply_refuses_a_non_secret_input_other_than_the_planned_one(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """`--input order_id=o-2` on a plan made for o-1 exits 2 naming the saved value; nothing is dispatched."""
    root, db, out = _secret_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out, "--input", f"card_token={SECRET}")
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out), "--input", f"card_token={SECRET}", "--input", "order_id=o-2") == 2
    err = capsys.readouterr().err
    assert '--input order_id=o-2: the plan in' in err and 'was made for order_id="o-1"' in err
    assert "Traceback" not in err and SECRET not in err
    _nothing_dispatched(shop, db)


def test_stale_plan_with_a_secret_input_suggests_replanning_without_its_value(
    tmp_path: Path, shop: ServiceServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """The `plan again` command of a stale plan asks for the secret (`card_token=...`) instead of printing `***`."""
    root, db, out = _secret_shop(tmp_path / "ws", shop), tmp_path / "j.db", tmp_path / "order.plan.json"
    _plan(root, db, out, "--input", f"card_token={SECRET}")
    intent = root / "intents" / "order.yaml"
    intent.write_text(intent.read_text().replace("order.reserved: false", "order.reserved: true"))
    capsys.readouterr()
    assert _ido(root, db, "apply", str(out), "--input", f"card_token={SECRET}") == 2
    err = capsys.readouterr().err
    assert "--input card_token=... --input order_id=o-1 --out" in err and "***" not in err
    _nothing_dispatched(shop, db)
