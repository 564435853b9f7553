"""Test helpers for users' own suites: run your intents against a degraded world.

    from ido.testing import degraded_world, simulate_intent

    def test_order_survives_a_payment_outage(workspace):
        with degraded_world(workspace, [{"target": "payment.stripe-eu", "kind": "down"}]) as world:
            result = world.run("order-fulfilled", inputs={"order_id": "o-1", "amount": 30.0})
        assert result.status == "succeeded"
        assert "payment.stripe-eu" not in world.used(result)

    def test_adaptive_beats_static(workspace):
        report = simulate_intent(workspace, "order-fulfilled", faults=[...], runs=50)
        assert report.strategies["adaptive"].success_rate >= 0.99

`degraded_world` runs each run on a virtual clock (an outage of minutes costs
milliseconds) in the simulated world of `ido.simulation`; `simulate_intent`
compares strategies like `ido simulate`. For real HTTP services, wrap your
client's transport in `FaultTransport` (the same faults on real calls) and
use `ServiceServer`, a controllable local HTTP service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from ido.clock import Clock
from ido.journal import MemoryStore, Store
from ido.model import Fault, Intent, Scalar, Scenario
from ido.simulation.clock import run_virtual
from ido.simulation.report import Report
from ido.simulation.runner import SIM_EPOCH, make_engine, run_horizon, simulate
from ido.simulation.world import CURRENT_RUN, SimulatedWorld
from ido.testing.faults import FaultTransport
from ido.testing.services import ServiceServer

if TYPE_CHECKING:  # ido.workspace imports ido.loading, which imports it back
    from ido.workspace import Workspace

_FAULTS: TypeAdapter[list[Any]] = TypeAdapter(list[Fault])


def faults_of(faults: Sequence[Any]) -> list[Any]:
    """Return fault models from models or YAML-like mappings (`{"target": ..., "kind": ...}`)."""
    return _FAULTS.validate_python(
        [f.model_dump(by_alias=True) if hasattr(f, "model_dump") else f for f in faults]
    )


class DegradedWorld:
    """A simulated world with faults, in which `run()` pursues intents one at a time.

    Each run gets a fresh engine (fresh health) on a fresh virtual clock and
    starts at scenario time `at`; the world's luck, quotas and journal persist
    across runs. `store` holds every run's journal (in memory unless given).
    """

    def __init__(self, workspace: Workspace, faults: Sequence[Any], *, seed: int, strategy: str,
                 store: Store) -> None:
        self.workspace = workspace
        self.faults = faults_of(faults)
        self.seed = seed
        self.strategy = strategy
        self.store = store
        self.world = SimulatedWorld(
            workspace.capabilities.values(), workspace.observers.values(), self.faults, rng=seed,
        )
        self._runs = 0

    def run(
        self, intent: Intent | str, *, inputs: Mapping[str, Any] | None = None,
        set_facts: Mapping[str, Scalar] | None = None, at: float = 0.0, strategy: str | None = None,
    ) -> Any:
        """Return the `RunResult` of one run of `intent` started at scenario time `at`."""
        the_intent = intent if isinstance(intent, Intent) else self.workspace.intent(intent)
        key = self._runs
        self._runs += 1

        async def main() -> Any:
            loop = asyncio.get_running_loop()
            clock = Clock(epoch=SIM_EPOCH)
            self.world.clock = clock
            self.world.start = loop.time()
            engine = make_engine(self.workspace, self.store, self.world, clock, strategy or self.strategy)
            try:
                await asyncio.sleep(at)
                run_id = f"test-{key:05d}"
                self.world.bind_run(run_id, key)
                token = self.world.enter_run(key)
                try:
                    started = await engine.start(
                        the_intent, inputs=dict(inputs or {}), set_facts=dict(set_facts or {}),
                        options={"run_id": run_id, "strategy": strategy or self.strategy},
                    )
                finally:
                    CURRENT_RUN.reset(token)
                return await asyncio.wait_for(engine.wait(started), run_horizon(the_intent))
            finally:
                await engine.close()

        return run_virtual(main)

    def used(self, result: Any) -> list[str]:
        """Return the capabilities a run dispatched, in order."""
        events = self.store.events(run_id=result.run_id, kinds=["dispatched"])
        return [str(e.data.get("capability")) for e in events]

    def touched(self, result: Any) -> set[str]:
        """Return the labels of the injected faults that touched one of the run's calls."""
        return set(self.world.touched.get(result.run_id, ()))


@contextmanager
def degraded_world(
    workspace: Workspace, faults: Sequence[Any] = (), *, seed: int = 0, strategy: str = "adaptive",
    store: Store | None = None,
) -> Iterator[DegradedWorld]:
    """Yield a `DegradedWorld` of `workspace` under `faults`; closes its store afterwards."""
    own = store is None
    the_store = store if store is not None else MemoryStore()
    try:
        yield DegradedWorld(workspace, faults, seed=seed, strategy=strategy, store=the_store)
    finally:
        if own:
            the_store.close()


def simulate_intent(
    workspace: Workspace, intent: str, *, faults: Sequence[Any] = (), runs: int = 20,
    every: float = 0.5, seed: int = 0, strategies: Sequence[str] = ("adaptive", "static"),
    inputs: Mapping[str, Scalar] | None = None, set_facts: Mapping[str, Scalar] | None = None,
) -> Report:
    """Return the report of `runs` arrivals of `intent`, one every `every` seconds, under `faults`."""
    scenario = Scenario.model_validate({
        "scenario": f"test-{intent}", "intent": intent, "runs": runs, "seed": seed,
        "arrivals": {"every": every}, "inputs": dict(inputs or {}), "set": dict(set_facts or {}),
        "faults": [f.model_dump(by_alias=True) for f in faults_of(faults)],
        "strategies": list(strategies),
    })
    return simulate(workspace, scenario)


__all__ = [
    "DegradedWorld",
    "FaultTransport",
    "ServiceServer",
    "SimulatedWorld",
    "degraded_world",
    "faults_of",
    "simulate_intent",
]
