"""`construct`: a pydantic model from data already valid, as `model_construct` builds it, sooner.

The engine builds several models per event from values that are typed already
(decision records, journal events, run rows). pydantic's `model_construct`
looks up aliases, validation aliases and requiredness field by field on every
call, which made it the engine loop's largest single cost. `construct` does
that once per class and then only fills a dict. The instance is the same:
`__dict__` in field order with defaults filled (factories called, mutable
defaults copied as pydantic copies them), `model_fields_set` the fields given,
extras kept only under `extra="allow"`. A class with aliases, a post-init hook
or a root goes to `model_construct` itself. Called by `ido.engine` and
`ido.journal.events` on their hot paths. `copy_with` is `model_copy(update=...)`
the same way: the copy pydantic makes, without its generic `__copy__` machinery.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

#: defaults shared as they are (pydantic copies any other default it fills in).
_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset)


class _Spec:
    """What `construct` needs of one class: field names in order and how each default is made."""

    __slots__ = ("allow_extra", "fields", "fieldset", "missing", "names", "shared")

    def __init__(self, cls: type[BaseModel]) -> None:
        self.fields = dict(cls.__pydantic_fields__)
        self.names = tuple(self.fields)
        #: field -> a default used as it is (immutable); other optional fields call `get_default`.
        self.shared = {
            name: f.default for name, f in self.fields.items()
            if not f.is_required() and f.default_factory is None and isinstance(f.default, _IMMUTABLE)
        }
        #: how each field not given is filled, in field order: (name, _SHARED, the default),
        #: (name, _FACTORY, a factory taking no argument), (name, _OTHER, the field: pydantic's
        #: `get_default`); required fields are left out (`model_construct` leaves them unset).
        self.missing: dict[str, tuple[int, Any]] = {}
        for name, f in self.fields.items():
            if name in self.shared:
                self.missing[name] = (_SHARED, self.shared[name])
            elif f.default_factory is not None and not f.default_factory_takes_validated_data:
                self.missing[name] = (_FACTORY, f.default_factory)
            elif not f.is_required():
                self.missing[name] = (_OTHER, f)
        self.allow_extra = cls.model_config.get("extra") == "allow"
        self.fieldset = frozenset(self.names)


_SHARED, _FACTORY, _OTHER = 0, 1, 2

_specs: dict[type[BaseModel], _Spec | None] = {}


def _spec(cls: type[BaseModel]) -> _Spec | None:
    fields = cls.__pydantic_fields__.values()
    if (cls.__pydantic_root_model__ or cls.__pydantic_post_init__
            or any(f.alias is not None or f.validation_alias is not None for f in fields)):
        spec = None
    else:
        spec = _Spec(cls)
    _specs[cls] = spec
    return spec


def construct(cls: type[M], /, **values: Any) -> M:
    """Return `cls.model_construct(**values)`: an instance of `cls` holding `values`, unvalidated.

    The caller vouches that `values` are valid for `cls`.
    """
    spec = _specs[cls] if cls in _specs else _spec(cls)
    if spec is None:
        return cls.model_construct(**values)
    names = spec.names
    extra: dict[str, Any] | None = {} if spec.allow_extra else None
    data: dict[str, Any] | None = None
    if len(values) == len(names):  # the usual call: every field given, nothing else
        try:
            data = {n: values[n] for n in names}
        except KeyError:
            data = None
    if data is None:
        data = {}
        missing = spec.missing
        given = 0
        for name in names:
            if name in values:
                data[name] = values[name]
                given += 1
                continue
            how = missing.get(name)
            if how is None:
                continue  # required and not given: left unset, as `model_construct` leaves it
            kind, source = how
            if kind == _SHARED:
                data[name] = source
            elif kind == _FACTORY:
                data[name] = source()
            else:
                data[name] = source.get_default(call_default_factory=True, validated_data=data)
        if given < len(values):  # keys that are no field: extras, or ignored
            fieldset = spec.fieldset
            if extra is not None:
                extra = {k: v for k, v in values.items() if k not in fieldset}
            given_set: set[str] = set(values) & fieldset  # a set (pydantic updates it), not a frozenset
        else:
            given_set = set(values)
    else:
        given_set = set(values)
    model = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(model, "__dict__", data)
    setattr_(model, "__pydantic_fields_set__", given_set)
    setattr_(model, "__pydantic_extra__", extra)
    setattr_(model, "__pydantic_private__", None)
    return model


def copy_with(model: M, /, **update: Any) -> M:
    """Return `model.model_copy(update=update)`: a shallow copy of `model` with `update`'s fields replaced.

    As pydantic's: the same class, `__dict__` the original's with `update` laid
    over it, `model_fields_set` the original's plus the updated names, extras
    copied shallowly; nothing validated (the caller
    vouches for `update`). Called on the engine's hot paths (`ido.engine.inputs`),
    where `model_copy`'s generic copying was a visible share of each decision.
    """
    cls = type(model)
    state = model.__dict__
    if cls.__pydantic_root_model__ or model.__pydantic_private__ is not None or not update.keys() <= state.keys():
        return model.model_copy(update=update)  # private attributes, extras by update: pydantic's rules
    new = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(new, "__dict__", {**state, **update})
    setattr_(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    extra = model.__pydantic_extra__
    setattr_(new, "__pydantic_extra__", None if extra is None else dict(extra))
    setattr_(new, "__pydantic_private__", None)
    return new
