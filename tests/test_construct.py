"""`ido.construct.construct` builds the very instance pydantic's `model_construct` builds."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import ido
from ido.construct import construct, copy_with


def _models() -> list[type[BaseModel]]:
    for info in pkgutil.walk_packages(ido.__path__, "ido."):
        if info.name.startswith(("ido.__main__", "ido.cli", "ido.service", "ido.simulation.plot")):
            continue
        importlib.import_module(info.name)
    found: list[type[BaseModel]] = []
    todo = [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("ido.") and sub.__pydantic_fields__ and not sub.__pydantic_generic_metadata__["parameters"]:
                found.append(sub)
    return sorted(set(found), key=lambda c: (c.__module__, c.__qualname__))


MODELS = _models()


def _state(model: BaseModel) -> tuple[Any, ...]:
    return (list(model.__dict__.items()), model.model_fields_set, type(model.model_fields_set),
            model.__pydantic_extra__, model.__pydantic_private__, type(model))


def test_the_models_checked_include_the_hot_ones() -> None:
    names = {c.__name__ for c in MODELS}
    assert {"DecisionRecord", "Remaining", "RunInfo", "Decided", "Plan", "Alternative"} <= names


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_construct_builds_what_model_construct_builds(data: st.DataObject) -> None:
    """Any model of ido, any subset of its fields given (by name or alias), extra keys or not."""
    cls = data.draw(st.sampled_from(MODELS))
    keys: list[str] = []
    for name, field in cls.__pydantic_fields__.items():
        keys += [name] + ([field.alias] if field.alias else [])
    chosen = data.draw(st.lists(st.sampled_from(keys), unique=True)) if keys else []
    values: dict[str, Any] = {k: ("value", k) for k in chosen}
    if data.draw(st.booleans()):
        values["not_a_field"] = 1
    expected = cls.model_construct(**dict(values))
    got = construct(cls, **dict(values))
    assert _state(got) == _state(expected)


def test_mutable_defaults_are_not_shared_between_instances() -> None:
    from ido.decisions import DecisionRecord

    a = construct(DecisionRecord, decision_id="d")
    b = construct(DecisionRecord, decision_id="d")
    assert a.notes == [] and a.notes is not b.notes
    assert a.metrics == b.metrics


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_copy_with_copies_as_model_copy_does(data: st.DataObject) -> None:
    """Any model of ido, built with any subset of its fields, copied with any subset replaced."""
    cls = data.draw(st.sampled_from(MODELS))
    names = list(cls.__pydantic_fields__)
    given_names = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    original = cls.model_construct(**{k: ("value", k) for k in given_names})
    changed = data.draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    update = {k: ("new", k) for k in changed}
    expected = original.model_copy(update=dict(update))
    got = copy_with(original, **update)
    assert _state(got) == _state(expected)
    assert got is not original and got.__dict__ is not original.__dict__
    assert got.model_fields_set is not original.model_fields_set
