"""Scenarios: rehearsals of degraded dependencies for `ido simulate`.

A scenario names an intent, how many runs arrive and how often, a seed, the
faults to inject (each targeting a capability name or a tag selector, timed
by `at`/`for`) and the strategies to compare. Read by `ido.simulation`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ido.model.values import Amount, Duration, Frozen, Name, Probability, Scalar

Strategy = Literal["adaptive", "static", "static-fallback"]


class Selector(Frozen):
    """Targets every capability whose `provides` and `tags` match (all given entries)."""

    provides: Name | None = None
    tags: dict[str, Scalar] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _something(self) -> Selector:
        if self.provides is None and not self.tags:
            raise ValueError("a target selector needs `provides` or `tags`")
        return self


class _Fault(Frozen):
    target: Name | Selector
    at: Duration = 0.0
    for_: Duration | None = Field(default=None, alias="for", gt=0)

    def active(self, t: float) -> bool:
        """Return whether this fault is in force at simulated time `t` (seconds since start)."""
        return t >= self.at and (self.for_ is None or t < self.at + self.for_)


class Down(_Fault):
    """Every call fails at once (connection refused); the probe says down."""

    kind: Literal["down"]


class ErrorRate(_Fault):
    """Each call fails with `probability` (a 5xx)."""

    kind: Literal["error_rate"]
    probability: Probability


class LatencyFault(_Fault):
    """Calls take `multiply` times longer and/or `add` more, with relative `jitter`."""

    kind: Literal["latency"]
    multiply: float = Field(default=1.0, gt=0)
    add: Duration = 0.0
    jitter: float = Field(default=0.0, ge=0, le=5)

    @model_validator(mode="after")
    def _changes_something(self) -> LatencyFault:
        if self.multiply == 1.0 and self.add == 0.0:
            raise ValueError("a latency fault needs `multiply` (other than 1) or `add`")
        return self


class Hang(_Fault):
    """Calls never answer; they end at the caller's timeout."""

    kind: Literal["hang"]


class Flap(_Fault):
    """Down for `duty` of every `period`, up for the rest."""

    kind: Literal["flap"]
    period: Duration = Field(gt=0)
    duty: float = Field(default=0.5, gt=0, lt=1)


class SlowDegrade(_Fault):
    """Error rate and latency ramp up linearly over `ramp` to `error_rate` and `latency_multiply`."""

    kind: Literal["slow_degrade"]
    ramp: Duration = Field(gt=0)
    error_rate: Probability = 1.0
    latency_multiply: float = Field(default=1.0, ge=1)


class ApiChange(_Fault):
    """Every call fails permanently with HTTP `status` (the provider changed its API)."""

    kind: Literal["api_change"]
    status: int = Field(default=400, ge=400, le=599)


class CostFault(_Fault):
    """The price changes: `multiply` the declared cost, or `to` a new one."""

    kind: Literal["cost"]
    multiply: float | None = Field(default=None, gt=0)
    to: Amount | None = None

    @model_validator(mode="after")
    def _one(self) -> CostFault:
        if (self.multiply is None) == (self.to is None):
            raise ValueError("a cost fault takes exactly one of `multiply` or `to`")
        return self


class QuotaFault(_Fault):
    """At most `calls` per `window`; calls beyond fail with 429."""

    kind: Literal["quota"]
    calls: int = Field(gt=0)
    window: Duration = Field(gt=0)


class LyingProbe(_Fault):
    """The health probe says up while calls fail with `error_rate`."""

    kind: Literal["lying_probe"]
    error_rate: Probability = 1.0


Fault = Annotated[
    Down | ErrorRate | LatencyFault | Hang | Flap | SlowDegrade | ApiChange | CostFault | QuotaFault | LyingProbe,
    Field(discriminator="kind"),
]

FAULT_KINDS: tuple[str, ...] = (
    "down", "error_rate", "latency", "hang", "flap", "slow_degrade",
    "api_change", "cost", "quota", "lying_probe",
)


class Arrivals(Frozen):
    """How runs arrive: one `every` interval, or Poisson at `rate` per second."""

    every: Duration | None = Field(default=None, gt=0)
    rate: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one(self) -> Arrivals:
        if (self.every is None) == (self.rate is None):
            raise ValueError("arrivals take exactly one of `every` or `rate`")
        return self


_DEFAULT_STRATEGIES: list[Strategy] = ["adaptive", "static"]


class Scenario(Frozen):
    """A rehearsal: `runs` arrivals of `intent` under `faults`, per strategy, seeded."""

    scenario: Name
    description: str = ""
    intent: Name
    runs: int = Field(default=100, gt=0)
    seed: int = 0
    arrivals: Arrivals = Field(default_factory=lambda: Arrivals(every=0.2))
    inputs: dict[str, Scalar] = Field(default_factory=dict)
    set_: dict[str, Scalar] = Field(default_factory=dict, alias="set")
    faults: list[Fault] = Field(default_factory=list)
    strategies: list[Strategy] = Field(default_factory=lambda: _DEFAULT_STRATEGIES.copy(), min_length=1)

    @property
    def name(self) -> str:
        """Return the scenario's name (the `scenario:` key)."""
        return self.scenario


def fault_targets(fault: Any, capability: Any) -> bool:
    """Return whether `fault` targets `capability` (by name or by selector)."""
    target = fault.target
    if isinstance(target, str):
        return bool(target == capability.name)
    if target.provides is not None and target.provides != capability.provides:
        return False
    return all(capability.tags.get(k) == v for k, v in target.tags.items())
