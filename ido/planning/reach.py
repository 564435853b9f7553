"""Lower bounds, without search, on any plan that uses a given operator.

Called by `ido.planning.reasons` to judge alternatives within a bounded cost:
`reach_costs(task, init, metric)` runs one Dijkstra over the facts of the
delete relaxation (h_max) from the call's initial state and returns, per
operator, the least metric value at which all its preconditions can hold.
Any plan that uses operator `o` first makes `o` applicable and then pays for
`o`, so `reach[o] + weight(o)` bounds from below its cost, risk, step count
and (with latencies as weights) its critical path: every causal chain of a
plan is a path of its partial order. One pass serves every alternative of a
call; `INF` means no plan can ever use the operator.
"""

from __future__ import annotations

import heapq
from typing import Any

from ido.planning.heuristics import INF, RelaxedTask, weights


def reach_costs(task: RelaxedTask, init: tuple[int, ...], metric: str) -> list[float]:
    """Return, per operator position of `task`, the h_max value of its preconditions from `init`
    under `metric` (INF: unreachable even with deletes ignored)."""
    index = _index(task)
    offsets, by_fact, entries_of = index["offsets"], index["by_fact"], index["entries_of"]
    ops = task.ops
    w = weights(ops, metric)
    n_facts = offsets[-1]
    dist = [INF] * n_facts
    heap: list[tuple[float, int]] = []
    for var, val in enumerate(init):
        f = offsets[var] + val
        dist[f] = 0.0
        heap.append((0.0, f))
    heapq.heapify(heap)
    need = list(entries_of)
    reach = [INF] * len(ops)
    met = bytearray(index["n_entries"])
    for o, count in enumerate(need):
        if count == 0:
            reach[o] = 0.0
            _relax(ops[o].eff, offsets, w[o], dist, heap)
    while heap:
        d, f = heapq.heappop(heap)
        if d > dist[f]:
            continue
        for entry, o in by_fact[f]:
            if met[entry]:
                continue  # an entry admitting several values is met by the first one settled
            met[entry] = 1
            need[o] -= 1
            if need[o] == 0:
                reach[o] = d
                _relax(ops[o].eff, offsets, d + w[o], dist, heap)
    return reach


def _relax(eff: Any, offsets: list[int], c: float, dist: list[float], heap: list[tuple[float, int]]) -> None:
    for var, val in eff:
        g = offsets[var] + val
        if c < dist[g]:
            dist[g] = c
            heapq.heappush(heap, (c, g))


def _index(task: RelaxedTask) -> dict[str, Any]:
    """Return the fact -> (precondition entry, operator) index of `task`'s structure, built once
    and kept in `task.shared` (tasks that differ only in their numbers share it)."""
    index: dict[str, Any] | None = task.shared.get("reach")
    if index is not None:
        return index
    offsets = [0]
    for size in task.domains:
        offsets.append(offsets[-1] + size)
    by_fact: list[list[tuple[int, int]]] = [[] for _ in range(offsets[-1])]
    entries_of: list[int] = []
    entry = 0
    for o, op in enumerate(task.ops):
        entries_of.append(len(op.pre))
        for var, admits in op.pre:
            for val in admits:
                if val < task.domains[var]:
                    by_fact[offsets[var] + val].append((entry, o))
            entry += 1
    index = {"offsets": offsets, "by_fact": by_fact, "entries_of": entries_of, "n_entries": entry}
    task.shared["reach"] = index
    return index
