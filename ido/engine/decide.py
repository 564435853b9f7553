"""The decision function: a pure map from recorded inputs to a decision record.

`decide(inputs, planner, policies)` is called by the engine for every choice
and by `ido replay` with the inputs read back from a `decision` record
(`ido.engine.inputs.from_record`). Given equal inputs it returns an equal
record: it reads no clock, draws no random number and does no I/O; the
strategy named in the inputs (`ido.engine.strategies.STRATEGIES`) does the
choosing. The only field that may differ between two calls is the planner's
own wall-time measurement (`metrics.milliseconds`): `comparable()` drops it.
"""

from __future__ import annotations

from typing import Any

from ido.decisions import DecisionRecord
from ido.engine.inputs import DecisionInputs, from_record
from ido.engine.strategies import STRATEGIES
from ido.errors import UsageError
from ido.planning.types import Plan


def decide(inputs: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    """Return (the decision record, the plan it used or made) for `inputs`.

    `planner` has `plan(intent, request, health) -> Plan`; `policies` has
    `judge(capability, intent, inputs)` (an `ido.policy.PolicySet`).
    """
    strategy = STRATEGIES.get(inputs.strategy)
    if strategy is None:
        raise UsageError(
            f"unknown strategy {inputs.strategy!r}; use one of {', '.join(sorted(STRATEGIES))}"
        )
    return strategy(inputs, planner, policies)


#: fields that hold measurements rather than decisions (wall time of the search, outcomes filled later).
VOLATILE = ("milliseconds",)


def comparable(record: DecisionRecord) -> dict[str, Any]:
    """Return `record` as JSON data without wall-time measurements and later-filled outcomes.

    Two decisions from equal inputs give equal `comparable()` results; replay
    compares these.
    """
    data = record.model_dump(mode="json", exclude={"outcomes"})
    _drop(data)
    return data


def _drop(data: Any) -> None:
    if isinstance(data, dict):
        for key in VOLATILE:
            data.pop(key, None)
        for value in data.values():
            _drop(value)
    elif isinstance(data, list):
        for value in data:
            _drop(value)


__all__ = ["DecisionInputs", "comparable", "decide", "from_record"]
