"""`ido validate` and `ido schema` (ido.cli.validate): exit codes, output, JSON Schema for editors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from ido.cli.main import main
from ido.loading.documents import FOLDERS, yaml_files

REPO = Path(__file__).resolve().parent.parent

BAD_CAPABILITY = """\
capabilities:
  - name: payment.stripe-eu
    provides: payment
    effects: {order.paid: true}
    cots: 0.5
"""


def test_cots_fails_with_exit_2_at_the_line_and_suggests_cost(
    files: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The done-when check: `cots: 0.5` exits 2, printing file:line:col and "did you mean 'cost'?"."""
    root = files({"capabilities/payments.yaml": BAD_CAPABILITY})
    code = main(["--workspace", str(root), "validate"])
    out = capsys.readouterr().out
    assert code == 2
    assert out.splitlines() == [
        "capabilities/payments.yaml:5:5: capabilities[0].cots: unknown field 'cots'; did you mean 'cost'?"
    ]


def test_cots_through_python_m_ido(tmp_path: Path) -> None:
    """The same check through a real `python -m ido validate PATH` process: exit 2, no traceback."""
    (tmp_path / "capabilities").mkdir()
    (tmp_path / "capabilities/payments.yaml").write_text(BAD_CAPABILITY)
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "ido", "validate", "capabilities/payments.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "capabilities/payments.yaml:5:5: capabilities[0].cots: unknown field 'cots'; did you mean 'cost'?" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_validate_passes_on_the_example_workspace(capsys: pytest.CaptureFixture[str]) -> None:
    """`ido validate` on the repository's own workspace prints the counts and exits 0."""
    code = main(["--workspace", str(REPO), "validate"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.match(r"ok: \d+ intents, \d+ capabilities, \d+ observers, \d+ policies, \d+ scenarios$", out)
    assert "capabilities" in out and "observers" in out and "policies" in out and "scenarios" in out


def test_validate_paths_checks_only_those_files(files: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """With paths, only problems in those files are printed; the rest of the workspace is context."""
    root = files({
        "capabilities/good.yaml": "capabilities:\n  - {name: pay, provides: p, effects: {order.paid: true}}\n",
        "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\n",
        "intents/bad.yaml": "intent: j\ngoal: {order.shipped: true}\n",
    })
    assert main(["--workspace", str(root), "validate", "intents/i.yaml", "capabilities"]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 intents, 1 capabilities")
    assert main(["--workspace", str(root), "validate", "intents/bad.yaml"]) == 2
    assert capsys.readouterr().out.startswith("intents/bad.yaml:2:8: goal.order.shipped: goal fact")


def test_validate_prints_every_problem_one_per_line(files: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """All problems are printed, one per line, with a count on stderr."""
    root = files({
        "capabilities/a.yaml": "capabilities:\n  - {name: a, provides: p, effects: {x.y: 1}, cost: x}\n"
        "  - {name: b, provides: p, effects: {x.y: 1}, latency: soon}\n",
        "intents/broken.yaml": "intent: i\n goal: {x.y: 1}\n",
    })
    assert main(["--workspace", str(root), "validate"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":")[:2] for line in lines] == [
        ["capabilities/a.yaml", "2"], ["capabilities/a.yaml", "3"], ["intents/broken.yaml", "2"],
    ]
    assert "3 problems found" in captured.err


def test_validate_of_a_missing_workspace_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --workspace that is not a folder is a usage error (exit 2) with a message."""
    assert main(["--workspace", str(tmp_path / "nope"), "validate"]) == 2
    assert "is not a folder" in capsys.readouterr().err


# ---- ido schema -------------------------------------------------------------------


def schema_of(kind: str | None, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """Return the JSON printed by `ido schema [kind]`."""
    assert main(["schema", *([kind] if kind else [])]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def example_documents() -> list[tuple[str, str, Any]]:
    """Return (kind, path, document) for every document of the example workspace."""
    out = []
    for folder, kind in FOLDERS.items():
        for path in yaml_files(REPO / folder):
            for document in YAML(typ="safe", pure=True).load_all(path.read_text()):
                if document is not None:
                    out.append((kind, str(path.relative_to(REPO)), document))
    return out


def test_schema_is_draft_2020_12_and_uses_yaml_names(capsys: pytest.CaptureFixture[str]) -> None:
    """The schema declares draft 2020-12, is itself valid, and names fields as YAML does."""
    schema = schema_of(None, capsys)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    text = json.dumps(schema)
    for alias in ('"for"', '"not"', '"in"', '"set"', '"json"'):
        assert alias in text
    assert '"for_"' not in text and '"set_"' not in text


def test_every_example_file_validates_against_its_kind_and_the_any_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """Every example document is valid under `ido schema KIND` and under `ido schema`."""
    any_file = jsonschema.Draft202012Validator(schema_of(None, capsys))
    by_kind = {kind: jsonschema.Draft202012Validator(schema_of(kind, capsys)) for kind in set(FOLDERS.values())}
    documents = example_documents()
    assert len(documents) >= 10
    for kind, path, document in documents:
        for validator in (by_kind[kind], any_file):
            errors = [e.message for e in validator.iter_errors(document)]
            assert errors == [], f"{path}: {errors}"


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("capability", {"capabilities": [{"name": "a", "provides": "p", "effects": {"x.y": 1}, "cots": 0.5}]}),
        ("capability", {"capabilities": [{"name": "a", "provides": "p", "effects": {"x.y": 1}, "latency": "soon"}]}),
        ("capability", {"capabilites": []}),
        ("intent", {"intent": "i", "goal": {"x.y": {"gtt": 3}}}),
        ("policy", {"policies": [{"name": "p", "because": "b", "deny": {"a": {"not": 1, "in": [1]}}}]}),
        ("scenario", {"scenario": "s", "intent": "i", "faults": [{"target": "x", "kind": "dwn"}]}),
        ("observer", {"observers": [{"name": "o"}]}),
    ],
)
def test_schema_rejects_bad_files(kind: str, document: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown fields, bad durations, bad matchers and bad fault kinds fail schema validation."""
    validator = jsonschema.Draft202012Validator(schema_of(kind, capsys))
    assert not validator.is_valid(document)


def test_schema_accepts_the_loaders_shorthands(capsys: pytest.CaptureFixture[str]) -> None:
    """`invoke: sim`, `sim: true` and `inputs: {order_id: str}` are valid as they are for the loader."""
    validator = jsonschema.Draft202012Validator(schema_of(None, capsys))
    assert validator.is_valid({"capabilities": [{"name": "a", "provides": "p", "effects": {"x.y": 1}, "invoke": "sim"}]})
    assert validator.is_valid({"name": "a", "provides": "p", "effects": {"x.y": 1}, "invoke": {"sim": True}})
    assert validator.is_valid({"intent": "i", "inputs": {"order_id": "str"}, "goal": {"x.y": True}})


def test_schema_rejects_an_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """`ido schema widget` is a usage error listing the kinds."""
    assert main(["schema", "widget"]) == 2
    assert "intent" in capsys.readouterr().err


def test_validate_in_a_folder_without_a_workspace_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty folder is a problem (exit 2, issue 14 item 9: it used to say "ok: 0 intents"),
    reported as such with a pointer at --workspace."""
    assert main(["--workspace", str(tmp_path), "validate"]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{tmp_path}: no intents, capabilities or policies found")
    assert "pass --workspace DIR" in captured.out
    assert "ok" not in captured.out
