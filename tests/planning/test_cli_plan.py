"""`ido plan`: output formats, --set/--input parsing, --out planfile, exit codes 0/2/3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.cli.params import typed_facts
from ido.workspace import Workspace

CAPS = """
capabilities:
  - {name: pay.eu, provides: payment, requires: {order.paid: false}, effects: {order.paid: true},
     cost: 0.25, latency: 300ms, reliability: 0.995, tags: {region: eu}, invoke: sim}
  - {name: pay.us, provides: payment, requires: {order.paid: false}, effects: {order.paid: true},
     cost: 0.10, latency: 200ms, reliability: 0.999, tags: {region: us}, invoke: sim}
  - {name: ship.eu, provides: shipping, requires: {order.paid: true, order.shipped: false},
     effects: {order.shipped: true}, cost: 0.5, latency: 1s, reliability: 0.99, tags: {region: eu}, invoke: sim}
  - {name: mail.eu, provides: notification, requires: {order.paid: true}, effects: {customer.notified: true},
     cost: 0.01, latency: 100ms, tags: {region: eu}, invoke: sim}
"""

POLICIES = """
policies:
  - name: gdpr-data-stays-in-eu
    because: Personal data of EU customers is processed in the EU only.
    applies_to: {intent.tags.gdpr: true}
    deny: {capability.tags.region: {not_in: [eu]}}
"""

INTENT = """
intent: {name}
inputs: {{order_id: {{type: str, default: o-1}}, amount: float}}
given: {{order.paid: false, order.shipped: false, customer.notified: false}}
goal: {{order.paid: true, order.shipped: true, customer.notified: true}}
constraints: {{budget: {budget}, deadline: 60s}}
tags: {{gdpr: true}}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace with a feasible intent (`ship-it`) and one whose budget is too small (`poor`)."""
    for folder in ("capabilities", "policies", "intents"):
        (tmp_path / folder).mkdir()
    (tmp_path / "capabilities" / "all.yaml").write_text(CAPS)
    (tmp_path / "policies" / "gdpr.yaml").write_text(POLICIES)
    (tmp_path / "intents" / "ship-it.yaml").write_text(INTENT.format(name="ship-it", budget=2.0))
    (tmp_path / "intents" / "poor.yaml").write_text(INTENT.format(name="poor", budget=0.3))
    return tmp_path


def _run(workspace: Path, *args: str) -> int:
    return main(["--workspace", str(workspace), "plan", *args])


def test_json_output_has_the_contract_keys_and_exit_0(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the plan with every contract key; a feasible plan exits 0."""
    assert _run(workspace, "ship-it", "--input", "amount=5", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("intent", "feasible", "steps", "cost", "latency_s", "success_probability", "score",
                "explanation", "alternatives", "blockers", "breakdown", "metrics"):
        assert key in data
    assert [s["capability"] for s in data["steps"]] == ["pay.eu", "mail.eu", "ship.eu"]
    assert all({"capability", "provides", "after"} <= set(s) for s in data["steps"])
    verdicts = {a["capability"]: a["verdict"] for a in data["alternatives"]}
    assert verdicts["pay.us"] == "denied"


def test_no_alternatives_gives_the_same_plan_without_verdicts(
    workspace: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """--no-alternatives plans the same steps and numbers, and lists no alternatives."""
    assert _run(workspace, "ship-it", "--input", "amount=5", "--json") == 0
    full = json.loads(capsys.readouterr().out)
    assert _run(workspace, "ship-it", "--input", "amount=5", "--json", "--no-alternatives") == 0
    bare = json.loads(capsys.readouterr().out)
    assert full["alternatives"] and bare["alternatives"] == []
    for key in ("steps", "cost", "latency_s", "success_probability", "score", "feasible"):
        assert bare[key] == full[key]


def test_table_output_shows_steps_and_reasons(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default output is a readable table naming the steps and why alternatives lost."""
    assert _run(workspace, "ship-it", "--input", "amount=5") == 0
    out = capsys.readouterr().out
    assert "pay.eu" in out and "ship.eu" in out
    assert "denied by gdpr-data-stays-in-eu" in out


def test_too_small_budget_exits_3_naming_the_budget(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An intent whose budget is below the cheapest plan exits 3; stderr names the budget."""
    assert _run(workspace, "poor", "--input", "amount=5") == 3
    captured = capsys.readouterr()
    assert "budget" in captured.err and "0.76" in captured.err


def test_set_overrides_given_facts(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--set order.paid=true plans only what is left."""
    assert _run(workspace, "ship-it", "--input", "amount=5", "--set", "order.paid=true", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert sorted(s["capability"] for s in data["steps"]) == ["mail.eu", "ship.eu"]


@pytest.mark.parametrize("bad", ["order.paid", "=true", "no spaces allowed=1"])
def test_malformed_set_exits_2(workspace: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A --set that is not FACT=V (or not a fact name) is bad usage: exit 2 with a message."""
    assert _run(workspace, "ship-it", "--input", "amount=5", "--set", bad) == 2
    assert "--set" in capsys.readouterr().err


def test_bad_input_and_unknown_intent_exit_2(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing required input, a mistyped input and an unknown intent all exit 2."""
    assert _run(workspace, "ship-it") == 2
    assert "amount" in capsys.readouterr().err
    assert _run(workspace, "ship-it", "--input", "amount=lots") == 2
    assert _run(workspace, "nope") == 2
    assert "unknown intent" in capsys.readouterr().err


def test_dot_prints_the_partial_order(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dot prints Graphviz with an edge from payment to each step waiting for it."""
    assert _run(workspace, "ship-it", "--input", "amount=5", "--dot") == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "ship-it" {')
    assert "s0 -> s1;" in out and "s0 -> s2;" in out


def test_out_writes_a_planfile(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out saves the plan with revisions, state, request, health digest, --set facts and declaration digests."""
    target = tmp_path / "plan.json"
    assert _run(workspace, "ship-it", "--input", "amount=5", "--set", "customer.notified=true",
                "--out", str(target), "--json") == 0
    data = json.loads(target.read_text())
    assert set(data) == {"format_version", "intent", "plan", "request", "revisions", "health_digest", "state",
                         "set", "declarations"}
    assert data["set"] == {"customer.notified": True}
    assert set(data["declarations"]) == {"capabilities", "observers", "policies"}
    assert data["intent"] == "ship-it" and data["plan"]["feasible"] is True
    assert set(data["revisions"]) == {"intent", "capabilities", "policies"}
    assert data["state"]["customer.notified"] is True
    assert data["request"]["inputs"] == {"order_id": "o-1", "amount": 5.0}


def parse_fact_value(raw: str) -> object:
    """A --set value of a fact no declaration types (`ido.cli.params.typed_facts`)."""
    return typed_facts((("some.fact", raw),), Workspace())["some.fact"]


def test_set_values_parse_as_json_scalars_else_strings() -> None:
    """--set values of an undeclared fact: true/3/0.5/"x" are scalars; anything else stays a string."""
    assert parse_fact_value("true") is True
    assert parse_fact_value("3") == 3 and isinstance(parse_fact_value("3"), int)
    assert parse_fact_value("0.5") == 0.5
    assert parse_fact_value('"3"') == "3"
    assert parse_fact_value("eu-west") == "eu-west"
    assert parse_fact_value("[1]") == "[1]"
