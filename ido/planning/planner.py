"""The planner: the best admissible plan for an intent from a state, or why none exists.

`Planner(capabilities, policies)` compiles the registry once
(`ido.planning.compile`); `Planner.plan(intent, request, health)` is called by
`ido plan` and by the engine on every decision. Per call it

1. compiles the goal against the state and takes the operators relevant to it
   (backward closure, cached per goal);
2. judges each relevant capability: excluded by the caller, denied by policy,
   unhealthy (open circuit, probe down), over a limit, or a candidate with
   per-call numbers (health replaces declared cost, latency, reliability);
3. builds the integer task over the candidates (cached across calls with the
   same candidates and numbers, so heuristic caches carry over) and runs A*
   (`ido.planning.search`) with the remaining budget, deadline, min_success,
   max_steps and limit policies as hard bounds;
4. orders the steps (`ido.planning.order`) and gives every alternative a
   verdict, or the blockers of an infeasible goal (`ido.planning.reasons`).

The objective is the intent's: per step `w_cost*cost + w_latency*latency_s +
w_risk*(-ln p) - preference`, each step's value clamped at >= 0 (A* needs
non-negative action costs, so a preference can at most make a step free).
The deadline bounds the plan's critical path, computed exactly during search.
`plan` never raises for infeasibility: it returns `feasible=False`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ido.construct import construct
from ido.health import Circuit, HealthSnapshot
from ido.model.capability import Capability
from ido.model.conditions import matcher_holds
from ido.model.intent import Intent
from ido.model.policy import Policy
from ido.planning import reasons
from ido.planning.call import Call, Candidate
from ido.planning.compile import OTHER, Compiled, Operator, value_key
from ido.planning.heuristics import weight
from ido.planning.order import schedule
from ido.planning.search import INF, Bounds, Failed, Found, Task, TaskOp, bounded_astar, goal_holds
from ido.planning.slack import Slack
from ido.planning.types import Plan, PlanRequest, PlanStep, ScoreBreakdown, SearchMetrics
from ido.policy import Limits, PolicyJudgement, PolicySet

#: What the policies say about a capability when none applies to the call.
_NO_JUDGEMENT = PolicyJudgement()
_CLOSED = Circuit.CLOSED.value

#: Candidate statuses other than "ok", in the order a verdict reports them.
UNAVAILABLE = ("excluded", "denied", "unhealthy", "over_limit")


#: plans kept per health snapshot (`Planner.plan`); runs in step with each other need a handful.
MEMO_SIZE = 64
#: plans kept per memo key, each for its own range of remaining budget and time (the oldest goes).
MEMO_RANGES = 8


@dataclass(frozen=True, slots=True)
class _PolicyView:
    """What the policies say to one intent and its policy-read inputs (`Planner._policy_view`)."""

    inputs_key: tuple[Any, ...]
    limits: Limits
    #: operator index -> judgement, filled as candidates are judged (None: no policy applies)
    judgements: dict[int, PolicyJudgement] | None


@dataclass(frozen=True, slots=True)
class _View:
    """The relevant capabilities judged for one situation (`Planner._view`); `key` names it."""

    key: tuple[Any, ...]
    limits: Limits
    relevant: list[Candidate]
    candidates: list[Candidate]


@dataclass(frozen=True, slots=True)
class _Memoised:
    """A plan `Planner.plan` made, with the slack of its varying caps (`ido.planning.slack`)."""

    intent: Intent
    health: HealthSnapshot | None
    slack: Slack
    spent: float
    elapsed_s: float
    cost_source: str | None
    plan: Plan

    def serves(
        self, intent: Intent, health: HealthSnapshot | None, request: PlanRequest,
        cost: float | None, makespan: float | None, cost_source: str | None,
    ) -> bool:
        """Return whether a fresh call for `request` (same memo key, these caps) would make this plan:
        every question the call asked of its caps gets the same answer (or, for an `exact` call,
        the spend and the time elapsed are the very same)."""
        if self.intent is not intent or self.health is not health or self.cost_source != cost_source:
            return False
        if self.slack.exact:
            return request.spent == self.spent and request.elapsed_s == self.elapsed_s
        return self.slack.admits(cost, makespan)


class Planner:
    """A registry compiled once; `plan` answers per intent, state, health and run usage."""

    def __init__(
        self,
        capabilities: Sequence[Capability],
        policies: Sequence[Policy] | PolicySet = (),
        *,
        max_nodes: int = 300_000,
        heuristic: str = "lmcut",
    ) -> None:
        self.compiled = Compiled(capabilities)
        self.policies = policies if isinstance(policies, PolicySet) else PolicySet(policies)
        self.capabilities: dict[str, Capability] = {c.name: c for c in capabilities}
        self.max_nodes = max_nodes
        if heuristic not in ("hmax", "lmcut"):
            raise ValueError(f"heuristic {heuristic!r} is not one of hmax, lmcut")
        self.heuristic = heuristic
        self._goals: dict[int, tuple[Intent, list[tuple[int, Any, str]], list[tuple[str, Any]]]] = {}
        self._tasks: dict[Any, Task] = {}
        self._shared: dict[Any, dict[str, Any]] = {}
        self._judged: dict[tuple[int, tuple[Any, ...]], tuple[Intent, _PolicyView]] = {}
        #: judged candidates per intent and call inputs, under `_views_health` (`_view`).
        self._views: dict[tuple[Any, ...], tuple[Intent, _View]] = {}
        self._views_health: HealthSnapshot | None = None
        self._views_circuits = False
        #: plans made under `_memo_health` (the engine's snapshot is one object until health changes),
        #: several per key: one per range of remaining budget and time (`ido.planning.slack`).
        self._memo: dict[tuple[Any, ...], list[_Memoised]] = {}
        self._memo_health: HealthSnapshot | None = None

    # -- per-call preparation -------------------------------------------------

    def prepare(self, intent: Intent, request: PlanRequest, health: HealthSnapshot | None) -> Call:
        """Return the call's compiled goal, judged candidates and bounds (no search yet)."""
        return self._prepare(intent, request, health, self._view(intent, request, health))

    def _prepare(self, intent: Intent, request: PlanRequest, health: HealthSnapshot | None, view: _View) -> Call:
        compiled = self.compiled
        state = request.state
        init = compiled.initial(state)
        entries, outside = self._goal(intent)
        missing = [
            fact for fact, matcher in outside
            if not matcher_holds(matcher, state.get(fact), fact in state)
        ]
        goal: list[tuple[int, frozenset[int]]] = []
        for var, pre_admits, _ in entries:
            admits = pre_admits.admits
            if init[var] == OTHER and matcher_holds(
                pre_admits.matcher, state[compiled.variables[var].name], True
            ):
                admits = admits | {OTHER}
            goal.append((var, admits))
        bounds, sources = _bounds(intent, request, view.limits, view.relevant)
        return Call(
            intent=intent,
            request=request,
            missing_goal_facts=missing,
            goal=goal,
            init_global=init,
            relevant=view.relevant,
            candidates=view.candidates,
            limits=view.limits,
            bounds=bounds,
            bound_sources=sources,
        )

    def _view(self, intent: Intent, request: PlanRequest, health: HealthSnapshot | None) -> _View:
        """Return the relevant capabilities judged for this call, shared by every call with the
        same intent, policy-read inputs, exclusions, attempts (when a limit counts them) and
        `now` (when an open circuit may close) under the same health snapshot.

        A candidate's status and numbers depend on nothing else (not on the state, the spend
        or the time elapsed), and the engine replans hundreds of runs in step after each
        health change: judging once per such situation spares a `_candidate` per capability
        per decision. Called by `prepare` and by `plan` (whose memo key includes the view's)."""
        policy = self._policy_view(intent, request.inputs)
        limits = policy.limits
        if health is not self._views_health:
            self._views = {}
            self._views_health = health
            self._views_circuits = health is not None and any(
                h.circuit == Circuit.OPEN for h in health.capabilities.values()
            )
        key = (
            id(intent), policy.inputs_key, tuple(request.exclude),
            _items_key(request.attempts) if limits.attempts_per_capability is not None else None,
            request.now if self._views_circuits else None,
        )
        views = self._views
        hit = views.get(key)
        if hit is not None and hit[0] is intent:
            return hit[1]
        entries, _ = self._goal(intent)
        exclude = frozenset(request.exclude)
        operators = self.compiled.operators
        relevant = [
            self._candidate(operators[i], intent, request, health, limits, policy.judgements, exclude)
            for i in self.compiled.relevant(frozenset(var for var, _, _ in entries))
        ]
        view = _View(key, limits, relevant, [c for c in relevant if c.status == "ok"])
        if len(views) > 256:
            views.clear()
        views[key] = (intent, view)
        return view

    def _policy_view(self, intent: Intent, inputs: dict[str, Any]) -> _PolicyView:
        """Return what the policies say to `intent` run with `inputs`: its limits and the
        per-operator judgement cache (None when no policy applies). Policies are fixed for
        the planner's life and read only some inputs (`PolicySet.inputs_key`), so runs that
        differ in the others (an order id) share it."""
        ikey = self.policies.inputs_key(inputs)
        key = (id(intent), ikey)
        hit = self._judged.get(key)
        if hit is not None and hit[0] is intent:
            return hit[1]
        if len(self._judged) > 256:
            self._judged.clear()
        judgements: dict[int, PolicyJudgement] | None = (
            {} if self.policies.applicable(intent, inputs) else None
        )
        view = _PolicyView(ikey, self.policies.limits(intent, inputs), judgements)
        self._judged[key] = (intent, view)
        return view

    def _goal(self, intent: Intent) -> tuple[list[tuple[int, Any, str]], list[tuple[str, Any]]]:
        cached = self._goals.get(id(intent))
        if cached is not None and cached[0] is intent:
            return cached[1], cached[2]
        entries = []
        outside = []
        for fact, matcher in sorted(intent.goal.items()):
            var = self.compiled.var_index.get(fact)
            if var is None:
                outside.append((fact, matcher))
            else:
                entries.append((var, self.compiled.precondition(var, matcher), fact))
        if len(self._goals) > 256:
            self._goals.clear()
        self._goals[id(intent)] = (intent, entries, outside)
        return entries, outside

    def _candidate(
        self,
        op: Operator,
        intent: Intent,
        request: PlanRequest,
        health: HealthSnapshot | None,
        limits: Limits,
        judgements: dict[int, PolicyJudgement] | None,
        exclude: frozenset[str],
    ) -> Candidate:
        """Return how this call sees `op`; `judgements` caches the policies' word per operator
        for this intent and inputs (None: no policy applies, nothing to ask)."""
        cap = op.capability
        if judgements is None:
            judgement = _NO_JUDGEMENT
        else:
            judgement = judgements.get(op.index)  # type: ignore[assignment]
            if judgement is None:
                judgement = judgements[op.index] = self.policies.judge(cap, intent, request.inputs)
        cost, latency, probability = cap.cost, cap.latency, cap.reliability
        circuit = _CLOSED
        status, detail = "ok", ""
        if health is not None:
            h = health.capabilities.get(cap.name)
            if h is not None:
                circuit = h.circuit.value
                if h.cost is not None:
                    cost = h.cost
                if h.latency_s is not None:
                    latency = h.latency_s
                if h.success_rate is not None:
                    probability = h.success_rate
                if h.circuit == Circuit.OPEN and (h.retry_at is None or h.retry_at > request.now):
                    status = "unhealthy"
                    detail = "circuit open" + (f" until t={h.retry_at:g}s" if h.retry_at is not None else "")
                elif h.probe_up is False:
                    status, detail = "unhealthy", "its probe says down"
        risk = -math.log(probability) if probability > 0 else INF
        if status == "ok" and probability <= 0:
            status, detail = "unhealthy", "its observed success rate is 0"
        objective = intent.objective
        raw = objective.cost * cost + objective.latency * latency - judgement.preference
        if objective.risk:
            raw += objective.risk * risk
        score = raw if raw > 0.0 else 0.0
        if cap.name in exclude:
            status, detail = "excluded", "excluded by the caller"
        elif judgement.denied_by:
            status, detail = "denied", self.policies.describe_denial(judgement.denied_by)
        elif status == "ok" and limits.attempts_per_capability is not None:
            used = request.attempts.get(cap.name, 0)
            if used >= limits.attempts_per_capability:
                status = "over_limit"
                detail = (
                    f"{used} attempts used of {limits.attempts_per_capability} "
                    f"allowed by {limits.attempts_by}"
                )
        return Candidate(op, status, judgement, cost, latency, probability, risk, score, circuit, detail)

    # -- tasks --------------------------------------------------------------------

    def task(self, call: Call, force: int | None = None, only: Sequence[Candidate] | None = None) -> tuple[Task, dict[int, int]]:
        """Return the integer task over `only` (default: the call's candidates) and var map.

        With `force` (an operator index), a fresh variable that only that operator
        sets is added to the goal, so every plan found uses it. Cached across calls.
        """
        cands = call.candidates if only is None else only
        compiled = self.compiled
        init = call.init_global
        state = call.request.state
        others: tuple[tuple[int, Any], ...] = ()
        if OTHER in init:  # a state value no capability mentions: matchers decide per call
            others = tuple(
                (var, value_key(state[compiled.variables[var].name]))
                for var in sorted({p.var for c in cands for p in c.op.pre} | {v for v, _ in call.goal})
                if init[var] == OTHER
            )
        key = (
            tuple(call.goal),
            tuple([(c.op.index, c.score, c.cost, c.risk, c.latency) for c in cands]),
            others,
            force,
        )
        local_key = ("local", key)
        hit = call.tasks.get(local_key)
        if hit is not None:
            return hit
        task = self._tasks.get(key)
        variables: set[int] = {var for var, _ in call.goal}
        for c in cands:
            variables.update(c.op.waits)
        order = sorted(variables)
        local = {var: i for i, var in enumerate(order)}
        if task is None:
            other_vars = {var for var, _ in others}
            at = local.__getitem__
            # every registry variable is in the task (a small registry, or one intent's):
            # local indices are the global ones, and the operators' tuples are used as they are
            identity = not order or order[-1] == len(order) - 1
            forced_var = len(order)
            ops: list[TaskOp] = []
            for c in cands:
                op = c.op
                if other_vars:
                    pre = []
                    for p in op.pre:
                        admits = p.admits
                        if p.var in other_vars and matcher_holds(
                            p.matcher, state[compiled.variables[p.var].name], True
                        ):
                            admits = admits | {OTHER}
                        pre.append((at(p.var), admits))
                elif identity:
                    pre = [(p.var, p.admits) for p in op.pre]
                else:
                    pre = [(at(p.var), p.admits) for p in op.pre]
                if identity:
                    eff = op.eff
                    writes, waits, reads_only = op.writes_sorted, op.waits, op.reads_only
                else:
                    eff = tuple([(at(v), val) for v, val in op.eff])
                    # `order` is sorted, so the local images of sorted tuples stay sorted
                    writes = tuple(map(at, op.writes_sorted))
                    waits = tuple(map(at, op.waits))
                    reads_only = tuple(map(at, op.reads_only))
                if force == op.index:
                    eff = (*eff, (forced_var, 1))
                    writes = (*writes, forced_var)
                    waits = (*waits, forced_var)
                ops.append(TaskOp(
                    op.index, op.name, tuple(pre), eff, c.score, c.cost, c.risk, c.latency,
                    reads_only, writes, waits,
                ))
            variables_of = compiled.variables
            domains = [len(variables_of[var].values) for var in order]
            goal = [(local[var], admits) for var, admits in call.goal]
            if force is not None:
                domains.append(2)
                goal.append((forced_var, frozenset({1})))
            structure = (key[0], tuple([c.op.index for c in cands]), others, force)
            shared = self._shared.get(structure)
            if shared is None:
                if len(self._shared) > 128:
                    self._shared.clear()
                shared = self._shared[structure] = {}
            task = Task(domains=domains, goal=tuple(goal), ops=ops, shared=shared)
            if len(self._tasks) > 128:
                self._tasks.clear()
            self._tasks[key] = task
        call.tasks[local_key] = (task, local)
        return task, local

    def init_of(self, call: Call, local: dict[int, int], forced: bool = False) -> tuple[int, ...]:
        """Return the call's initial state over a task's local variables."""
        init = [0] * (len(local) + (1 if forced else 0))
        for var, i in local.items():
            init[i] = call.init_global[var]
        return tuple(init)

    def search(
        self,
        call: Call,
        *,
        bounds: Bounds | None = None,
        metric: str = "score",
        force: int | None = None,
        max_nodes: int | None = None,
        max_work: int | None = None,
    ) -> tuple[Found | Failed, Task]:
        """Return A*'s answer on the call's task (bounds default to the call's) and the task.

        `max_work` caps expansions and heuristic evaluations together (`bounded_astar`)."""
        task, local = self.task(call, force=force)
        init = self.init_of(call, local, forced=force is not None)
        limit = self.max_nodes if max_nodes is None else min(max_nodes, self.max_nodes)
        result = bounded_astar(
            task, init, call.bounds if bounds is None else bounds, metric, limit, self.heuristic, max_work,
            call.slack,
        )
        if isinstance(result, Found) and len(result.ops) > 1:
            result = without_idle_steps(task, init, result, metric)
        return result, task

    # -- the plan -----------------------------------------------------------------

    def plan(
        self,
        intent: Intent,
        request: PlanRequest,
        health: HealthSnapshot | None = None,
        *,
        explain: bool = True,
    ) -> Plan:
        """Return the best admissible plan, or `feasible=False` with blockers and an explanation.

        With `explain=False` the alternatives are not computed (the search is
        the same); the engine and `ido plan` keep the default.
        """
        view = self._view(intent, request, health)
        if health is not self._memo_health:
            self._memo = {}
            self._memo_health = health
        key = (id(intent), explain, _items_key(request.state), request.steps_taken, view.key)
        cost, makespan, cost_source = _caps(intent, request, view.limits)
        entries = self._memo.get(key)
        if entries is not None:
            for memoised in entries:
                if memoised.serves(intent, health, request, cost, makespan, cost_source):
                    return memoised.plan
        call = self._prepare(intent, request, health, view)
        plan = self._plan(call, explain)
        if entries is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            entries = self._memo[key] = []
        elif len(entries) >= MEMO_RANGES:
            del entries[0]
        entries.append(_Memoised(intent, health, call.slack, request.spent, request.elapsed_s, cost_source, plan))
        return plan

    def _plan(self, call: Call, explain: bool) -> Plan:
        """Return the plan of a prepared call (what `plan` memoises)."""
        started = time.perf_counter()
        intent = call.intent
        expanded = generated = 0
        found: Found | None = None
        failed: Failed | None = None
        task: Task | None = None
        if not call.missing_goal_facts:
            result, task = self.search(call)
            expanded, generated = result.expanded, result.generated
            if isinstance(result, Found):
                found = result
            else:
                failed = result
        if found is not None and task is not None:
            steps, totals = self.steps(call, task, found.ops)
            alternatives = reasons.alternatives(self, call, steps, totals, task, found) if explain else []
            plan = Plan(
                intent=intent.intent,
                feasible=True,
                steps=steps,
                cost=totals["cost"],
                latency_s=totals["latency_s"],
                success_probability=totals["success_probability"],
                score=totals["score"],
                breakdown=totals["breakdown"],
                alternatives=alternatives,
                explanation=reasons.feasible_explanation(call, steps, totals, alternatives),
                metrics=_metrics(call, started, expanded, generated),
            )
        else:
            # blockers and their verdicts show the spend and the time elapsed: never shared
            call.slack.exact = True
            blockers = reasons.blockers(self, call, failed)
            plan = Plan(
                intent=intent.intent,
                feasible=False,
                blockers=blockers,
                alternatives=(
                    reasons.unavailable_alternatives(self, call, blockers, failed) if explain else []
                ),
                explanation=reasons.infeasible_explanation(call, blockers),
                metrics=_metrics(call, started, expanded, generated),
            )
        return plan

    def steps(self, call: Call, task: Task, positions: Sequence[int]) -> tuple[list[PlanStep], dict[str, Any]]:
        """Return the plan steps (ordered, with `after`) and totals for op positions in `task`."""
        by_index = {c.op.index: c for c in call.relevant}
        found = [by_index[task.ops[pos].index] for pos in positions]
        first = schedule([c.op.reads for c in found], [c.op.writes for c in found], [c.latency for c in found])
        # Canonical order: any linearization of the partial order has the same DAG, so list
        # the steps by earliest start, then name, whatever interleaving the search found, and
        # renumber the DAG's edges (no second scheduling needed).
        order = canonical_order(first.after, first.start, [c.op.name for c in found])
        chosen = [found[i] for i in order]
        renumber = {old: new for new, old in enumerate(order)}
        after = [sorted([renumber[i] for i in first.after[old]]) for old in order]
        steps = []
        for i, c in enumerate(chosen):
            cap = c.op.capability
            # Every value is already of its field's type (from validated declarations and
            # health): construct without validating again, as the engine calls this per decision.
            steps.append(construct(
                PlanStep, capability=cap.name,
                provides=cap.provides,
                after=after[i],
                cost=float(c.cost),
                latency_s=float(c.latency),
                success_probability=float(c.probability),
                score=float(c.score),
                effects=dict(cap.effects),
                requires_approval=bool(c.judgement.approval_by),
                approval_policies=list(c.judgement.approval_by),
            ))
        return steps, totals_of(call.intent, chosen, first.latency)


def _metrics(call: Call, started: float, expanded: int, generated: int) -> SearchMetrics:
    """Return a plan call's search effort and its time so far (taken as the plan is built)."""
    return SearchMetrics(
        nodes_expanded=expanded,
        nodes_generated=generated,
        relevant_capabilities=len(call.relevant),
        milliseconds=round((time.perf_counter() - started) * 1000, 3),
    )


def canonical_order(after: Sequence[Sequence[int]], start: Sequence[float], names: Sequence[str]) -> list[int]:
    """Return a topological order of steps: among ready steps, earliest start, then name."""
    waiting = [set(a) for a in after]
    done: set[int] = set()
    order: list[int] = []
    while len(order) < len(after):
        ready = [i for i in range(len(after)) if i not in done and waiting[i] <= done]
        pick = min(ready, key=lambda i: (start[i], names[i], i))
        order.append(pick)
        done.add(pick)
    return order


def totals_of(intent: Intent, chosen: Sequence[Candidate], latency: float) -> dict[str, Any]:
    """Return a plan's cost, critical-path latency, success probability, score and breakdown."""
    obj = intent.objective
    cost = sum(c.cost for c in chosen)
    risk = sum(c.risk for c in chosen)
    score = sum(c.score for c in chosen)
    w_cost = obj.cost * cost
    w_latency = obj.latency * sum(c.latency for c in chosen)
    w_risk = obj.risk * risk if obj.risk else 0.0
    breakdown = ScoreBreakdown(
        cost=w_cost,
        latency=w_latency,
        risk=w_risk,
        # the bonus actually taken: preferences net of the clamp at zero per step
        preference=w_cost + w_latency + w_risk - score,
        total=score,
    )
    return {
        "cost": cost,
        "latency_s": latency,
        "success_probability": math.exp(-risk),
        "score": score,
        "risk": risk,
        "steps": len(chosen),
        "breakdown": breakdown,
    }


def _items_key(mapping: Mapping[str, Any]) -> tuple[Any, ...]:
    # type names too: True and 1 are equal in Python but different facts
    return tuple(sorted((k, type(v).__name__, v) for k, v in mapping.items()))


def _caps(intent: Intent, request: PlanRequest, limits: Limits) -> tuple[float | None, float | None, str | None]:
    """Return the run's remaining cost and makespan caps and which constraint sets the cost one
    ("budget", "cost_per_run" or None): the only figures of `_bounds` that vary with the spend
    and the time elapsed. Called by `_bounds` and, for the memo's look-up, by `Planner.plan`."""
    c = intent.constraints
    cost: float | None = None
    source: str | None = None
    if c.budget is not None:
        cost = c.budget - request.spent
        source = "budget"
    if limits.cost_per_run is not None and (cost is None or limits.cost_per_run - request.spent < cost):
        cost = limits.cost_per_run - request.spent
        source = "cost_per_run"
    makespan = None if c.deadline is None else c.deadline - request.elapsed_s
    return cost, makespan, source


def _bounds(
    intent: Intent, request: PlanRequest, limits: Limits, relevant: Sequence[Candidate]
) -> tuple[Bounds, dict[str, tuple[str, float, str | None]]]:
    """Return the bounds on the remaining plan and, per bound, which constraint set it."""
    c = intent.constraints
    sources: dict[str, tuple[str, float, str | None]] = {}
    cost, makespan, cost_source = _caps(intent, request, limits)
    if cost_source == "budget":
        sources["cost"] = ("budget", c.budget, None)  # type: ignore[assignment]
    elif cost_source == "cost_per_run":
        sources["cost"] = ("cost_per_run", limits.cost_per_run, limits.cost_by)  # type: ignore[assignment]
    risk: float | None = None
    if c.min_success is not None:
        risk = -math.log(c.min_success)
        sources["risk"] = ("min_success", c.min_success, None)
    steps: int | None = None
    if c.max_steps is not None:
        steps = c.max_steps - request.steps_taken
        sources["steps"] = ("max_steps", c.max_steps, None)
    if limits.steps_per_run is not None and (steps is None or limits.steps_per_run - request.steps_taken < steps):
        steps = limits.steps_per_run - request.steps_taken
        sources["steps"] = ("steps_per_run", limits.steps_per_run, limits.steps_by)
    if c.deadline is not None:
        sources["makespan"] = ("deadline", c.deadline, None)
    uses: dict[int, int] | None = None
    if limits.attempts_per_capability is not None:
        cap = limits.attempts_per_capability
        uses = {
            cand.op.index: cap - request.attempts.get(cand.op.name, 0)
            for cand in relevant
            if cand.status == "ok"
        }
    return Bounds(cost=cost, risk=risk, steps=steps, makespan=makespan, uses=uses), sources


def without_idle_steps(task: Task, init: tuple[int, ...], found: Found, metric: str) -> Found:
    """Return `found` without the free steps the goal does not need.

    An action that costs nothing under the metric ties with leaving it out, and
    A*'s deeper-first tie-breaking can keep it: a free `release` after the payment
    in an order plan. Dropping such a step keeps the plan valid (checked by
    replaying it), its value unchanged and every bound held (costs, risk and
    latency are non-negative), so equal inputs still give equal, shorter plans.
    Called by `Planner.search` on every solution; free steps are rare, so this
    usually checks nothing.
    """
    ops = list(found.ops)
    for i in range(len(ops) - 1, -1, -1):
        if weight(task.ops[ops[i]], metric) == 0.0:
            trial = ops[:i] + ops[i + 1:]
            if _reaches_goal(task, init, trial):
                ops = trial
    if len(ops) == len(found.ops):
        return found
    return dataclasses.replace(found, ops=ops)


def _reaches_goal(task: Task, init: tuple[int, ...], ops: Sequence[int]) -> bool:
    """Return whether applying `ops` in order from `init` is valid and ends in the goal."""
    state = list(init)
    for pos in ops:
        op = task.ops[pos]
        for var, admits in op.pre:
            if state[var] not in admits:
                return False
        for var, val in op.eff:
            state[var] = val
    return goal_holds(task, tuple(state))
