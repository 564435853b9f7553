"""The engine's doors and extension points, each one method: executors, probers, fact readers ...

An executor runs one call of a capability and returns what it reported, or
raises `ido.errors.ExecutionError` classified by `kind`. The engine picks
one by the capability's door; each door is the module of its name:
`ido.engine.doors.http`, `ido.engine.doors.python`, `ido.engine.doors.sim`
(`ido.engine.doors.defaults` assembles them for an engine given none). The
simulator plugs its degraded world in through these same doors (a mapping of
every door to the simulated world), never through a side entrance in the
engine. `Engine.__init__` is typed with these protocols (and the planner's,
the policy set's and the logger's), as httpx types its transports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ido.model import Capability, Observer, Scalar


@dataclass(frozen=True, slots=True)
class Call:
    """One invocation of a capability by a run's step."""

    capability: Capability
    run_id: str
    step: int
    attempt: int
    #: derived from run id, step's capability and attempt group; the same on a resumed re-send.
    idempotency_key: str
    inputs: Mapping[str, Scalar]
    facts: Mapping[str, Scalar]
    timeout: float
    #: secret inputs (never logged); executors may send them, records never show them.
    secrets: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Result:
    """What a successful call reported: facts beyond the declared effects, price, duration."""

    facts: dict[str, Scalar] = field(default_factory=dict)
    #: the price actually charged, when the provider says (else the declared cost is used).
    cost: float | None = None
    latency_s: float = 0.0
    #: free-form details kept in the journal (never secrets), e.g. an HTTP status.
    detail: dict[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """Runs one call; raises ExecutionError on failure. Used by the engine per door."""

    async def execute(self, call: Call) -> Result: ...


class Prober(Protocol):
    """Returns whether a capability's probe says it is up (False on timeout or error)."""

    async def probe(self, capability: Capability) -> bool: ...


class FactReader(Protocol):
    """Returns the facts an observer reports now (raises ExecutionError when it cannot)."""

    async def observe(self, observer: Observer) -> dict[str, Scalar]: ...


class Planner(Protocol):
    """Returns a plan (feasible or not, with its alternatives) for an intent; used by `decide`."""

    def plan(self, intent: Any, request: Any, health: Any, *, explain: bool = True) -> Any: ...


class RegistrySource(Protocol):
    """Returns the workspace when the registry of declarations changed since the last call, else None.

    `ido.registry.LiveRegistry` is one (the store's registry revisions); the
    engine asks before each decision (`fresh`: before a run starts, asking the
    store now rather than trusting a look of the last 100 ms) and adopts what it returns.
    """

    def changed(self, *, fresh: bool = False) -> Any | None: ...


class PolicySet(Protocol):
    """Returns a capability's judgement (denied_by, approval_by ...) under the policies for a run."""

    def judge(self, capability: Capability, intent: Any, inputs: Mapping[str, Any]) -> Any: ...


class Logger(Protocol):
    """Writes one structured log line (structlog's bound logger has it); used for decisions."""

    def info(self, event: str, **fields: Any) -> Any: ...


class FaultReporter(Protocol):
    """Says which injected faults are in force (the simulator's world): (label, capability) pairs."""

    def faults_in_force(self, now: float | None = None) -> list[tuple[str, str]]: ...
