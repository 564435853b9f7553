"""The public face of ido.planning: a sorted `__all__` whose names all import."""

from __future__ import annotations

import ido.planning as planning


def test_all_is_sorted_and_importable() -> None:
    """`__all__` lists classes then functions, each alphabetically, and every name exists."""
    names = planning.__all__
    assert names == sorted(names, key=lambda n: (n[0].islower(), n))
    assert all(hasattr(planning, n) for n in names)
