"""What the planner returns: plans, steps, alternatives with verdicts, blockers.

These are the shared vocabulary of `ido plan`, the engine's decision records
and `ido explain` / `why-not`. The planner (`ido.planning.planner`) builds
them; the engine and the journal store them as JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from ido.model.values import Frozen, Scalar


class Verdict(StrEnum):
    """Why a capability was or was not chosen for a role."""

    CHOSEN = "chosen"
    DENIED = "denied"  # a deny or allow_only policy excludes it (policies named)
    UNHEALTHY = "unhealthy"  # circuit open, or its probe says down
    OVER_BUDGET = "over_budget"  # every plan using it costs more than the remaining budget
    TOO_SLOW = "too_slow"  # every plan using it misses the deadline
    TOO_RISKY = "too_risky"  # every plan using it falls below min_success
    OVER_LIMIT = "over_limit"  # a limit policy (attempts, steps, cost per run) is used up
    PRECONDITION = "precondition"  # its requires cannot hold when the role is needed
    COSTLIER = "costlier"  # admissible, but the best plan using it scores worse (difference given)
    NOT_NEEDED = "not_needed"  # its role is not needed to reach the goal from this state
    EXCLUDED = "excluded"  # the caller ruled it out (`PlanRequest.exclude`, e.g. a static strategy)
    REJECTED = "rejected"  # a person refused its approval in this run (set by the engine, not the planner)


class ScoreBreakdown(Frozen):
    """The objective's terms: weighted cost + latency + risk - preference bonus = total."""

    cost: float = 0.0
    latency: float = 0.0
    risk: float = 0.0
    preference: float = 0.0
    total: float = 0.0


class Alternative(Frozen):
    """One capability considered for a role, with its verdict and a one-line reason."""

    capability: str
    provides: str
    verdict: Verdict
    reason: str
    policies: list[str] = Field(default_factory=list)
    #: for `costlier`: the best plan using this capability minus the chosen plan's score.
    score_delta: float | None = None
    #: for `precondition`: the fact that could not hold.
    unmet_fact: str | None = None
    #: the numbers behind the verdict: cost, latency_s, success_probability, score, circuit ...
    numbers: dict[str, Any] = Field(default_factory=dict)
    #: True when `score_delta` and the `plan_*` numbers are lower bounds ("at least"), not the
    #: exact figures of the best plan using this capability: the verdict is still proven, but
    #: that plan was not searched for (explaining a plan costs at most about as much as finding it).
    lower_bound: bool = False


class PlanStep(Frozen):
    """One step of a plan; `after` lists the indices of steps it waits for."""

    capability: str
    provides: str
    after: list[int] = Field(default_factory=list)
    cost: float = 0.0
    latency_s: float = 0.0
    success_probability: float = 1.0
    score: float = 0.0
    effects: dict[str, Scalar] = Field(default_factory=dict)
    requires_approval: bool = False
    approval_policies: list[str] = Field(default_factory=list)


BlockerKind = Literal[
    "no_producer", "denied", "unhealthy", "budget", "deadline", "min_success",
    "max_steps", "limit", "precondition", "excluded", "search_limit",
]


class Blocker(Frozen):
    """Why a goal fact (or the whole goal) cannot be reached now."""

    kind: BlockerKind
    message: str
    fact: str | None = None
    policies: list[str] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    #: for budget/deadline/min_success: the best achievable value and the bound it breaks.
    needed: float | None = None
    bound: float | None = None
    #: for a constraint blocker: it binds only together with the other constraints (the best
    #: plan meeting them breaks this one), not alone; verdicts read this, never the message.
    joint: bool = False


class SearchMetrics(Frozen):
    """How much work the search did."""

    nodes_expanded: int = 0
    nodes_generated: int = 0
    relevant_capabilities: int = 0
    milliseconds: float = 0.0


class Plan(Frozen):
    """The planner's answer: the best admissible plan, or `feasible=False` with blockers."""

    intent: str
    feasible: bool
    steps: list[PlanStep] = Field(default_factory=list)
    cost: float = 0.0
    latency_s: float = 0.0
    success_probability: float = 1.0
    score: float = 0.0
    breakdown: ScoreBreakdown = Field(default_factory=ScoreBreakdown)
    alternatives: list[Alternative] = Field(default_factory=list)
    blockers: list[Blocker] = Field(default_factory=list)
    explanation: str = ""
    metrics: SearchMetrics = Field(default_factory=SearchMetrics)

    def ready_steps(self, done: set[int]) -> list[int]:
        """Return indices of steps not in `done` whose `after` steps are all in `done`."""
        return [
            i for i, s in enumerate(self.steps)
            if i not in done and all(a in done for a in s.after)
        ]


class PlanRequest(Frozen):
    """Everything one plan call depends on; decisions record it so replay can repeat the call.

    Built by the engine for every decision and by `ido plan` from the intent's
    `given` plus `--set`. `spent`, `elapsed_s` and `steps_taken` are what the run
    has used already: the planner bounds the remaining plan by what is left of
    the intent's budget, deadline and max_steps. `attempts` counts calls per
    capability so far (limit policies). `exclude` lists capabilities the caller
    rules out (the static strategies use it to forbid switching).
    """

    state: dict[str, Scalar]
    inputs: dict[str, Scalar] = Field(default_factory=dict)
    spent: float = 0.0
    elapsed_s: float = 0.0
    steps_taken: int = 0
    attempts: dict[str, int] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    #: engine-clock seconds "now", to compare with a circuit's retry_at.
    now: float = 0.0
