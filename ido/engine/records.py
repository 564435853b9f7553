"""How the engine writes decision records and the revisions they name into the journal.

A `decision` event's data is its `DecisionRecord` dumped to JSON, except that
what many records share is dumped once per object (the plan, the
alternatives, the health snapshot: unchanged while nothing happens), and an
alternatives list longer than `INLINE_ALTERNATIVES` is stored once as a
revision of kind `alternatives` (by content digest) that records refer to
(`ido.decisions.ALTERNATIVES_REF`). The intent, capabilities and policies a
run works under are stored once per digest the same way. `RecordWriter`
holds those caches; one belongs to each `ido.engine.engine.Engine`, which
calls it when it starts a run and publishes a decision, and
`ido.engine.resume` calls it when a resumed run moves to a new revision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from ido.decisions import ALTERNATIVES_REF, DecisionRecord, Revisions
from ido.journal.base import Store
from ido.journal.jsontext import freeze
from ido.model import Capability, Intent, Policy
from ido.planning.types import Alternative

#: a decision's alternatives are kept inline up to this many; a longer list is stored once in
#: the journal (a revision of kind `alternatives`, by content digest) and records refer to it,
#: so decisions sharing a plan on a large registry do not each re-encode a thousand entries.
INLINE_ALTERNATIVES = 64

#: record fields shared between decisions, dumped once per object.
_SHARED = frozenset({"plan", "alternatives", "health"})
#: the record fields folding a `decision` event reads (`ido.engine.fold`), besides the plan and
#: its alternatives: all a journal nobody reads decisions back from is given (`whole=False`).
FOLDED_FIELDS = frozenset({"decision_id", "seq", "action", "trigger", "pinned", "dispatch", "chosen"})


_ALTERNATIVES = TypeAdapter(list[Alternative])


class RecordWriter:
    """Dumps decision records to journal data and stores the content they refer to, once each."""

    def __init__(
        self, store: Store, capabilities: Sequence[Capability], policies: Sequence[Policy], *, whole: bool = True,
    ) -> None:
        self.store = store
        #: False: decision events carry only what folding reads (the simulator's store, which
        #: counts runs from the records themselves and never reads a decision event back).
        self.whole = whole
        self.capabilities = capabilities
        self.policies = policies
        self._revisions_stored: set[str] = set()
        self._dumped: dict[int, tuple[Any, Any]] = {}
        self._alternative_sets: dict[int, tuple[Any, str]] = {}

    def store_revisions(self, intent: Intent, revisions: Revisions) -> None:
        """Put the intent, capabilities and policies `revisions` names into the journal, unless already there."""
        for kind, key, content in (
            ("intent", revisions.intent, lambda: intent.model_dump(mode="json", by_alias=True, exclude_none=True)),
            ("capabilities", revisions.capabilities, lambda: [
                c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in self.capabilities
            ]),
            ("policies", revisions.policies, lambda: [
                p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in self.policies
            ]),
        ):
            if key not in self._revisions_stored:
                self.store.put_revision(digest=key, kind=kind, content=content())
                self._revisions_stored.add(key)

    def record_data(self, record: DecisionRecord) -> dict[str, Any]:
        """Return the record as JSON data; its plan, alternatives and health are dumped once
        per object (many decisions share them while nothing changes); a long alternatives list
        is stored once and referred to (`_stored_alternatives`)."""
        if self.whole:
            data = record.model_dump(mode="json", exclude=set(_SHARED))
        else:
            data = folded_data(record)
        long = len(record.alternatives) > INLINE_ALTERNATIVES
        for name in _SHARED:
            if name == "health" and not self.whole:
                continue
            if long and name == "alternatives":
                data[ALTERNATIVES_REF] = self._stored_alternatives(record.alternatives)
                continue
            value = getattr(record, name)
            key = id(value)
            hit = self._dumped.get(key)
            if hit is None or hit[0] is not value:
                # a few recent objects suffice (decisions share the current ones); a big cache
                # of dumped data would only lengthen the garbage collector's full passes
                if len(self._dumped) > 256:
                    self._dumped.clear()
                dumped = _dump(value)
                # read-only with its JSON text made once, for the stores that encode whole records;
                # the simulator's store (`whole=False`) encodes nothing, so it is spared the work
                hit = (value, freeze(dumped) if self.whole else dumped)
                self._dumped[key] = hit
            data[name] = hit[1]
        return data

    def _stored_alternatives(self, alternatives: Any) -> str:
        """Return the digest under which `alternatives` are in the journal, storing them once."""
        hit = self._alternative_sets.get(id(alternatives))
        if hit is not None and hit[0] is alternatives:
            return hit[1]
        # pydantic's JSON of the models (fields in declaration order: equal lists, equal bytes)
        key = hashlib.sha256(_ALTERNATIVES.dump_json(alternatives)).hexdigest()[:16]
        if key not in self._revisions_stored:
            content = _ALTERNATIVES.dump_python(alternatives, mode="json")
            self.store.put_revision(digest=key, kind="alternatives", content=content)
            self._revisions_stored.add(key)
        if len(self._alternative_sets) > 256:
            self._alternative_sets.clear()
        self._alternative_sets[id(alternatives)] = (alternatives, key)
        return key


#: `FOLDED_FIELDS` in the record's field order (the order `model_dump` gives them in).
_FOLDED_ORDER = tuple(name for name in DecisionRecord.model_fields if name in FOLDED_FIELDS)


def folded_data(record: DecisionRecord) -> dict[str, Any]:
    """Return `record.model_dump(mode="json", include=FOLDED_FIELDS)`, built field by field.

    Those fields are text, numbers and lists of them (the trigger a `StrEnum`: its value),
    so their JSON is themselves; a record with a pinned path (a model) is dumped by pydantic.
    Called by `RecordWriter.record_data` for a journal that keeps only what folding reads.
    """
    if record.pinned is not None:
        return record.model_dump(mode="json", include=set(FOLDED_FIELDS))
    values = record.__dict__
    data = {name: values[name] for name in _FOLDED_ORDER}
    data["trigger"] = str(data["trigger"])
    data["dispatch"] = list(data["dispatch"])
    data["chosen"] = list(data["chosen"])
    return data


def _dump(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        if value and all(type(v) is Alternative for v in value):
            return _ALTERNATIVES.dump_python(value, mode="json")  # one call, not one per entry
        return [v.model_dump(mode="json") for v in value]
    if isinstance(value, dict):
        return {k: v.model_dump(mode="json") for k, v in value.items()}
    return value.model_dump(mode="json")
