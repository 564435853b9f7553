"""Start-up stays light: importing the CLI or `ido` loads none of the heavy libraries, and
`ido --help` imports no command module (issue 15)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ido.cli.main import COMMAND_INDEX, COMMAND_MODULES, main

HEAVY = ("ortools", "pandas", "numpy", "matplotlib", "networkx", "httpx")


def imported_modules(code: str) -> set[str]:
    """Return the modules `python -X importtime -c code` reports importing."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.parametrize("code", ["import ido.cli.main", "import ido"])
def test_import_loads_no_heavy_library(code: str) -> None:
    """OR-Tools (with pandas and numpy), matplotlib, networkx and httpx load only when used."""
    names = imported_modules(code)
    assert "ido" in names  # the parse saw the imports at all
    heavy = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert heavy == []


def test_help_imports_no_command_module() -> None:
    """`ido --help` is written from the command index: no command's module is imported."""
    code = (
        "import sys\nfrom ido.cli.main import main\ncode = main(['--help'])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('ido.cli.') and m != 'ido.cli.main'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_command_index_matches_the_commands() -> None:
    """Every command is in the index under its module, with the help line of its own docstring."""
    found: dict[str, tuple[str, str]] = {}
    for module in COMMAND_MODULES:
        for command in importlib.import_module(f"ido.cli.{module}").COMMANDS:
            assert command.name is not None
            found[command.name] = (module, command.get_short_help_str(10_000))
    assert set(found) == set(COMMAND_INDEX)
    for name, (module, line) in COMMAND_INDEX.items():
        assert found[name][0] == module, name
        assert click.Command(name, help=line).get_short_help_str(10_000) == found[name][1], name


def test_every_command_runs_through_the_lazy_group(capsys: pytest.CaptureFixture[str]) -> None:
    """Each indexed command is found on demand: its own --help works and exits 0."""
    for name in COMMAND_INDEX:
        assert main([name, "--help"]) == 0, name
        assert f"ido {name}" in capsys.readouterr().out


def test_plan_loads_no_heavy_library() -> None:
    """`ido plan` of the example intent needs neither OR-Tools, networkx, httpx nor matplotlib."""
    root = Path(__file__).resolve().parent.parent
    code = (
        "import io, sys, contextlib\nfrom ido.cli.main import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    code = main(['--workspace', {str(root)!r}, 'plan', 'order-fulfilled'])\n"
        f"print(code, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}"
        " or m in ('ido.engine.engine', 'ido.engine.doors.http')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # nor the engine that runs intents: planning one is `ido.engine.plans` alone
    assert done.stdout.strip().splitlines()[-1] == "0 []"
