"""The issue's done-criterion: after the README demo run, explain, why-not and replay all work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ido.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_demo_run_explains_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido run order-fulfilled --simulate payments-outage` is explained, answered and replays identically."""
    store = str(tmp_path / "journal.db")
    base = ["--workspace", str(ROOT), "--store", store]
    assert main([*base, "run", "order-fulfilled", "--simulate", "payments-outage", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]

    assert main([*base, "explain", run_id, "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    stripe = [
        a for d in explained["decisions"] for a in d["alternatives"] if a["capability"] == "payment.stripe-eu"
    ]
    assert any(a["verdict"] == "unhealthy" for a in stripe)  # why the failing provider was abandoned

    for capability in ("payment.stripe-eu", "payment.paypal-us", "shipping.ups"):
        assert main([*base, "why-not", run_id, capability, "--json"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["reasons"] and all(r["verdict"] and r["reason"] for r in answer["reasons"])

    assert main([*base, "replay", run_id]) == 0
    assert "identical" in capsys.readouterr().out
