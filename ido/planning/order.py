"""The partial order of a plan: which steps wait for which, and its critical path.

Called by the planner on the sequence A* found. Step j waits for step i < j when
i is the last writer before j of a variable j reads (a causal link: j relies on
what i produced) or writes (j would otherwise clobber i's effect, or i would
clobber j's), or when i read a variable j writes since its last write (j
threatens what i needed). Every linearization of the resulting DAG therefore
gives each step the same values to read as the sequence did, so any order the
engine picks among ready steps is valid. `after` holds the direct predecessors
(the transitive reduction); `latency_s` is the critical path (step latencies
summed along the longest chain), the same semantics the search bounds with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # networkx loads only when a plan graph is asked for (`--dot`)
    import networkx as nx


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A plan's order: direct predecessors per step, earliest start/finish, critical path."""

    after: list[list[int]]
    start: list[float]
    finish: list[float]
    latency: float


def schedule(
    reads: Sequence[frozenset[int]],
    writes: Sequence[frozenset[int]],
    latencies: Sequence[float],
) -> Scheduled:
    """Return the partial order of a step sequence given each step's read/write variables."""
    last_writer: dict[int, int] = {}
    readers: dict[int, list[int]] = {}
    preds: list[set[int]] = []
    for j, (r, w) in enumerate(zip(reads, writes, strict=True)):
        p: set[int] = set()
        for var in r | w:
            if var in last_writer:
                p.add(last_writer[var])
        for var in w:
            p.update(readers.get(var, ()))
        p.discard(j)
        preds.append(p)
        for var in r - w:
            readers.setdefault(var, []).append(j)
        for var in w:
            last_writer[var] = j
            readers[var] = []
    ancestors: list[set[int]] = []
    after: list[list[int]] = []
    start: list[float] = []
    finish: list[float] = []
    for j, p in enumerate(preds):
        covered: set[int] = set()
        for i in p:
            covered |= ancestors[i]
        after.append(sorted(p - covered))
        ancestors.append(covered | p)
        begin = max((finish[i] for i in p), default=0.0)
        start.append(begin)
        finish.append(begin + latencies[j])
    return Scheduled(after, start, finish, max(finish, default=0.0))


def plan_graph(steps: Sequence[tuple[str, Sequence[int]]]) -> nx.DiGraph:
    """Return the plan as a networkx DiGraph: node i (label = capability) -> its waiters."""
    import networkx as nx

    graph = nx.DiGraph()
    for i, (name, _) in enumerate(steps):
        graph.add_node(i, label=name)
    for i, (_, after) in enumerate(steps):
        for a in after:
            graph.add_edge(a, i)
    return graph


def to_dot(
    intent: str,
    steps: Sequence[tuple[str, str, Sequence[int], float, float]],
) -> str:
    """Return Graphviz DOT for steps given as (capability, provides, after, cost, latency_s)."""
    graph = plan_graph([(name, after) for name, _, after, _, _ in steps])
    lines = [f"digraph {_quote(intent)} {{", "  rankdir=LR;", "  node [shape=box];"]
    for i, (name, provides, _, cost, latency) in enumerate(steps):
        label = f"{i}: {name}\\n{provides} · cost {cost:g} · {latency:g}s"
        lines.append(f"  s{i} [label={_quote(label)}];")
    for a, b in sorted(graph.edges):
        lines.append(f"  s{a} -> s{b};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'
