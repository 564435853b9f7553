"""One plan call as the planner sees it: the judged candidates and everything derived from the inputs.

`Planner.prepare` (`ido.planning.planner`) builds a `Call`; the search, the
alternatives' verdicts and the blockers (`ido.planning.reasons`) read it. Kept
apart from both so that neither needs the other's module for the shape of a call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ido.model.intent import Intent
from ido.planning.compile import Operator
from ido.planning.search import Bounds, Task
from ido.planning.slack import Slack
from ido.planning.types import PlanRequest
from ido.policy import Limits, PolicyJudgement


@dataclass(slots=True)
class Candidate:
    """One relevant capability as this call sees it: status, policy judgement, numbers."""

    op: Operator
    status: str  # "ok" or one of UNAVAILABLE
    judgement: PolicyJudgement
    cost: float
    latency: float
    probability: float
    risk: float
    score: float
    circuit: str
    detail: str = ""  # why unavailable, in words

    def numbers(self) -> dict[str, Any]:
        """Return the numbers behind this capability's verdict, for `Alternative.numbers`."""
        return {
            "cost": self.cost,
            "latency_s": self.latency,
            "success_probability": self.probability,
            "score": self.score,
            "circuit": self.circuit,
        }


@dataclass(slots=True)
class Call:
    """Everything one plan call derived from its inputs; shared by search and reasons."""

    intent: Intent
    request: PlanRequest
    missing_goal_facts: list[str]
    goal: list[tuple[int, frozenset[int]]]  # global var -> admitted value indices
    init_global: list[int]
    relevant: list[Candidate]
    candidates: list[Candidate]
    limits: Limits
    bounds: Bounds
    #: bound name -> (constraint name as people say it, the bound value, policy or None)
    bound_sources: dict[str, tuple[str, float, str | None]]
    tasks: dict[Any, tuple[Task, dict[int, int]]] = field(default_factory=dict)
    #: the questions this call asked of its cost and makespan caps (`ido.planning.slack`).
    slack: Slack = field(default_factory=Slack)
