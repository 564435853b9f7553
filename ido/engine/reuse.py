"""Which plan a decision may reuse instead of asking the planner to search again.

Two ways: a run keeps the plan it is following while health has not changed
since it was made (`remember_plan`, called by the engine's loop after it
dispatches or waits on a plan), and a run that has done nothing yet may take
the first plan of another run in the same situation (`FirstPlans`, one per
`ido.engine.engine.Engine`, asked by `Engine._decide` before it decides and
told the plan after). `decide` records either as a reused plan, so the
reasons stay explainable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ido.engine.run import RunState
from ido.model import Policy
from ido.planning.types import Plan
from ido.policy import inputs_read_by

#: more first plans than this and the cache starts over (each run's first situation rarely recurs).
MAX_FIRST_PLANS = 256


class FirstPlans:
    """First plans of runs that had done nothing yet, shared with later runs in the same situation."""

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._policy_inputs = inputs_read_by(policies)

    def key(self, run: RunState, health_version: int) -> tuple[Any, ...] | None:
        """Return the key under which a run that has done nothing yet may share another's first plan.

        Two such runs of one intent, with equal state, inputs and approvals, under
        the same health version, get the same plan from the planner; the second
        takes the first's as its (recorded) reusable plan instead of searching again.
        Returns None once the run has done anything.
        """
        if run.steps_taken or run.in_flight or run.spent or run.attempts or run.fleet_excluded:
            return None
        version = health_version if run.strategy == "adaptive" else -1  # static plans ignore health
        # inputs reach the planner only through policies: only the ones they read tell plans apart
        read = {k: v for k, v in run.public_inputs.items() if k in self._policy_inputs}
        return (
            id(run.intent), run.strategy, version, _items_key(run.state), _items_key(read),
            tuple(sorted(run.excluded)), tuple(sorted(run.approved)),
        )

    def get(self, key: tuple[Any, ...]) -> Plan | None:
        """Return the plan stored under `key`, or None."""
        return self._plans.get(key)

    def put(self, key: tuple[Any, ...], plan: Plan) -> None:
        """Store `plan` under `key`, dropping plans no run can ask for any more."""
        if len(self._plans) > MAX_FIRST_PLANS:
            self._plans.clear()
        elif key[2] != -1 and any(k[2] not in (-1, key[2]) for k in self._plans):
            # plans of an older health version can never be asked for again (versions only grow)
            self._plans = {k: p for k, p in self._plans.items() if k[2] in (-1, key[2])}
        self._plans[key] = plan


def remember_plan(run: RunState, plan: Plan | None) -> None:
    """Keep `plan` as the run's reusable plan (adaptive runs, feasible plans); else drop the one it had."""
    if run.strategy == "adaptive" and plan is not None and plan.feasible:
        # the version the plan was made under: a change since (during the append) voids it
        run.reusable, run.reusable_version = plan, run.decided_version
    else:
        run.reusable = None


def _items_key(mapping: Mapping[str, Any]) -> tuple[Any, ...]:
    # type names too: True and 1 are equal in Python but different facts
    return tuple(sorted((k, type(v).__name__, v) for k, v in mapping.items()))
