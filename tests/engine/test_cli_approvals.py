"""Approval waits through the CLI as a user types it: what `ido run` prints, what explain/why-not say.

Issue 14 items 1, 2, 3 and 6: a step waiting for approval is never reported
as dispatched; a person's rejection is named (who, when, which policy asked)
with the documented verdict `rejected`; why-not tells planned, waiting,
in flight, succeeded and failed apart; `ido run` prints the run id and the
exact approve/reject commands, and time spent waiting counts against the
deadline as the README says.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from ido.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _example(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    for folder in ("intents", "capabilities", "policies"):
        shutil.copytree(ROOT / folder, ws / folder)
    return ws


def _ido(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def _read_until(stream: IO[str], needle: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> list[str]:
    """Return the lines `stream` gave up to and including the one containing `needle`."""
    lines: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = stream.readline()
        if not line:
            raise AssertionError(f"ido run ended before printing {needle!r}: {''.join(lines)}{proc.stderr.read() if proc.stderr else ''}")
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} within {timeout}s: {''.join(lines)}")


def _command(lines: list[str], verb: str) -> list[str]:
    """Return the argv of the `ido ... VERB RUN` line `ido run` printed, without the leading `ido`."""
    line = next(x for x in lines if f" {verb} " in x and x.strip().startswith("ido "))
    argv = shlex.split(line)
    assert argv[0] == "ido"
    return argv[1:]


def test_waiting_rejected_and_approved_steps_are_told_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A big order waits; the printed `ido reject`/`ido approve` lines work; records say who said no."""
    ws = _example(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ido", "--workspace", str(ws), "run", "order-fulfilled", "--input", "amount=1500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = _read_until(proc.stdout, "counts against the deadline", proc)
        text = "".join(first)
        assert "is waiting for a person to approve payment.stripe-eu (asked by large-payments-need-approval)" in text
        reject = _command(first, "reject")
        run_id = reject[-1]
        assert f"approve {run_id}" in text and "counts against the deadline" in text

        # item 1: while it waits, nothing says the payment was dispatched
        code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "payment.stripe-eu")
        assert code == 0
        assert "waiting for a person's approval (never sent) at decision" in out
        assert "large-payments-need-approval" in out
        assert "dispatched" not in out.split("\n")[0].replace("not dispatched", "")
        code, out = _ido(capsys, "--workspace", str(ws), "explain", run_id)
        assert "waits for approval: payment.stripe-eu (asked by large-payments-need-approval)" in out
        assert "? payment.stripe-eu" in out and "> payment.stripe-eu" not in out
        code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "payment.stripe-eu", "--json")
        statuses = {r["status"] for r in json.loads(out)["reasons"]}
        assert "waiting_approval" in statuses and not statuses & {"in_flight", "succeeded", "failed"}

        # item 2: the person says no through the printed command; the run asks again for the next provider
        assert main([*reject, "--by", "ana"]) == 0
        capsys.readouterr()
        second = _read_until(proc.stdout, "counts against the deadline", proc)
        assert any("approve payment.adyen-eu" in line for line in second)
        approve = _command(second, "approve")
        assert main([*approve, "--by", "bob"]) == 0
        out_rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "succeeded: run" in out_rest
    lines = "".join(second) + out_rest
    assert "payment.stripe-eu rejected by ana" in lines  # `ido run`'s own line names the rejection

    capsys.readouterr()
    code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "payment.stripe-eu", "--json")
    answer = json.loads(out)
    rejected = [r for r in answer["reasons"] if r["verdict"] == "rejected"]
    assert rejected, answer
    assert "rejected by ana at 20" in rejected[0]["reason"]
    assert "large-payments-need-approval asked for approval" in rejected[0]["reason"]
    assert all(r["verdict"] != "excluded" for r in answer["reasons"])
    assert "rejected by a person (never sent)" in answer["summary"]
    assert any(r["status"] == "rejected" and "rejected by ana" in r["what"] for r in answer["reasons"])

    # item 3: the approved provider was sent and succeeded; planned and waiting are told apart
    code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "payment.adyen-eu", "--json")
    adyen = json.loads(out)
    statuses = [r["status"] for r in adyen["reasons"] if r["verdict"] == "chosen"]
    assert "waiting_approval" in statuses and "succeeded" in statuses
    assert "dispatched and succeeded at decision" in adyen["summary"]
    code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "shipping.dhl", "--json")
    dhl = [r["status"] for r in json.loads(out)["reasons"] if r["verdict"] == "chosen"]
    assert dhl[0] == "planned" and "succeeded" in dhl
    code, out = _ido(capsys, "--workspace", str(ws), "explain", run_id)
    assert "answer: payment.stripe-eu rejected by ana" in out
    assert "answer: payment.adyen-eu approved by bob" in out
    assert "payment.stripe-eu         rejected" in out or "rejected  rejected by ana" in out
    assert main(["--workspace", str(ws), "replay", run_id]) == 0


def _approval_workspace(tmp_path: Path, deadline: str) -> Path:
    ws = tmp_path / "approve"
    for folder in ("intents", "capabilities", "policies"):
        (ws / folder).mkdir(parents=True)
    (ws / "intents" / "done.yaml").write_text(
        "intent: done\ngiven: {job.done: false}\ngoal: {job.done: true}\n"
        f"constraints: {{deadline: {deadline}}}\non_failure: stop\n"
    )
    (ws / "capabilities" / "jobs.yaml").write_text(
        "capabilities:\n  - {name: job.x, provides: job, effects: {job.done: true}, latency: 10ms, invoke: sim}\n"
    )
    (ws / "policies" / "rules.yaml").write_text(
        "policies:\n  - {name: jobs-need-a-yes, because: every job is approved, "
        "require_approval: {capability.provides: job}}\n"
    )
    return ws


def test_time_spent_waiting_counts_against_the_deadline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nobody answers: the run prints how to answer, then fails at its 1s deadline (exit 1), never sending."""
    ws = _approval_workspace(tmp_path, "1s")
    started = time.monotonic()
    code, out = _ido(capsys, "--workspace", str(ws), "run", "done")
    waited = time.monotonic() - started
    assert code == 1
    assert "run " in out and " is waiting for a person to approve job.x (asked by jobs-need-a-yes)" in out
    run_id = out.split(" is waiting")[0].rsplit("run ", 1)[1]
    assert f"ido --workspace {ws} approve {run_id}" in out
    assert f"ido --workspace {ws} reject {run_id}" in out
    assert "Time spent waiting counts against the deadline" in out
    assert "the deadline passed while waiting for approval" in out
    assert out.strip().splitlines()[-1].startswith(f"failed: run {run_id}")
    assert 0.9 <= waited < 30
    code, out = _ido(capsys, "--workspace", str(ws), "why-not", run_id, "job.x")
    assert "asked for approval (jobs-need-a-yes), never answered; never sent" in out
    code, out = _ido(capsys, "--workspace", str(ws), "runs", "--json")
    assert json.loads(out)["runs"][0]["steps_executed"] == 0


def test_json_run_prints_the_approval_commands_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --json, stdout stays one JSON object; the approve/reject lines go to stderr."""
    ws = _approval_workspace(tmp_path, "500ms")
    code = main(["--workspace", str(ws), "--store", f"sqlite:///{tmp_path / 'j.db'}", "run", "done", "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert json.loads(captured.out)["status"] == "failed"
    assert f"--store sqlite:///{tmp_path / 'j.db'} approve " in captured.err
