"""Event payloads built field by field are the JSON pydantic's dump of the same model gives.

`ido.engine.fold.outcome_data` (every `outcome` event) and `ido.engine.records.folded_data`
(every `decision` event of a journal that keeps only what folding reads) skip the models on
the engine's hot path; the journal must hold exactly what it held when they went through them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ido.construct import construct
from ido.decisions import DecisionRecord, Outcome, PinnedPath, Trigger
from ido.engine.fold import outcome_data
from ido.engine.records import FOLDED_FIELDS, folded_data
from ido.planning.types import Plan

text = st.text(max_size=10)
numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False))
facts = st.dictionaries(text, st.one_of(st.none(), st.booleans(), numbers, text), max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    capability=text, step=st.integers(0, 10**6), ok=st.booleans(), error=st.none() | text,
    error_kind=st.none() | text, latency_s=numbers, cost=numbers, facts=facts, key=text,
)
def test_outcome_data_is_the_outcome_models_json(
    capability: str, step: int, ok: bool, error: str | None, error_kind: str | None,
    latency_s: float, cost: float, facts: dict, key: str,
) -> None:
    fields = {
        "capability": capability, "step": step, "status": "succeeded" if ok else "failed", "hit": ok, "error": error,
        "error_kind": error_kind, "latency_s": latency_s, "cost": cost, "facts": facts, "idempotency_key": key,
    }
    got = outcome_data(**fields)
    expected = construct(Outcome, **fields).model_dump(mode="json")
    assert got == expected
    assert list(got) == list(expected)
    assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert got["facts"] is not facts  # the event owns its facts


def test_outcome_data_of_facts_beyond_scalars_goes_through_the_model() -> None:
    fields = {
        "capability": "c", "step": 1, "status": "succeeded", "hit": True, "error": None, "error_kind": None,
        "latency_s": 0.1, "cost": 1, "facts": {"when": (1, 2)}, "idempotency_key": "k",
    }
    with pytest.warns(UserWarning, match="serializer"):  # pydantic's dump, as before: it warns
        got = outcome_data(**fields)
    assert got == construct(Outcome, **fields).model_dump(mode="json", warnings=False)
    assert got["facts"] == {"when": [1, 2]}


PLAN = Plan(intent="i", feasible=True)


@settings(max_examples=200, deadline=None)
@given(
    decision_id=text, seq=st.integers(0, 10**6), trigger=st.sampled_from(list(Trigger)),
    action=st.sampled_from(["dispatch", "wait", "backoff", "await_approval", "block", "succeed", "fail"]),
    chosen=st.lists(text, max_size=3), dispatch=st.lists(st.integers(0, 9), max_size=3),
    pinned=st.none() | st.just(PinnedPath(plan=PLAN, done=[0])),
)
def test_folded_data_is_the_records_json_of_the_folded_fields(
    decision_id: str, seq: int, trigger: Trigger, action: str, chosen: list[str], dispatch: list[int],
    pinned: PinnedPath | None,
) -> None:
    record = construct(
        DecisionRecord, decision_id=decision_id, run_id="r", seq=seq, trigger=trigger, action=action,
        intent="i", chosen=chosen, dispatch=dispatch, pinned=pinned, reason="why",
    )
    got = folded_data(record)
    expected = record.model_dump(mode="json", include=set(FOLDED_FIELDS))
    assert got == expected
    assert list(got) == list(expected)
    assert type(got["trigger"]) is str
    assert got["chosen"] is not record.chosen and got["dispatch"] is not record.dispatch
