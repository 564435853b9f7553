"""Intents: what must become true, under which constraints, optimising which objective.

Built by the loader from `intents/*.yaml` or directly in Python; read by the
planner (goal, constraints, objective), by policies (`applies_to` matches
`intent.*` and `inputs.*`) and by the engine (`on_failure`).
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

from pydantic import Field, SerializationInfo, field_serializer, model_validator

from ido.model.conditions import Condition
from ido.model.values import Amount, Duration, Frozen, Name, Probability, Scalar
from ido.secrets import MASK, REFERENCE, has_reference, mask, revealing, unset_variables

InputType = Literal["str", "int", "float", "bool"]


class InputSpec(Frozen):
    """A typed run parameter. `secret` inputs never appear in records or logs; a secret's `default`
    is masked wherever the intent is written down, and may be a `${env:NAME}` reference read when
    the inputs are bound (`ido.secrets`)."""

    type: InputType = "str"
    secret: bool = False
    default: Scalar | None = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `inputs: {order_id: str}` is short for `{order_id: {type: str}}`.
        if isinstance(data, str):
            return {"type": data}
        return data

    @field_serializer("default")
    def _masked_default(self, default: Scalar | None, info: SerializationInfo) -> Scalar | None:
        # a secret's default is a secret too: only a ${env:NAME} reference survives a dump
        if self.secret and default is not None and not revealing(info.context):
            return mask(default) if isinstance(default, str) else MASK
        return default

    def coerce(self, raw: Any) -> Scalar:
        """Return `raw` converted to this input's type; raises ValueError saying what was expected."""
        try:
            if self.type == "bool":
                if isinstance(raw, bool):
                    return raw
                text = str(raw).strip().lower()
                if text in ("true", "yes", "1", "on"):
                    return True
                if text in ("false", "no", "0", "off"):
                    return False
                raise ValueError
            if self.type == "int":
                if isinstance(raw, bool):
                    raise ValueError
                return int(raw)
            if self.type == "float":
                if isinstance(raw, bool):
                    raise ValueError
                number = float(raw)
                if not math.isfinite(number):
                    # nan/inf/1e400 are not amounts anything can be compared with, nor plain JSON
                    raise ValueError
                return number
            return str(raw)
        except (TypeError, ValueError, OverflowError):
            shown = repr(raw) if len(repr(raw)) <= 40 else f"{repr(raw)[:40]}... ({len(repr(raw))} characters)"
            finite = " (a finite number)" if self.type == "float" else ""
            article = "an" if self.type == "int" else "a"
            raise ValueError(f"{shown} is not {article} {self.type}{finite}") from None


class Constraints(Frozen):
    """Hard bounds a plan and a run must hold."""

    budget: Amount | None = None
    deadline: Duration | None = Field(default=None, gt=0)
    min_success: Probability | None = None
    max_steps: int | None = Field(default=None, gt=0)


class Objective(Frozen):
    """Weights of the score a plan minimises: cost per unit of cost, latency per second,
    risk per unit of -ln p(success)."""

    cost: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    latency: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    risk: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class Intent(Frozen):
    """What must become true (`goal`) starting from `given`, under constraints and policies."""

    intent: Name
    description: str = ""
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    given: dict[str, Scalar] = Field(default_factory=dict)
    goal: Condition = Field(min_length=1)
    constraints: Constraints = Field(default_factory=Constraints)
    objective: Objective = Field(default_factory=Objective)
    tags: dict[str, Scalar] = Field(default_factory=dict)
    policies: list[Name] = Field(default_factory=list)
    on_failure: Literal["compensate", "stop"] = "compensate"

    @property
    def name(self) -> str:
        """Return the intent's name (the `intent:` key)."""
        return self.intent

    def bind_inputs(self, raw: dict[str, Any]) -> dict[str, Scalar]:
        """Return the run inputs typed and defaulted; raises ValueError naming the bad or missing one."""
        unknown = sorted(set(raw) - set(self.inputs))
        if unknown:
            known = ", ".join(sorted(self.inputs)) or "none"
            raise ValueError(f"unknown input {unknown[0]!r}; intent {self.intent!r} takes: {known}")
        bound: dict[str, Scalar] = {}
        for name, spec in self.inputs.items():
            if name in raw:
                try:
                    bound[name] = spec.coerce(raw[name])
                except ValueError as exc:
                    # a secret's value is never repeated, not even in an error on the terminal
                    what = f"the value given is not a {spec.type}" if spec.secret else str(exc)
                    raise ValueError(f"input {name!r}: {what}") from None
            elif spec.secret and isinstance(spec.default, str) and has_reference(spec.default):
                unset = unset_variables(spec.default)
                if unset:
                    raise ValueError(
                        f"input {name!r}: its default reads environment variable {unset[0]}, which is not "
                        f"set; export {unset[0]} or pass --input {name}=..."
                    )
                try:
                    bound[name] = spec.coerce(REFERENCE.sub(lambda m: os.environ[m.group(1)], spec.default))
                except ValueError:
                    raise ValueError(f"input {name!r}: the value its default reads is not a {spec.type}") from None
            elif spec.default is not None:
                bound[name] = spec.default
            else:
                raise ValueError(f"input {name!r} ({spec.type}) is required; pass --input {name}=...")
        return bound

    def secret_inputs(self) -> frozenset[str]:
        """Return the names of inputs whose values must never be recorded."""
        return frozenset(n for n, s in self.inputs.items() if s.secret)
