"""Seeding, reseeding and exporting keep the declarations exactly (hypothesis over subsets of the demo)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ido.journal import MemoryStore
from ido.loading import load_workspace
from ido.registry import export, seed, workspace_of
from ido.workspace import KINDS, Workspace

ROOT = Path(__file__).resolve().parents[2]
DEMO = load_workspace(ROOT)
ALL = sorted((kind, name) for kind in KINDS.values() for name in DEMO.table(kind))


def subset(keep: frozenset[tuple[str, str]]) -> Workspace:
    ws = Workspace(ROOT)
    for kind, name in keep:
        ws.table(kind)[name] = DEMO.table(kind)[name]
    return ws


def tables(ws: Workspace) -> dict[str, dict[str, object]]:
    return {kind: dict(ws.table(kind)) for kind in KINDS.values()}


@settings(max_examples=25, deadline=None)
@given(first=st.frozensets(st.sampled_from(ALL)), second=st.frozensets(st.sampled_from(ALL)))
def test_reseed_makes_the_registry_the_folder_and_export_reads_back_the_same(
    first: frozenset[tuple[str, str]], second: frozenset[tuple[str, str]],
) -> None:
    store = MemoryStore()
    assert seed(store, subset(first)).action == "seeded"
    kept = seed(store, subset(second))
    assert kept.action == ("unchanged" if first == second else "kept")
    assert len(kept.differences) == len(first ^ second)  # declarations in both are never reported
    snapshot = store.registry_snapshot()
    assert snapshot is not None and tables(workspace_of(snapshot)) == tables(subset(first))
    report = seed(store, subset(second), reseed=True)
    snapshot = store.registry_snapshot()
    assert snapshot is not None and tables(workspace_of(snapshot)) == tables(subset(second))
    assert report.head.number == (1 if first == second else 2)
    with tempfile.TemporaryDirectory() as tmp:
        export(workspace_of(snapshot), Path(tmp))
        assert tables(load_workspace(Path(tmp), checks=False)) == tables(subset(second))
