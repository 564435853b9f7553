"""The explorer's pure parts, without a browser: the outcome sentence, alternatives by role, the
critical path, what-if workspaces, run comparison and form bounds."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from browser_helpers import copy_demo
from hypothesis import given
from hypothesis import strategies as st

from ido.cli.main import main
from ido.decisions import Switch
from ido.explain import ExplainedDecision, ExplainedOutcome, Explanation, explain
from ido.journal import open_store
from ido.loading import load_workspace
from ido.planning.types import Alternative, Plan, PlanStep, Verdict
from ido.service.explorer import compare, views
from ido.service.explorer.common import Invalid, form_fields
from ido.service.explorer.dag import critical_path, graph
from ido.service.explorer.whatif import declaration_yaml, edited_workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Explanation, Explanation]:
    """The demo workspace, the payments-outage run's explanation and a plain run's."""
    root = copy_demo(tmp_path_factory.mktemp("views"))
    url = f"sqlite:///{root / 'journal.db'}"
    args = ["--workspace", str(root), "--store", url, "run", "order-fulfilled", "--json"]
    assert main([*args, "--simulate", "payments-outage"]) == 0
    assert main(args) == 0
    store = open_store(url)
    try:
        plain, outage = (explain(store, r.run_id) for r in store.list_runs())
    finally:
        store.close()
    return root, outage, plain


def decision(seq: int, alternatives: list[Alternative], **fields: object) -> ExplainedDecision:
    given: dict[str, object] = {"action": "dispatch", **fields}
    return ExplainedDecision(seq=seq, event_seq=seq, decision_id=f"r-d{seq}", at="", trigger="start",
                             alternatives=alternatives, **given)  # type: ignore[arg-type]


def alt(capability: str, verdict: Verdict, **numbers: object) -> Alternative:
    return Alternative(capability=capability, provides=capability.split(".")[0], verdict=verdict,
                       reason=f"{verdict}: words nobody parses", numbers=dict(numbers))


def test_the_demo_runs_sentence_names_the_switch_its_cause_cost_and_time(demo: tuple[Path, Explanation, Explanation]) -> None:
    _, outage, plain = demo
    sentence = views.outcome_sentence(outage)
    assert sentence.startswith("succeeded after switching payment from stripe-eu (circuit open) to adyen-eu; cost 0.83; ")
    assert sentence.endswith(" s")
    assert views.switched(outage) and not views.switched(plain)
    assert views.outcome_sentence(plain).startswith("succeeded; cost ")


def test_a_switch_after_a_failed_call_is_explained_by_the_outcomes_error_kind_not_its_message() -> None:
    failed = ExplainedOutcome(seq=3, capability="payment.a", step=1, status="failed", hit=False,
                              error="circuit open (this text is never read)", error_kind="server")
    first = decision(1, [alt("payment.a", Verdict.CHOSEN)], outcomes=[failed])
    second = decision(2, [alt("payment.b", Verdict.CHOSEN), alt("payment.a", Verdict.COSTLIER)],
                      switches=[Switch(role="payment", before="payment.a", after="payment.b", verdict="costlier")])
    run = Explanation(run_id="r", intent="i", status="running", cost=0.5, created_at=10.0, updated_at=11.5,
                      decisions=[first, second])
    assert views.outcome_sentence(run) == "running, switched payment from a (failed: server) to b; cost 0.50; 1.5 s"


def test_a_run_waiting_for_approval_says_whose_approval_it_waits_for() -> None:
    waiting = decision(1, [alt("pay.a", Verdict.CHOSEN)], chosen=["pay.a"], action="await_approval",
                       approval=["big-payments"])
    run = Explanation(run_id="r", intent="i", status="waiting_approval", cost=0.0, created_at=1.0,
                      updated_at=1.0, decisions=[waiting])
    assert views.outcome_sentence(run) == ("waiting for a person to approve pay.a (asked by big-payments); "
                                           "cost 0.00; 0.0 s")


def test_alternatives_group_by_role_with_choices_first_and_repeats_of_the_previous_decision_collapsed() -> None:
    before = decision(1, [alt("pay.a", Verdict.CHOSEN), alt("pay.b", Verdict.DENIED), alt("ship.x", Verdict.CHOSEN),
                          alt("refund.r", Verdict.NOT_NEEDED)])
    now = decision(2, [alt("refund.r", Verdict.NOT_NEEDED), alt("pay.b", Verdict.DENIED),
                       alt("pay.a", Verdict.UNHEALTHY, circuit="open"), alt("pay.c", Verdict.CHOSEN),
                       alt("ship.x", Verdict.CHOSEN)])
    groups = views.role_groups(now, before)
    assert [g.role for g in groups] == ["pay", "ship", "refund"]  # roles with a choice, then unneeded ones
    pay = groups[0]
    assert [a.capability for a in pay.shown] == ["pay.c", "pay.a"]  # chosen first, then what changed
    assert [a.capability for a in pay.repeated] == ["pay.b"]  # denied before and now: collapsed
    assert [a.capability for a in groups[1].shown] == ["ship.x"]  # chosen is never a repeat
    assert not groups[2].needed and groups[2].repeated
    assert all(not g.repeated for g in views.role_groups(now, None))  # the first decision repeats nothing


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = draw(st.integers(min_value=0, max_value=8))
    steps = []
    for i in range(count):
        after = sorted(draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3))) if i else []
        steps.append(PlanStep(capability=f"c{i}", provides=f"r{i}", after=after,
                              latency_s=draw(st.floats(min_value=0, max_value=10, allow_nan=False))))
    return Plan(intent="i", feasible=True, steps=steps)


def longest(plan: Plan) -> float:
    def ending_at(i: int) -> float:
        return plan.steps[i].latency_s + max((ending_at(a) for a in plan.steps[i].after), default=0.0)

    return max((ending_at(i) for i in range(len(plan.steps))), default=0.0)


@given(plans())
def test_the_critical_path_is_a_chain_of_after_edges_with_the_longest_total_latency(plan: Plan) -> None:
    path = critical_path(plan)
    assert all(earlier in plan.steps[later].after for earlier, later in pairwise(path))
    assert sum(plan.steps[i].latency_s for i in path) == pytest.approx(longest(plan))
    marked = {e["data"]["id"] for e in graph(plan, [])["elements"] if e["classes"].startswith("critical")}
    assert {f"s{i}" for i in path} <= marked


def test_a_what_if_edits_or_disables_a_copy_and_locates_problems_in_the_edited_yaml(
    demo: tuple[Path, Explanation, Explanation],
) -> None:
    root, _, _ = demo
    ws = load_workspace(root)
    gdpr = ws.policies["gdpr-data-stays-in-eu"]
    without, what = edited_workspace(ws, "policy", gdpr.name, "", disable=True)
    assert gdpr.name not in without.policies and gdpr.name in ws.policies  # the service's own is kept
    assert what == "policy gdpr-data-stays-in-eu disabled"
    text = declaration_yaml("policy", gdpr).replace("- eu", "- eu\n      - us")
    edited, _ = edited_workspace(ws, "policy", gdpr.name, text, disable=False)
    assert edited.policies[gdpr.name] != gdpr and ws.policies[gdpr.name] == gdpr
    with pytest.raises(Invalid) as bad:
        edited_workspace(ws, "policy", gdpr.name, "policies:\n  - name: x\n    deny: {a: 1}\n    oops: 2\n", disable=False)
    assert {p["line"] for p in bad.value.problems} >= {4}
    with pytest.raises(Invalid, match="declares a capability"):
        edited_workspace(ws, "policy", gdpr.name, declaration_yaml("capability", ws.capabilities["payment.paypal-us"]),
                         disable=False)
    with pytest.raises(Invalid, match="no policy named"):
        edited_workspace(ws, "policy", "nope", "", disable=True)
    with pytest.raises(Invalid, match="at most"):
        edited_workspace(ws, "policy", gdpr.name, "#" * 70_000, disable=False)


def test_comparing_the_outage_run_with_a_plain_one_finds_the_switch_and_says_why(
    demo: tuple[Path, Explanation, Explanation],
) -> None:
    _, outage, plain = demo
    assert not any(p.diverged for p in compare.pairs(outage, outage))
    pairs = compare.pairs(outage, plain)
    first = next(p for p in pairs if p.diverged)
    assert first.index == 1  # the second decision: the outage run moved payment to adyen-eu
    why = {(who, capability): verdict for who, capability, verdict, _ in first.why}
    assert why[("A", "payment.adyen-eu")] == "costlier"  # the plain run kept the cheaper stripe-eu
    assert why[("B", "payment.stripe-eu")] == "unhealthy"  # which the outage run found with its circuit open


def test_a_form_with_too_many_fields_is_refused_not_parsed() -> None:
    assert form_fields(b"a=1&b=2&a=3") == {"a": "3", "b": "2"}
    with pytest.raises(Invalid, match="more than 20 fields"):
        form_fields("&".join(f"f{i}=1" for i in range(50)).encode())
