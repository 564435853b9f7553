"""Plan an intent once, as `ido plan` does: from its given facts, `--set` facts and bound inputs.

`plan_intent` returns the plan with the request and starting state it was
made from (what a PLANFILE saves). Secret inputs are redacted before the
planner sees them, as in every decision of a run, so no plan depends on a
secret's value. Called by `ido plan` (`ido.cli.plan`) and by `POST
/api/v1/plans` (`ido.service.runs`), so both return the same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ido.errors import UsageError
from ido.health import HealthSnapshot
from ido.model import Intent
from ido.model.values import Scalar
from ido.planning import Planner, PlanRequest
from ido.planning.types import Plan


@dataclass(frozen=True)
class MadePlan:
    """A plan and what it was made from: the intent, the request, the starting state, the health."""

    intent: Intent
    plan: Plan
    request: PlanRequest
    state: dict[str, Scalar]
    health: HealthSnapshot


def plan_intent(
    workspace: Any, intent_ref: str, *, facts: Mapping[str, Scalar] | None = None,
    inputs: Mapping[str, Any] | None = None, explain: bool = True,
) -> MadePlan:
    """Return the best admissible plan of `intent_ref` (or the infeasible plan saying why none is).

    `explain=False` skips the alternatives' verdicts (`ido plan --no-alternatives`).
    Raises UsageError when the inputs do not bind to the intent's, and
    whatever `workspace.intent` raises for an unknown intent.
    """
    from ido.engine.run import redact

    intent = workspace.intent(intent_ref)
    try:
        bound = intent.bind_inputs(dict(inputs or {}))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    secrets = intent.secret_inputs()
    if secrets:
        bound = redact(bound, secrets)
    state: dict[str, Scalar] = {**intent.given, **dict(facts or {})}
    request = PlanRequest(state=state, inputs=bound)
    health = HealthSnapshot()
    planner = Planner(list(workspace.capabilities.values()), list(workspace.policies.values()))
    return MadePlan(intent=intent, plan=planner.plan(intent, request, health, explain=explain), request=request,
                    state=state, health=health)
