"""Policy evaluation: which policies apply to a run, and what they say about a capability.

The planner (`ido.planning.planner`) asks `PolicySet.judge` once per candidate
capability per plan call, and the engine asks it again before every dispatch
as a guard, so judgements are cached per (capability, intent, inputs).

Context facts seen by `applies_to` and by rule matchers: `intent.name`,
`intent.tags.KEY`, `inputs.NAME`; rule matchers also see `capability.name`,
`capability.provides`, `capability.cost`, `capability.latency`,
`capability.reliability`, `capability.idempotent` and `capability.tags.KEY`.
A policy named in `intent.policies` applies whatever its `applies_to` says.
As in Cedar, a deny always overrides a preference: a denied capability is
never a candidate, whatever its preference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ido.model.capability import Capability
from ido.model.conditions import holds
from ido.model.intent import Intent
from ido.model.policy import Policy


@dataclass(frozen=True, slots=True)
class Limits:
    """The tightest caps of every applicable `limit` policy (None: no cap), with who set them."""

    attempts_per_capability: int | None = None
    attempts_by: str | None = None
    cost_per_run: float | None = None
    cost_by: str | None = None
    steps_per_run: int | None = None
    steps_by: str | None = None


#: No caps at all: what `PolicySet.limits` returns when there are no policies.
_NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class PolicyJudgement:
    """What the applicable policies say about one capability for one intent and inputs.

    `denied_by`: policies whose `deny` matches, or whose `allow_only` does not.
    `approval_by`: `require_approval` policies that match (the step needs a person).
    `preference`: sum of the weights of matching `prefer` policies (score units off
    each step; the planner ignores it for denied capabilities).
    `limits`: caps from `limit` policies, which apply to every capability.
    """

    denied_by: list[str] = field(default_factory=list)
    approval_by: list[str] = field(default_factory=list)
    preference: float = 0.0
    preferred_by: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)

    @property
    def denied(self) -> bool:
        """Return whether some policy excludes the capability."""
        return bool(self.denied_by)


def context_facts(intent: Intent, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the facts `applies_to` matchers see: `intent.name`, `intent.tags.*`, `inputs.*`."""
    facts: dict[str, Any] = {"intent.name": intent.intent}
    for key, value in intent.tags.items():
        facts[f"intent.tags.{key}"] = value
    for key, value in inputs.items():
        facts[f"inputs.{key}"] = value
    return facts


def capability_facts(capability: Capability) -> dict[str, Any]:
    """Return the facts rule matchers see about a capability (`capability.*`)."""
    facts: dict[str, Any] = {
        "capability.name": capability.name,
        "capability.provides": capability.provides,
        "capability.cost": capability.cost,
        "capability.latency": capability.latency,
        "capability.reliability": capability.reliability,
        "capability.idempotent": capability.idempotent,
    }
    for key, value in capability.tags.items():
        facts[f"capability.tags.{key}"] = value
    return facts


def describe(policy: Policy) -> str:
    """Return `policy-name: because` — the clause people read in a reason."""
    return f"{policy.name}: {policy.because}"


class PolicySet:
    """The workspace's policies, evaluated with caching. Built once per registry revision."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies: list[Policy] = sorted(policies, key=lambda p: p.name)
        self.by_name: dict[str, Policy] = {p.name: p for p in self.policies}
        self._applicable: dict[tuple[int, tuple[Any, ...]], tuple[Intent, list[Policy]]] = {}
        self._judged: dict[tuple[int, int, tuple[Any, ...]], tuple[Capability, Intent, PolicyJudgement]] = {}
        #: the run inputs some policy's matcher names (`inputs.NAME`): judgements depend on no other.
        self._reads_sorted = tuple(sorted(inputs_read_by(self.policies)))

    def __len__(self) -> int:
        return len(self.policies)

    def applicable(self, intent: Intent, inputs: Mapping[str, Any]) -> list[Policy]:
        """Return the policies that apply to `intent` run with `inputs`, sorted by name."""
        if not self.policies:
            return []
        key = (id(intent), self.inputs_key(inputs))
        cached = self._applicable.get(key)
        if cached is not None and cached[0] is intent:
            return cached[1]
        context = context_facts(intent, inputs)
        named = set(intent.policies)
        result = [p for p in self.policies if p.name in named or holds(p.applies_to, context)]
        if len(self._applicable) > 4096:
            self._applicable.clear()
        self._applicable[key] = (intent, result)
        return result

    def limits(self, intent: Intent, inputs: Mapping[str, Any]) -> Limits:
        """Return the tightest caps of the applicable `limit` policies."""
        if not self.policies:
            return _NO_LIMITS
        caps: dict[str, Any] = {}
        for policy in self.applicable(intent, inputs):
            if policy.limit is None:
                continue
            for attr, by in (
                ("attempts_per_capability", "attempts_by"),
                ("cost_per_run", "cost_by"),
                ("steps_per_run", "steps_by"),
            ):
                value = getattr(policy.limit, attr)
                if value is not None and (caps.get(attr) is None or value < caps[attr]):
                    caps[attr] = value
                    caps[by] = policy.name
        return Limits(**caps)

    def judge(self, capability: Capability, intent: Intent, inputs: Mapping[str, Any]) -> PolicyJudgement:
        """Return what the applicable policies say about `capability`; cached, so cheap to repeat.

        Called by the planner for every candidate and by the engine before every
        dispatch (a policy is never violated by an executed action).
        """
        ikey = self.inputs_key(inputs)
        key = (id(capability), id(intent), ikey)
        cached = self._judged.get(key)
        if cached is not None and cached[0] is capability and cached[1] is intent:
            return cached[2]
        judgement = self._judge(capability, intent, inputs)
        if len(self._judged) > 65536:
            self._judged.clear()
        self._judged[key] = (capability, intent, judgement)
        return judgement

    def _judge(self, capability: Capability, intent: Intent, inputs: Mapping[str, Any]) -> PolicyJudgement:
        applicable = self.applicable(intent, inputs)
        if not applicable:
            return _NOTHING
        facts = context_facts(intent, inputs)
        facts.update(capability_facts(capability))
        denied: list[str] = []
        approval: list[str] = []
        preferred: list[str] = []
        preference = 0.0
        for policy in applicable:
            if (policy.deny is not None and holds(policy.deny, facts)) or (
                policy.allow_only is not None and not holds(policy.allow_only, facts)
            ):
                denied.append(policy.name)
            elif policy.prefer is not None and holds(policy.prefer, facts):
                preference += policy.preference_weight
                preferred.append(policy.name)
            elif policy.require_approval is not None and holds(policy.require_approval, facts):
                approval.append(policy.name)
        return PolicyJudgement(
            denied_by=denied,
            approval_by=approval,
            preference=preference,
            preferred_by=preferred,
            limits=self.limits(intent, inputs),
        )

    def inputs_key(self, inputs: Mapping[str, Any]) -> tuple[Any, ...]:
        """Return the part of `inputs` judgements depend on, as a hashable key; called by this
        set's caches and the planner's."""
        # Matchers look up only the facts they name (`holds`), so inputs no policy names cannot
        # change a judgement: leaving them out lets runs that differ only there (an order id)
        # share cached judgements. type() in the key: True and 1 must not share an entry.
        # (the names in sorted order, each once: the same tuple as sorting the filtered items)
        return tuple([(k, type(inputs[k]).__name__, inputs[k]) for k in self._reads_sorted if k in inputs])

    def because(self, name: str) -> str:
        """Return the `because` sentence of policy `name` (empty when unknown)."""
        policy = self.by_name.get(name)
        return policy.because if policy is not None else ""

    def describe_denial(self, names: Sequence[str]) -> str:
        """Return "denied by P: because" (joined with "; ") for the named policies."""
        parts = [describe(self.by_name[n]) if n in self.by_name else n for n in names]
        return "denied by " + "; ".join(parts)


_NOTHING = PolicyJudgement()


def inputs_read_by(policies: Iterable[Policy]) -> frozenset[str]:
    """Return the names of run inputs any policy matcher mentions (`inputs.NAME`).

    Called by `PolicySet` (its cache keys) and `ido.engine.reuse.FirstPlans` (which
    runs may share a first plan).
    """
    names: set[str] = set()
    for policy in policies:
        for condition in (policy.applies_to, policy.deny, policy.allow_only, policy.prefer, policy.require_approval):
            for fact in condition or {}:
                if fact.startswith("inputs."):
                    names.add(fact.removeprefix("inputs."))
    return frozenset(names)
