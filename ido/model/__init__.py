"""ido's declarations: facts and conditions, capabilities and observers, intents,
policies and scenarios, as frozen pydantic v2 models (`extra="forbid"`).

YAML (`ido.loading`) and Python (`ido.workspace`) are two doors into these
same models; `ido schema` prints their JSON Schema.
"""

from ido.model.capability import Capability, HttpInvoke, Invoke, Observer, Probe, Quota, SimInvoke
from ido.model.conditions import (
    Condition,
    Effect,
    Matcher,
    Op,
    describe_matcher,
    dump_matcher,
    holds,
    matcher_holds,
    same_value,
    unmet,
)
from ido.model.intent import Constraints, InputSpec, Intent, Objective
from ido.model.policy import RULE_KINDS, Limit, Policy
from ido.model.scenario import (
    FAULT_KINDS,
    Arrivals,
    Fault,
    Scenario,
    Selector,
    Strategy,
    fault_targets,
)
from ido.model.values import (
    Amount,
    Duration,
    FactName,
    Frozen,
    Name,
    Probability,
    Scalar,
    format_duration,
    parse_duration,
)

__all__ = [
    "FAULT_KINDS",
    "RULE_KINDS",
    "Amount",
    "Arrivals",
    "Capability",
    "Condition",
    "Constraints",
    "Duration",
    "Effect",
    "FactName",
    "Fault",
    "Frozen",
    "HttpInvoke",
    "InputSpec",
    "Intent",
    "Invoke",
    "Limit",
    "Matcher",
    "Name",
    "Objective",
    "Observer",
    "Op",
    "Policy",
    "Probability",
    "Probe",
    "Quota",
    "Scalar",
    "Scenario",
    "Selector",
    "SimInvoke",
    "Strategy",
    "describe_matcher",
    "dump_matcher",
    "fault_targets",
    "format_duration",
    "holds",
    "matcher_holds",
    "parse_duration",
    "same_value",
    "unmet",
]
