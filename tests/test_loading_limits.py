"""Bounded memory on every input (issue 14 item 12), through the CLI as a user types it.

Every file ido reads is capped (`IDO_MAX_FILE_BYTES`, 16 MiB by default) with a message
naming the limit and how to raise it; `ido apply /dev/zero` stops at the cap; aliases may
add at most `ALIAS_BUDGET` values, so a "billion laughs" is refused at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ido.cli.main import main
from ido.limits import DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_ENV
from ido.loading.yamlfile import ALIAS_BUDGET, read_documents

CAPABILITY = "  - {{name: cap-{i}, provides: p, effects: {{x.y: true}}}}\n"


def billion_laughs(levels: int = 9) -> str:
    """Return the classic alias bomb: each level lists the one below ten times (10**levels leaves)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        below = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{below}]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_is_refused_in_well_under_a_second(
    files: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`ido validate` on an alias bomb exits 2 at once with a located message about aliases."""
    root = files({"capabilities/bomb.yaml": billion_laughs()})
    started = time.perf_counter()
    code = main(["--workspace", str(root), "validate"])
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 2
    assert f"more than {ALIAS_BUDGET:,} values" in out
    assert out.startswith("capabilities/bomb.yaml:")  # located at the alias that crossed the budget
    assert elapsed < 1.0


def test_aliases_within_the_budget_still_load() -> None:
    """A small alias tree (1,000 leaves) is plain YAML: it reads as the written-out data."""
    documents, problems = read_documents(Path("x.yaml"), billion_laughs(levels=2))
    assert problems == []
    data = documents[0].data
    assert data["a2"] == [[["lol"] * 10] * 10] * 10


def test_a_recursive_alias_is_a_located_problem(files: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    """An anchor used inside itself is refused at its line, never a RecursionError."""
    root = files({"capabilities/a.yaml": "capabilities: []\nloop: &l [1, *l]\n"})
    assert main(["--workspace", str(root), "validate"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("capabilities/a.yaml:2:7: ") and "recursive alias" in out


def test_a_declaration_file_over_the_limit_names_the_limit_and_the_variable(
    files: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past IDO_MAX_FILE_BYTES the file is refused (exit 2) saying the limit and how to raise it."""
    text = "capabilities:\n" + "".join(CAPABILITY.format(i=i) for i in range(100))
    root = files({"capabilities/many.yaml": text})
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, str(len(text) - 1))
    assert main(["--workspace", str(root), "validate"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("capabilities/many.yaml:1:1: the file is larger than ")
    assert f"{len(text) - 1:,} bytes" in out and f"{MAX_FILE_BYTES_ENV}={2 * (len(text) - 1)}" in out
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, str(len(text)))
    assert main(["--workspace", str(root), "validate"]) == 0


def test_a_50_mb_capabilities_file_is_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ido validate` of a 50 MB file reads 16 MiB + 1 byte and stops (default limit)."""
    monkeypatch.delenv(MAX_FILE_BYTES_ENV, raising=False)
    big = tmp_path / "capabilities.yaml"
    block = ("capabilities:\n" + "".join(CAPABILITY.format(i=i) for i in range(20_000))).encode()
    with big.open("wb") as handle:
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(block)
    started = time.perf_counter()
    assert main(["--workspace", str(tmp_path), "validate", str(big)]) == 2
    assert time.perf_counter() - started < 10
    out = capsys.readouterr().out
    assert "the file is larger than 16 MiB" in out and str(2 * DEFAULT_MAX_FILE_BYTES) in out


def test_apply_dev_zero_stops_at_the_limit(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`ido apply /dev/zero` reads up to the limit and exits 2 instead of reading forever."""
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, "1000000")
    assert main(["apply", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "plan file /dev/zero: the file is larger than 1,000,000 bytes" in err
    assert f"{MAX_FILE_BYTES_ENV}=2000000" in err


def test_validate_dev_zero_stops_at_the_limit(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A device given to `ido validate` is read like a file, up to the limit."""
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, "1000000")
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().out.startswith("/dev/zero:1:1: the file is larger than 1,000,000 bytes")


@pytest.mark.parametrize("value", ["lots", "-5", "0", "9" * 30])
def test_a_bad_limit_is_a_usage_error(
    value: str, files: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """IDO_MAX_FILE_BYTES that is not a positive size is refused with exit 2, naming the variable."""
    root = files({"capabilities/a.yaml": "capabilities: []\n"})
    monkeypatch.setenv(MAX_FILE_BYTES_ENV, value)
    assert main(["--workspace", str(root), "validate"]) == 2
    captured = capsys.readouterr()
    assert f"{MAX_FILE_BYTES_ENV}=" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
