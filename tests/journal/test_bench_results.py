"""The journal benchmark rewrites only its own section of benchmarks/RESULTS.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_journal", ROOT / "benchmarks" / "journal.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_section_is_created_then_replaced_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing file gets the heading; a second write replaces our section and keeps the others."""
    bench = _bench()
    results = tmp_path / "RESULTS.md"
    monkeypatch.setattr(bench, "RESULTS", results)
    bench._write_section("first figures")
    assert results.read_text().startswith("# Benchmark results\n")
    other = "<!-- BEGIN engine -->\nengine figures\n<!-- END engine -->\n"
    results.write_text(results.read_text() + "\n" + other)
    bench._write_section("second figures")
    text = results.read_text()
    assert "second figures" in text and "first figures" not in text
    assert other in text
    assert text.count("<!-- BEGIN journal -->") == 1
