"""Issue 14 items 9 and 11 through the CLI: validate catches scenarios that cannot run and empty
folders, `sqlite:////abs` is absolute, and no input ends in an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from ido.cli.main import main
from ido.journal import sqlite_path
from ido.model.values import parse_duration

BIG = "9" * 400


def _workspace(root: Path, *, inputs: str = "{count: int}", constraints: str = "{}") -> Path:
    for folder in ("intents", "capabilities", "benchmarks/scenarios"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "intents" / "ship.yaml").write_text(
        f"intent: ship\ninputs: {inputs}\ngiven: {{order.shipped: false}}\ngoal: {{order.shipped: true}}\n"
        f"constraints: {constraints}\n"
    )
    (root / "capabilities" / "ship.yaml").write_text(
        "capabilities:\n  - {name: ship.fast, provides: shipping, effects: {order.shipped: true}, invoke: sim,"
        " latency: 1ms}\n"
    )
    return root


def test_validate_names_a_scenario_missing_a_required_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario whose intent requires an input it does not give fails validate (exit 2), located,
    naming the input and the ways to give it; simulate --input runs it."""
    ws = _workspace(tmp_path / "ws")
    scenario = ws / "benchmarks" / "scenarios" / "calm.yaml"
    scenario.write_text("scenario: calm\nintent: ship\nruns: 2\n")
    assert main(["--workspace", str(ws), "validate"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("benchmarks/scenarios/calm.yaml:2:9: intent: ") or "calm.yaml:2:9: intent: " in out
    assert "requires input 'count' (int), which this scenario does not give" in out
    assert "ido simulate calm --input count=..." in out
    assert main(["--workspace", str(ws), "--store", "memory://", "simulate", "calm"]) == 2
    assert "pass --input count=" in capsys.readouterr().err
    assert main(["--workspace", str(ws), "--store", "memory://", "simulate", "calm", "--input", "count=3"]) == 0
    scenario.write_text("scenario: calm\nintent: ship\nruns: 2\ninputs: {count: lots}\n")
    assert main(["--workspace", str(ws), "validate"]) == 2
    assert "inputs.count: 'lots' is not an int; intent 'ship' declares input 'count' of type int" in capsys.readouterr().out
    scenario.write_text("scenario: calm\nintent: ship\nruns: 2\ninputs: {count: 4}\n")
    assert main(["--workspace", str(ws), "validate"]) == 0


def test_validate_of_named_files_that_declare_nothing_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Files that hold no declaration are reported, not "ok: 0 intents"."""
    ws = _workspace(tmp_path / "ws", inputs="{}")
    (ws / "empty.yaml").write_text("# nothing yet\n")
    assert main(["--workspace", str(ws), "validate", str(ws / "empty.yaml")]) == 2
    assert "no intents, capabilities or policies found" in capsys.readouterr().out
    assert main(["--workspace", str(ws), "validate", str(ws / "intents")]) == 0


def test_sqlite_urls_are_relative_with_three_slashes_absolute_with_four(tmp_path: Path) -> None:
    """`sqlite:////abs/path` names /abs/path, `sqlite:///rel` a relative path; other shapes are refused."""
    assert sqlite_path("sqlite:////abs/path") == Path("/abs/path")
    assert sqlite_path("sqlite:///rel/path") == Path("rel/path")
    with pytest.raises(Exception, match="sqlite:////ABSOLUTE/PATH"):
        sqlite_path("sqlite://host/path")


def test_store_url_with_four_slashes_writes_the_absolute_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`--store sqlite:////ABS` creates the journal at ABS whatever the current folder."""
    ws = _workspace(tmp_path / "ws", inputs="{}")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    journal = tmp_path / "abs" / "j.db"
    journal.parent.mkdir()
    assert main(["--workspace", str(ws), "--store", f"sqlite:///{journal}", "run", "ship"]) == 0
    assert journal.exists() and not any(elsewhere.iterdir())


def test_a_400_digit_duration_is_a_located_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 400-digit integer deadline used to raise OverflowError; now it is `path:line:col: field: ...`."""
    with pytest.raises(ValueError, match="finite time"):
        parse_duration(int(BIG))
    ws = _workspace(tmp_path / "ws", inputs="{}", constraints=f"{{deadline: {BIG}}}")
    for argv in (["validate"], ["plan", "ship"], ["--store", "memory://", "run", "ship"]):
        code = main(["--workspace", str(ws), *argv])
        captured = capsys.readouterr()
        assert code == 2, argv
        text = captured.out + captured.err
        assert "intents/ship.yaml:5:" in text and "constraints.deadline:" in text
        assert "(400 characters) is not a duration" in text
        assert "internal error" not in text


@pytest.mark.parametrize("argv", [
    ["validate", "NAME.yaml"],
    ["--workspace", "NAME", "validate"],
    ["plan", "order-fulfilled", "--out", "DIR/NAME"],
    ["apply", "DIR/NAME"],
    ["--store", "DIR/NAME", "runs"],
    ["--store", "sqlite:///DIR/NAME", "run", "order-fulfilled"],
])
def test_a_path_name_longer_than_255_bytes_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str]) -> None:
    """A file name too long for the system is the user's input: exit 2 naming it, no internal error."""
    name = "a" * 300
    root = Path(__file__).resolve().parents[1]
    args = [a.replace("DIR", str(tmp_path)).replace("NAME", name) for a in argv]
    code = main(["--workspace", str(root), "--store", "memory://", *args] if argv[0] != "--workspace"
                else ["--store", "memory://", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert "internal error" not in err
    assert "aaaaaaaaaa" in err and ("too long" in err.lower())
