"""`ido.gc_tuning.fewer_gc_passes`: thresholds while entered, restored after; freezing once, undone once."""

from __future__ import annotations

import gc

import pytest

from ido.gc_tuning import THRESHOLDS, fewer_gc_passes


def test_thresholds_inside_and_the_callers_restored_after() -> None:
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    try:
        with fewer_gc_passes():
            assert gc.get_threshold() == THRESHOLDS
        assert gc.get_threshold() == (1234, 5, 6)
    finally:
        gc.set_threshold(*before)


def test_restored_when_the_block_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_gc_passes(freeze=True):
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_freeze_holds_until_the_outermost_block_exits() -> None:
    assert gc.get_freeze_count() == 0
    alive = [object() for _ in range(10)]  # noqa: F841 - objects alive at entry are frozen
    with fewer_gc_passes(freeze=True):
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with fewer_gc_passes(freeze=True):  # nested: nothing more frozen, nothing thawed at its exit
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() == 0


def test_cycles_are_still_collected_inside() -> None:
    class Node:
        other: object = None

    with fewer_gc_passes(freeze=True):
        import weakref

        a, b = Node(), Node()
        a.other, b.other = b, a
        ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is None
