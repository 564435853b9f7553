"""A decision's `inputs_digest` is the digest journals already hold: the text of the original formula.

`DecisionInputs.digest` builds its JSON with an encoder made once (no circular check);
records written by any earlier version carry digests of `json.dumps(payload, sort_keys=True,
separators=(",", ":"), ensure_ascii=False, default=str)`, and `ido replay` compares them with
the digest of the inputs read back, so the two must give the same text for every input.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ido.decisions import InFlight, Rejection, Revisions, Trigger
from ido.engine.inputs import DecisionInputs, _health_digest, pinned_fingerprint, plan_fingerprint
from ido.health import CapabilityHealth, HealthSnapshot
from ido.model import Intent
from ido.planning.types import Plan, PlanStep

INTENT = Intent.model_validate({"intent": "order-fulfilled", "goal": {"order.paid": True}})

text = st.text(max_size=12)  # any unicode: ensure_ascii=False writes it as it is
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), text,
)
names = st.text("abcdefg.-", min_size=1, max_size=8)


def _reference(inp: DecisionInputs) -> str:
    """The digest as ido computed it before the encoder was made once (`json.dumps` per call)."""
    payload: list[Any] = [
        inp.run_id, inp.seq, inp.decision_id, inp.at, str(inp.trigger), inp.cause,
        inp.parent_id, inp.intent.intent, inp.revisions.intent, inp.revisions.capabilities,
        inp.revisions.policies, inp.strategy, inp.state, inp.inputs, _health_digest(inp.health),
        inp.now, inp.spent, inp.elapsed_s, inp.steps_taken, inp.attempts,
        [(f.capability, f.provides, f.step, f.plan_step, f.cost) for f in inp.in_flight],
        list(inp.exclude), list(inp.approved), plan_fingerprint(inp.reusable),
        pinned_fingerprint(inp.pinned), list(inp.faults), list(inp.notes),
    ]
    if inp.roles_before:
        payload.append(sorted(inp.roles_before.items()))
    if inp.rejected:
        payload.append([r.model_dump(mode="json") for r in inp.rejected])
    out = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(out.encode()).hexdigest()[:16]


@st.composite
def inputs(draw: st.DrawFn) -> DecisionInputs:
    plan = draw(st.none() | st.builds(
        lambda caps, cost: Plan(intent="order-fulfilled", feasible=True, cost=cost, steps=[
            PlanStep(capability=c, provides=f"role{i}", cost=cost, after=list(range(i))) for i, c in enumerate(caps)
        ]),
        st.lists(names, max_size=3), st.floats(0, 1e6),
    ))
    return DecisionInputs(
        run_id=draw(text), seq=draw(st.integers(1, 10**6)), decision_id=draw(text), at=draw(text),
        trigger=draw(st.sampled_from(list(Trigger))), intent=INTENT,
        revisions=Revisions(intent=draw(text), capabilities="c", policies="p"),
        state=draw(st.dictionaries(text, scalars, max_size=6)),
        health=HealthSnapshot(at=draw(st.floats(0, 1e9)), capabilities=draw(st.dictionaries(
            names, st.builds(CapabilityHealth, consecutive_failures=st.integers(0, 9)), max_size=3,
        ))),
        now=draw(st.floats(0, 1e9)), cause=draw(text), parent_id=draw(st.none() | text),
        inputs=draw(st.dictionaries(text, scalars, max_size=4)), spent=draw(st.floats(0, 1e9)),
        elapsed_s=draw(st.floats(0, 1e9)), steps_taken=draw(st.integers(0, 99)),
        attempts=draw(st.dictionaries(names, st.integers(0, 9), max_size=3)),
        in_flight=tuple(draw(st.lists(st.builds(
            InFlight, capability=names, provides=names, step=st.integers(0, 99),
            plan_step=st.none() | st.integers(0, 9), cost=st.floats(0, 1e6),
        ), max_size=3))),
        exclude=tuple(draw(st.lists(names, max_size=3))), approved=tuple(draw(st.lists(names, max_size=2))),
        reusable=plan, faults=tuple(draw(st.lists(text, max_size=2))), notes=tuple(draw(st.lists(text, max_size=2))),
        roles_before=draw(st.dictionaries(names, names, max_size=3)),
        rejected=tuple(draw(st.lists(st.builds(Rejection, capability=names, by=text, at=text), max_size=2))),
    )


@settings(max_examples=300, deadline=None)
@given(inp=inputs())
def test_digest_is_the_original_formulas(inp: DecisionInputs) -> None:
    assert inp.digest() == _reference(inp)


@settings(max_examples=100, deadline=None)
@given(inp=inputs())
def test_digest_without_the_reusable_plan_is_that_of_inputs_without_one(inp: DecisionInputs) -> None:
    from dataclasses import replace

    assert inp.digest(reusable=False) == _reference(replace(inp, reusable=None))
