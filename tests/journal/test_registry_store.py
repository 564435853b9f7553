"""The registry in the store: numbered revisions, compare-and-set on the head, every backend alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ido.errors import RegistryConflict
from ido.journal import MemoryStore, open_store
from ido.journal.base import Store
from ido.journal.registry import RegistryChange
from tests.conftest import postgres_url


def put(kind: str, name: str, **content: object) -> RegistryChange:
    return RegistryChange(kind=kind, name=name, content={"name": name, **content})


def current(store: Store) -> dict[tuple[str, str], dict[str, object]]:
    snap = store.registry_snapshot()
    return {} if snap is None else {(e.kind, e.name): e.content for e in snap.entries}


def test_an_empty_store_has_no_registry(store: Store) -> None:
    assert store.registry_head() is None
    assert store.registry_snapshot() is None


def test_each_change_is_a_new_numbered_revision_and_old_ones_stay_readable(store: Store) -> None:
    first = store.commit_registry([put("capability", "a", cost=1), put("policy", "p")], expect=0)
    second = store.commit_registry([put("capability", "a", cost=2)], expect=1)
    third = store.commit_registry([RegistryChange(kind="policy", name="p")], expect=2)
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert len({first.digest, second.digest, third.digest}) == 3
    assert store.registry_head() == third
    one = store.registry_snapshot(number=1)
    assert one is not None and {(e.kind, e.name): e.content.get("cost")
                                for e in one.entries} == {("capability", "a"): 1, ("policy", "p"): None}
    assert current(store) == {("capability", "a"): {"name": "a", "cost": 2}}
    assert store.registry_snapshot(number=9) is None


def test_a_stale_expectation_is_refused_with_the_current_number_and_changes_nothing(store: Store) -> None:
    store.commit_registry([put("capability", "a")], expect=0)
    with pytest.raises(RegistryConflict) as caught:
        store.commit_registry([put("capability", "b")], expect=0)
    assert caught.value.current == 1
    with pytest.raises(RegistryConflict):
        store.commit_registry([put("capability", "b")], expect=5)
    assert store.registry_head() is not None and store.registry_head().number == 1  # type: ignore[union-attr]
    assert set(current(store)) == {("capability", "a")}


def test_a_change_that_changes_nothing_writes_no_revision(store: Store) -> None:
    head = store.commit_registry([put("intent", "i", goal={"x": True})], expect=0)
    again = store.commit_registry([put("intent", "i", goal={"x": True})], expect=1)
    gone = store.commit_registry([RegistryChange(kind="intent", name="missing")])
    assert again == head and gone == head


def test_an_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown registry kind"):
        store.commit_registry([RegistryChange(kind="widget", name="w", content={})])
    assert store.registry_head() is None


changes = st.lists(
    st.tuples(st.sampled_from(["capability", "policy"]), st.sampled_from("abc"),
              st.one_of(st.none(), st.integers(0, 3))),
    min_size=1, max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(changes, min_size=1, max_size=6))
def test_every_revision_holds_what_its_changes_made(tmp_path: Path, batches: list[list[tuple[str, str, int | None]]]) -> None:
    """Invariant: revision n is the model after the first n effective commits, in both embedded stores."""
    import uuid

    stores = [MemoryStore(), open_store(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")]
    try:
        for store in stores:
            model: dict[tuple[str, str], dict[str, object]] = {}
            history: dict[int, dict[tuple[str, str], dict[str, object]]] = {}
            for batch in batches:
                before = dict(model)
                for kind, name, cost in batch:
                    if cost is None:
                        model.pop((kind, name), None)
                    else:
                        model[(kind, name)] = {"name": name, "cost": cost}
                previous = store.registry_head()
                head = store.commit_registry([
                    RegistryChange(kind=k, name=n, content=None if c is None else {"name": n, "cost": c})
                    for k, n, c in batch
                ])
                if model == before and previous is not None:
                    assert head == previous
                else:
                    assert head.number == (previous.number if previous else 0) + 1
                history[head.number] = dict(model)
            for number, expected in history.items():
                snap = store.registry_snapshot(number=number)
                assert snap is not None
                assert {(e.kind, e.name): e.content for e in snap.entries} == expected
        heads = [s.registry_head() for s in stores]
        assert heads[0] is not None and heads[1] is not None
        assert (heads[0].number, heads[0].digest) == (heads[1].number, heads[1].digest)
    finally:
        for store in stores:
            store.close()


def _race(open_one: object) -> None:
    """Two processes' stores commit against the same expected head: exactly one wins."""
    assert callable(open_one)
    stores: list[Store] = [open_one(), open_one()]
    stores[0].commit_registry([put("capability", "seed")], expect=0)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(store: Store, name: str) -> None:
        barrier.wait()
        try:
            store.commit_registry([put("capability", name)], expect=1)
            outcomes.append("won")
        except RegistryConflict as exc:
            outcomes.append(f"conflict at {exc.current}")

    threads = [threading.Thread(target=attempt, args=(s, n)) for s, n in zip(stores, "xy", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert sorted(outcomes) == ["conflict at 2", "won"]
        head = stores[1].registry_head()
        assert head is not None and head.number == 2
        assert len(current(stores[1])) == 2
    finally:
        for s in stores:
            s.close()


def test_two_sqlite_stores_on_one_file_never_both_win(tmp_path: Path) -> None:
    _race(lambda: open_store(f"sqlite:///{tmp_path / 'j.db'}"))


@pytest.mark.postgres
def test_two_postgres_stores_never_both_win() -> None:
    url = postgres_url()
    _race(lambda: open_store(url))


def test_a_seed_that_loses_the_race_compares_with_the_winner(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """`ido serve` started twice on one new store: both read "no registry", one seeds, the other's
    commit meets the winner's revision and compares with it instead of failing to start."""
    from ido.registry import seed
    from ido.workspace import Workspace

    url = f"sqlite:///{tmp_path / 'j.db'}"
    first, second = open_store(url), open_store(url)
    try:
        real = second.registry_snapshot
        reads: list[int | None] = []

        def stale_first_read(*, number: int | None = None) -> object:
            # the first read happened before the other process committed revision 1
            reads.append(number)
            return None if len(reads) == 1 else real(number=number)

        monkeypatch.setattr(second, "registry_snapshot", stale_first_read)
        assert seed(first, Workspace()).action == "seeded"
        assert seed(second, Workspace()).action == "unchanged"
        head = second.registry_head()
        assert head is not None and head.number == 1
    finally:
        first.close()
        second.close()
