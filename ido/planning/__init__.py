"""The planner: from observed state, intent, registry, health and policies to the
best admissible plan, or the precise reasons none exists.

Pipeline: `compile` (facts -> integer variables, capabilities -> operators,
relevance pruning) -> `search` (A* with resource bounds and dominance, guided
by `heuristics`: LM-cut by default, h_max) -> `order` (partial order from
causal links, critical path) -> `reasons` (a verdict for every alternative,
blockers of an infeasible goal). `planner.Planner` wires them; `fleet`
allocates many runs to scarce providers with OR-Tools CP-SAT.
"""

from ido.planning.fleet import Allocation, Demand, Provider, allocate
from ido.planning.order import plan_graph, schedule, to_dot
from ido.planning.planner import Planner
from ido.planning.types import (
    Alternative,
    Blocker,
    Plan,
    PlanRequest,
    PlanStep,
    ScoreBreakdown,
    SearchMetrics,
    Verdict,
)

__all__ = [
    "Allocation",
    "Alternative",
    "Blocker",
    "Demand",
    "Plan",
    "PlanRequest",
    "PlanStep",
    "Planner",
    "Provider",
    "ScoreBreakdown",
    "SearchMetrics",
    "Verdict",
    "allocate",
    "plan_graph",
    "schedule",
    "to_dot",
]
