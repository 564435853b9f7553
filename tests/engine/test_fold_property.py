"""One fold: a run rebuilt from its journal equals the live run at that point, field by field.

The live engine applies each event it records through `ido.engine.fold.apply`;
`ido.engine.resume.restore` replays the stored events through the same fold.
Random registries (with compensations, non-idempotent steps, approvals),
failure patterns and strategies run on the virtual clock; at every append
(the journal's only crash boundary: an append is atomic) the live run's folded
fields are snapshotted, and the run restored from the journal as it stood then
must have the same ones. A journal cut at a random append is also taken over
by a fresh engine, which must finish the run.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from engine_helpers import FAST_HEALTH, workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ido.engine import Engine
from ido.engine.fold import FOLDED
from ido.engine.resume import restore
from ido.engine.run import RunState
from ido.errors import JournalError
from ido.journal import MemoryStore
from ido.journal.base import TERMINAL_STATUSES, Event, RunInfo
from ido.journal.events import ApprovalRequested, parse
from ido.model import Capability, Intent, Policy
from ido.simulation.clock import run_virtual


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    """Return a random chain of roles, providers that may fail or not be idempotent, undo steps, policies."""
    roles = draw(st.integers(1, 3))
    caps = []
    for r in range(roles):
        undo = draw(st.booleans())
        for p in range(draw(st.integers(1, 3))):
            caps.append(Capability.model_validate({
                "name": f"r{r}.p{p}", "provides": f"role{r}", "invoke": "sim",
                "requires": {f"f{r - 1}": True} if r else {},
                "effects": {f"f{r}": True},
                "cost": draw(st.sampled_from([0.05, 0.1, 0.3])),
                # 3 s against a 2 s timeout: calls that time out (outcome unknown, key kept)
                "latency": draw(st.sampled_from([0.01, 0.2, 1.0, 3.0])),
                "reliability": draw(st.sampled_from([0.3, 0.7, 1.0])),
                "idempotent": draw(st.booleans()),
                "timeout": 2.0,
                **({"compensate": f"undo{r}"} if undo else {}),
            }))
        if undo:
            caps.append(Capability.model_validate({
                "name": f"undo{r}", "provides": f"undo{r}", "invoke": "sim", "requires": {f"f{r}": True},
                "effects": {f"f{r}": False}, "cost": 0.01, "latency": 0.05, "idempotent": True,
                "reliability": draw(st.sampled_from([0.6, 1.0])), "timeout": 1.0,
            }))
    policies = []
    if draw(st.booleans()):
        policies.append(Policy.model_validate({
            "name": "few-attempts", "because": "do not hammer providers",
            "limit": {"attempts_per_capability": draw(st.integers(1, 3))},
        }))
    if draw(st.booleans()):
        policies.append(Policy.model_validate({
            "name": "ask", "because": "a person decides", "require_approval": {"capability.name": "r0.p0"},
        }))
    intent = Intent.model_validate({
        "intent": "chain", "given": {f"f{r}": False for r in range(roles)},
        "goal": {f"f{roles - 1}": True},
        "constraints": {"budget": draw(st.sampled_from([0.3, 2.0])), "deadline": draw(st.sampled_from([3.0, 15.0]))},
        "objective": {"cost": 1.0}, "on_failure": draw(st.sampled_from(["stop", "compensate"])),
    })
    return {"caps": caps, "policies": policies, "intent": intent, "seed": draw(st.integers(0, 2**16)),
            "strategy": draw(st.sampled_from(["adaptive", "static", "static-fallback"])),
            "approve": draw(st.sampled_from([None, True, False])), "cut": draw(st.integers(0, 10**6))}


class Watched(Engine):
    """An engine that snapshots each run's folded fields right after every append."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshots: list[tuple[int, RunInfo, dict[str, Any]]] = []

    async def flush(self, run: RunState) -> None:
        written = bool(run.buffer)
        await super().flush(run)
        if written:
            self.snapshots.append((run.event_seq, self.store.get_run(run_id=run.run_id), folded(run)))


def folded(run: RunState) -> dict[str, Any]:
    """Return the run's folded fields in a comparable form (steps by their journal identity)."""
    out: dict[str, Any] = {}
    for name in FOLDED:
        value = getattr(run, name)
        if name == "completed":
            value = [(step, cap.name) for step, cap in value]
        elif name == "awaiting":
            value = {s: (h.capability.name, h.key, h.attempt, h.cost, h.decision_id, h.plan_step,
                         h.compensation, h.compensates) for s, h in value.items()}
        elif name == "conditions":
            value = [c.model_dump(mode="json") for c in value]
        elif name == "pinned" and value is not None:
            # its retry times are engine-clock seconds: compared as seconds after the run's start
            # (a restored run's start is read off the clock now, a few microseconds apart)
            dumped = value.model_dump(mode="json")
            dumped["not_before"] = {k: t - run.started for k, t in dumped["not_before"].items()}
            value = _Near(dumped)
        elif name in ("attempts", "key_groups", "state", "roles"):
            value = dict(value)
        elif name in ("approved", "excluded", "doubt"):
            value = set(value)
        elif name in ("faults", "rejected"):
            value = list(value)
        out[name] = value
    return out


class _Near:
    """JSON data that equals other JSON data with floats within a microsecond."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Near) and _near(self.data, other.data)

    def __repr__(self) -> str:
        return repr(self.data)


def _near(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and isinstance(b, int | float) and abs(a - b) <= 1e-6
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_near(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_near(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class Prefix:
    """The journal as a crash at one append would have left it: the first `upto` events, that row."""

    def __init__(self, events: list[Event], row: RunInfo, upto: int) -> None:
        self._events = [e for e in events if e.seq <= upto]
        self._row = row

    def get_run(self, *, run_id: str) -> RunInfo:
        return self._row

    def events(self, *, run_id: str, kinds: Any = None) -> list[Event]:
        return list(self._events)


def _play(world: dict[str, Any]) -> tuple[Watched, MemoryStore, str]:
    ws = workspace(*world["caps"], *world["policies"], world["intent"])
    store = MemoryStore()

    async def main() -> tuple[Watched, str]:
        eng = Watched(ws, store, strategy=world["strategy"], seed=world["seed"], health_config=FAST_HEALTH)
        try:
            run_id = await eng.start("chain")
            run = eng.runs[run_id]
            assert run.task is not None
            while not run.task.done():
                if run.pending_approval is not None and world["approve"] is not None:
                    eng.approve(run_id, world["approve"], by="test")
                await _tick()
            await run.task
            return eng, run_id
        finally:
            await eng.close()

    eng, run_id = run_virtual(main)
    return eng, store, run_id


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_a_run_restored_from_its_journal_equals_the_live_run_at_every_append(world: dict[str, Any]) -> None:
    """At each append, `restore` on the journal so far gives the live run's folded fields, field by field."""
    eng, store, run_id = _play(world)
    events = store.events(run_id=run_id)
    assert eng.snapshots and eng.snapshots[-1][0] == events[-1].seq
    for upto, row, live in eng.snapshots:
        host = SimpleNamespace(
            store=Prefix(events, row, upto), intent=eng.intent, clock=eng.clock, lookups=eng.lookups,
        )
        rebuilt = folded(restore(host, run_id))  # type: ignore[arg-type]
        for name in FOLDED:
            assert rebuilt[name] == live[name], f"after event {upto}: {name} differs"
    for event in events:  # every stored payload reads back as its typed event
        typed_event = parse(event)
        assert type(typed_event).__name__ != "JournalEvent"
        if isinstance(typed_event, ApprovalRequested):  # named by the policy, whatever the strategy
            assert typed_event.policies == ["ask"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_a_journal_cut_at_a_random_append_is_taken_over_and_finished(world: dict[str, Any]) -> None:
    """A fresh engine resumes the run from any append boundary and brings it to a terminal status."""
    eng, store, run_id = _play(world)
    events = store.events(run_id=run_id)
    upto, row, live = eng.snapshots[world["cut"] % len(eng.snapshots)]
    cut = Cut(store)

    async def takeover() -> str:
        await cut.append([e for e in events if e.seq <= upto], run=row)
        ws = workspace(*world["caps"], *world["policies"], world["intent"])
        second = Watched(ws, cut, strategy=world["strategy"], seed=world["seed"] + 1, health_config=FAST_HEALTH)
        try:
            if row.status == "waiting_approval" and world["approve"] is None:
                return row.status  # a person still has to answer; the run rightly waits
            if row.status == "waiting_approval":
                from ido.engine.approvals import answer

                await answer(cut, run_id, bool(world["approve"]), by="test")
            return (await second.resume(run_id)).status
        finally:
            await second.close()

    status = run_virtual(takeover)
    assert status in TERMINAL_STATUSES or status == "waiting_approval"
    assert live["status"] == row.status


class Cut(MemoryStore):
    """A fresh journal for the cut run that reads declaration revisions from the original."""

    def __init__(self, source: MemoryStore) -> None:
        super().__init__()
        self.source = source

    def get_revision(self, *, digest: str) -> Any:
        try:
            return super().get_revision(digest=digest)
        except JournalError:
            return self.source.get_revision(digest=digest)
