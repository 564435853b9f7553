"""Frozen values (`ido.journal.jsontext`): stored exactly as their plain twins, never changed."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ido.journal._common import encode
from ido.journal.codec import ZDICT_1, Packer
from ido.journal.jsontext import FrozenDict, FrozenList, compact_json, freeze, json_text

_keys = st.one_of(st.sampled_from(["$r", "$d", "alternatives", "plan", "health"]), st.text(max_size=6))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    # what stands in for a frozen value while a record is encoded: data holding it anyway
    st.sampled_from(["\x00ido.jsontext.frozen.0\x00", "\x00ido.jsontext.frozen.1\x00"]),
)
# some values long enough to be stored as blobs (TOP_SHARE_MIN), made by repetition
_long = st.integers(0, 400).map(lambda n: [f"alternative {i}: costlier by {i / 7}" for i in range(n)])
_json = st.recursive(
    st.one_of(_scalars, _long),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


def _share(data: dict[str, Any], which: list[bool]) -> dict[str, Any]:
    """Return `data` with the values `which` marks frozen (as the engine shares a plan)."""
    return {k: freeze(v) if mark else v for (k, v), mark in zip(data.items(), which + [False] * len(data), strict=False)}


@settings(max_examples=200, deadline=None)
@given(data=st.dictionaries(_keys, _json, max_size=8), which=st.lists(st.booleans(), max_size=8))
def test_records_sharing_frozen_values_are_stored_as_their_plain_twins(
    data: dict[str, Any], which: list[bool]
) -> None:
    """The JSON text (memory and PostgreSQL journals) and the packed row and blobs (SQLite) of a
    record with frozen values are those of the same record with plain ones, twice in a row
    (the second time from the remembered texts and digests), also when the data hold the
    string that stands in for a frozen value while the record is encoded."""
    shared = _share(data, which)
    packer = Packer({1: ZDICT_1.encode()}, current=1)
    plain = packer.pack(data, what="plain")
    for _ in range(2):
        assert encode(shared, what="shared") == compact_json(data) == encode(data, what="plain")
        packed = packer.pack(shared, what="shared")
        assert (packed.text, packed.blobs) == (plain.text, plain.blobs)


@settings(max_examples=100, deadline=None)
@given(value=_json)
def test_a_frozen_value_equals_its_source_and_carries_its_text(value: Any) -> None:
    """Frozen, a value is equal to what it was, its text is its compact JSON, and copies or
    pickles of it are plain containers again."""
    frozen = freeze(value)
    assert frozen == value
    if isinstance(value, list | dict):
        assert json_text(frozen) == compact_json(value)
        thawed = copy.deepcopy(frozen)
        assert thawed == value and type(thawed) in (list, dict)
        assert json.dumps(pickle.loads(pickle.dumps(frozen))) == json.dumps(value)
    else:
        assert json_text(frozen) is None


def test_a_frozen_value_refuses_every_change_all_the_way_down() -> None:
    """A frozen value's text would stop being its value if it changed: every mutator of the
    value and of what it holds raises TypeError, and the value is left as it was."""
    frozen = freeze({"steps": [{"capability": "pay", "after": [0]}], "n": 1})
    changes = [
        lambda: frozen.update(n=2), lambda: frozen.__setitem__("n", 2), lambda: frozen.pop("n"),
        lambda: frozen.setdefault("m", 1), lambda: frozen.clear(), lambda: frozen.__delitem__("n"),
        lambda: frozen["steps"].append({}), lambda: frozen["steps"].__setitem__(0, {}),
        lambda: frozen["steps"][0].__setitem__("capability", "other"),
        lambda: frozen["steps"][0]["after"].extend([1]), lambda: frozen["steps"].sort(),
    ]
    for change in changes:
        with pytest.raises(TypeError, match="must not be changed"):
            change()
    assert frozen == {"steps": [{"capability": "pay", "after": [0]}], "n": 1}
    assert type(frozen) is FrozenDict and type(frozen["steps"]) is FrozenList
    assert json_text(frozen["steps"]) is None  # only the value frozen whole carries text


def test_a_value_json_refuses_is_refused_when_frozen_too() -> None:
    """Freezing encodes: what is not JSON fails there, as json says, not later in a store."""
    with pytest.raises(ValueError, match="Out of range float"):
        freeze([float("nan")])
    with pytest.raises(TypeError, match="not JSON serializable"):
        freeze({"a": object()})
