"""Secrets are never stored (issue 14 item 14): a literal header, an `${env:NAME}` reference and a
secret input reach the service, and none of their values is in any artefact ido writes or prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.errors import ExecutionError
from ido.journal import open_store
from ido.model import Capability
from ido.secrets import MASK, mask, resolve
from ido.testing.services import ServiceServer

LITERAL = "Bearer lit-s3cr3t-4242"
FROM_ENV = "env-s3cr3t-7777"
SECRET_INPUT = "card-s3cr3t-9999"
DEFAULT_PIN = "pin-s3cr3t-1111"
FROM_ENV_DEFAULT = "sig-s3cr3t-5555"


@pytest.fixture
def server() -> Iterator[ServiceServer]:
    """A controllable HTTP service on 127.0.0.1, stopped after the test."""
    with ServiceServer() as s:
        yield s


def _workspace(root: Path, server: ServiceServer) -> Path:
    for folder in ("intents", "capabilities", "policies"):
        (root / folder).mkdir(parents=True)
    server.endpoint("pay", response={"id": "ch_1"})
    server.endpoint("ship", response={})
    (root / "intents" / "order.yaml").write_text(
        "intent: order\n"
        "inputs: {card: {type: str, secret: true}, order_id: {type: str, default: o-1},\n"
        f"  pin: {{type: str, secret: true, default: {DEFAULT_PIN}}},\n"
        "  sig: {type: str, secret: true, default: '${env:IDO_TEST_SIG}'}}\n"
        "given: {order.paid: false, order.shipped: false}\n"
        "goal: {order.paid: true, order.shipped: true}\n"
    )
    (root / "capabilities" / "services.yaml").write_text(json.dumps({"capabilities": [
        {
            "name": "pay.card", "provides": "payment", "requires": {"order.paid": False},
            "effects": {"order.paid": True}, "reports": {"payment.id": "id"}, "cost": 0.2, "latency": "10ms",
            "invoke": {"http": {
                "url": server.url_for("pay"),
                "headers": {"Authorization": LITERAL, "X-Api-Key": "${env:IDO_TEST_PAY_TOKEN}"},
                "json": {"card": "{inputs.card}", "order": "{inputs.order_id}", "key": "${env:IDO_TEST_PAY_TOKEN}",
                         "pin": "{inputs.pin}", "sig": "{inputs.sig}"},
            }},
        },
        {
            "name": "ship.post", "provides": "shipping", "requires": {"order.paid": True, "order.shipped": False},
            "effects": {"order.shipped": True}, "cost": 0.3, "latency": "10ms",
            "invoke": {"http": {"url": server.url_for("ship"), "headers": {"Authorization": LITERAL}}},
        },
    ]}))
    return root


def test_no_secret_value_reaches_any_artefact(
    tmp_path: Path, server: ServiceServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run, plan, apply, explain, why-not, runs, replay, validate: the service gets every secret;
    the journal files, the JSON log, the plan file and every command's output hold none."""
    monkeypatch.setenv("IDO_TEST_PAY_TOKEN", FROM_ENV)
    monkeypatch.setenv("IDO_TEST_SIG", FROM_ENV_DEFAULT)
    ws = _workspace(tmp_path / "ws", server)
    log = tmp_path / "decisions.log"
    monkeypatch.setenv("IDO_LOG_JSON", str(log))
    planfile = tmp_path / "order.plan.json"
    base = ["--workspace", str(ws)]
    outputs: list[str] = []

    def ido(*argv: str) -> int:
        code = main([*base, *argv])
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
        return code

    assert ido("validate") == 0
    assert ido("run", "order", "--input", f"card={SECRET_INPUT}") == 0
    run_id = outputs[-1].strip().splitlines()[-1].split()[2].rstrip(",")
    assert ido("run", "order", "--input", f"card={SECRET_INPUT}", "--json") == 0
    assert ido("plan", "order", "--input", f"card={SECRET_INPUT}", "--json", "--out", str(planfile)) == 0
    assert ido("plan", "order", "--input", f"card={SECRET_INPUT}", "--dot") == 0
    assert ido("apply", str(planfile), "--input", f"card={SECRET_INPUT}", "--json") == 0
    for argv in (("runs",), ("runs", "--json"), ("explain", run_id), ("explain", run_id, "--json"),
                 ("why-not", run_id, "pay.card"), ("why-not", run_id, "pay.card", "--json"),
                 ("replay", run_id), ("replay", run_id, "--against", str(ws), "--json"), ("schema", "capability")):
        assert ido(*argv) in (0, 1), argv

    # the service did get them: a reference is resolved and a literal sent as written
    paid = server.requests("pay")
    assert paid and all(r.headers["authorization"] == LITERAL for r in paid)
    assert all(r.headers["x-api-key"] == FROM_ENV and r.body["key"] == FROM_ENV for r in paid)
    assert all(r.body["card"] == SECRET_INPUT for r in paid)
    assert all(r.body["pin"] == DEFAULT_PIN and r.body["sig"] == FROM_ENV_DEFAULT for r in paid)

    artefacts = {p: p.read_bytes() for p in (ws / ".ido").iterdir() if p.is_file()}
    artefacts[log] = log.read_bytes()
    artefacts[planfile] = planfile.read_bytes()
    assert any(p.name == "journal.db" for p in artefacts) and artefacts[log]
    # the journal file packs and deflates its rows: search what they decode to as well
    store = open_store(f"sqlite:///{ws / '.ido' / 'journal.db'}")
    try:
        runs = store.list_runs(limit=None)
        decoded = json.dumps([
            [e.model_dump(mode="json") for r in runs for e in store.events(run_id=r.run_id)],
            [store.get_revision(digest=d) for r in runs for d in r.revisions.values()],
            [r.model_dump(mode="json") for r in runs],
        ])
    finally:
        store.close()
    assert len(runs) >= 3
    for secret in (LITERAL, "lit-s3cr3t-4242", FROM_ENV, SECRET_INPUT, DEFAULT_PIN, FROM_ENV_DEFAULT):
        for path, data in artefacts.items():
            assert secret.encode() not in data, f"{secret} in {path}"
        assert secret not in decoded, f"{secret} in the journal's decoded rows"
        for output in outputs:
            assert secret not in output
    # what is stored instead: the mask, and the reference itself
    assert "${env:IDO_TEST_PAY_TOKEN}" in decoded and "${env:IDO_TEST_SIG}" in decoded and MASK in decoded


def test_an_unset_reference_fails_the_call_naming_the_variable(
    tmp_path: Path, server: ServiceServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reference to an unset variable is not sent with a hole: the step fails naming the variable."""
    monkeypatch.delenv("IDO_TEST_PAY_TOKEN", raising=False)
    monkeypatch.setenv("IDO_TEST_SIG", "x")
    ws = _workspace(tmp_path / "ws", server)
    intent = ws / "intents" / "order.yaml"
    intent.write_text(intent.read_text() + "constraints: {deadline: 1s}\non_failure: stop\n")
    store = f"sqlite:///{tmp_path / 'j.db'}"
    code = main(["--workspace", str(ws), "--store", store, "run", "order", "--input", "card=x"])
    run_id = capsys.readouterr().out.strip().splitlines()[-1].split()[2].rstrip(",")
    assert code == 1
    assert server.requests("pay") == []
    assert main(["--store", store, "explain", run_id]) == 0
    assert "${env:IDO_TEST_PAY_TOKEN} names an environment variable that is not set" in capsys.readouterr().out


def test_mask_keeps_references_and_hides_literals() -> None:
    """`mask` stores a reference as written and a literal as ***; a dump of a capability does too."""
    assert mask("Bearer ${env:TOKEN}") == "Bearer ${env:TOKEN}"
    assert mask("Bearer abc") == MASK
    assert resolve("Bearer ${env:T}", capability="c", environ={"T": "v"}) == "Bearer v"
    with pytest.raises(ExecutionError, match="export T"):
        resolve("${env:T}", capability="c", environ={})
    cap = Capability.model_validate({
        "name": "c", "provides": "p", "effects": {"x.y": True},
        "invoke": {"http": {"url": "http://127.0.0.1:1/x", "headers": {"Authorization": "abc", "K": "${env:K}"}}},
    })
    assert cap.invoke.http is not None and cap.invoke.http.headers["Authorization"] == "abc"
    dumped = cap.model_dump(mode="json")
    assert dumped["invoke"]["http"]["headers"] == {"Authorization": MASK, "K": "${env:K}"}


def test_a_secret_default_reading_an_unset_variable_is_a_usage_error(
    tmp_path: Path, server: ServiceServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`default: ${env:NAME}` on a secret input with NAME unset: exit 2 naming NAME and --input."""
    monkeypatch.delenv("IDO_TEST_SIG", raising=False)
    monkeypatch.setenv("IDO_TEST_PAY_TOKEN", FROM_ENV)
    ws = _workspace(tmp_path / "ws", server)
    code = main(["--workspace", str(ws), "--store", "memory://", "run", "order", "--input", "card=x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "environment variable IDO_TEST_SIG, which is not set" in err and "--input sig=" in err
    assert main(["--workspace", str(ws), "--store", "memory://", "run", "order", "--input", "card=x",
                 "--input", "sig=given", "--json"]) == 0
    assert server.requests("pay")[-1].body["sig"] == "given"
