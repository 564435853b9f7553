"""Policies: what may never be used, what alone may be used, what is preferred,
what is limited, and what needs a person's approval.

Each policy has one rule. `applies_to` matches facts about the intent and run
(`intent.name`, `intent.tags.KEY`, `inputs.NAME`); rule matchers see those and
the capability (`capability.name`, `capability.provides`, `capability.cost`,
`capability.latency`, `capability.reliability`, `capability.tags.KEY`,
`capability.idempotent`). Evaluated by `ido.policy`; a deny always overrides a
preference.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ido.model.conditions import Condition
from ido.model.values import Amount, Frozen, Name

RuleKind = Literal["deny", "allow_only", "prefer", "limit", "require_approval"]
RULE_KINDS: tuple[RuleKind, ...] = ("deny", "allow_only", "prefer", "limit", "require_approval")


class Limit(Frozen):
    """Caps on what a run may spend; at least one is set."""

    attempts_per_capability: int | None = Field(default=None, gt=0)
    cost_per_run: Amount | None = None
    steps_per_run: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _something(self) -> Limit:
        if self.attempts_per_capability is None and self.cost_per_run is None and self.steps_per_run is None:
            raise ValueError(
                "limit needs at least one of attempts_per_capability, cost_per_run, steps_per_run"
            )
        return self


class Policy(Frozen):
    """A named rule with the sentence shown to people (`because`)."""

    name: Name
    because: str = Field(min_length=1)
    applies_to: Condition = Field(default_factory=dict)
    deny: Condition | None = None
    allow_only: Condition | None = None
    prefer: Condition | None = None
    #: with `prefer`: score units taken off each matching step (negative: discouraged).
    weight: float | None = Field(default=None, allow_inf_nan=False)
    limit: Limit | None = None
    require_approval: Condition | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Policy:
        given = [k for k in RULE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"policy {self.name!r} takes exactly one rule of {', '.join(RULE_KINDS)}; "
                f"got {', '.join(given) if given else 'none'}"
            )
        if self.weight is not None and self.prefer is None:
            raise ValueError("weight goes with a prefer rule only")
        return self

    @property
    def rule(self) -> RuleKind:
        """Return which rule this policy states."""
        return next(k for k in RULE_KINDS if getattr(self, k) is not None)

    @property
    def preference_weight(self) -> float:
        """Return the score bonus of a prefer rule (1.0 unless `weight` says otherwise)."""
        return 1.0 if self.weight is None else self.weight
