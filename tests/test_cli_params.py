"""One meaning per input (issue 14 items 7, 8, 11): `--set` / `--input` typed alike by plan, run,
apply and simulate; global options after the subcommand; bounded integer options. Through the CLI."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ido.cli.main import main
from ido.journal import open_store

ROOT = Path(__file__).resolve().parents[1]


def _tiny(root: Path) -> Path:
    """A workspace whose fact and input types are each of bool, int, float and str."""
    for folder in ("intents", "capabilities", "policies"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "intents" / "ship.yaml").write_text(
        "intent: ship\n"
        "inputs: {count: {type: int, default: 1}, rush: {type: bool, default: false},"
        " weight: {type: float, default: 1.0}, note: {type: str, default: n}}\n"
        "given: {order.paid: false, order.shipped: false}\n"
        "goal: {order.shipped: true}\n"
    )
    (root / "capabilities" / "ship.yaml").write_text(
        "capabilities:\n"
        "  - name: ship.fast\n    provides: shipping\n    requires: {order.paid: true}\n"
        "    effects: {order.shipped: true}\n    cost: 1\n    latency: 1ms\n    reliability: 1.0\n"
        "    invoke: sim\n"
        "  - name: pay.slow\n    provides: payment\n    requires: {order.paid: false}\n"
        "    effects: {order.paid: true}\n    cost: 50\n    latency: 1ms\n    reliability: 1.0\n"
        "    invoke: sim\n"
    )
    return root


def _first_event(store_url: str, kind: str) -> dict[str, object]:
    store = open_store(store_url)
    try:
        run_id = store.list_runs()[0].run_id
        return store.events(run_id=run_id, kinds=[kind])[0].data
    finally:
        store.close()


def test_set_true_means_the_boolean_in_plan_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--set order.paid=True` is the boolean true (the fact is declared bool) in plan as in run."""
    ws = _tiny(tmp_path / "ws")
    planfile = tmp_path / "p.json"
    assert main(["--workspace", str(ws), "plan", "ship", "--set", "order.paid=True", "--out", str(planfile)]) == 0
    assert json.loads(planfile.read_text())["set"] == {"order.paid": True}
    store = f"sqlite:///{tmp_path / 'j.db'}"
    assert main(["--workspace", str(ws), "--store", store, "run", "ship", "--set", "order.paid=True"]) == 0
    assert _first_event(store, "run_started")["set"] == {"order.paid": True}


@pytest.mark.parametrize("command", ["plan", "run"])
def test_a_fact_value_that_does_not_fit_its_type_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
) -> None:
    """A bool fact given `maybe` is refused (exit 2) naming the type and a value that fits."""
    ws = _tiny(tmp_path / "ws")
    code = main(["--workspace", str(ws), "--store", "memory://", command, "ship", "--set", "order.paid=maybe"])
    err = capsys.readouterr().err
    assert code == 2
    assert "order.paid is a bool" in err and "--set order.paid=true" in err


_TEXTS = st.one_of(
    st.sampled_from(["true", "True", "FALSE", "yes", "0", "1", "-3", "3.5", "1e3", "nan", "inf", "abc", '"q"', ""]),
    st.text(alphabet="01tfTF.-e", max_size=5),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fact=_TEXTS, count=_TEXTS, rush=_TEXTS, weight=_TEXTS)
@example(fact="True", count="2", rush="yes", weight="3")
@example(fact="1", count="007", rush="on", weight="nan")
def test_plan_run_and_apply_read_every_value_alike(
    capsys: pytest.CaptureFixture[str], fact: str, count: str, rush: str, weight: str,
) -> None:
    """Whatever the text, plan and run both refuse it (exit 2) or both read the same values, and
    apply accepts the same `--input` texts for the plan file plan wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = _tiny(root / "ws")
        args = ["--set", f"order.paid={fact}", "--input", f"count={count}", "--input", f"rush={rush}",
                "--input", f"weight={weight}"]
        planfile = root / "p.json"
        plan_code = main(["--workspace", str(ws), "plan", "ship", *args, "--out", str(planfile)])
        store = f"sqlite:///{root / 'j.db'}"
        run_code = main(["--workspace", str(ws), "--store", store, "run", "ship", *args])
        capsys.readouterr()
        assert (plan_code == 2) == (run_code == 2)
        if plan_code == 2:
            return
        saved = json.loads(planfile.read_text())
        started = _first_event(store, "run_started")
        assert saved["set"] == started["set"]
        assert saved["request"]["inputs"] == started["inputs"]
        for key in ("set", "inputs"):
            theirs = saved["set"] if key == "set" else saved["request"]["inputs"]
            assert {k: type(v) for k, v in theirs.items()} == {k: type(v) for k, v in started[key].items()}
        if plan_code == 0:
            inputs = ["--input", f"count={count}", "--input", f"rush={rush}", "--input", f"weight={weight}"]
            apply_code = main(["--workspace", str(ws), "--store", "memory://", "apply", str(planfile), *inputs])
            assert "was made for" not in capsys.readouterr().err
            assert apply_code != 2


def test_simulate_takes_inputs_and_names_a_missing_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido simulate --input K=V` reaches the runs; a required input left out names --input, which exists."""
    ws = _tiny(tmp_path / "ws")
    (ws / "intents" / "ship.yaml").write_text(
        (ws / "intents" / "ship.yaml").read_text().replace("count: {type: int, default: 1}", "count: {type: int}")
    )
    (ws / "scenarios.yaml").unlink(missing_ok=True)
    folder = ws / "benchmarks" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "calm.yaml").write_text("scenario: calm\nintent: ship\nruns: 2\nset: {order.paid: true}\n")
    base = ["--workspace", str(ws), "--store", "memory://"]
    assert main([*base, "simulate", "calm", "--json", "--input", "count=abc"]) == 2
    assert "input 'count': 'abc' is not an int" in capsys.readouterr().err
    assert main([*base, "simulate", "calm", "--json"]) == 2
    err = capsys.readouterr().err
    assert "--input count=" in err
    assert main([*base, "simulate", "calm", "--json", "--input", "count=2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == 2


def test_global_options_work_after_the_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido runs --workspace X --store S` reads the same journal as `ido --workspace X --store S runs`."""
    ws = _tiny(tmp_path / "ws")
    store = f"sqlite:///{tmp_path / 'j.db'}"
    assert main(["run", "ship", "--set", "order.paid=true", "--workspace", str(ws), "--store", store]) == 0
    capsys.readouterr()
    assert main(["runs", "--workspace", str(ws), "--store", store, "--json"]) == 0
    after = json.loads(capsys.readouterr().out)["runs"]
    assert main(["--workspace", str(ws), "--store", store, "runs", "--json"]) == 0
    before = json.loads(capsys.readouterr().out)["runs"]
    assert len(after) == 1 and after == before
    assert main(["--workspace", str(tmp_path), "validate", "--workspace", str(ws)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 intent")


def test_replay_what_if_is_spelled_against(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`replay RUN --against OTHER` is the what-if; the old `--workspace OTHER` exits 2 pointing to it."""
    ws = _tiny(tmp_path / "ws")
    store = f"sqlite:///{tmp_path / 'j.db'}"
    assert main(["--workspace", str(ws), "--store", store, "run", "ship", "--set", "order.paid=true"]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1].split()[2].rstrip(",")
    assert main(["--store", store, "replay", run_id, "--against", str(ws)]) == 0
    assert "none of its" in capsys.readouterr().out
    assert main(["--store", store, "replay", run_id, "--workspace", str(ws)]) == 2
    assert f"ido replay RUN --against {ws}" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["runs", "--limit", "99999999999999999999"],
    ["runs", "--limit", "0"],
    ["simulate", "payments-outage", "--runs", "99999999999999999999"],
    ["simulate", "payments-outage", "--seed", "1" * 400],
])
def test_integer_options_out_of_range_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Huge or non-positive counts are refused with the range, never an overflow inside ido."""
    code = main(["--workspace", str(ROOT), "--store", f"sqlite:///{tmp_path / 'j.db'}", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {argv[-2]} must be") and "9223372036854775807" in err
