"""A* over a per-call integer task, with resources as hard bounds and dominance pruning.

Called by `ido.planning.planner` (the plan, the alternatives, the blockers).
A node is a state (a tuple of value indices over the call's relevant
variables) with a *label*: the metric so far `g`, then the resources the call
bounds (cost, risk = sum of -ln p, steps, per-capability uses, and the timing
vector that yields the critical path). A label is discarded when another label
of the same state is no worse in every component (dominance), so the search is
exact under the bounds: the first goal node popped is optimal among plans
whose resources stay within them.

Metrics: `score` (the intent objective, per-step action costs clamped at >= 0
because A* needs non-negative costs), `cost`, `risk`, `steps` (additive), and
`latency`: the critical path of the partial order, which is not additive; it
is searched with g = makespan so far and f = max(g, h_max over latencies),
still admissible because every causal chain of the remaining plan is a path
of the partial order.

Latency semantics (the same as `ido.planning.order`): a step starts when the
last writer of every variable it reads or writes has finished, and when every
step that read a variable it writes (since that variable's last write) has
finished. Timing per variable: `wf` (finish of its last writer) and `rf`
(latest finish of a reader since then).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ido.planning.heuristics import HEURISTICS, weight
from ido.planning.heuristics import weights as weights_of  # `weights` names a local below

if TYPE_CHECKING:
    from ido.planning.slack import Slack

INF = float("inf")
EPS = 1e-9


@dataclass(slots=True)
class TaskOp:
    """One operator of a per-call task (local variable indices) with its per-call numbers."""

    index: int  # the registry operator index
    name: str
    pre: tuple[tuple[int, frozenset[int]], ...]
    eff: tuple[tuple[int, int], ...]
    score: float
    cost: float
    risk: float
    latency: float
    reads_only: tuple[int, ...]
    writes: tuple[int, ...]
    waits: tuple[int, ...]  # reads | writes


@dataclass(slots=True)
class Task:
    """A per-call planning task: local variables, their domain sizes, goal, operators.

    Tasks are cached by the planner across calls with the same candidates and
    numbers, so their h_max caches (keyed by state) carry over between calls.
    """

    domains: list[int]
    goal: tuple[tuple[int, frozenset[int]], ...]
    ops: list[TaskOp]
    _heuristics: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: what heuristics derive from the structure alone (not the numbers), shared by the
    #: planner between tasks that differ only in their operators' numbers
    shared: dict[str, Any] = field(default_factory=dict)
    _successors: tuple[list[int], list[tuple[int, list[list[int]]]]] | None = None

    def successor_index(self) -> tuple[list[int], list[tuple[int, list[list[int]]]]]:
        """Return (positions of ops without preconditions, [(var, value -> positions)]): each op
        listed under every value its first precondition admits, so expanding a state looks at the
        ops whose first precondition holds instead of at every op. Cached."""
        if self._successors is None:
            free: list[int] = []
            tables: dict[int, list[list[int]]] = {}
            for pos, op in enumerate(self.ops):
                if not op.pre:
                    free.append(pos)
                    continue
                var, admits = op.pre[0]
                table = tables.get(var)
                if table is None:
                    table = tables[var] = [[] for _ in range(self.domains[var])]
                for val in admits:
                    if val < len(table):
                        table[val].append(pos)
            self._successors = (free, sorted(tables.items()))
        return self._successors

    def hmax(self, metric: str) -> Any:
        """Return the (cached) h_max evaluator of this task for `metric`."""
        return self.heuristic("hmax", metric)

    def heuristic(self, kind: str, metric: str) -> Any:
        """Return the (cached) evaluator `kind` (hmax or lmcut) of this task for `metric`."""
        key = (kind, metric)
        h = self._heuristics.get(key)
        if h is None:
            h = self._heuristics[key] = HEURISTICS[kind](self, metric)
        return h


@dataclass(frozen=True, slots=True)
class Bounds:
    """Hard upper bounds on the remaining plan (None: unbounded)."""

    cost: float | None = None
    risk: float | None = None
    steps: int | None = None
    makespan: float | None = None
    #: registry operator index -> how many more calls a limit policy allows.
    uses: dict[int, int] | None = None


@dataclass(slots=True)
class Found:
    """A solution: operator positions in `Task.ops`, its metric value, and the search effort."""

    ops: list[int]
    value: float
    expanded: int
    generated: int
    #: the search had no resource bounds: `value` is the unconstrained optimum.
    unbounded: bool = False
    #: heuristic evaluations (LM-cut's cost most of a search's time): with `expanded`, its work.
    evaluated: int = 0


@dataclass(slots=True)
class Failed:
    """No plan within the bounds (or the node limit was hit: `exhausted` is False then)."""

    expanded: int
    generated: int
    exhausted: bool = True
    evaluated: int = 0


def goal_holds(task: Task, state: tuple[int, ...]) -> bool:
    """Return whether every goal entry admits its variable's value in `state`."""
    return all(state[var] in admits for var, admits in task.goal)


def astar(
    task: Task,
    init: tuple[int, ...],
    bounds: Bounds,
    metric: str = "score",
    max_nodes: int = 300_000,
    heuristic: str = "hmax",
    max_work: int | None = None,
) -> Found | Failed:
    """Return the plan minimising `metric` among plans within `bounds`, or `Failed`.

    Gives up (`Failed` not `exhausted`) past `max_nodes` expansions or, given
    `max_work`, past that many expansions and heuristic evaluations together.

    Deterministic: successors are generated in the order of `task.ops` (sorted
    by capability name) and equal f-values pop first-in-first-out, so among
    equally good plans the one reached through the earlier names wins.
    """
    ops = task.ops
    n = len(task.domains)
    track_cost = bounds.cost is not None or metric == "cost"
    track_risk = bounds.risk is not None or metric == "risk"
    track_steps = bounds.steps is not None or metric == "steps"
    track_time = bounds.makespan is not None or metric == "latency"
    limited = sorted(bounds.uses) if bounds.uses else []
    limited_pos = {op_index: i for i, op_index in enumerate(limited)}
    cap_cost = bounds.cost if bounds.cost is not None else INF
    cap_risk = bounds.risk if bounds.risk is not None else INF
    cap_steps = bounds.steps if bounds.steps is not None else 1 << 30
    cap_time = bounds.makespan if bounds.makespan is not None else INF
    unbounded = (
        bounds.cost is None and bounds.risk is None and bounds.steps is None
        and bounds.makespan is None and not limited
    )
    # latency is a max, not a sum: LM-cut's additive bound does not hold for it
    h = task.heuristic("hmax" if metric == "latency" else heuristic, metric)
    # Admissible bounds on what the rest of a plan must still use: prune a label whose
    # resource so far plus that lower bound already breaks the bound.
    prune = [
        (i, task.hmax(m), cap)
        for i, m, cap in ((1, "cost", cap_cost), (2, "risk", cap_risk))
        if cap != INF and m != metric
    ]
    latency_metric = metric == "latency"
    # LM-cut costs far more per state than h_max: evaluate it when a node is popped, not
    # when generated (most generated nodes are never popped). Until then the node's key
    # uses the parent's landmarks that do not contain the action (`LMCut.child_bound`),
    # a lower bound on the child's LM-cut value and on its h*. (Lazy h_max measured slower:
    # its bound re-pushes most nodes, and an evaluation costs little more than a push.)
    lazy = heuristic == "lmcut" and not latency_metric

    h0 = h(init)
    if h0 == INF:
        return Failed(0, 0, evaluated=1)
    work_limit = _UNLIMITED if max_work is None else max_work
    if not (track_cost or track_risk or track_steps or track_time or limited):
        return _astar_plain(task, init, metric, max_nodes, h, h0, lazy, work_limit)
    free, tables = task.successor_index()
    # label: (g, cost, risk, steps, makespan, timing..., uses...)
    timing0 = (0.0,) * (2 * n) if track_time else ()
    uses0 = (0,) * len(limited)
    label0 = (0.0, 0.0, 0.0, 0, 0.0, *timing0, *uses0)
    # node: [state, label, parent node id, op position, alive, h (None: not yet evaluated)]
    nodes: list[list[object]] = [[init, label0, -1, -1, True, h0]]
    labels: dict[tuple[int, ...], list[int]] = {init: [0]}
    # heap entries: (f, -depth, 0 if h is evaluated else 1, g, id). Among equal f: the deepest
    # first (fewer expansions in the last f-layer); at one depth, evaluated nodes first, then
    # the cheapest (likeliest to keep f), then first-generated (capability-name order).
    heap: list[tuple[float, int, int, float, int]] = [(round(h0, 9), 0, 0, 0.0, 0)]
    expanded = 0
    evaluated = 1
    generated = 1
    n_t = 2 * n if track_time else 0
    while heap:
        key, neg_depth, _, _, node_id = heapq.heappop(heap)
        node = nodes[node_id]
        if not node[4]:
            continue
        state: tuple[int, ...] = node[0]  # type: ignore[assignment]
        label: tuple[float, ...] = node[1]  # type: ignore[assignment]
        if node[5] is None:
            if prune and any(label[i] + hr(state) > cap + EPS for i, hr, cap in prune):
                node[4] = False
                continue
            hv = h(state)
            evaluated += 1
            node[5] = hv
            if hv == INF:
                node[4] = False
                continue
            f = round(label[0] + hv, 9)
            if f > key:
                heapq.heappush(heap, (f, neg_depth, 0, round(label[0], 9), node_id))
                continue
        parent_h: float = node[5]  # type: ignore[assignment]
        if goal_holds(task, state):
            path: list[int] = []
            while node_id > 0:
                path.append(nodes[node_id][3])  # type: ignore[arg-type]
                node_id = nodes[node_id][2]  # type: ignore[assignment]
            path.reverse()
            return Found(path, label[0], expanded, generated, unbounded=unbounded, evaluated=evaluated)
        expanded += 1
        if expanded > max_nodes or expanded + evaluated > work_limit:
            return Failed(expanded, generated, exhausted=False, evaluated=evaluated)
        g, cost, risk, steps, makespan = label[0], label[1], label[2], label[3], label[4]
        timing = label[5:5 + n_t]
        uses = label[5 + n_t:]
        applicable = free[:]
        for var, table in tables:
            found = table[state[var]]
            if found:
                applicable += found
        if len(applicable) > 1:
            applicable.sort()  # task order (capability names): ties go to the earlier names
        for pos in applicable:
            op = ops[pos]
            ok = True
            for var, admits in op.pre:
                if state[var] not in admits:
                    ok = False
                    break
            if not ok:
                continue
            s = list(state)
            for var, val in op.eff:
                s[var] = val
            new_state = tuple(s)
            if new_state == state:
                continue  # changes nothing: never part of an optimal plan (costs >= 0)
            new_cost = cost + op.cost if track_cost else 0.0
            if new_cost > cap_cost + EPS:
                continue
            new_risk = risk + op.risk if track_risk else 0.0
            if new_risk > cap_risk + EPS:
                continue
            new_steps = steps + 1 if track_steps else 0
            if new_steps > cap_steps:
                continue
            new_uses = uses
            if limited:
                lp = limited_pos.get(op.index)
                if lp is not None:
                    if uses[lp] + 1 > bounds.uses[op.index]:  # type: ignore[index]
                        continue
                    u = list(uses)
                    u[lp] += 1
                    new_uses = tuple(u)
            new_timing = timing
            new_makespan = 0.0
            if track_time:
                t = list(timing)
                start = 0.0
                for var in op.waits:
                    if t[var] > start:
                        start = t[var]
                for var in op.writes:
                    if t[n + var] > start:
                        start = t[n + var]
                fin = start + op.latency
                for var in op.writes:
                    # rf := fin, not 0: the same start times (a later writer waits for
                    # wf anyway), but timing vectors only grow, so labels compare.
                    t[var] = fin
                    t[n + var] = fin
                for var in op.reads_only:
                    if fin > t[n + var]:
                        t[n + var] = fin
                new_timing = tuple(t)
                new_makespan = makespan if makespan > fin else fin
                if new_makespan > cap_time + EPS:
                    continue
            if lazy:
                hv = h.child_bound(state, parent_h, pos, weight(op, metric))
                known: float | None = None
            else:
                hv = h(new_state)
                evaluated += 1
                if hv == INF:
                    continue
                known = hv
            if prune and not lazy:  # lazy search: checked when the node is popped
                used = (0.0, new_cost, new_risk)
                if any(used[i] + hr(new_state) > cap + EPS for i, hr, cap in prune):
                    continue
            if metric == "cost" and new_cost + hv > cap_cost + EPS:
                continue
            if metric == "risk" and new_risk + hv > cap_risk + EPS:
                continue
            if latency_metric:
                new_g = new_makespan
                f = new_g if new_g > hv else hv
            else:
                new_g = g + weight(op, metric)
                f = new_g + hv
            new_label = (new_g, new_cost, new_risk, new_steps, new_makespan, *new_timing, *new_uses)
            existing = labels.get(new_state)
            if existing is not None:
                dominated = False
                keep: list[int] = []
                for other_id in existing:
                    other = nodes[other_id]
                    other_label: tuple[float, ...] = other[1]  # type: ignore[assignment]
                    if _dominates(other_label, new_label):
                        dominated = True
                        break
                    if _dominates(new_label, other_label):
                        other[4] = False
                    else:
                        keep.append(other_id)
                if dominated:
                    continue
                keep.append(len(nodes))
                labels[new_state] = keep
            else:
                labels[new_state] = [len(nodes)]
            nodes.append([new_state, new_label, node_id, pos, True, known])
            generated += 1
            heapq.heappush(
                heap, (round(f, 9), neg_depth - 1, 0 if known is not None else 1, round(new_g, 9), len(nodes) - 1)
            )
    return Failed(expanded, generated, evaluated=evaluated)


#: `max_work` when none is given: no search gets near it.
_UNLIMITED = 1 << 62


def _astar_plain(
    task: Task, init: tuple[int, ...], metric: str, max_nodes: int, h: Any, h0: float, lazy: bool,
    max_work: int = _UNLIMITED,
) -> Found | Failed:
    """Return `astar` when the label is g alone (no resource tracked: the unbounded search, which
    `bounded_astar` always runs first): one label per state, kept only while no path reaches the
    state at least as cheaply. The same nodes, in the same order, as the general loop, with
    parallel lists instead of label tuples and dominance checks."""
    ops = task.ops
    goal = task.goal
    free, tables = task.successor_index()
    weights = weights_of(ops, metric)
    pres = [op.pre for op in ops]
    effs = [op.eff for op in ops]
    states: list[tuple[int, ...]] = [init]
    gs: list[float] = [0.0]
    parents: list[int] = [-1]
    positions: list[int] = [-1]
    alive: list[bool] = [True]
    hs: list[float | None] = [h0]
    best: dict[tuple[int, ...], int] = {init: 0}
    heap: list[tuple[float, int, int, float, int]] = [(round(h0, 9), 0, 0, 0.0, 0)]
    pop = heapq.heappop
    push = heapq.heappush
    child_bound = h.child_bound if lazy else None
    expanded = 0
    evals = 1  # heuristic evaluations (`evaluated` names the heap entry's flag below)
    generated = 1
    while heap:
        key, neg_depth, _, _, node_id = pop(heap)
        if not alive[node_id]:
            continue
        state = states[node_id]
        g = gs[node_id]
        parent_h = hs[node_id]
        if parent_h is None:
            parent_h = h(state)
            evals += 1
            hs[node_id] = parent_h
            if parent_h == INF:
                alive[node_id] = False
                continue
            f = round(g + parent_h, 9)
            if f > key:
                push(heap, (f, neg_depth, 0, round(g, 9), node_id))
                continue
        for var, admits in goal:
            if state[var] not in admits:
                break
        else:
            path: list[int] = []
            while node_id > 0:
                path.append(positions[node_id])
                node_id = parents[node_id]
            path.reverse()
            return Found(path, g, expanded, generated, unbounded=True, evaluated=evals)
        expanded += 1
        if expanded > max_nodes or expanded + evals > max_work:
            return Failed(expanded, generated, exhausted=False, evaluated=evals)
        applicable = free[:]
        for var, table in tables:
            found = table[state[var]]
            if found:
                applicable += found
        if len(applicable) > 1:
            applicable.sort()
        child_depth = neg_depth - 1
        for pos in applicable:
            for var, admits in pres[pos]:
                if state[var] not in admits:
                    break
            else:
                s = list(state)
                for var, val in effs[pos]:
                    s[var] = val
                new_state = tuple(s)
                if new_state == state:
                    continue
                w = weights[pos]
                if child_bound is not None:
                    hv = child_bound(state, parent_h, pos, w)
                    evaluated = 1
                    known = None
                else:
                    hv = h(new_state)
                    evals += 1
                    if hv == INF:
                        continue
                    evaluated = 0
                    known = hv
                new_g = g + w
                other = best.get(new_state)
                if other is not None:
                    if gs[other] <= new_g + EPS:
                        continue  # reached at least as cheaply already
                    alive[other] = False
                new_id = len(states)
                best[new_state] = new_id
                states.append(new_state)
                gs.append(new_g)
                parents.append(node_id)
                positions.append(pos)
                alive.append(True)
                hs.append(known)
                generated += 1
                push(heap, (round(new_g + hv, 9), child_depth, evaluated, round(new_g, 9), new_id))
    return Failed(expanded, generated, evaluated=evals)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Return whether label `a` is no worse than `b` in every component."""
    # a plain loop: this is the search's innermost test, and faster than all(genexpr)
    for x, y in zip(a, b, strict=True):  # noqa: SIM110
        if x > y + EPS:
            return False
    return True


def relaxed_reachable(task: Task, init: tuple[int, ...]) -> list[set[int]]:
    """Return, per variable, the value indices reachable in the delete relaxation from `init`."""
    reached = [{val} for val in init]
    pending = task.ops
    changed = True
    while changed:
        changed = False
        rest = []
        for op in pending:
            for var, admits in op.pre:
                if reached[var].isdisjoint(admits):
                    rest.append(op)
                    break
            else:
                for var, val in op.eff:
                    values = reached[var]
                    if val not in values:
                        values.add(val)
                        changed = True
        pending = rest
    return reached


def measure(task: Task, path: Sequence[int]) -> Bounds:
    """Return what a path uses, as `Bounds`: cost, risk, steps, makespan and uses per operator."""
    n = len(task.domains)
    wf = [0.0] * n
    rf = [0.0] * n
    cost = risk = makespan = 0.0
    uses: dict[int, int] = {}
    for pos in path:
        op = task.ops[pos]
        cost += op.cost
        risk += op.risk
        uses[op.index] = uses.get(op.index, 0) + 1
        start = max([wf[v] for v in op.waits] + [rf[v] for v in op.writes], default=0.0)
        fin = start + op.latency
        for v in op.writes:
            wf[v] = rf[v] = fin
        for v in op.reads_only:
            rf[v] = max(rf[v], fin)
        makespan = max(makespan, fin)
    return Bounds(cost=cost, risk=risk, steps=len(path), makespan=makespan, uses=uses)


def within(used: Bounds, bounds: Bounds) -> bool:
    """Return whether what a path uses (from `measure`) stays within `bounds`."""
    pairs = ((used.cost, bounds.cost), (used.risk, bounds.risk), (used.makespan, bounds.makespan))
    if any(b is not None and u is not None and u > b + EPS for u, b in pairs):
        return False
    if bounds.steps is not None and (used.steps or 0) > bounds.steps:
        return False
    if bounds.uses and used.uses:
        return all(count <= bounds.uses.get(i, count) for i, count in used.uses.items())
    return True


def bounded_astar(
    task: Task,
    init: tuple[int, ...],
    bounds: Bounds,
    metric: str = "score",
    max_nodes: int = 300_000,
    heuristic: str = "hmax",
    max_work: int | None = None,
    slack: Slack | None = None,
) -> Found | Failed:
    """Return `astar` under `bounds`, trying the unbounded search first (`max_work` for them all).

    Resource labels weaken duplicate detection (a state is re-expanded for every
    non-dominated label; the timing vector of a deadline is the worst), so the
    unbounded optimum is computed first: when it stays within the bounds it is
    also the bounded optimum, the common case in the engine. Otherwise the first
    bound it breaks is added and the search repeated, until the answer keeps
    every bound (at most five rounds).

    With `slack` (the plan call's, `ido.planning.slack`), every comparison of a
    found plan with the cost and makespan caps is recorded there; a round searched
    under one of those caps makes the answer `exact` (its many comparisons inside
    the search are not recorded).
    """
    active = any(b is not None for b in (bounds.cost, bounds.risk, bounds.steps, bounds.makespan)) or bool(bounds.uses)
    if not active:
        return astar(task, init, bounds, metric, max_nodes, heuristic, max_work)
    # Add the bounds one violated kind at a time: each search is exact for the bounds it
    # has, so the first answer within all bounds is optimal under all of them.
    names = ("cost", "risk", "steps", "makespan", "uses")
    kept: dict[str, Any] = {}
    expanded = generated = evaluated = 0
    while True:
        left = None if max_work is None else max_work - expanded - evaluated
        result = astar(task, init, Bounds(**kept), metric, max_nodes, heuristic, left)
        expanded += result.expanded
        generated += result.generated
        evaluated += result.evaluated
        if isinstance(result, Failed):
            result.expanded, result.generated, result.evaluated = expanded, generated, evaluated
            return result  # none within a subset of the bounds, so none within all
        used = measure(task, result.ops)
        broken = [n for n in names if n not in kept and _breaks(n, used, bounds, slack)]
        if not broken:
            result.expanded, result.generated, result.evaluated = expanded, generated, evaluated
            return result
        kept[broken[0]] = getattr(bounds, broken[0])
        if slack is not None and broken[0] in ("cost", "makespan"):
            slack.exact = True


def _breaks(name: str, used: Bounds, bounds: Bounds, slack: Slack | None) -> bool:
    """Return whether what a path uses breaks the bound `name` of `bounds`; a cost or makespan
    comparison is recorded in `slack` (every one is made: a recorded answer must be complete)."""
    cap = getattr(bounds, name)
    if slack is not None and cap is not None and name in ("cost", "makespan"):
        return slack.breaks(name, getattr(used, name), cap)
    return not within(used, Bounds(**{name: cap}))


_NO_BOUNDS = Bounds()
