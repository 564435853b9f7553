"""`ido explain` tells the demo's story first, and records carry moves and faults (issue 14 items 4, 5).

Through the CLI as a user types it: `ido run order-fulfilled --simulate
payments-outage` in the repository's own workspace (its journal in a temp
file), then `ido explain RUN` / `--full` / `--json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ido.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _ido(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[list[str], str, str]:
    """Return (global options, run id, what `ido run` printed) of the demo run into a temp journal."""
    options = ["--workspace", str(ROOT), "--store", f"sqlite:///{tmp_path / 'journal.db'}"]
    out = _ido(capsys, *options, "run", "order-fulfilled", "--simulate", "payments-outage", *extra)
    run_id = out.strip().splitlines()[-1].split()[2].rstrip(",")
    return options, run_id, out


def test_explain_starts_with_the_sentence_of_the_switch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first line says the run switched payment providers from stripe-eu to adyen-eu, and why."""
    options, run_id, _ = _demo(tmp_path, capsys)
    text = _ido(capsys, *options, "explain", run_id)
    first = text.splitlines()[0]
    assert first.startswith(f"Run {run_id} succeeded")
    assert "switched payment providers from stripe-eu to adyen-eu" in first
    assert "because payment.stripe-eu was unhealthy (circuit open" in first
    assert "down on payment.stripe-eu" in first  # the injected fault behind it
    moves = text.split("moves:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert moves[0].strip().startswith("#2 switch: payment: payment.stripe-eu -> payment.adyen-eu")
    assert any(" wait: wait for shipping.dhl" in m for m in moves)

    full = _ido(capsys, *options, "explain", run_id, "--full")
    assert "unchanged since" in text and "unchanged since" not in full
    assert len(text.splitlines()) < len(full.splitlines())
    data = json.loads(_ido(capsys, *options, "explain", run_id, "--json"))
    # --full prints every alternative of every decision that --json holds
    shown = sum(1 for d in data["decisions"] for a in d["alternatives"] if a["verdict"] != "not_needed")
    listed = sum(1 for line in full.splitlines() if line.startswith("     ") and line.strip()[:1] in "+->?")
    assert listed == shown
    # collapsed lines name every alternative they hide
    for d in data["decisions"][1:]:
        block = text.split(f"\n#{d['seq']} ", 1)[1].split("\n\n", 1)[0]
        for a in d["alternatives"]:
            assert a["capability"] in block


def test_explain_json_adds_the_story_and_keeps_every_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json gains summary, moves and per-decision move/switches; the DESIGN keys all stay."""
    options, run_id, _ = _demo(tmp_path, capsys)
    data = json.loads(_ido(capsys, *options, "explain", run_id, "--json"))
    assert {"run_id", "intent", "status", "decisions", "faults", "notes", "conditions"} <= set(data)
    assert data["summary"].startswith(f"Run {run_id} succeeded")
    assert data["moves"][0]["move"] == "switch"
    second = data["decisions"][1]
    assert {"seq", "chosen", "alternatives", "outcomes", "health", "gap"} <= set(second)
    assert second["move"] == "switch"
    assert second["switches"] == [{
        "role": "payment", "before": "payment.stripe-eu", "after": "payment.adyen-eu",
        "verdict": "unhealthy", "reason": second["switches"][0]["reason"],
    }]
    assert [d["move"] for d in data["decisions"]][-1] == "succeed"
    assert all(d["dispatched"] == d["chosen"] for d in data["decisions"] if d["action"] == "dispatch")


def test_faults_are_stamped_into_run_simulate_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 4: the outage the run met through health is in every record's `faults`, and in the events."""
    options, run_id, _ = _demo(tmp_path, capsys)
    data = json.loads(_ido(capsys, *options, "explain", run_id, "--json"))
    assert all(any(f.startswith("down on payment.stripe-eu") for f in d["faults"]) for d in data["decisions"])
    assert [f["capability"] for f in data["faults"]] == ["payment.stripe-eu"]
    assert "faults in force: down on payment.stripe-eu" in _ido(capsys, *options, "explain", run_id)
    assert main([*options, "replay", run_id]) == 0  # the stamped faults are inputs replay re-derives from


def test_retries_and_fallback_switch_are_moves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """static-fallback retries Stripe, then switches: the record's move says so, not its message."""
    options, run_id, out = _demo(tmp_path, capsys, "--strategy", "static-fallback")
    assert "-> retry payment.stripe-eu" in out
    assert "switch from payment.stripe-eu to payment.adyen-eu" in out
    data = json.loads(_ido(capsys, *options, "explain", run_id, "--json"))
    moves = [d["move"] for d in data["decisions"]]
    assert "retry" in moves and moves.count("switch") == 1
    assert "it retried payment.stripe-eu" in data["summary"]
    assert "switched payment providers from stripe-eu to adyen-eu" in data["summary"]
    assert "because payment.stripe-eu failed (unreachable" in data["summary"]
    assert main([*options, "replay", run_id]) == 0


def test_a_journal_written_before_moves_still_reads_and_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Records without move/switches/roles_before/rejected/approval (older ido) replay identical and explain."""
    import asyncio
    from dataclasses import replace

    from ido.decisions import DecisionRecord
    from ido.engine.inputs import from_record
    from ido.journal import open_store
    from ido.loading import load_workspace

    options, run_id, _ = _demo(tmp_path, capsys)
    # Write the run again, into a second journal, as an older ido would have recorded it:
    # through the store (the file format packs rows), with the new fields taken out.
    source = open_store(f"sqlite:///{tmp_path / 'journal.db'}")
    older = open_store(f"sqlite:///{tmp_path / 'older.db'}")
    try:
        info = source.get_run(run_id=run_id)
        for kind, digest in info.revisions.items():
            older.put_revision(digest=digest, kind=kind, content=source.get_revision(digest=digest))
        workspace = load_workspace(ROOT)
        intent = workspace.intent("order-fulfilled")
        events = []
        decisions = 0
        for event in source.events(run_id=run_id):
            data = dict(event.data)
            if event.kind == "decision":
                decisions += 1
                assert "move" in data and "roles_before" in data
                for key in ("move", "switches", "roles_before", "rejected", "approval"):
                    data.pop(key, None)
                # an older ido digested the inputs it had: recompute the digest without the new ones
                inputs = from_record(DecisionRecord.model_validate(data), intent, workspace.capabilities)
                if not data["plan_reused"]:
                    inputs = replace(inputs, reusable=None)
                data["inputs_digest"] = inputs.digest()
            events.append(event.model_copy(update={"data": data}))
        assert decisions
        asyncio.run(older.append(events, run=info))
    finally:
        source.close()
        older.close()
    options = ["--workspace", str(ROOT), "--store", f"sqlite:///{tmp_path / 'older.db'}"]
    assert main([*options, "replay", run_id]) == 0, capsys.readouterr().out
    capsys.readouterr()
    data = json.loads(_ido(capsys, *options, "explain", run_id, "--json"))
    assert all(d["move"] is None for d in data["decisions"])
    assert [m["move"] for m in data["moves"]] == ["wait"]  # read from the action alone
    assert data["summary"].startswith(f"Run {run_id} succeeded")
