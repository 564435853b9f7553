"""Rehearse degraded dependencies: a virtual clock, a simulated world, strategies side by side.

    clock.py    VirtualTimeLoop / run_virtual: asyncio on virtual time (minutes cost milliseconds)
    faults.py   FaultSchedule: what a scenario's faults do to a call or probe at a given time
    world.py    SimulatedWorld: Executor, Prober and FactReader of every door, degraded by faults
    store.py    SimStore: the in-memory journal of simulated runs
    runner.py   simulate(): every strategy on identical arrivals, faults and luck -> Report
    single.py   run_in_scenario(): one run inside a scenario (`ido run --simulate`)
    report.py   Report, its JSON and its table;   plot.py  the PNG of `--plot`

The engine runs unmodified: the world plugs in through the engine's doors
and time through the event loop. `ido simulate` (ido.cli.simulate) and
`ido.testing` are the ways in.
"""

from ido.simulation.clock import VirtualTimeError, VirtualTimeLoop, run_virtual
from ido.simulation.faults import FaultEffect, FaultSchedule
from ido.simulation.report import Report, StrategyStats
from ido.simulation.runner import simulate
from ido.simulation.single import run_in_scenario
from ido.simulation.world import SimulatedWorld

__all__ = [
    "FaultEffect",
    "FaultSchedule",
    "Report",
    "SimulatedWorld",
    "StrategyStats",
    "VirtualTimeError",
    "VirtualTimeLoop",
    "run_in_scenario",
    "run_virtual",
    "simulate",
]
