"""Capabilities (service actions one provider offers) and observers (read-only probes).

A capability says what it needs (`requires`), what it makes true (`effects`),
what it costs, how long it takes, how often it works, how its health is seen
(`probe`) and how it is executed (`invoke`: http, a python callable, or sim).
The loader builds these from YAML; `ido.workspace.Workspace.capability` builds
them from Python; the planner compiles them; executors run them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    SerializationInfo,
    ValidatorFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_validator,
)

from ido.model.conditions import Condition, Effect
from ido.model.values import Amount, Duration, FactName, Frozen, Name, Probability, Scalar
from ido.secrets import mask_all, revealing

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

#: `pkg.module:function`, resolved to a callable when the capability is executed.
PythonTarget = str


def _exactly_one(model: Frozen, fields: tuple[str, ...], what: str) -> None:
    given = [f for f in fields if getattr(model, f) is not None]
    if len(given) != 1:
        raise ValueError(
            f"{what} takes exactly one of {', '.join(fields)}; "
            f"got {', '.join(given) if given else 'none'}"
        )


def _check_python_target(target: str | None) -> str | None:
    if target is not None and (target.count(":") != 1 or not all(target.split(":"))):
        raise ValueError(
            f"python target {target!r} must be written 'package.module:function'"
        )
    return target


class HttpInvoke(Frozen):
    """Execute a capability by an HTTP request through httpx.

    The body is `json` with `{inputs.NAME}` and `{facts.NAME}` placeholders
    filled in; `headers` are secret: a literal value is sent as written but
    serialised as `***` (journal revisions, plan files, `--json`, digests), and
    a `${env:NAME}` reference in a header, the url or the body is resolved only
    when the request is sent (`ido.secrets`).
    """

    method: HttpMethod = "POST"
    url: str = Field(pattern=r"^https?://")
    timeout: Duration | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: dict[str, Any] | None = Field(default=None, alias="json")

    @field_serializer("headers")
    def _masked(self, headers: dict[str, str], info: SerializationInfo) -> dict[str, str]:
        # every dump is a place a token could leak to: only references survive it
        return dict(headers) if revealing(info.context) else mask_all(headers)


class SimInvoke(Frozen):
    """Execute a capability only in the simulated world: it succeeds with its
    reliability after a latency drawn around its declared latency."""

    latency_jitter: float = Field(default=0.25, ge=0, le=5)


class Invoke(Frozen):
    """How a capability is executed; exactly one door. `invoke: sim` is short for `{sim: {}}`."""

    http: HttpInvoke | None = None
    python: PythonTarget | None = None
    sim: SimInvoke | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == "sim":
            return {"sim": {}}
        if isinstance(data, dict) and data.get("sim") in (True, None) and "sim" in data:
            return {**data, "sim": {}}
        return data

    @model_validator(mode="after")
    def _one_door(self) -> Invoke:
        _exactly_one(self, ("http", "python", "sim"), "invoke")
        _check_python_target(self.python)
        return self

    @property
    def door(self) -> Literal["http", "python", "sim"]:
        """Return which door executes the capability."""
        if self.http is not None:
            return "http"
        if self.python is not None:
            return "python"
        return "sim"


#: `invoke: sim`, the default: one shared instance (models are frozen), not one per capability.
_SIM_INVOKE = Invoke(sim=SimInvoke())


class Probe(Frozen):
    """How health is observed: an HTTP GET (2xx = up), a python callable, or the simulator."""

    http: str | None = Field(default=None, pattern=r"^https?://")
    python: PythonTarget | None = None
    sim: bool | None = None
    interval: Duration = 10.0
    timeout: Duration = 1.0

    @model_validator(mode="after")
    def _one_door(self) -> Probe:
        _exactly_one(self, ("http", "python", "sim"), "probe")
        _check_python_target(self.python)
        return self


class Quota(Frozen):
    """At most `calls` invocations per `per` window (a provider's rate limit)."""

    calls: int = Field(gt=0)
    per: Duration = Field(gt=0)


class Capability(Frozen):
    """One action one provider offers. Alternatives share a role (`provides`)."""

    name: Name
    provides: Name
    description: str = ""
    requires: Condition = Field(default_factory=dict)
    effects: Effect = Field(default_factory=dict)
    #: fact -> key (dotted path) in the response JSON or in a callable's returned mapping;
    #: values known only at run time, such as `payment.id`.
    reports: dict[FactName, str] = Field(default_factory=dict)
    cost: Amount = 0.0
    latency: Duration = 0.0
    reliability: Probability = 1.0
    tags: dict[str, Scalar] = Field(default_factory=dict)
    probe: Probe | None = None
    invoke: Invoke = Field(default_factory=lambda: _SIM_INVOKE)
    compensate: Name | None = None
    idempotent: bool = False
    timeout: Duration | None = None
    max_concurrency: int | None = Field(default=None, gt=0)
    quota: Quota | None = None

    @field_validator("invoke", mode="wrap")
    @classmethod
    def _sim_shorthand(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # `invoke: sim` is the same frozen value for every capability: share it
        if isinstance(value, str) and value == "sim":
            return _SIM_INVOKE
        return handler(value)

    @model_validator(mode="after")
    def _effects_change_something(self) -> Capability:
        if not self.effects and not self.reports:
            raise ValueError(
                f"capability {self.name!r} has no effects and reports no facts; "
                "give it `effects` (what becomes true when it succeeds)"
            )
        return self

    @property
    def effective_timeout(self) -> float:
        """Return the seconds after which a call counts as timed out."""
        if self.timeout is not None:
            return self.timeout
        if self.invoke.http is not None and self.invoke.http.timeout is not None:
            return self.invoke.http.timeout
        return max(10.0, self.latency * 10)


class Observer(Frozen):
    """A read-only probe that reports facts: an HTTP GET returning JSON, a callable, or sim."""

    name: Name
    description: str = ""
    facts: list[FactName] = Field(min_length=1)
    http: str | None = Field(default=None, pattern=r"^https?://")
    python: PythonTarget | None = None
    sim: bool | None = None
    interval: Duration = 5.0
    timeout: Duration = 1.0

    @model_validator(mode="after")
    def _one_door(self) -> Observer:
        _exactly_one(self, ("http", "python", "sim"), "observer")
        _check_python_target(self.python)
        return self
