"""The declaration model's rules (ido.model): matchers, durations, amounts, exactly-one
validators, every fault kind, input binding."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from ido.model import (
    FAULT_KINDS,
    Arrivals,
    Capability,
    Intent,
    Invoke,
    Observer,
    Op,
    Policy,
    Probe,
    Scenario,
    Selector,
    describe_matcher,
    dump_matcher,
    fault_targets,
    format_duration,
    holds,
    matcher_holds,
    parse_duration,
    same_value,
    unmet,
)
from ido.model.policy import Limit

# ---- matchers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("matcher", "value", "present", "expected"),
    [
        (True, True, True, True),
        (True, 1, True, False),  # a bool never equals a number
        (1, True, True, False),
        (1, 1.0, True, True),
        ("eu", "eu", True, True),
        ("eu", None, False, False),
        ({"not": "us"}, "eu", True, True),
        ({"not": "us"}, "us", True, False),
        ({"not": "us"}, None, False, True),  # an absent fact is "not us"
        ({"in": ["eu", "uk"]}, "uk", True, True),
        ({"in": ["eu", "uk"]}, "us", True, False),
        ({"in": [1]}, True, True, False),
        ({"in": ["eu"]}, None, False, False),
        ({"not_in": ["us"]}, "eu", True, True),
        ({"not_in": ["us"]}, "us", True, False),
        ({"not_in": ["us"]}, None, False, True),
        ({"gt": 3}, 4, True, True),
        ({"gt": 3}, 3, True, False),
        ({"gte": 3}, 3, True, True),
        ({"lt": 3}, 2.5, True, True),
        ({"lt": 3}, 3, True, False),
        ({"lte": 3}, 3, True, True),
        ({"gt": 0}, True, True, False),  # ordered comparisons ignore bools
        ({"gt": 0}, "5", True, False),  # and strings
        ({"gt": 0}, None, False, False),
        ({"exists": True}, None, False, False),
        ({"exists": True}, False, True, True),
        ({"exists": False}, None, False, True),
        ({"exists": False}, 0, True, False),
    ],
)
def test_each_matcher(matcher: Any, value: Any, present: bool, expected: bool) -> None:
    """Each operator and literal holds exactly when DESIGN.md section 2 says it does."""
    built = Op.model_validate(matcher) if isinstance(matcher, dict) else matcher
    assert matcher_holds(built, value, present) is expected


@pytest.mark.parametrize("bad", [{}, {"gt": 1, "lt": 2}, {"gtt": 1}, {"in": "eu"}, {"gt": "x"}])
def test_operator_matchers_take_exactly_one_valid_operator(bad: dict[str, Any]) -> None:
    """An operator object with none, two, unknown or ill-typed operators is refused."""
    with pytest.raises(pydantic.ValidationError):
        Op.model_validate(bad)


def test_conditions_hold_when_every_entry_holds() -> None:
    """`holds` needs every entry; `unmet` lists the failing facts in order."""
    condition = {"a.x": True, "a.n": Op(gt=2), "a.r": Op.model_validate({"in": ["eu"]})}
    assert holds(condition, {"a.x": True, "a.n": 3, "a.r": "eu"})
    assert unmet(condition, {"a.x": False, "a.n": 1, "a.r": "eu"}) == ["a.x", "a.n"]
    assert holds({}, {})


def test_matchers_describe_and_dump() -> None:
    """Matchers read as people write them and dump back to their file form."""
    assert describe_matcher(True) == "= true"
    assert describe_matcher(Op(gt=3)) == "> 3"
    assert describe_matcher(Op.model_validate({"not_in": ["us", "ap"]})) == "not in [us, ap]"
    assert describe_matcher(Op(exists=False)) == "is unset"
    assert dump_matcher(Op.model_validate({"not": "us"})) == {"not": "us"}
    assert dump_matcher(3) == 3
    assert same_value(1, 1.0) and not same_value(True, 1)


def test_matcher_shapes_in_conditions() -> None:
    """In a condition a matcher is a scalar or one operator mapping, never a list."""
    with pytest.raises(pydantic.ValidationError, match="is not a matcher"):
        Capability.model_validate({"name": "a", "provides": "p", "effects": {"x.y": 1}, "requires": {"x.z": [1]}})


# ---- durations, amounts, names --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("5s", 5.0), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0), ("1.5s", 1.5), (3, 3.0), ("7", 7.0), (0, 0.0)],
)
def test_durations_parse(text: Any, seconds: float) -> None:
    """Durations accept ms/s/m/h/d, combinations and bare numbers of seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 sec", "fast", "", "-1s", True, -3, float("inf"), "1x"])
def test_bad_durations_say_how_to_write_one(bad: Any) -> None:
    """Anything else is refused with the accepted forms."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(bad)


def test_durations_format_shortest() -> None:
    """Durations print in the shortest exact form."""
    assert [format_duration(s) for s in (0.3, 5.0, 120.0, 90.0)] == ["300ms", "5s", "2m", "90s"]


def test_amounts_accept_numeric_strings_and_refuse_negatives() -> None:
    """Cost is a non-negative number; "0.25" is read as 0.25."""
    base = {"name": "a", "provides": "p", "effects": {"x.y": 1}}
    assert Capability.model_validate({**base, "cost": "0.25"}).cost == 0.25
    for bad in (-1, "cheap", float("nan")):
        with pytest.raises(pydantic.ValidationError):
            Capability.model_validate({**base, "cost": bad})


def test_names_and_fact_names() -> None:
    """Names use letters, digits, `.`, `_`, `-`; report keys must be dotted fact names."""
    base = {"provides": "p", "effects": {"x.y": 1}}
    assert Capability.model_validate({**base, "name": "payment.stripe-eu_2"}).name == "payment.stripe-eu_2"
    for bad in ("pay now", "-pay", "", "é"):
        with pytest.raises(pydantic.ValidationError):
            Capability.model_validate({**base, "name": bad})
    with pytest.raises(pydantic.ValidationError):
        Capability.model_validate({**base, "name": "a", "reports": {"not a fact": "id"}})


def test_scalars_are_strict() -> None:
    """Fact values keep their YAML type: "1" stays a string, true stays a bool, null is refused."""
    cap = Capability.model_validate({"name": "a", "provides": "p", "effects": {"x.s": "1", "x.b": True, "x.f": 1.5}})
    assert cap.effects == {"x.s": "1", "x.b": True, "x.f": 1.5}
    assert type(cap.effects["x.b"]) is bool
    with pytest.raises(pydantic.ValidationError):
        Capability.model_validate({"name": "a", "provides": "p", "effects": {"x.n": None}})


# ---- exactly-one validators -------------------------------------------------------------


def test_invoke_takes_exactly_one_door() -> None:
    """invoke is http, python or sim; `sim` and `{sim: true}` are shorthands."""
    assert Invoke.model_validate("sim").door == "sim"
    assert Invoke.model_validate({"sim": True}).door == "sim"
    assert Invoke.model_validate({"python": "pkg.mod:run"}).door == "python"
    assert Invoke.model_validate({"http": {"url": "http://127.0.0.1:1/x"}}).door == "http"
    for bad in ({}, {"python": "a:b", "sim": {}}, {"python": "no_colon"}, {"python": "a:b:c"}, "http"):
        with pytest.raises(pydantic.ValidationError):
            Invoke.model_validate(bad)


def test_probe_and_observer_take_exactly_one_door() -> None:
    """Probes and observers need exactly one of http, python, sim."""
    assert Probe.model_validate({"sim": True}).interval == 10.0
    with pytest.raises(pydantic.ValidationError, match="probe takes exactly one"):
        Probe.model_validate({"sim": True, "http": "http://x"})
    with pytest.raises(pydantic.ValidationError, match="observer takes exactly one"):
        Observer.model_validate({"name": "o", "facts": ["a.b"]})
    with pytest.raises(pydantic.ValidationError):
        Observer.model_validate({"name": "o", "facts": [], "sim": True})


def test_capability_must_change_something() -> None:
    """A capability with neither effects nor reports is refused; reports alone are enough."""
    with pytest.raises(pydantic.ValidationError, match="has no effects"):
        Capability(name="a", provides="p")
    assert Capability(name="a", provides="p", reports={"x.id": "id"}).reports == {"x.id": "id"}


def test_capability_timeout_falls_back() -> None:
    """The effective timeout is `timeout`, else the http timeout, else 10x latency (at least 10s)."""
    assert Capability(name="a", provides="p", effects={"x.y": 1}, timeout=2).effective_timeout == 2
    http = Capability.model_validate({"name": "a", "provides": "p", "effects": {"x.y": 1},
                                      "invoke": {"http": {"url": "http://h/x", "timeout": "3s"}}})
    assert http.effective_timeout == 3
    assert Capability(name="a", provides="p", effects={"x.y": 1}, latency=5).effective_timeout == 50


@pytest.mark.parametrize("rule", ["deny", "allow_only", "prefer", "require_approval"])
def test_policy_rules(rule: str) -> None:
    """Each condition rule alone makes a valid policy, and `rule` names it."""
    policy = Policy.model_validate({"name": "p", "because": "b", rule: {"capability.name": "x"}})
    assert policy.rule == rule


def test_policy_takes_exactly_one_rule_and_weight_only_with_prefer() -> None:
    """No rule, two rules, or a weight without prefer are refused; a limit needs one cap."""
    with pytest.raises(pydantic.ValidationError, match="exactly one rule"):
        Policy(name="p", because="b")
    with pytest.raises(pydantic.ValidationError, match="exactly one rule"):
        Policy.model_validate({"name": "p", "because": "b", "deny": {"a": 1}, "allow_only": {"a": 1}})
    with pytest.raises(pydantic.ValidationError, match="weight goes with a prefer"):
        Policy.model_validate({"name": "p", "because": "b", "deny": {"a": 1}, "weight": 1})
    with pytest.raises(pydantic.ValidationError, match="at least one of"):
        Limit()
    assert Policy.model_validate({"name": "p", "because": "b", "prefer": {"a": 1}}).preference_weight == 1.0
    limit = Policy.model_validate({"name": "p", "because": "b", "limit": {"cost_per_run": 5}})
    assert limit.rule == "limit" and limit.limit is not None and limit.limit.cost_per_run == 5
    with pytest.raises(pydantic.ValidationError):
        Policy.model_validate({"name": "p", "because": "", "deny": {"a": 1}})


def test_arrivals_take_exactly_one_of_every_or_rate() -> None:
    """Arrivals are periodic (`every`) or Poisson (`rate`), not both or neither."""
    assert Arrivals.model_validate({"every": "200ms"}).every == 0.2
    assert Arrivals(rate=5).rate == 5
    for bad in ({}, {"every": 1, "rate": 1}):
        with pytest.raises(pydantic.ValidationError, match="exactly one"):
            Arrivals.model_validate(bad)


def test_selector_needs_provides_or_tags() -> None:
    """An empty target selector would match everything by accident; it is refused."""
    with pytest.raises(pydantic.ValidationError, match="needs `provides` or `tags`"):
        Selector()


# ---- faults ----------------------------------------------------------------------------

FAULT_EXAMPLES: dict[str, dict[str, Any]] = {
    "down": {},
    "error_rate": {"probability": 0.3},
    "latency": {"multiply": 8, "jitter": 0.2},
    "hang": {},
    "flap": {"period": "10s", "duty": 0.3},
    "slow_degrade": {"ramp": "2m", "error_rate": 0.5, "latency_multiply": 3},
    "api_change": {"status": 410},
    "cost": {"to": 0.9},
    "quota": {"calls": 10, "window": "1s"},
    "lying_probe": {"error_rate": 0.8},
}


def test_fault_examples_cover_every_kind() -> None:
    """The examples below exercise every fault kind the model knows."""
    assert set(FAULT_EXAMPLES) == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_parses_and_times(kind: str) -> None:
    """Every fault kind parses from its file form and is active from `at` for `for`."""
    scenario = Scenario.model_validate({
        "scenario": "s", "intent": "i",
        "faults": [{"target": "pay", "kind": kind, "at": "10s", "for": "1m", **FAULT_EXAMPLES[kind]}],
    })
    fault = scenario.faults[0]
    assert fault.kind == kind
    assert not fault.active(9.9) and fault.active(10) and fault.active(69.9) and not fault.active(70)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"kind": "error_rate"}, "probability"),
        ({"kind": "error_rate", "probability": 1.5}, "less than or equal"),
        ({"kind": "latency"}, "needs `multiply`"),
        ({"kind": "flap"}, "period"),
        ({"kind": "flap", "period": "1s", "duty": 1}, "less than 1"),
        ({"kind": "slow_degrade"}, "ramp"),
        ({"kind": "api_change", "status": 200}, "greater than or equal to 400"),
        ({"kind": "cost"}, "exactly one of `multiply` or `to`"),
        ({"kind": "cost", "multiply": 2, "to": 1}, "exactly one of `multiply` or `to`"),
        ({"kind": "quota", "calls": 0, "window": "1s"}, "greater than 0"),
        ({"kind": "down", "for": 0}, "greater than 0"),
        ({"kind": "meteor"}, "does not match any of the expected tags"),
    ],
)
def test_fault_rules(fault: dict[str, Any], words: str) -> None:
    """Each fault kind refuses missing or out-of-range parameters."""
    with pytest.raises(pydantic.ValidationError, match=words):
        Scenario.model_validate({"scenario": "s", "intent": "i", "faults": [{"target": "pay", **fault}]})


def test_fault_targets_by_name_and_selector() -> None:
    """A fault targets a capability by name, or by selector over provides and tags."""
    cap = Capability(name="pay", provides="payment", effects={"x.y": 1}, tags={"region": "eu"})
    scenario = Scenario.model_validate({
        "scenario": "s", "intent": "i",
        "faults": [
            {"target": "pay", "kind": "down"},
            {"target": "ship", "kind": "down"},
            {"target": {"provides": "payment", "tags": {"region": "eu"}}, "kind": "down"},
            {"target": {"tags": {"region": "us"}}, "kind": "down"},
        ],
    })
    assert [fault_targets(f, cap) for f in scenario.faults] == [True, False, True, False]


def test_scenario_defaults_and_aliases() -> None:
    """A scenario defaults to 100 runs every 200ms comparing adaptive and static; `set` is an alias."""
    scenario = Scenario.model_validate({"scenario": "s", "intent": "i", "set": {"a.b": True}})
    assert (scenario.runs, scenario.arrivals.every, scenario.strategies) == (100, 0.2, ["adaptive", "static"])
    assert scenario.set_ == {"a.b": True}
    assert scenario.model_dump(by_alias=True)["set"] == {"a.b": True}
    with pytest.raises(pydantic.ValidationError):
        Scenario.model_validate({"scenario": "s", "intent": "i", "strategies": []})


# ---- intents -----------------------------------------------------------------------------


def test_intent_needs_a_goal_and_binds_inputs() -> None:
    """An intent's goal is non-empty; inputs are typed, defaulted and required otherwise."""
    with pytest.raises(pydantic.ValidationError):
        Intent(intent="i", goal={})
    intent = Intent.model_validate({
        "intent": "i", "goal": {"x.y": True},
        "inputs": {"order_id": "str", "amount": {"type": "float", "default": 1.5}, "rush": "bool",
                   "token": {"type": "str", "secret": True, "default": "t"}},
    })
    assert intent.bind_inputs({"order_id": 7, "rush": "yes"}) == {"order_id": "7", "amount": 1.5, "rush": True, "token": "t"}
    assert intent.secret_inputs() == frozenset({"token"})
    with pytest.raises(ValueError, match="input 'order_id' \\(str\\) is required"):
        intent.bind_inputs({"rush": True})
    with pytest.raises(ValueError, match="unknown input 'amont'"):
        intent.bind_inputs({"order_id": "a", "rush": True, "amont": 1})
    with pytest.raises(ValueError, match="'many' is not a float"):
        intent.bind_inputs({"order_id": "a", "rush": True, "amount": "many"})


def test_a_bad_secret_input_is_named_but_its_value_never_repeated() -> None:
    """A secret that does not fit its type is refused without echoing it to the terminal."""
    intent = Intent.model_validate({
        "intent": "i", "goal": {"x.y": 1}, "inputs": {"pin": {"type": "int", "secret": True}},
    })
    with pytest.raises(ValueError) as caught:
        intent.bind_inputs({"pin": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert "input 'pin'" in str(caught.value) and "int" in str(caught.value)


def test_constraints_and_objective_bounds() -> None:
    """Deadlines and max_steps are positive, min_success a probability, weights non-negative."""
    for bad in ({"constraints": {"deadline": 0}}, {"constraints": {"min_success": 0}},
                {"constraints": {"max_steps": 0}}, {"objective": {"cost": -1}}, {"on_failure": "retry"}):
        with pytest.raises(pydantic.ValidationError):
            Intent.model_validate({"intent": "i", "goal": {"x.y": 1}, **bad})


def test_models_are_frozen() -> None:
    """Declarations cannot be changed after they are built."""
    cap = Capability(name="a", provides="p", effects={"x.y": 1})
    with pytest.raises(pydantic.ValidationError):
        cap.cost = 3  # type: ignore[misc]
