"""Cross-reference checks (ido.loading.checks): names that point at nothing, goals nothing can
reach, matchers no value can meet, unknown policy keys; located at the offending node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ido.errors import Problem, ValidationError
from ido.loading import load_workspace
from ido.model import Capability, Intent, Observer, Policy, Scenario
from ido.workspace import Workspace

CAPS = """
capabilities:
  - name: reserve
    provides: reservation
    requires: {order.reserved: false}
    effects: {order.reserved: true}
  - name: pay
    provides: payment
    requires: {order.reserved: true, order.paid: false}
    effects: {order.paid: true}
    compensate: refund
  - name: refund
    provides: refund
    requires: {order.paid: true}
    effects: {order.paid: false}
"""
INTENT = """
intent: paid
given: {order.reserved: false, order.paid: false}
goal: {order.paid: true}
"""


def problems_of(root: Path) -> list[Problem]:
    """Return the problems loading the workspace at `root` raises."""
    with pytest.raises(ValidationError) as caught:
        load_workspace(root)
    return caught.value.problems


def only(problems: list[Problem]) -> Problem:
    """Return the one problem, failing with all of them otherwise."""
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_the_base_workspace_is_clean(files: Callable[..., Path]) -> None:
    """The fixture workspace of this module has no problems (so each test adds exactly one)."""
    root = files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT})
    assert load_workspace(root).problems() == []


def test_duplicate_names_across_files_name_the_first(files: Callable[..., Path]) -> None:
    """A capability declared twice is reported at the second with the first's location."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "capabilities/d.yaml": "capabilities:\n  - {name: pay, provides: payment, effects: {order.paid: true}}\n",
        "intents/i.yaml": INTENT,
    })
    problem = only(problems_of(root))
    assert (problem.path, problem.line) == ("capabilities/d.yaml", 2)
    assert "duplicate capability name 'pay'" in problem.message
    assert "capabilities/c.yaml:6" in problem.message


@pytest.mark.parametrize(
    ("rel", "text", "kind"),
    [
        ("intents/j.yaml", INTENT, "intent"),
        ("policies/p.yaml", "policies:\n  - {name: p, because: b, deny: {capability.name: x}}\n"
                            "  - {name: p, because: b, deny: {capability.name: y}}\n", "policy"),
        ("capabilities/o.yaml", "observers:\n  - {name: o, facts: [a.b], sim: true}\n"
                                "---\nobservers:\n  - {name: o, facts: [a.c], sim: true}\n", "observer"),
        ("benchmarks/scenarios/s.yaml", "scenario: s\nintent: paid\n---\nscenario: s\nintent: paid\n", "scenario"),
    ],
)
def test_duplicate_names_of_every_kind(files: Callable[..., Path], rel: str, text: str, kind: str) -> None:
    """Intents, policies, observers and scenarios must have unique names too."""
    root = files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT, rel: text})
    assert f"duplicate {kind} name" in only(problems_of(root)).message


def test_compensate_naming_no_capability(files: Callable[..., Path]) -> None:
    """`compensate: refnd` is located at the value and suggests `refund`."""
    root = files({"capabilities/c.yaml": CAPS.replace("compensate: refund", "compensate: refnd"), "intents/i.yaml": INTENT})
    problem = only(problems_of(root))
    assert (problem.line, problem.column, problem.field) == (10, 17, "capabilities[1].compensate")
    assert "names no capability 'refnd'" in problem.message and "did you mean 'refund'?" in problem.message


def test_intent_naming_an_unknown_policy(files: Callable[..., Path]) -> None:
    """An intent's `policies` entry that names nothing is located at the entry and lists the known ones."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "intents/i.yaml": INTENT + "policies: [eu-only, eu-onyl]\n",
        "policies/p.yaml": "policies:\n  - {name: eu-only, because: b, deny: {capability.tags.region: us}}\n",
    })
    problem = only(problems_of(root))
    assert problem.field == "policies[1]" and problem.line == 4
    assert "names no policy 'eu-onyl'; did you mean 'eu-only'?" in problem.message


def test_scenario_references(files: Callable[..., Path]) -> None:
    """A scenario's intent, fault targets, selectors and inputs must name real things."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "intents/i.yaml": INTENT + "inputs: {amount: float}\n",
        "benchmarks/scenarios/s.yaml": """
            scenario: s
            intent: paid
            inputs: {amount: 3.0, amont: 4}
            faults:
              - {target: pya, kind: down}
              - {target: {provides: shipping}, kind: hang}
              - {target: {provides: payment}, kind: hang}
            ---
            scenario: t
            intent: unpaid
        """,
    })
    by_field = {p.field: p for p in problems_of(root) if p.path == "benchmarks/scenarios/s.yaml"}
    assert "takes no input 'amont'; did you mean 'amount'?" in by_field["inputs.amont"].message
    assert "names no capability 'pya'; did you mean 'pay'?" in by_field["faults[0].target"].message
    assert "selector matches no capability" in by_field["faults[1].target"].message
    assert "faults[2].target" not in by_field
    assert "names no intent 'unpaid'; did you mean 'paid'?" in by_field["intent"].message
    assert by_field["intent"].line == 10


def test_goal_fact_produced_by_nothing(files: Callable[..., Path]) -> None:
    """A goal fact no capability, given fact or observer can make hold is located at its key."""
    root = files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT.replace("{order.paid: true}", "{order.paid: true, order.shipped: true}")})
    problem = only(problems_of(root))
    assert problem.field == "goal.order.shipped" and problem.line == 3 and problem.column == 26
    assert problem.message.startswith(
        "goal fact 'order.shipped' is produced by no capability; add a capability with effects "
        "{order.shipped: true} or remove it from the goal"
    )


def test_goal_facts_from_given_observers_and_reports_are_reachable(files: Callable[..., Path]) -> None:
    """Goal facts that hold from `given`, that an observer reports or a capability reports are fine."""
    root = files({
        "capabilities/c.yaml": CAPS + "  - {name: track, provides: t, reports: {parcel.id: id}}\n"
        "observers:\n  - {name: o, facts: [service.up], sim: true}\n",
        "intents/i.yaml": INTENT.replace(
            "goal: {order.paid: true}",
            "goal: {order.paid: true, service.up: true, parcel.id: {exists: true}, order.note: {exists: false}}",
        ).replace("given: {", "given: {order.note2: 1, "),
        "intents/j.yaml": "intent: j\ngiven: {x.y: 1}\ngoal: {x.y: {gte: 1}}\n",
    })
    assert load_workspace(root).problems() == []


def test_goal_value_that_can_never_hold(files: Callable[..., Path]) -> None:
    """`goal: {order.paid: "yes"}` when order.paid only takes true/false names the values it takes."""
    root = files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT.replace("{order.paid: true}", "{order.paid: 'yes'}")})
    problem = only(problems_of(root))
    assert problem.field == "goal.order.paid"
    assert "can never hold: order.paid only takes" in problem.message
    assert "true (effects)" in problem.message and "false (" in problem.message


@pytest.mark.parametrize(
    ("matcher", "bad"),
    [
        ('"yes"', True),
        ("{gt: 3}", True),
        ("{in: [1, 2]}", True),
        ("{not: true}", False),  # holds when false
        ("{in: [true, 'x']}", False),
        ("{exists: true}", False),
    ],
)
def test_requires_matcher_against_values_the_fact_takes(files: Callable[..., Path], matcher: str, bad: bool) -> None:
    """A requires matcher is flagged iff no value the fact can take (given, effects) satisfies it."""
    root = files({
        "capabilities/c.yaml": CAPS + f"  - {{name: x, provides: x, requires: {{order.paid: {matcher}}}, effects: {{x.done: true}}}}\n",
        "intents/i.yaml": INTENT,
    })
    if not bad:
        assert load_workspace(root).problems() == []
        return
    problem = only(problems_of(root))
    assert problem.field == "capabilities[3].requires.order.paid"
    assert "which can never hold: order.paid only takes false (given), true (effects)" in problem.message


def test_requires_on_observed_facts_is_not_judged(files: Callable[..., Path]) -> None:
    """Facts an observer reports can take any value, so their matchers are not checked."""
    root = files({
        "capabilities/c.yaml": CAPS + "  - {name: x, provides: x, requires: {order.paid: 'odd'}, effects: {x.done: true}}\n"
        "observers:\n  - {name: o, facts: [order.paid], sim: true}\n",
        "intents/i.yaml": INTENT,
    })
    assert load_workspace(root).problems() == []


def test_requires_fact_that_looks_like_a_typo(files: Callable[..., Path]) -> None:
    """A requires fact nothing sets, close to a known fact, suggests the known one."""
    root = files({"capabilities/c.yaml": CAPS.replace("requires: {order.reserved: true,", "requires: {order.reserverd: true,"), "intents/i.yaml": INTENT})
    problem = only(problems_of(root))
    assert problem.field == "capabilities[1].requires.order.reserverd"
    assert "did you mean 'order.reserved'?" in problem.message


def test_unknown_policy_keys(files: Callable[..., Path]) -> None:
    """Policy matcher keys must be intent.*, inputs.* or capability.* forms ido evaluates."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "intents/i.yaml": INTENT,
        "policies/p.yaml": """
            policies:
              - name: a
                because: b
                applies_to: {intent.tag.gdpr: true, inputs.amount: {gt: 3}}
                deny: {capability.region: us, capability.tags.region: us, capability.cost: {gt: 1}}
              - name: c
                because: b
                applies_to: {capability.name: x}
                prefer: {capability.tags.vendor: dhl}
        """,
    })
    by_field = {p.field: p for p in problems_of(root)}
    assert set(by_field) == {
        "policies[0].applies_to.intent.tag.gdpr",
        "policies[0].deny.capability.region",
        "policies[1].applies_to.capability.name",
    }
    assert "did you mean 'intent.tags.gdpr'?" in by_field["policies[0].applies_to.intent.tag.gdpr"].message
    assert "did you mean 'capability.tags.region'?" in by_field["policies[0].deny.capability.region"].message
    assert by_field["policies[0].deny.capability.region"].column == 12


def test_one_broken_file_does_not_cascade(files: Callable[..., Path]) -> None:
    """When a capabilities file fails, references to its capabilities are not also reported."""
    root = files({
        "capabilities/c.yaml": CAPS + "  - name: broken\n    cots: 1\n",
        "intents/i.yaml": INTENT,
        "benchmarks/scenarios/s.yaml": "scenario: s\nintent: paid\nfaults: [{target: broken, kind: down}]\n",
    })
    problems = problems_of(root)
    assert {p.path for p in problems} == {"capabilities/c.yaml"}
    assert not any("broken" in p.message for p in problems)


def test_python_declarations_are_checked_alike() -> None:
    """A workspace built in Python gets the same checks, labelled by declaration name."""
    ws = Workspace()
    ws.add(
        Capability(name="pay", provides="payment", effects={"order.paid": True}, compensate="refnd"),
        Intent(intent="paid", goal={"order.paid": True, "order.shipped": True}),
        Observer(name="o", facts=["svc.up"], sim=True),
        Policy(name="p", because="b", deny={"capability.regio": "us"}),
        Scenario(scenario="s", intent="nope"),
    )
    fields = sorted(p.field or "" for p in ws.problems())
    assert fields == [
        "capability 'pay'.compensate",
        "intent 'paid'.goal.order.shipped",
        "policy 'p'.deny.capability.regio",
        "scenario 's'.intent",
    ]
    with pytest.raises(ValidationError):
        ws.check()


def test_a_broken_declaration_does_not_hide_other_goal_problems(files: Callable[..., Path]) -> None:
    """A capability that fails validation still counts as producing its effects, so a goal typo
    elsewhere is reported in the same pass and its own goal fact is not blamed."""
    root = files({
        "capabilities/c.yaml": CAPS + "  - {name: ship, provides: shipping, effects: {order.shipped: true}, cots: 1}\n",
        "intents/i.yaml": INTENT.replace("{order.paid: true}", "{order.paid: true, order.shipped: true, order.notifed: true}"),
    })
    problems = problems_of(root)
    assert sorted(p.field or "" for p in problems) == ["capabilities[3].cots", "goal.order.notifed"]


def test_a_syntax_error_skips_the_fact_checks(files: Callable[..., Path]) -> None:
    """When a file cannot be read at all, goals are not judged against what is left."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "capabilities/broken.yaml": "capabilities:\n  - {name: ship, provides: shipping\n",
        "intents/i.yaml": INTENT.replace("{order.paid: true}", "{order.paid: true, order.shipped: true}"),
    })
    assert [p.path for p in problems_of(root)] == ["capabilities/broken.yaml"]
