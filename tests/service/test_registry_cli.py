"""`ido run` and `ido plan` take their declarations from the store's registry once it holds one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from service_helpers import copy_workspace

from ido.cli.main import main
from ido.journal import open_store
from ido.journal.registry import RegistryChange
from ido.loading import load_workspace
from ido.registry import seed

NO_EMAIL = {"name": "no-email", "because": "email bounces today", "deny": {"capability.name": "notify.email"}}


def test_run_and_plan_follow_the_registry_not_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = copy_workspace(tmp_path / "ws")
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    args = ["--workspace", str(root), "--store", url]
    assert main([*args, "plan", "order-fulfilled", "--json"]) == 0  # no journal yet: the folder, none created
    assert not (tmp_path / "journal.db").exists()
    before = json.loads(capsys.readouterr().out)
    assert "notify.email" in [s["capability"] for s in before["steps"]]
    store = open_store(url)
    try:
        seed(store, load_workspace(root))
        store.commit_registry([RegistryChange(kind="policy", name="no-email", content=NO_EMAIL)], expect=1)
    finally:
        store.close()
    assert main([*args, "plan", "order-fulfilled", "--json"]) == 0
    captured = capsys.readouterr()
    assert "registry revision 2" in captured.err
    steps = [s["capability"] for s in json.loads(captured.out)["steps"]]
    assert "notify.email" not in steps and "notify.sms" in steps
    assert main([*args, "run", "order-fulfilled", "--json"]) == 0
    capsys.readouterr()
    assert main([*args, "runs", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["runs"][0]["run_id"]
    assert main([*args, "explain", run_id, "--json"]) == 0
    chosen = [c for d in json.loads(capsys.readouterr().out)["decisions"] for c in d["chosen"]]
    assert "notify.sms" in chosen and "notify.email" not in chosen
    # the folder still says nothing of the policy: a seeded store's registry is the truth
    assert "no-email" not in load_workspace(root).policies
