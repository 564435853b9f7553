"""Health as the planner sees it: one consistent, immutable snapshot per decision.

`CapabilityHealth` is what the engine's health tracker (`ido.engine.health`)
knows about one capability: estimated success rate, latency and cost from
outcomes and probes, and its circuit state. The planner reads a
`HealthSnapshot`; decision records store the part of it that mattered.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from pydantic import Field

from ido.model.values import Frozen


class Circuit(StrEnum):
    """A circuit breaker's state: closed (in use), open (skipped), half_open (one trial allowed)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CapabilityHealth(Frozen):
    """What is known of one capability's health; None means "no evidence, use the declaration"."""

    success_rate: float | None = Field(default=None, ge=0, le=1)
    latency_s: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    circuit: Circuit = Circuit.CLOSED
    #: engine-clock seconds from which an open circuit admits a half-open trial.
    retry_at: float | None = None
    #: the latest probe said the capability is up (True), down (False), or nobody probed (None).
    probe_up: bool | None = None
    samples: int = 0
    consecutive_failures: int = 0
    last_seen: float | None = None


class HealthSnapshot(Frozen):
    """Health of every capability with evidence, taken at engine-clock time `at`."""

    at: float = 0.0
    capabilities: dict[str, CapabilityHealth] = Field(default_factory=dict)

    def of(self, capability: str) -> CapabilityHealth:
        """Return the health of `capability`, or the no-evidence default."""
        return self.capabilities.get(capability, _UNKNOWN)

    def digest(self) -> str:
        """Return a content digest (sha256 hex, 16 chars) for records and replay checks."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


_UNKNOWN = CapabilityHealth()
