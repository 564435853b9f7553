"""README.md stays true: its set-up commands are the ones CI runs, and its Python examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_starts_with_the_install_and_demo_command_then_the_test_command() -> None:
    """The first two shell blocks are the newcomer's two commands: install+demo, then tests."""
    first, second = _blocks("sh")[:2]
    assert "pip install" in first and "ido run order-fulfilled --simulate payments-outage" in first
    assert "pytest" in second


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` runs exactly the test command the README gives."""
    command = _blocks("sh")[1].strip()
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(index: int) -> None:
    """Each Python example in the README runs, from the repository root, without error."""
    code = _blocks("python")[index]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
