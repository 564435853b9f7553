"""Who may run code (issue 14 item 15): `IDO_PYTHON_ALLOW` restricts python doors to module
prefixes, refused by `ido validate` / every command at load, and by the engine at call time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import ido.loading  # noqa: F401 - first: ido.workspace and ido.loading import each other
from ido.cli.main import main
from ido.engine import Engine
from ido.journal import MemoryStore
from ido.trust import PythonAllow
from ido.workspace import Workspace


def _workspace(root: Path) -> Path:
    """Two ways to tidy: `outside.tidy:run` (writes a marker file when called) and `shopdoors.tidy:run`."""
    for folder in ("intents", "capabilities", "shopdoors", "outside"):
        (root / folder).mkdir(parents=True)
    (root / "intents" / "tidy.yaml").write_text("intent: tidy\ngiven: {disk.tidy: false}\ngoal: {disk.tidy: true}\n")
    (root / "capabilities" / "tidy.yaml").write_text(
        "capabilities:\n"
        "  - {name: tidy.outside, provides: tidy, effects: {disk.tidy: true}, cost: 0.1,\n"
        "     invoke: {python: 'outside.tidy:run'}}\n"
        "  - {name: tidy.shop, provides: tidy, effects: {disk.tidy: true}, cost: 1,\n"
        "     invoke: {python: 'shopdoors.tidy:run'}}\n"
    )
    marker = root / "outside-was-called"
    for package, body in (("shopdoors", "    return None\n"),
                          ("outside", f"    open({str(marker)!r}, 'w').close()\n")):
        (root / package / "__init__.py").write_text("")
        (root / package / "tidy.py").write_text(f"def run():\n{body}")
    return root


def test_allow_list_matches_module_prefixes() -> None:
    """`a.b` allows `a.b` and `a.b.c`, not `a.bc`; unset allows all; set but empty allows none."""
    allow = PythonAllow.from_env({"IDO_PYTHON_ALLOW": "shop.doors, ido.testing"})
    assert allow.allows("shop.doors:f") and allow.allows("shop.doors.pay:charge")
    assert not allow.allows("shop.doorsx:f") and not allow.allows("os:system")
    assert PythonAllow.from_env({}).allows("os:system")
    assert not PythonAllow.from_env({"IDO_PYTHON_ALLOW": ""}).allows("shop:f")


def test_validate_and_run_refuse_a_target_outside_the_allow_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With IDO_PYTHON_ALLOW=shopdoors, validate names the refused target at its line (exit 2) and
    `ido run` refuses the workspace before anything runs; unset, both accept it."""
    ws = _workspace(tmp_path / "ws")
    monkeypatch.delenv("IDO_PYTHON_ALLOW", raising=False)
    assert main(["--workspace", str(ws), "validate"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("IDO_PYTHON_ALLOW", "shopdoors")
    assert main(["--workspace", str(ws), "validate"]) == 2
    out = capsys.readouterr().out
    assert "capabilities/tidy.yaml:3:" in out and "capabilities[0].invoke.python:" in out
    assert "'outside.tidy:run' is outside the modules IDO_PYTHON_ALLOW allows (shopdoors)" in out
    assert main(["--workspace", str(ws), "--store", "memory://", "run", "tidy"]) == 2
    assert "outside.tidy:run" in capsys.readouterr().err
    assert not (ws / "outside-was-called").exists()
    monkeypatch.setenv("IDO_PYTHON_ALLOW", "shopdoors,outside")
    assert main(["--workspace", str(ws), "validate"]) == 0


def test_the_engine_refuses_the_call_at_run_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace loaded without checks still cannot call outside the list: the step is rejected,
    the module never runs, and the run finishes through the allowed alternative."""
    ws_root = _workspace(tmp_path / "ws")
    monkeypatch.setenv("IDO_PYTHON_ALLOW", "shopdoors")
    monkeypatch.syspath_prepend(str(ws_root))
    workspace = Workspace.load(ws_root, checks=False)
    store = MemoryStore()

    async def run() -> str:
        engine = Engine(workspace, store)
        try:
            result = await engine.run("tidy")
        finally:
            await engine.close()
        assert result.status == "succeeded"
        return result.run_id

    run_id = asyncio.run(run())
    refused = [e.data for e in store.events(run_id=run_id) if e.data.get("capability") == "tidy.outside"
               and e.data.get("status") == "failed"]
    assert refused and all(d["error_kind"] == "rejected" and "IDO_PYTHON_ALLOW" in d["error"] for d in refused)
    assert not (ws_root / "outside-was-called").exists()
