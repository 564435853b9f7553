"""Admissible heuristics over a per-call task: h_max and LM-cut, both cached per state.

Called by `ido.planning.search`. Facts of the delete relaxation are
(variable, value index) pairs; a precondition entry that admits several
values (from `not`, `in`, `exists` matchers) is a disjunction, which LM-cut
handles through an auxiliary fact reached at cost 0 from each admitted value.
h_max is cheap and exact on chains of roles (the usual workspace); LM-cut
(Helmert & Domshlak 2009) is far more informed where sub-goals are
independent or interact (two branches, blocksworld, logistics), at a higher
cost per state. `Task.heuristic(kind, metric)` picks one.

The task and its operators are typed here by what the heuristics read of them
(`RelaxedTask`, `RelaxedOp`), so this module needs nothing from the search
that calls it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from operator import add, attrgetter
from typing import Any, Protocol

INF = float("inf")
EPS = 1e-9


class RelaxedOp(Protocol):
    """What the heuristics read of one operator (`ido.planning.search.TaskOp` is one)."""

    @property
    def pre(self) -> tuple[tuple[int, frozenset[int]], ...]: ...
    @property
    def eff(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def score(self) -> float: ...
    @property
    def cost(self) -> float: ...
    @property
    def risk(self) -> float: ...
    @property
    def latency(self) -> float: ...


class RelaxedTask(Protocol):
    """What the heuristics read of a task (`ido.planning.search.Task` is one): domain sizes,
    goal, operators, and `shared`, where they keep what the task's structure alone determines."""

    @property
    def domains(self) -> list[int]: ...
    @property
    def goal(self) -> tuple[tuple[int, frozenset[int]], ...]: ...
    @property
    def ops(self) -> Sequence[RelaxedOp]: ...
    @property
    def shared(self) -> dict[str, Any]: ...


def weight(op: RelaxedOp, metric: str) -> float:
    """Return an operator's action cost under `metric` (steps: 1)."""
    if metric == "score":
        return op.score
    if metric == "cost":
        return op.cost
    if metric == "risk":
        return op.risk
    if metric == "latency":
        return op.latency
    return 1.0


def weights(ops: Sequence[RelaxedOp], metric: str) -> list[float]:
    """Return every operator's `weight` under `metric`, in order (one attribute read each)."""
    if metric in ("score", "cost", "risk", "latency"):
        return list(map(attrgetter(metric), ops))
    return [1.0] * len(ops)


class _HMaxGraph:
    """h_max's fact graph of a task's structure; shared by every `HMax` of tasks with the same
    structure, never changed after building."""

    def __init__(self, task: RelaxedTask) -> None:
        offsets = [0]
        for size in task.domains:
            offsets.append(offsets[-1] + size)
        self.offsets = offsets
        self.n_facts = offsets[-1]
        # Per fact, the ops (the goal is op n_ops) with a precondition entry it satisfies. An entry
        # that admits one value is met exactly once (each fact is settled once): its ops are in
        # `triggers`. An entry admitting several values (`not`, `in`, `exists`) is met by the first
        # of them settled: those are in `multi` with an entry id, checked against `done`.
        triggers: list[list[int]] = [[] for _ in range(self.n_facts)]
        multi: list[list[tuple[int, int]]] = [[] for _ in range(self.n_facts)]
        need: list[int] = []
        entry = 0
        all_pre = [op.pre for op in task.ops] + [task.goal]
        for o, pre in enumerate(all_pre):
            need.append(len(pre))
            for var, admits in pre:
                base = offsets[var]
                if len(admits) == 1:
                    for val in admits:
                        triggers[base + val].append(o)
                else:
                    for val in admits:
                        multi[base + val].append((entry, o))
                    entry += 1
        self.triggers = triggers
        self.multi = multi
        self.need = need
        self.n_entries = entry
        # Effects on facts no precondition (nor the goal) mentions change no count: leave them
        # out (a fact made false, such as `hand.empty: false`, usually is one).
        self.eff_facts = [
            tuple([f for v, val in op.eff if triggers[f := offsets[v] + val] or multi[f]]) for op in task.ops
        ]
        self.free_ops = [o for o, op in enumerate(task.ops) if not op.pre]


class HMax:
    """h_max over the task's delete relaxation, for one metric: a Dijkstra over facts."""

    def __init__(self, task: RelaxedTask, metric: str) -> None:
        # the fact graph depends on the task's structure only: shared like LM-cut's
        graph = task.shared.get("hmax")
        if graph is None:
            graph = task.shared["hmax"] = _HMaxGraph(task)
        self.offsets = graph.offsets
        self.n_facts = graph.n_facts
        self.triggers = graph.triggers
        self.multi = graph.multi
        self.has_multi = graph.n_entries > 0
        self.need = graph.need
        self.n_entries = graph.n_entries
        self.goal_op = len(task.ops)
        self.eff_facts = graph.eff_facts
        self.free_ops = graph.free_ops
        self.weights = weights(task.ops, metric)
        # Every action costing the same w > 0 (unit costs, the `steps` metric): Dijkstra's
        # queue degenerates to layers w apart, walked breadth-first without a heap.
        uniform = set(self.weights)
        self.uniform = uniform.pop() if len(uniform) == 1 and self.weights[0] > 0.0 else None
        self.cache: dict[tuple[int, ...], float] = {}

    def __call__(self, state: tuple[int, ...]) -> float:
        cached = self.cache.get(state)
        if cached is not None:
            return cached
        value = self._compute(state) if self.uniform is None else self._compute_layers(state, self.uniform)
        if len(self.cache) > 200_000:
            self.cache.clear()
        self.cache[state] = value
        return value

    def child_bound(self, state: tuple[int, ...], h: float, position: int, action_cost: float) -> float:
        """Return a lower bound on h_max of a child of `state` (of value `h`) reached by an op of
        `action_cost`: h_max is consistent, so it falls by at most the action's cost."""
        bound = h - action_cost
        return bound if bound > 0.0 else 0.0

    def _compute(self, state: tuple[int, ...]) -> float:
        if self.need[self.goal_op] == 0:
            return 0.0
        dist = [INF] * self.n_facts
        offsets = self.offsets
        # Facts at distance 0 (the state's, and what zero-cost ops reach from them) need no
        # priority queue: a plain stack settles them before anything the heap holds.
        zero = [offsets[var] + val for var, val in enumerate(state)]
        for f in zero:
            dist[f] = 0.0
        heap: list[tuple[float, int]] = []
        weights = self.weights
        eff_facts = self.eff_facts
        push = heapq.heappush
        for o in self.free_ops:
            c = weights[o]
            for f in eff_facts[o]:
                if c < dist[f]:
                    dist[f] = c
                    if c == 0.0:
                        zero.append(f)
                    else:
                        push(heap, (c, f))
        need = self.need[:]
        triggers = self.triggers
        goal_op = self.goal_op
        pop = heapq.heappop
        multi = self.multi if self.has_multi else None
        done = bytearray(self.n_entries)
        while zero or heap:
            if zero:
                f = zero.pop()
                d = 0.0
            else:
                d, f = pop(heap)
                if d > dist[f]:
                    continue
            fired = triggers[f]
            if multi is not None and multi[f]:
                fired = list(fired)
                for entry, o in multi[f]:
                    if not done[entry]:
                        done[entry] = 1
                        fired.append(o)
            for o in fired:
                left = need[o] - 1
                need[o] = left
                if left == 0:
                    if o == goal_op:
                        return d
                    c = d + weights[o]
                    for g in eff_facts[o]:
                        if c < dist[g]:
                            dist[g] = c
                            if c == 0.0:
                                zero.append(g)
                            else:
                                push(heap, (c, g))
        return INF

    def _compute_layers(self, state: tuple[int, ...], w: float) -> float:
        """Return `_compute(state)` when every action costs `w`: fact distances are multiples of
        `w`, so the facts are settled layer by layer in first-reached order."""
        if self.need[self.goal_op] == 0:
            return 0.0
        seen = bytearray(self.n_facts)
        layer = list(map(add, self.offsets, state))  # the state's facts (offsets has one more)
        for f in layer:
            seen[f] = 1
        eff_facts = self.eff_facts
        following: list[int] = []
        for o in self.free_ops:
            for g in eff_facts[o]:
                if not seen[g]:
                    seen[g] = 1
                    following.append(g)
        need = self.need[:]
        triggers = self.triggers
        goal_op = self.goal_op
        multi = self.multi if self.has_multi else None
        done = bytearray(self.n_entries)
        depth = 0
        while layer:
            for f in layer:
                fired = triggers[f]
                if multi is not None and multi[f]:
                    fired = list(fired)
                    for entry, o in multi[f]:
                        if not done[entry]:
                            done[entry] = 1
                            fired.append(o)
                for o in fired:
                    left = need[o] - 1
                    need[o] = left
                    if left == 0:
                        if o == goal_op:
                            return depth * w
                        for g in eff_facts[o]:
                            if not seen[g]:
                                seen[g] = 1
                                following.append(g)
            layer, following = following, []
            depth += 1
        return INF


class _LMCutGraph:
    """LM-cut's fact graph of a task's structure: facts (values, auxiliary facts for entries
    admitting several values, init, goal), operators' precondition and effect facts, indices.
    Shared by every `LMCut` of tasks with the same structure; never changed after building."""

    def __init__(self, task: RelaxedTask) -> None:
        offsets = [0]
        for size in task.domains:
            offsets.append(offsets[-1] + size)
        self.offsets = offsets
        n = offsets[-1]
        aux: dict[tuple[int, frozenset[int]], int] = {}
        pre: list[tuple[int, ...]] = []
        eff: list[tuple[int, ...]] = []
        extra: list[tuple[int, int]] = []  # (value fact, aux fact): zero-cost links

        def entry_fact(var: int, admits: frozenset[int]) -> int | None:
            nonlocal n
            if not admits:
                return None
            if len(admits) == 1:
                return offsets[var] + next(iter(admits))
            key = (var, admits)
            if key not in aux:
                aux[key] = n
                extra.extend((offsets[var] + v, n) for v in sorted(admits))
                n += 1
            return aux[key]

        entries = [op.pre for op in task.ops] + [task.goal]
        facts_of: list[tuple[int, ...] | None] = []
        for conds in entries:
            found = [entry_fact(var, admits) for var, admits in conds]
            known = [i for i in found if i is not None]
            facts_of.append(None if len(known) < len(found) else tuple(sorted(set(known))))
        n_init = n
        n_goal = n + 1
        n += 2
        internal: list[int] = []  # internal op -> position in task.ops
        for o, op in enumerate(task.ops):
            ids = facts_of[o]
            if ids is None:
                continue  # a precondition no value admits: never applicable
            internal.append(o)
            pre.append(ids or (n_init,))
            eff.append(tuple([offsets[v] + val for v, val in op.eff]))
        goal_ids = facts_of[-1]
        self.unreachable_goal = goal_ids is None
        pre.append(goal_ids or (n_init,))
        eff.append((n_goal,))
        for value_fact, aux_fact in extra:
            pre.append((value_fact,))
            eff.append((aux_fact,))
        # an effect on a fact no precondition reads (nor the goal) changes no operator's h_max
        # and cannot be in a cut's goal zone: leave it out of the propagation
        consumed = bytearray(n)
        consumed[n_goal] = 1
        for p in pre:
            for f in p:
                consumed[f] = 1
        eff = [tuple([f for f in e if consumed[f]]) for e in eff]
        self.n_facts = n
        self.init_fact = n_init
        self.goal_fact = n_goal
        self.pre = pre
        self.eff = eff
        self.n_pre = [len(p) for p in pre]
        self.pre_of: list[list[int]] = [[] for _ in range(n)]
        self.achievers: list[list[int]] = [[] for _ in range(n)]
        for o, (p, e) in enumerate(zip(pre, eff, strict=True)):
            for f in p:
                self.pre_of[f].append(o)
            for f in e:
                self.achievers[f].append(o)
        self.internal = internal


class LMCut:
    """LM-cut over the task's delete relaxation for one metric (admissible, >= h_max)."""

    def __init__(self, task: RelaxedTask, metric: str) -> None:
        # The fact graph depends on the task's structure only, not on its numbers: tasks that
        # differ only in costs (the engine's calls as health changes) share it (`Task.shared`).
        structure = task.shared.get("lmcut")
        if structure is None:
            structure = task.shared["lmcut"] = _LMCutGraph(task)
        self.offsets = structure.offsets
        self.unreachable_goal = structure.unreachable_goal
        self.n_facts = structure.n_facts
        self.init_fact = structure.init_fact
        self.goal_fact = structure.goal_fact
        self.pre = structure.pre
        self.eff = structure.eff
        self.n_pre = structure.n_pre
        self.pre_of = structure.pre_of
        self.achievers = structure.achievers
        self.internal = structure.internal
        ops = task.ops
        # the task's ops that can apply, then the goal op and the auxiliary links (cost 0)
        per_op = weights(ops, metric)
        self.cost = [per_op[o] for o in self.internal] + [0.0] * (len(self.pre) - len(self.internal))
        self.cache: dict[tuple[int, ...], float] = {}
        #: state -> {task op position: summed cost of the landmarks found there that contain it}
        self.shares: dict[tuple[int, ...], dict[int, float]] = {}

    def __call__(self, state: tuple[int, ...]) -> float:
        cached = self.cache.get(state)
        if cached is not None:
            return cached
        value = INF if self.unreachable_goal else self._compute(state)
        if len(self.cache) > 200_000:
            self.cache.clear()
            self.shares.clear()
        self.cache[state] = value
        return value

    def child_bound(self, state: tuple[int, ...], h: float, position: int, action_cost: float) -> float:
        """Return a lower bound on h of the state reached from `state` (of value `h`) by the op at
        `position`: the landmarks found for `state` that do not contain that op still hold there
        (any plan from the child, prefixed with the op, is a plan from `state`)."""
        shares = self.shares.get(state)
        bound = h - action_cost if shares is None else h - shares.get(position, 0.0)
        return bound if bound > 0.0 else 0.0

    def _compute(self, state: tuple[int, ...]) -> float:
        offsets = self.offsets
        sources = [self.init_fact] + [offsets[v] + val for v, val in enumerate(state)]
        cost = self.cost[:]
        goal = self.goal_fact
        achievers = self.achievers
        eff = self.eff
        pre = self.pre
        pre_of = self.pre_of
        n_facts = self.n_facts
        dist, pc, opdist = self._hmax(sources, cost)
        if dist[goal] == INF:
            return INF
        n_ops = len(pre)
        # ops by precondition choice; entries go stale when a choice moves (checked on use)
        by_pc: list[list[int]] = [[] for _ in range(n_facts)]
        for o, p in enumerate(pc):
            if p >= 0:
                by_pc[p].append(o)
        total = 0.0
        share: dict[int, float] = {}
        push = heapq.heappush
        pop = heapq.heappop
        while dist[goal] > EPS:
            # goal zone: facts from which the goal is reached along zero-cost justifications
            zone = bytearray(n_facts)
            zone[goal] = 1
            stack = [goal]
            while stack:
                f = stack.pop()
                for o in achievers[f]:
                    p = pc[o]
                    if p >= 0 and cost[o] <= EPS and not zone[p]:
                        zone[p] = 1
                        stack.append(p)
            # `seen` starts as a copy of the zone: a fact in the zone is never explored
            seen = bytearray(zone)
            stack = []
            for s in sources:
                if not seen[s]:
                    seen[s] = 1
                    stack.append(s)
            in_cut = bytearray(n_ops)
            cut: list[int] = []
            while stack:
                f = stack.pop()
                for o in by_pc[f]:
                    if pc[o] != f:
                        continue
                    for e in eff[o]:
                        if not seen[e]:
                            seen[e] = 1
                            stack.append(e)
                        elif zone[e] and not in_cut[o]:
                            in_cut[o] = 1
                            cut.append(o)
            if not cut:
                break  # cannot happen for a finite positive h_max; stay admissible
            m = min([cost[o] for o in cut])
            total += m
            for o in cut:
                share[o] = share.get(o, 0.0) + m
            # h_max after the cut ops got cheaper: values only fall, so propagate the
            # decrease from the cut ops' effects (incremental, as Fast Downward does)
            heap: list[tuple[float, int]] = []
            for o in cut:
                cost[o] -= m
                c = opdist[o] + cost[o]
                for e in eff[o]:
                    if c < dist[e] - EPS:
                        dist[e] = c
                        push(heap, (c, e))
            while heap:
                d, f = pop(heap)
                if d > dist[f]:
                    continue
                for o in pre_of[f]:
                    if pc[o] != f:
                        continue  # its costliest precondition is another fact: no change
                    best = -1.0
                    best_fact = f
                    for q in pre[o]:
                        if dist[q] > best:
                            best = dist[q]
                            best_fact = q
                    if best_fact != f:
                        by_pc[best_fact].append(o)
                        pc[o] = best_fact
                    if best < opdist[o]:
                        opdist[o] = best
                        c = best + cost[o]
                        for e in eff[o]:
                            if c < dist[e] - EPS:
                                dist[e] = c
                                push(heap, (c, e))
        n_task = len(self.internal)
        self.shares[state] = {self.internal[o]: v for o, v in share.items() if o < n_task}
        return total

    def _hmax(self, sources: list[int], cost: list[float]) -> tuple[list[float], list[int], list[float]]:
        """Return h_max of every fact, each operator's precondition choice (-1: unreached)
        and its h_max (the cost of that costliest precondition)."""
        n = self.n_facts
        dist = [INF] * n
        done = bytearray(n)
        heap = []
        for s in sources:
            dist[s] = 0.0
            heap.append((0.0, s))
        heapq.heapify(heap)
        need = self.n_pre[:]
        pc = [-1] * len(self.pre)
        opdist = [INF] * len(self.pre)
        pre_of = self.pre_of
        eff = self.eff
        pop = heapq.heappop
        push = heapq.heappush
        while heap:
            d, f = pop(heap)
            if done[f]:
                continue
            done[f] = 1
            for o in pre_of[f]:
                need[o] -= 1
                if need[o] == 0:
                    pc[o] = f  # facts pop in order of h_max: the last one is the costliest
                    opdist[o] = d
                    c = d + cost[o]
                    for e in eff[o]:
                        if c < dist[e]:
                            dist[e] = c
                            push(heap, (c, e))
        return dist, pc, opdist


HEURISTICS = {"hmax": HMax, "lmcut": LMCut}
