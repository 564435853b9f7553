"""What compensation and resume may ask of the engine that runs a run: the `RunHost` protocol.

`ido.engine.compensation.compensate` and `ido.engine.resume.rebuild` work on
one run for an engine; they see it only through this protocol (its clock,
journal, health, registry and policies, and six operations), never its
private attributes, so neither imports `ido.engine.engine` and the engine
imports both without a circle. `ido.engine.engine.Engine` implements it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ido.clock import Clock
from ido.decisions import DecisionRecord, Revisions
from ido.engine.doors import PolicySet
from ido.engine.health import HealthTracker
from ido.engine.run import Finished, Lookups, RunState, StepHandle
from ido.journal.base import Store
from ido.model import Capability, Intent, Policy


class RunHost(Protocol):
    """The engine as its run-level collaborators see it (implemented by `Engine`)."""

    # read-only: the engine's own attributes (a plain attribute here would require exact types)
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def health(self) -> HealthTracker: ...
    @property
    def policies(self) -> PolicySet: ...
    @property
    def capabilities(self) -> Mapping[str, Capability]: ...
    @property
    def capability_list(self) -> Sequence[Capability]: ...
    @property
    def policy_list(self) -> Sequence[Policy]: ...
    @property
    def lookups(self) -> Lookups:
        """What folding a run's events looks names up in."""
        ...

    def intent(self, ref: Intent | str) -> Intent:
        """Return the workspace's intent named `ref`; UsageError when unknown."""
        ...

    def revisions(self, intent: Intent) -> Revisions:
        """Return the digests of the intent, capabilities and policies runs work under now."""
        ...

    def store_revisions(self, intent: Intent, revisions: Revisions) -> None:
        """Put the declarations `revisions` names into the journal, unless already there."""
        ...

    def publish(self, run: RunState, record: DecisionRecord) -> None:
        """Record a decision into the run (and its journal buffer), logs and listeners."""
        ...

    async def flush(self, run: RunState) -> None:
        """Write the run's buffered events and its row durably; return once written."""
        ...

    async def call(self, run: RunState, handle: StepHandle) -> Finished:
        """Return the outcome of sending one step through its door (no limits, no fleet slot)."""
        ...
