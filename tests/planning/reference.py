"""An exhaustive reference planner for tests: every action sequence up to a length, scored.

It shares no code with `ido.planning` except policy evaluation (`PolicySet`,
unit-tested on its own) and the matcher semantics of `ido.model.conditions`.
Latency follows the planner's documented semantics: a step waits for the last
writer of every fact it reads or writes, and for every step that read a fact
it writes since that fact's last write; plan latency is the longest chain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ido.health import Circuit, HealthSnapshot
from ido.model import Capability, Intent, Policy, holds
from ido.planning.types import PlanRequest
from ido.policy import PolicySet

EPS = 1e-9


@dataclass
class Usable:
    """A capability the reference may use, with its per-call numbers."""

    cap: Capability
    cost: float
    latency: float
    risk: float
    score: float


def usable(
    caps: Sequence[Capability], policies: Sequence[Policy], intent: Intent,
    request: PlanRequest, health: HealthSnapshot | None,
) -> list[Usable]:
    """Return the capabilities that are not excluded, denied or unhealthy, with their numbers."""
    pset = PolicySet(policies)
    out = []
    for cap in caps:
        if cap.name in request.exclude:
            continue
        judgement = pset.judge(cap, intent, request.inputs)
        if judgement.denied_by:
            continue
        cost, latency, p = cap.cost, cap.latency, cap.reliability
        if health is not None:
            h = health.of(cap.name)
            if h.circuit == Circuit.OPEN and (h.retry_at is None or h.retry_at > request.now):
                continue
            if h.probe_up is False:
                continue
            cost = h.cost if h.cost is not None else cost
            latency = h.latency_s if h.latency_s is not None else latency
            p = h.success_rate if h.success_rate is not None else p
        if p <= 0:
            continue
        risk = -math.log(p)
        o = intent.objective
        raw = o.cost * cost + o.latency * latency + (o.risk * risk if o.risk else 0.0) - judgement.preference
        out.append(Usable(cap, cost, latency, risk, max(0.0, raw)))
    return out


def apply(state: dict[str, Any], cap: Capability) -> dict[str, Any]:
    """Return the state after `cap` succeeds."""
    new = dict(state)
    new.update(cap.effects)
    return new


def critical_path(caps: Sequence[Capability], latencies: Sequence[float]) -> float:
    """Return the longest chain of the partial order of a step sequence (documented semantics)."""
    finish: list[float] = []
    for j, cap in enumerate(caps):
        reads = set(cap.requires)
        writes = set(cap.effects)
        start = 0.0
        for var in reads | writes:
            for i in range(j - 1, -1, -1):
                if var in caps[i].effects:
                    start = max(start, finish[i])
                    break
        for var in writes:
            for i in range(j - 1, -1, -1):
                if var in caps[i].effects:
                    break
                if var in caps[i].requires:
                    start = max(start, finish[i])
        finish.append(start + latencies[j])
    return max(finish, default=0.0)


@dataclass
class Best:
    """The reference optimum: its score and one optimal sequence."""

    score: float
    sequence: list[str]


def optimum(
    caps: Sequence[Capability], policies: Sequence[Policy], intent: Intent,
    request: PlanRequest, health: HealthSnapshot | None, max_len: int, must_use: str | None = None,
) -> Best | None:
    """Return the best objective over all valid sequences of at most `max_len` steps, or None.

    With `must_use`, only sequences that use that capability count.
    """
    pool = usable(caps, policies, intent, request, health)
    limits = PolicySet(policies).limits(intent, request.inputs)
    c = intent.constraints
    budget = math.inf
    if c.budget is not None:
        budget = c.budget - request.spent
    if limits.cost_per_run is not None:
        budget = min(budget, limits.cost_per_run - request.spent)
    deadline = c.deadline - request.elapsed_s if c.deadline is not None else math.inf
    max_risk = -math.log(c.min_success) if c.min_success is not None else math.inf
    steps_left = max_len
    if c.max_steps is not None:
        steps_left = min(steps_left, c.max_steps - request.steps_taken)
    if limits.steps_per_run is not None:
        steps_left = min(steps_left, limits.steps_per_run - request.steps_taken)
    best: Best | None = None

    def visit(state: dict[str, Any], seq: list[Usable], cost: float, risk: float, score: float) -> None:
        nonlocal best
        if holds(intent.goal, state) and (must_use is None or any(u.cap.name == must_use for u in seq)):
            latency = critical_path([u.cap for u in seq], [u.latency for u in seq])
            if latency <= deadline + EPS and (best is None or score < best.score - EPS):
                best = Best(score, [u.cap.name for u in seq])
        if len(seq) >= steps_left:
            return
        for u in pool:
            if not holds(u.cap.requires, state):
                continue
            new_state = apply(state, u.cap)
            if new_state == state and u.cap.name != must_use:
                continue  # a step that changes nothing never helps (costs are >= 0)
            if limits.attempts_per_capability is not None:
                used = request.attempts.get(u.cap.name, 0) + sum(1 for s in seq if s is u)
                if used + 1 > limits.attempts_per_capability:
                    continue
            if cost + u.cost > budget + EPS or risk + u.risk > max_risk + EPS:
                continue
            visit(new_state, [*seq, u], cost + u.cost, risk + u.risk, score + u.score)

    visit(dict(request.state), [], 0.0, 0.0, 0.0)
    return best
