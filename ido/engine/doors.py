"""The engine's extension points, each one method: executors, probers, observers.

An executor runs one call of a capability and returns what it reported, or
raises `ido.errors.ExecutionError` classified by `kind`. The engine picks
one by the capability's door (`http`, `python`, `sim`); the simulator plugs
its degraded world in through these same doors (a mapping of every door to
the simulated world), never through a side entrance in the engine.
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


class FaultReporter(Protocol):
    """Says which injected faults are in force (the simulator's world): (label, capability) pairs."""

    def faults_in_force(self, now: float | None = None) -> list[tuple[str, str]]: ...
