"""The demo run on a real PostgreSQL journal: run, list, explain and replay as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def ido(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m ido ARGS` from the example workspace; return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "ido", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )


def test_demo_run_on_postgresql_is_explained_and_replays(pg_url: str) -> None:
    """`ido --store postgresql://… run` records the run there; runs/explain/replay read it back."""
    run = ido("--store", pg_url, "run", "order-fulfilled", "--simulate", "payments-outage", "--json")
    assert run.returncode == 0, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    listed = ido("--store", pg_url, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [run_id]
    explain = ido("--store", pg_url, "explain", run_id, "--json")
    assert explain.returncode == 0, explain.stderr
    chosen = {name for record in json.loads(explain.stdout)["decisions"] for name in record["chosen"]}
    assert "payment.adyen-eu" in chosen  # the switch away from the failing stripe-eu
    replay = ido("--store", pg_url, "replay", run_id)
    assert replay.returncode == 0 and "identical" in replay.stdout, replay.stdout + replay.stderr
