"""`ido simulate` on the example workspace, `run_in_scenario`, and the `ido.testing` helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import mini_workspace

import ido.simulation
import ido.testing
from ido.cli.main import main
from ido.journal import open_store
from ido.loading import load_workspace
from ido.simulation.single import first_fault_at, run_in_scenario
from ido.testing import degraded_world, simulate_intent

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Return (exit code, stdout, stderr) of `ido --workspace ROOT ARGS...`."""
    code = main(["--workspace", str(ROOT), "--store", "memory://", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_simulate_json_has_the_design_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """`ido simulate payments-outage --runs 6 --json` exits 0 with the DESIGN.md keys for every strategy."""
    code, out, _ = run_cli(capsys, "simulate", "payments-outage", "--runs", "6", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["scenario"], data["runs"], data["seed"]) == ("payments-outage", 6, 7)
    assert set(data["strategies"]) == {"adaptive", "static", "static-fallback"}
    for stats in data["strategies"].values():
        assert {"succeeded", "failed", "success_rate", "cost_mean", "latency_p50_s", "latency_p95_s",
                "replans_mean", "policy_violations"} <= set(stats)
        assert stats["succeeded"] + stats["failed"] == 6


def test_simulate_prints_a_table_and_writes_a_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Without --json the strategies are printed side by side; --plot writes a PNG."""
    plot = tmp_path / "out" / "outage.png"
    code, out, err = run_cli(capsys, "simulate", "payments-outage", "--runs", "4", "--seed", "3",
                             "--strategy", "adaptive", "--strategy", "static", "--plot", str(plot))
    assert code == 0
    assert "success rate" in out and "adaptive" in out and "static" in out
    assert "down on payment.stripe-eu" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "plot written" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate", "no-such-scenario"), "unknown scenario"),
        (("simulate", "payments-outage", "--runs", "0"), "--runs must be a positive"),
        (("simulate", "payments-outage", "--strategy", "yolo"), "yolo"),
    ],
)
def test_bad_usage_exits_2_with_a_message(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                                          message: str) -> None:
    """Unknown scenarios, non-positive run counts and unknown strategies exit 2 with a message, no traceback."""
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_run_in_scenario_switches_provider_and_is_explainable(tmp_path: Path) -> None:
    """The demo: one order inside payments-outage succeeds without Stripe and its journal is on disk."""
    workspace = load_workspace(ROOT)
    scenario = workspace.scenario("payments-outage")
    assert first_fault_at(scenario) == 10.0
    store = open_store(f"sqlite:///{tmp_path / 'journal.db'}", synchronous=True)
    try:
        result = run_in_scenario(workspace=workspace, intent="order-fulfilled", scenario="payments-outage",
                                 store=store)
        dispatched = [e.data["capability"] for e in store.events(run_id=result.run_id, kinds=["dispatched"])]
    finally:
        store.close()
    assert result.status == "succeeded"
    assert "payment.adyen-eu" in dispatched
    assert "payment.stripe-eu" not in dispatched
    reopened = open_store(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        assert reopened.get_run(run_id=result.run_id).status == "succeeded"
    finally:
        reopened.close()


def test_degraded_world_runs_a_users_intent_through_an_outage() -> None:
    """A user's test can run an intent in a degraded world and see which providers it used and which faults hit."""
    ws = mini_workspace()
    with degraded_world(ws, [{"target": "pay.a", "kind": "error_rate", "probability": 1.0}]) as world:
        result: Any = world.run("order")
        used = world.used(result)
        touched = world.touched(result)
    assert result.status == "succeeded"
    assert used[0] == "pay.a" and "pay.b" in used
    assert touched == {"error_rate on pay.a (fault 1: at 0s)"}


def test_degraded_world_static_fails_where_adaptive_succeeds() -> None:
    """With the planned provider down for good, the static strategy fails and adaptive does not."""
    ws = mini_workspace()
    with degraded_world(ws, [{"target": "pay.a", "kind": "down"}]) as world:
        adaptive = world.run("order")
        static = world.run("order", strategy="static")
    assert adaptive.status == "succeeded"
    assert static.status in {"failed", "compensated"}


def test_simulate_intent_compares_strategies() -> None:
    """`simulate_intent` builds a scenario on the fly and reports each strategy."""
    report = simulate_intent(mini_workspace(), "order", faults=[{"target": "pay.a", "kind": "down"}], runs=5)
    assert report.strategies["adaptive"].success_rate == 1.0
    assert report.strategies["static"].success_rate < 1.0


@pytest.mark.parametrize("module", [ido.testing, ido.simulation], ids=lambda m: m.__name__)
def test_public_names_are_exported(module: Any) -> None:
    """`__all__` of ido.testing and ido.simulation is sorted and every name in it exists."""
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name)


def test_reports_are_byte_identical_across_processes() -> None:
    """Two processes with different hash seeds print byte-identical JSON for the same scenario and seed."""
    outputs = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-m", "ido", "--workspace", str(ROOT), "--store", "memory://", "simulate",
             "lying-probe", "--runs", "8", "--json"],
            capture_output=True, env=env, timeout=120, check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["runs"] == 8
