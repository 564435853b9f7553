"""The engine: pursue intents with the observe-plan-act loop, adapt to health, record why.

`Engine` runs intents (`ido.engine.engine`); `decide` is the pure decision
function (`ido.engine.decide`); the doors that execute, probe and observe are
in `ido.engine.doors` (contracts) and its modules `http`, `python`, `sim` (real ones).
"""

from ido.engine.context import CallContext
from ido.engine.decide import comparable, decide
from ido.engine.doors import Call, Executor, FactReader, Prober, Result
from ido.engine.doors.defaults import DoorFactReader, DoorProber
from ido.engine.doors.http import HttpExecutor, HttpProber
from ido.engine.doors.python import PythonExecutor, PythonProber
from ido.engine.doors.sim import SimExecutor
from ido.engine.engine import Engine
from ido.engine.health import HealthConfig, HealthTracker
from ido.engine.inputs import DecisionInputs, from_record
from ido.engine.run import RunResult
from ido.engine.strategies import STRATEGIES

__all__ = [
    "STRATEGIES",
    "Call",
    "CallContext",
    "DecisionInputs",
    "DoorFactReader",
    "DoorProber",
    "Engine",
    "Executor",
    "FactReader",
    "HealthConfig",
    "HealthTracker",
    "HttpExecutor",
    "HttpProber",
    "Prober",
    "PythonExecutor",
    "PythonProber",
    "Result",
    "RunResult",
    "SimExecutor",
    "comparable",
    "decide",
    "from_record",
]
