"""Policy evaluation: applies_to, every rule kind, deny over prefer, limits, caching, reasons."""

from __future__ import annotations

from typing import Any

from ido.model import Capability, Intent, Policy
from ido.policy import PolicySet, capability_facts, context_facts


def _cap(name: str = "payment.paypal-us", **kw: Any) -> Capability:
    data: dict[str, Any] = {
        "name": name, "provides": "payment", "effects": {"order.paid": True},
        "cost": 0.1, "latency": "200ms", "reliability": 0.99,
        "tags": {"region": "us", "vendor": "paypal"}, "invoke": "sim",
    }
    data.update(kw)
    return Capability.model_validate(data)


def _intent(**kw: Any) -> Intent:
    data: dict[str, Any] = {"intent": "order-fulfilled", "goal": {"order.paid": True}, "tags": {"gdpr": True}}
    data.update(kw)
    return Intent.model_validate(data)


def _policy(**kw: Any) -> Policy:
    return Policy.model_validate({"because": "because", **kw})


GDPR = _policy(
    name="gdpr-data-stays-in-eu",
    because="Personal data of EU customers is processed in the EU only.",
    applies_to={"intent.tags.gdpr": True},
    deny={"capability.tags.region": {"not_in": ["eu"]}},
)


def test_context_and_capability_facts_name_every_documented_key() -> None:
    """Matchers see intent.name, intent.tags.*, inputs.* and every capability.* fact."""
    ctx = context_facts(_intent(), {"amount": 5.0})
    assert ctx == {"intent.name": "order-fulfilled", "intent.tags.gdpr": True, "inputs.amount": 5.0}
    facts = capability_facts(_cap(idempotent=True))
    assert facts["capability.name"] == "payment.paypal-us"
    assert facts["capability.provides"] == "payment"
    assert facts["capability.cost"] == 0.1
    assert facts["capability.latency"] == 0.2
    assert facts["capability.reliability"] == 0.99
    assert facts["capability.idempotent"] is True
    assert facts["capability.tags.region"] == "us"


def test_applies_to_matches_intent_tags_and_inputs() -> None:
    """A policy applies when its applies_to holds over the intent and inputs, and not otherwise."""
    by_input = _policy(name="big", applies_to={"inputs.amount": {"gt": 100}}, deny={"capability.cost": {"gte": 0}})
    pset = PolicySet([GDPR, by_input])
    assert [p.name for p in pset.applicable(_intent(), {"amount": 500})] == ["big", "gdpr-data-stays-in-eu"]
    assert [p.name for p in pset.applicable(_intent(tags={}), {"amount": 5})] == []


def test_policy_named_by_the_intent_applies_regardless_of_applies_to() -> None:
    """A policy listed in intent.policies applies even where its applies_to does not match."""
    pset = PolicySet([GDPR])
    intent = _intent(tags={}, policies=["gdpr-data-stays-in-eu"])
    assert pset.judge(_cap(), intent, {}).denied_by == ["gdpr-data-stays-in-eu"]


def test_policy_without_applies_to_applies_to_every_intent() -> None:
    """An empty applies_to matches every intent."""
    everywhere = _policy(name="no-paypal", deny={"capability.tags.vendor": "paypal"})
    assert PolicySet([everywhere]).judge(_cap(), _intent(tags={}), {}).denied_by == ["no-paypal"]


def test_deny_matches_and_describes_the_reason() -> None:
    """A matching deny names the policy; the reason carries its `because` sentence."""
    pset = PolicySet([GDPR])
    judgement = pset.judge(_cap(), _intent(), {})
    assert judgement.denied and judgement.denied_by == ["gdpr-data-stays-in-eu"]
    assert pset.describe_denial(judgement.denied_by) == (
        "denied by gdpr-data-stays-in-eu: Personal data of EU customers is processed in the EU only."
    )
    assert not pset.judge(_cap(tags={"region": "eu"}), _intent(), {}).denied


def test_allow_only_denies_what_does_not_match() -> None:
    """allow_only denies a capability its matcher does not admit and lets the others through."""
    only = _policy(name="cheap-only", allow_only={"capability.cost": {"lte": 0.2}})
    pset = PolicySet([only])
    assert pset.judge(_cap(cost=0.5), _intent(), {}).denied_by == ["cheap-only"]
    assert pset.judge(_cap(cost=0.1), _intent(), {}).denied_by == []


def test_prefer_weights_add_up() -> None:
    """Matching prefer rules add their weights (default 1.0); non-matching ones add nothing."""
    a = _policy(name="prefer-paypal", prefer={"capability.tags.vendor": "paypal"}, weight=0.5)
    b = _policy(name="prefer-payment", prefer={"capability.provides": "payment"})
    c = _policy(name="prefer-stripe", prefer={"capability.tags.vendor": "stripe"}, weight=9)
    judgement = PolicySet([a, b, c]).judge(_cap(), _intent(), {})
    assert judgement.preference == 1.5
    assert judgement.preferred_by == ["prefer-payment", "prefer-paypal"]


def test_deny_beats_prefer() -> None:
    """A denied capability stays denied whatever its preference (Cedar: deny overrides)."""
    prefer = _policy(name="prefer-paypal", prefer={"capability.tags.vendor": "paypal"}, weight=100)
    judgement = PolicySet([GDPR, prefer]).judge(_cap(), _intent(), {})
    assert judgement.denied_by == ["gdpr-data-stays-in-eu"]
    assert judgement.denied


def test_require_approval_marks_matching_capabilities() -> None:
    """require_approval lists the policies whose matcher holds for the capability."""
    approve = _policy(name="big-spend", require_approval={"capability.cost": {"gte": 0.5}})
    pset = PolicySet([approve])
    assert pset.judge(_cap(cost=0.6), _intent(), {}).approval_by == ["big-spend"]
    assert pset.judge(_cap(cost=0.1), _intent(), {}).approval_by == []


def test_limits_take_the_tightest_cap_and_name_its_policy() -> None:
    """Several limit policies combine to the minimum of each cap, with the policy that set it."""
    a = _policy(name="a", limit={"attempts_per_capability": 3, "cost_per_run": 5})
    b = _policy(name="b", limit={"attempts_per_capability": 2, "steps_per_run": 7})
    limits = PolicySet([a, b]).judge(_cap(), _intent(), {}).limits
    assert (limits.attempts_per_capability, limits.attempts_by) == (2, "b")
    assert (limits.cost_per_run, limits.cost_by) == (5, "a")
    assert (limits.steps_per_run, limits.steps_by) == (7, "b")


def test_judgements_are_cached_per_capability_intent_and_inputs() -> None:
    """Repeated judge calls return the cached judgement; other inputs are judged afresh."""
    by_input = _policy(name="big", applies_to={"inputs.amount": {"gt": 100}}, deny={"capability.cost": {"gte": 0}})
    pset = PolicySet([by_input])
    cap, intent = _cap(), _intent()
    first = pset.judge(cap, intent, {"amount": 500})
    assert pset.judge(cap, intent, {"amount": 500}) is first
    assert pset.judge(cap, intent, {"amount": 5}).denied_by == []
    # True and 1 are different inputs.
    flag = _policy(name="flag", applies_to={"inputs.x": True}, deny={"capability.cost": {"gte": 0}})
    fset = PolicySet([flag])
    assert fset.judge(cap, intent, {"x": True}).denied
    assert not fset.judge(cap, intent, {"x": 1}).denied


def test_inputs_no_policy_names_share_cached_judgements_and_change_nothing() -> None:
    """Runs differing only in an input no matcher names (an order id) share a judgement; one
    a matcher names (in applies_to, deny, prefer ...) is judged afresh, absent or present."""
    by_input = _policy(name="big", applies_to={"inputs.amount": {"gt": 100}}, deny={"capability.cost": {"gte": 0}})
    prefer = _policy(name="vip", prefer={"inputs.tier": "gold"}, weight=1.0)
    pset = PolicySet([by_input, prefer])
    cap, intent = _cap(), _intent()
    first = pset.judge(cap, intent, {"amount": 500, "order_id": "o-1"})
    assert pset.judge(cap, intent, {"amount": 500, "order_id": "o-2"}) is first
    assert first.denied
    assert not pset.judge(cap, intent, {"order_id": "o-3"}).denied
    gold = pset.judge(cap, intent, {"amount": 5, "tier": "gold", "order_id": "o-4"})
    assert gold.preferred_by == ["vip"] and not gold.denied
    for inputs in ({"amount": 500, "order_id": "o-5"}, {"tier": "gold"}, {"tier": "silver", "x": 1}):
        assert pset.judge(cap, intent, inputs) == PolicySet([by_input, prefer]).judge(cap, intent, inputs)
