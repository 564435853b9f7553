"""Long alternative lists are stored once per distinct set and read back into every record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_helpers import engine, workspace

from ido.decisions import ALTERNATIVES_REF, DecisionRecord, resolve_alternatives
from ido.engine.decide import check, comparable
from ido.engine.records import INLINE_ALTERNATIVES
from ido.explain import explain, why_not
from ido.journal import open_store
from ido.model import Capability, Intent

ROLES = 4
PER_ROLE = 25


def _registry() -> Any:
    caps = []
    for r in range(ROLES):
        for p in range(PER_ROLE):
            caps.append(Capability.model_validate({
                "name": f"role{r}.p{p:02d}", "provides": f"role{r}", "invoke": "sim", "latency": 0.001,
                "requires": {f"step{r - 1}.done": True} if r else {}, "effects": {f"step{r}.done": True},
                "cost": round(0.1 + 0.01 * ((p * 7 + r) % PER_ROLE), 3), "reliability": 0.999,
            }))
    intent = Intent.model_validate({
        "intent": "chain", "given": {f"step{r}.done": False for r in range(ROLES)},
        "goal": {f"step{ROLES - 1}.done": True}, "constraints": {"budget": 10.0},
        "objective": {"cost": 1.0}, "on_failure": "stop",
    })
    return workspace(*caps, intent)


async def test_records_read_back_with_every_alternative_and_replay_identically(tmp_path: Path) -> None:
    """A 100-alternative set is journalled once by digest; explain, why-not and replay see full records."""
    ws = _registry()
    store = open_store(f"sqlite:///{tmp_path / 'journal.db'}")
    eng = engine(ws, store=store, seed=1)
    try:
        results = [await eng.run("chain") for _ in range(3)]
        assert all(r.status == "succeeded" for r in results)
        # decisions sharing a plan (same health, same state) share its set, across runs too
        every = [e.data.get(ALTERNATIVES_REF) for r in results for e in store.events(run_id=r.run_id)
                 if e.kind == "decision"]
        assert 0 < len({ref for ref in every if ref}) < len([ref for ref in every if ref])
        result = results[-1]
        events = [e for e in store.events(run_id=result.run_id) if e.kind == "decision"]
        refs = [e.data.get(ALTERNATIVES_REF) for e in events]
        long_records = [r for r in result.records if len(r.alternatives) > INLINE_ALTERNATIVES]
        assert long_records, "the registry must give long alternative lists"
        assert all("alternatives" not in e.data for e, ref in zip(events, refs, strict=True) if ref)
        intent = ws.intents["chain"]
        for event, original in zip(events, result.records, strict=True):
            data = resolve_alternatives(event.data, lambda key: store.get_revision(digest=key))
            back = DecisionRecord.model_validate(data)
            assert comparable(back) == comparable(original)
            assert check(back, intent, eng.capabilities, eng.planner, eng.policies) == []
        explained = explain(store, result.run_id)
        assert [len(d.alternatives) for d in explained.decisions] == [len(r.alternatives) for r in result.records]
        loser = next(a.capability for a in long_records[0].alternatives if a.verdict == "costlier")
        assert any(r.verdict == "costlier" for r in why_not(store, result.run_id, loser).reasons)
    finally:
        await eng.close()
        store.close()


def test_short_lists_stay_inline() -> None:
    """Data without a reference pass through the resolver unchanged (small registries keep records whole)."""
    data = {"alternatives": [{"capability": "a"}], "seq": 1}
    assert resolve_alternatives(data, lambda key: (_ for _ in ()).throw(AssertionError(key))) == data
