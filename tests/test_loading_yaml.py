"""The loader's YAML reading (libyaml through PyYAML): YAML 1.2 scalars as ruamel reads them,
locations on every node, and the garbage collector left as it was found."""

from __future__ import annotations

import gc
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from ido.loading.yamlfile import read_documents

#: Characters that make numbers, booleans, nulls and words, never YAML structure.
SCALAR_ALPHABET = "0123456789+-._eEoxXbBaAfFlLnNrRsStTuUyY~"


def ido_value(text: str) -> Any:
    """Return what ido reads for the plain scalar `text` written as a mapping value."""
    documents, problems = read_documents(Path("x.yaml"), f"v: {text}\n")
    assert problems == [], problems
    return documents[0].data["v"]


def ruamel_value(text: str) -> Any:
    """Return what ruamel's YAML 1.2 safe loader reads, as ido keeps it (non-finite numbers as text)."""
    value = YAML(typ="safe", pure=True).load(f"v: {text}\n")["v"]
    if isinstance(value, float) and not math.isfinite(value):
        return text
    if hasattr(value, "isoformat"):  # a date: ido keeps the text, as before
        return text
    return value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", "yes"), ("on", "on"), ("off", "off"), ("y", "y"), ("NO", "NO"),
        ("true", True), ("False", False), ("TRUE", True), ("tRue", "tRue"),
        ("null", None), ("~", None), ("", None), ("Null", None),
        ("012", 12), ("0o17", 15), ("0x1F", 31), ("0b101", 5), ("1_000", 1000), ("-0", 0),
        ("1e3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("-.5e+3", -500.0),
        (".inf", ".inf"), ("-.Inf", "-.Inf"), (".nan", ".nan"),
        ("2024-01-01", "2024-01-01"), ("1:30", "1:30"), ("12:30:00", "12:30:00"),
    ],
)
def test_yaml_1_2_scalars(text: str, expected: Any) -> None:
    """Booleans are only true/false, `012` is twelve, dates and sexagesimals stay text."""
    value = ido_value(text)
    assert value == expected and type(value) is type(expected)


@given(st.text(SCALAR_ALPHABET, min_size=1, max_size=8))
def test_plain_scalars_read_as_ruamel_reads_yaml_1_2(text: str) -> None:
    """Any plain scalar made of number/boolean characters reads as ruamel's YAML 1.2 loader reads it."""
    try:
        expected = ruamel_value(text)
    except Exception:  # ruamel fails on a few (`_`, `0x_`); ido keeps those as text
        return
    value = ido_value(text)
    assert value == expected and type(value) is type(expected), (text, value, expected)


def test_every_node_knows_its_line_and_column() -> None:
    """Nodes carry 0-based line and column: what locates every problem."""
    documents, _ = read_documents(Path("x.yaml"), "capabilities:\n  - name: a\n    cost: 2\n")
    root = documents[0].node
    assert root is not None
    item = root.value[0][1].value[0]
    cost_key, cost_value = item.value[1]
    assert (cost_key.start_mark.line, cost_key.start_mark.column) == (2, 4)
    assert (cost_value.start_mark.line, cost_value.start_mark.column) == (2, 10)


@pytest.mark.parametrize("text", ["a: [1, 2]\n", "a: [1, 2\n", "a: &x [*x]\n"])
def test_the_garbage_collector_is_paused_only_during_the_read(text: str) -> None:
    """Reading pauses the collector (a large speed-up) and restores it, also after a problem."""
    assert gc.isenabled()
    read_documents(Path("x.yaml"), text)
    assert gc.isenabled()
    gc.disable()
    try:
        read_documents(Path("x.yaml"), text)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_yaml_12_plain_scalars_libyaml_refuses_still_load(tmp_path: Path) -> None:
    """`{description: :0}` is YAML 1.2 (a plain scalar may start with `:` before a safe character,
    and YAML 1.2 dumpers write it so); libyaml, YAML 1.1, refuses it: ido reads it as 1.2 does,
    locations included, and a text neither parser reads is still a located syntax error."""
    from ido.loading.yamlfile import read_documents

    docs, problems = read_documents(tmp_path / "c.yaml", "{capabilities: [{description: :0, n: 012, b: yes}]}\n")
    assert problems == []
    assert docs[0].data == {"capabilities": [{"description": ":0", "n": 12, "b": "yes"}]}
    item = docs[0].node.value[0][1].value[0]
    assert (item.value[0][1].start_mark.line, item.value[0][1].start_mark.column) == (0, 30)
    _, problems = read_documents(tmp_path / "d.yaml", "{a: :0, b: [}\n")
    assert [(p.line, p.column) for p in problems] == [(1, 13)]
