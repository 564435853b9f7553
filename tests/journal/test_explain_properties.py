"""Properties of explain/why-not over random decision histories."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from ido.decisions import DecisionRecord, Outcome, Revisions, Trigger
from ido.explain import explain, why_not
from ido.journal import MemoryStore
from ido.journal.base import Event, RunInfo
from ido.planning.types import Alternative, Verdict

CAPS = ["a.one", "a.two", "b.one", "b.two", "c.one"]
VERDICTS = [v for v in Verdict if v != Verdict.CHOSEN]

alternative = st.builds(
    lambda cap, verdict, text: Alternative(
        capability=cap, provides=cap.split(".")[0], verdict=verdict, reason=f"{verdict}: {text}",
    ),
    st.sampled_from(CAPS), st.sampled_from(VERDICTS), st.text("xyz ", max_size=8),
)
decision = st.tuples(
    st.lists(alternative, max_size=4, unique_by=lambda a: a.capability),
    st.booleans(),  # whether the decision dispatched, with an outcome
    st.booleans(),  # whether that outcome was a hit
)


def _record(seq: int, alts: list[Alternative], dispatch: bool) -> DecisionRecord:
    chosen = [alts[0].capability] if dispatch and alts else []
    if chosen:
        alts = [alts[0].model_copy(update={"verdict": Verdict.CHOSEN, "reason": "chosen"}), *alts[1:]]
    return DecisionRecord(
        decision_id=f"d{seq}", run_id="run", seq=seq, at="2026-01-01T00:00:00+00:00",
        trigger=Trigger.START if seq == 1 else Trigger.STEP_SUCCEEDED,
        action="dispatch" if chosen else "wait", intent="i",
        revisions=Revisions(intent="i", capabilities="none", policies="p"),
        state={}, chosen=chosen, alternatives=alts,
    )


async def _write(history: list[tuple[list[Alternative], bool, bool]]) -> tuple[MemoryStore, list[DecisionRecord]]:
    store = MemoryStore()
    run = RunInfo(run_id="run", intent="i", status="succeeded", created_at=1.0, updated_at=1.0)
    events: list[Event] = []
    records = []
    for n, (alts, dispatch, hit) in enumerate(history, start=1):
        record = _record(n, alts, dispatch)
        records.append(record)
        events.append(Event(run_id="run", seq=len(events) + 1, kind="decision", at=0.0,
                            data=record.model_dump(mode="json")))
        if record.chosen:
            outcome = Outcome(capability=record.chosen[0], step=n, status="succeeded" if hit else "failed", hit=hit)
            events.append(Event(run_id="run", seq=len(events) + 1, kind="outcome", at=0.0,
                                data={**outcome.model_dump(mode="json"), "decision_id": record.decision_id}))
    await store.append(events, run=run)
    return store, records


@settings(max_examples=40)
@given(st.lists(decision, min_size=1, max_size=8))
def test_explain_and_why_not_agree_with_the_records(history: list[tuple[list[Alternative], bool, bool]]) -> None:
    """Explain keeps every record's alternatives and outcomes; why-not lists exactly the decisions naming a capability."""
    store, records = asyncio.run(_write(history))
    e = explain(store, "run")
    assert [d.seq for d in e.decisions] == [r.seq for r in records]
    for d, r, (_, _, hit) in zip(e.decisions, records, history, strict=True):
        assert [(a.capability, a.verdict, a.reason) for a in d.alternatives] == [
            (a.capability, a.verdict, a.reason) for a in r.alternatives
        ]
        assert [(o.capability, o.hit) for o in d.outcomes] == ([(r.chosen[0], hit)] if r.chosen else [])
    for cap in CAPS:
        w = why_not(store, "run", cap) if any(cap in {a.capability for a in r.alternatives} for r in records) else None
        if w is None:
            continue
        expected = [
            (r.seq, str(a.verdict), a.reason) for r in records for a in r.alternatives if a.capability == cap
        ]
        assert [(x.seq, x.verdict, x.reason) for x in w.reasons] == expected
