"""`ido run`, `approve`, `resume`: exit codes, the --json keys, one line per decision, on real workspaces."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.journal import open_store

ROOT = Path(__file__).resolve().parents[2]
RUN_KEYS = {"run_id", "status", "steps_executed", "decisions", "cost", "elapsed_s"}


def _example(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for folder in ("intents", "capabilities", "policies"):
        shutil.copytree(ROOT / folder, ws / folder)
    return ws


def _tiny(tmp_path: Path, capability: str, policy: str = "") -> Path:
    ws = tmp_path / "tiny"
    for folder in ("intents", "capabilities", "policies"):
        (ws / folder).mkdir(parents=True)
    (ws / "intents" / "done.yaml").write_text(
        "intent: done\ngiven: {job.done: false}\ngoal: {job.done: true}\n"
        "constraints: {deadline: 1s}\non_failure: stop\n"
    )
    (ws / "capabilities" / "jobs.yaml").write_text("capabilities:\n" + capability)
    if policy:
        (ws / "policies" / "rules.yaml").write_text("policies:\n" + policy)
    return ws


def test_run_succeeds_prints_a_line_per_decision_and_records_the_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The example order runs to success (exit 0) and `ido explain` can read the SQLite journal after."""
    ws = _example(tmp_path)
    code = main(["--workspace", str(ws), "run", "order-fulfilled", "--input", "order_id=o-1"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("#1 start -> dispatch ")
    assert "denied by gdpr-data-stays-in-eu" in out
    assert lines[-1].startswith("succeeded: run ")
    run_id = lines[-1].split()[2].rstrip(",")
    store = open_store(f"sqlite:///{ws / '.ido' / 'journal.db'}")
    try:
        assert store.get_run(run_id=run_id).status == "succeeded"
    finally:
        store.close()


def test_run_json_has_the_contract_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` prints exactly one object with the DESIGN.md run keys."""
    code = main(["--workspace", str(_example(tmp_path)), "--store", "memory://", "run", "order-fulfilled", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(data) >= RUN_KEYS
    assert data["status"] == "succeeded" and data["steps_executed"] >= 4


def test_run_that_cannot_finish_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A job whose only provider keeps failing ends failed at its deadline: exit 1."""
    ws = _tiny(tmp_path, "  - {name: job.flaky, provides: job, effects: {job.done: true}, reliability: 0.000001, latency: 50ms, invoke: sim}\n")
    code = main(["--workspace", str(ws), "--store", "memory://", "run", "done"])
    assert code == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("failed: run ")


def test_no_admissible_plan_at_the_start_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When a policy denies the only provider, the run fails at once with the reason: exit 3."""
    ws = _tiny(
        tmp_path,
        "  - {name: job.us, provides: job, effects: {job.done: true}, tags: {region: us}, invoke: sim}\n",
        "  - {name: eu-only, because: data stays in the EU, deny: {capability.tags.region: {not_in: [eu]}}}\n",
    )
    code = main(["--workspace", str(ws), "--store", "memory://", "run", "done"])
    out = capsys.readouterr().out
    assert code == 3
    assert "eu-only" in out


@pytest.mark.parametrize("argv", [
    ["run", "order-fulfilled", "--input", "nonsense=1"],
    ["run", "order-fulfilled", "--set", "no-equals-sign"],
    ["run", "no-such-intent"],
])
def test_bad_input_exits_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    """Unknown inputs, malformed --set and unknown intents are usage errors (exit 2), not tracebacks."""
    code = main(["--workspace", str(_example(tmp_path)), "--store", "memory://", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_simulated_run_switches_away_from_the_outage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--simulate payments-outage` never pays through the provider that is down, and says why."""
    ws = _example(tmp_path)
    shutil.copytree(ROOT / "benchmarks" / "scenarios", ws / "benchmarks" / "scenarios")
    code = main(["--workspace", str(ws), "--store", "memory://", "run", "order-fulfilled",
                 "--simulate", "payments-outage"])
    out = capsys.readouterr().out
    assert code == 0
    assert "payment.stripe-eu unhealthy" in out
    assert "payment.stripe-eu to payment.adyen-eu" in out  # the line says what switched
    assert "dispatch payment.stripe-eu" not in out


def test_approve_and_resume_commands_refuse_what_does_not_wait(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido approve` on a finished run is a usage error; `ido resume` with nothing unfinished says so."""
    ws = _example(tmp_path)
    assert main(["--workspace", str(ws), "run", "order-fulfilled", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["--workspace", str(ws), "approve", run_id]) == 2
    assert "not waiting_approval" in capsys.readouterr().err
    assert main(["--workspace", str(ws), "resume"]) == 0
    assert "no unfinished runs" in capsys.readouterr().out


def test_approval_from_another_process_lets_the_waiting_run_continue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A big order waits in `ido run`; `ido approve RUN` from elsewhere lets it finish (exit 0)."""
    import subprocess
    import sys
    import time

    ws = _example(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ido", "--workspace", str(ws), "run", "order-fulfilled", "--input", "amount=5000", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        journal = ws / ".ido" / "journal.db"
        run_id = None
        for _ in range(300):
            if journal.exists():
                store = open_store(f"sqlite:///{journal}")
                try:
                    waiting = store.list_runs(status="waiting_approval")
                finally:
                    store.close()
                if waiting:
                    run_id = waiting[0].run_id
                    break
            time.sleep(0.05)
        assert run_id is not None, proc.stderr.read() if proc.poll() is not None else "never waited"
        assert main(["--workspace", str(ws), "approve", run_id, "--by", "ana"]) == 0
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "succeeded"
