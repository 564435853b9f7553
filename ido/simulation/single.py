"""One run inside a scenario's world: what `ido run INTENT --simulate SCENARIO` calls.

`run_in_scenario` starts a single run of the intent when the scenario's first
fault begins (or at `at` seconds of scenario time), in the scenario's
simulated world, on a virtual clock, with the caller's journal (a
synchronous SQLite store, so `ido explain RUN` works afterwards). Records are
dated from the real wall clock at the moment of the call plus simulated time.
This is the README demo: `ido run order-fulfilled --simulate payments-outage`
shows ido switching from the failing payment provider to the next one, and why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ido.journal import Store
from ido.model import Intent, Scalar, Scenario
from ido.simulation.clock import loop_clock, run_virtual
from ido.simulation.runner import build_world, make_engine, run_horizon
from ido.simulation.world import CURRENT_RUN

if TYPE_CHECKING:  # ido.workspace imports ido.loading, which imports it back
    from ido.workspace import Workspace


def first_fault_at(scenario: Scenario) -> float:
    """Return the scenario time at which its first fault begins (0 when it has none)."""
    return min((f.at for f in scenario.faults), default=0.0)


def run_in_scenario(
    *,
    workspace: Workspace,
    intent: Intent | str,
    inputs: Mapping[str, Any] | None = None,
    set_facts: Mapping[str, Scalar] | None = None,
    scenario: Scenario | str,
    store: Store,
    listeners: Sequence[Any] = (),
    strategy: str = "adaptive",
    at: float | None = None,
    seed: int | None = None,
) -> Any:
    """Return the `RunResult` of one run of `intent` inside `scenario`'s world under virtual time.

    The run starts at `at` (scenario seconds), by default when the first fault
    begins; `seed` overrides the scenario's. The scenario's `set` facts apply
    under the caller's `set_facts`. Must not be called from a running event loop.
    """
    scn = scenario if isinstance(scenario, Scenario) else workspace.scenario(scenario)
    the_intent = intent if isinstance(intent, Intent) else workspace.intent(intent)
    start_at = first_fault_at(scn) if at is None else at
    facts = {**scn.set_, **(set_facts or {})}
    run_inputs = dict(scn.inputs if inputs is None else inputs)
    epoch = time.time()

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        clock = loop_clock(epoch)
        world = build_world(workspace, scn, scn.seed if seed is None else seed, clock, start=loop.time())
        engine = make_engine(workspace, store, world, clock, strategy, listeners)
        try:
            await asyncio.sleep(start_at)
            world.expect_run(0)
            token = world.enter_run(0)
            try:
                run_id = await engine.start(
                    the_intent, inputs=run_inputs, set_facts=facts,
                    options={"strategy": strategy, "simulate": scn.scenario, "simulate_at": start_at},
                )
            finally:
                CURRENT_RUN.reset(token)
            world.bind_run(run_id, 0)
            return await asyncio.wait_for(engine.wait(run_id), run_horizon(the_intent))
        finally:
            await engine.close()

    return run_virtual(main)
