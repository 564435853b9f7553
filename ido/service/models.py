"""The request and response bodies the API adds to ido's own models (which it returns as they are).

Bodies that answer a question the CLI also answers (the run row, the
explanation, why-not, the replay report, the plan, the simulation report) are
ido's own pydantic models, dumped exactly as `--json` dumps them; the models
here are what only the API has: submit requests and answers, pages of runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ido.journal.base import RunInfo
from ido.model.values import Scalar


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RunRequest(_Body):
    """`POST /runs` and `POST /plans`: the intent, its inputs, and facts that hold at the start."""

    intent: str = Field(min_length=1, max_length=200)
    inputs: dict[str, Scalar] = Field(default_factory=dict)
    set_facts: dict[str, Scalar] = Field(default_factory=dict, alias="set")
    strategy: Literal["adaptive", "static", "static-fallback"] = "adaptive"


class Submitted(BaseModel):
    """The answer to `POST /runs`: the run's id and status (as `ido run --detach --json`)."""

    run_id: str
    status: str


class RunsPage(BaseModel):
    """`GET /runs`: runs newest first, where the next page starts (None at the end), undecodable rows."""

    runs: list[RunInfo]
    next_cursor: str | None = None
    #: the last run of this page when there are more (`ido runs --before` takes it)
    next_before: str | None = None
    corrupted: list[str] = Field(default_factory=list)


class Answer(_Body):
    """`POST /runs/{id}/approve|reject|cancel`: who answers or asks (recorded) and a note."""

    by: str = Field(default="api", max_length=200)
    note: str = Field(default="", max_length=2000)


class ReplayRequest(_Body):
    """`POST /runs/{id}/replay`: exact replay, or what-if under the service's workspace as it is now."""

    what_if: bool = False


class SimulationRequest(_Body):
    """`POST /simulations`: a scenario of the workspace, bounded runs per strategy, a seed."""

    scenario: str = Field(min_length=1, max_length=200)
    runs: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    strategies: list[Literal["adaptive", "static", "static-fallback"]] | None = None


class Registry(BaseModel):
    """`GET /capabilities|policies|intents`: the declarations, the revision digest they make (what
    decisions record), and the registry revision number (the `ETag`, for `If-Match`)."""

    revision: str
    registry: int = 0
    items: list[dict[str, Any]]


class RegistryChanged(BaseModel):
    """`PUT`/`DELETE /{capabilities|policies|intents}/{name}`: the registry revision the change made.

    `registry` is the new revision number (also the `ETag`), `digest` the digest
    of the whole registry at it, `item` the declaration as stored (None after a
    DELETE), `changed` False when the PUT body equals what was stored (no new revision).
    """

    registry: int
    digest: str
    kind: str
    name: str
    changed: bool
    item: dict[str, Any] | None = None
class CapabilityStatus(BaseModel):
    """One capability's shared health now: estimates, circuit, and its row's version (times: epoch seconds)."""

    circuit: Literal["closed", "open", "half_open"]
    success_rate: float | None = None
    latency_s: float | None = None
    cost: float | None = None
    #: when an open circuit admits a half-open trial.
    retry_at: float | None = None
    probe_up: bool | None = None
    samples: int = 0
    consecutive_failures: int = 0
    last_seen: float | None = None
    #: how many outcomes and probe answers the row holds, and when the last was written.
    version: int = 0
    updated_at: float = 0.0


class Health(BaseModel):
    """`GET /health`: the service is up, its journal, the leases workers hold, and capability health."""

    status: Literal["ok"]
    store: str
    runs_by_status: dict[str, int]
    workers: list[str]
    #: every capability with a shared health row (written by the workers' outcomes and probes).
    capabilities: dict[str, CapabilityStatus] = {}
