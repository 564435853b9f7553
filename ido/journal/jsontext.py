"""The journal's JSON text: compact encoding, and frozen values that carry their text.

Decisions of runs in step share their plan, their alternatives and the health
snapshot: the engine dumps each such object once (`ido.engine.records`), and
`freeze` makes that dump read-only and gives it its compact JSON text
(`json_text`), made once. The journal's encoders then write that text instead
of encoding the same thousands of characters again for every record:
`ido.journal._common.encode` (memory and PostgreSQL journals) and
`ido.journal.codec` (SQLite). The text is exactly what encoding the value would
give, so what a journal stores does not depend on whether a value was frozen.

Frozen values are lists and dicts (subclasses), equal to and read like the
plain ones; changing one raises TypeError, because its text would no longer be
its value. Copying or pickling one gives plain, mutable containers.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, NoReturn

#: json's encoder with the journal's settings: compact, UTF-8 text, no NaN or infinities.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
#: its C encoder made once (`json.dumps` builds an encoder and a C encoder per call, which costs
#: more than encoding a short value). No circular check (markers None): a cycle ends in
#: RecursionError where json.dumps says "Circular reference detected" (`encode` asks it then).
_C_COMPACT = None if c_make_encoder is None else c_make_encoder(
    None, _COMPACT.default, encode_basestring, None, ":", ",", False, False, False
)


def compact_json(value: Any) -> str:
    """Return `value` as `json.dumps(value, separators=(",", ":"), ensure_ascii=False,
    allow_nan=False)` does, through json's C encoder made once; raises TypeError or
    ValueError as json does, RecursionError for a cycle. Called for every event stored
    (`encode`, `ido.journal.codec`)."""
    if _C_COMPACT is None:
        return _COMPACT.encode(value)
    return "".join(_C_COMPACT(value, 0))




def compact_record(data: dict[Any, Any]) -> str | None:
    """Return `compact_json(data)` for a dict some of whose values are frozen whole, their text
    reused rather than encoded again; None when none is, so the caller encodes it as usual.
    Called by `ido.journal._common.encode` for every event.

    The dict is encoded once with a mark standing in for each frozen value, and each mark's
    text is then replaced by the value's. A mark is a string no record of the engine holds;
    should the data hold one anyway (its quoted text is found more than once), the record
    is encoded whole, frozen values too: the text is the same either way.
    """
    frozen: list[tuple[Any, str]] | None = None
    for key, value in data.items():
        kind = type(value)
        if kind is FrozenList or kind is FrozenDict:
            if value.json_text is None:
                continue  # frozen as a part of a larger value: encoded as it is
            if frozen is None:
                frozen = []
            frozen.append((key, value.json_text))
    if frozen is None:
        return None
    stand_in = dict(data)
    for index, (key, _) in enumerate(frozen):
        stand_in[key] = _MARK % index
    text = compact_json(stand_in)
    pieces = []
    for index, (_, value_text) in enumerate(frozen):
        quoted = _QUOTED_MARK % index
        at = text.find(quoted)
        if at < 0 or text.find(quoted, at + 1) >= 0:
            return compact_json(data)  # frozen values encode as the plain ones, only slower
        pieces.append((at, len(quoted), value_text))
    pieces.sort()
    out: list[str] = []
    done = 0
    for at, length, value_text in pieces:
        out += (text[done:at], value_text)
        done = at + length
    out.append(text[done:])
    return "".join(out)


#: what stands in for the i-th frozen value while a record is encoded (`compact_record`), and
#: its JSON text (json writes a NUL as \u0000).
_MARK = "\x00ido.jsontext.frozen.%d\x00"
_QUOTED_MARK = '"\\u0000ido.jsontext.frozen.%d\\u0000"'


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        "this value is shared by journal records (ido.journal.jsontext) and must not be changed; "
        "change a copy (list(value), dict(value)) instead"
    )


class FrozenList(list[Any]):
    """A read-only list; `json_text` is its compact JSON when it was frozen whole, else None."""

    __slots__ = ("json_text",)

    def __init__(self, items: Any = (), json_text: str | None = None) -> None:
        list.__init__(self, items)
        self.json_text = json_text

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))

    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class FrozenDict(dict[Any, Any]):
    """A read-only dict; `json_text` is its compact JSON when it was frozen whole, else None."""

    __slots__ = ("json_text",)

    def __init__(self, items: Any = (), json_text: str | None = None) -> None:
        dict.__init__(self, items)
        self.json_text = json_text

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))

    pop = popitem = clear = update = setdefault = _refuse
    __setitem__ = __delitem__ = __ior__ = _refuse


def freeze(value: Any) -> Any:
    """Return `value` (JSON data) frozen all the way down, a list or dict carrying its compact
    JSON text; scalars as they are. Raises what `compact_json` raises for data that is not
    JSON. Called by `ido.engine.records.RecordWriter` once per shared object it dumps."""
    if not isinstance(value, dict | list):
        return value
    text = compact_json(value)
    frozen = _freeze(value)
    frozen.json_text = text
    return frozen


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList([_freeze(v) for v in value])
    return value


def json_text(value: Any) -> str | None:
    """Return the compact JSON text `value` was frozen with, or None (not frozen whole)."""
    kind = type(value)
    if kind is FrozenList or kind is FrozenDict:
        text: str | None = value.json_text
        return text
    return None
