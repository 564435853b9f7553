"""Plans shared between runs in step: the planner's memo answers exactly what a fresh search would.

Runs of one intent under a deadline or a budget each have their own elapsed time
and spend, so the memo keys a plan by the range of remaining time and budget in
which every comparison the call made comes out the same (`ido.planning.slack`).
These tests compare a planner whose memo serves a sequence of calls with a fresh
planner per call, at random figures and right at the edges of those ranges.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ido.health import CapabilityHealth, HealthSnapshot
from ido.planning import Planner, PlanRequest
from ido.planning.search import EPS
from ido.planning.types import Plan
from tests.planning import order

CAPS = order.capabilities()
POLICIES = order.policies()
#: tight enough that the remaining time and budget pick the plan and rule capabilities out
DEADLINE, BUDGET = 2.0, 1.0
INTENT = order.intent(constraints={"budget": BUDGET, "deadline": f"{DEADLINE}s", "min_success": 0.9})
HEALTH = HealthSnapshot(capabilities={"shipping.ups": CapabilityHealth(latency_s=0.9, cost=0.55)})

#: critical paths and costs of the plans and forced plans (reserve, pay, then ship and notify)
LATENCIES = sorted({0.05 + pay + max(ship, 0.1) for pay in (0.3, 0.25) for ship in (1.0, 0.8, 0.9)}
                   | {pay + max(ship, 0.1) for pay in (0.3, 0.25) for ship in (1.0, 0.8, 0.9)})
COSTS = sorted({0.01 * r + pay + ship + note for r in (0, 1) for pay in (0.25, 0.30)
                for ship in (0.5, 0.6, 0.55) for note in (0.001, 0.05)})


def _near(total: float, thresholds: list[float]) -> st.SearchStrategy[float]:
    """Figures used up (elapsed or spent) that leave a cap right at a comparison's edge,
    `figure > cap + EPS`, give or take a few ulps and EPS; or anywhere from 0 to past the total."""

    def edge(t: float, eps: int, ulps: int) -> float:
        x = total - t + eps * EPS
        for _ in range(abs(ulps)):
            x = math.nextafter(x, math.inf if ulps > 0 else -math.inf)
        return max(x, 0.0)

    return st.one_of(
        st.builds(edge, st.sampled_from(thresholds), st.integers(-1, 2), st.integers(-3, 3)),
        st.floats(0.0, total * 1.2, allow_nan=False),
        st.just(0.0),
    )


requests = st.builds(
    lambda elapsed, spent, reserved: PlanRequest(
        state={**INTENT.given, "order.reserved": reserved}, elapsed_s=elapsed, spent=spent,
        steps_taken=int(reserved), inputs={"order_id": "o-1", "amount": 10.0},
    ),
    _near(DEADLINE, LATENCIES),
    _near(BUDGET, COSTS),
    st.booleans(),
)


def _content(plan: Plan) -> dict[str, Any]:
    # the search's wall time is the one figure a memoised plan keeps from its first call
    return plan.model_dump(mode="json", exclude={"metrics": {"milliseconds"}})


@settings(max_examples=150, deadline=None)
@given(st.lists(requests, min_size=1, max_size=8), st.sampled_from([None, HEALTH]))
def test_a_shared_plan_is_what_a_fresh_search_gives_at_any_elapsed_time_and_spend(
    calls: list[PlanRequest], health: HealthSnapshot | None,
) -> None:
    """Every plan of a sequence served by one planner's memo equals a fresh planner's for that call:
    steps, alternatives, verdicts, reasons, blockers and search effort."""
    shared = Planner(CAPS, POLICIES)
    for request in calls:
        fresh = Planner(CAPS, POLICIES).plan(INTENT, request, health)
        assert _content(shared.plan(INTENT, request, health)) == _content(fresh)


def test_runs_in_step_share_a_plan_across_elapsed_times_within_its_slack() -> None:
    """Runs whose remaining time keeps every deadline comparison's answer get the plan already
    made (the same object: no search), one past an edge gets a fresh search."""
    planner = Planner(CAPS, POLICIES)
    intent = order.intent()  # deadline 60s, budget 2.0: far from every edge at first
    state = dict(intent.given)
    first = planner.plan(intent, PlanRequest(state=state, elapsed_s=0.5, spent=0.0), HEALTH)
    assert planner.plan(intent, PlanRequest(state=state, elapsed_s=3.25, spent=0.1), HEALTH) is first
    assert planner.plan(intent, PlanRequest(state=state, elapsed_s=40.0, spent=0.5), HEALTH) is first
    # 59.5s elapsed leaves 0.5s: every plan is too slow, the blockers say so with the figures
    late = planner.plan(intent, PlanRequest(state=state, elapsed_s=59.5), HEALTH)
    assert late is not first and not late.feasible
    assert "59.5s elapsed" in late.explanation
    again = planner.plan(intent, PlanRequest(state=state, elapsed_s=59.6), HEALTH)
    assert "59.6s elapsed" in again.explanation  # a reason showing the figures is never shared


def test_a_new_health_snapshot_is_never_served_an_older_plan() -> None:
    """The memo holds plans of one health snapshot: a slower provider changes the plan."""
    planner = Planner(CAPS, POLICIES)
    intent = order.intent()
    request = PlanRequest(state=dict(intent.given), elapsed_s=1.0)
    before = planner.plan(intent, request, HEALTH)
    slow = HealthSnapshot(capabilities={"payment.stripe-eu": CapabilityHealth(latency_s=30.0)})
    after = planner.plan(intent, request, slow)
    assert "payment.stripe-eu" in [s.capability for s in before.steps]
    assert "payment.stripe-eu" not in [s.capability for s in after.steps]
