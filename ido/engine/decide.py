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

from ido.decisions import DecisionRecord, Trigger
from ido.engine.inputs import DecisionInputs, from_record, record
from ido.engine.strategies import STRATEGIES
from ido.errors import UsageError
from ido.planning.types import Plan


def decide(inputs: DecisionInputs, planner: Any, policies: Any) -> tuple[DecisionRecord, Plan | None]:
    """Return (the decision record, the plan it used or made) for `inputs`.

    `planner` has `plan(intent, request, health) -> Plan`; `policies` has
    `judge(capability, intent, inputs)` (an `ido.policy.PolicySet`). A
    decision triggered by a cancel request fails the run whatever the strategy
    (its cause says who asked).
    """
    if inputs.trigger == Trigger.CANCEL:
        return record(inputs, action="fail", reason=f"the run was cancelled ({inputs.cause})"), None
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


#: outputs added to records later: a record written before them has none to compare.
LATER_OUTPUTS = ("move", "switches", "approval")


def comparable_pair(recorded: DecisionRecord, again: DecisionRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return `comparable()` of a recorded decision and of the same decision made again.

    A record written before moves were recorded (`move` None) lacks the outputs
    added since (`LATER_OUTPUTS`); they are left out of both sides, so such a
    journal still replays identical. Called by `check` and `ido.replay`.
    """
    before, after = comparable(recorded), comparable(again)
    if recorded.move is None:
        for data in (before, after):
            for key in LATER_OUTPUTS:
                data.pop(key, None)
    return before, after


def check(record: DecisionRecord, intent: Any, capabilities: Any, planner: Any, policies: Any) -> list[str]:
    """Return how re-deciding `record` from its own inputs differs from it (empty: identical).

    `intent`, `capabilities`, `planner` and `policies` must be those of the
    record's revisions. Records of the compensation procedure (trigger
    `compensation`) are not made by `decide` and are returned as identical.
    Each difference reads `field: recorded X, re-derived Y`, most telling first.
    Called by `ido replay`.
    """
    if str(record.trigger) == "compensation":
        return []
    again, _ = decide(from_record(record, intent, capabilities), planner, policies)
    before, after = comparable_pair(record, again)
    keys = ["action", "chosen", "dispatch", "reason", "plan", "alternatives"]
    keys += sorted(k for k in set(before) | set(after) if k not in keys)
    return [
        f"{key}: recorded {_short(before.get(key))}, re-derived {_short(after.get(key))}"
        for key in keys if before.get(key) != after.get(key)
    ]


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _drop(data: Any) -> None:
    if isinstance(data, dict):
        for key in VOLATILE:
            data.pop(key, None)
        for value in data.values():
            _drop(value)
    elif isinstance(data, list):
        for value in data:
            _drop(value)


__all__ = ["DecisionInputs", "check", "comparable", "comparable_pair", "decide", "from_record"]
