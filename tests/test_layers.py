"""The pipeline's layers hold: no module imports from a layer above it (pyproject's contract)."""

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_layers_contract_is_kept(monkeypatch) -> None:
    """import-linter finds no import from a lower layer into a higher one (engine -> simulation ...)."""
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
