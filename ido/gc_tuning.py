"""How a process that hosts an engine sets Python's cyclic garbage collector while runs are live.

An engine with runs in flight allocates many short-lived containers (events,
records, snapshots) and keeps a large, long-lived heap (modules, models, the
workspace, plans). With the default thresholds (700, 10, 10) the young
generation is collected every few hundred allocations and the full heap every
hundred-odd young collections: a tenth of a worker's CPU per run, and a third
of a simulation's wall time, went to collections that found almost nothing.

`fewer_gc_passes()` collects less often while it is entered, and with
`freeze=True` moves what exists at entry (what start-up loaded) out of the
collector's sight, as servers that preload do (`gc.freeze`). Reference
counting still frees nearly everything at once; only cycles wait longer.
Entered by `ido.simulation.runner.simulate` and by the commands that drive
runs (`ido worker`, `ido resume`, `ido cancel`, `ido run`), which own
their process; a library embedding the engine may enter it too.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: young collections after 50,000 net allocations (not 700); the older generations as rarely.
THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_depth = 0
_before: tuple[int, int, int] | None = None
_frozen = False


@contextlib.contextmanager
def fewer_gc_passes(*, freeze: bool = False) -> Iterator[None]:
    """Collect less often (`THRESHOLDS`) inside the block; restore the previous thresholds after.

    `freeze`: the objects alive at entry are frozen (never traversed again) until
    the outermost block exits. Nested blocks change nothing more.
    """
    global _depth, _before, _frozen
    with _lock:
        _depth += 1
        if _depth == 1:
            _before = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
        if freeze and not _frozen:
            gc.collect()  # what start-up left as garbage is not frozen with the rest
            gc.freeze()
            _frozen = True
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if _before is not None:
                    gc.set_threshold(*_before)
                _before = None
                if _frozen:
                    gc.unfreeze()
                    _frozen = False
