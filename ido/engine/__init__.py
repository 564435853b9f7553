"""The engine: pursue intents with the observe-plan-act loop, adapt to health, record why.

`Engine` runs intents (`ido.engine.engine`); `decide` is the pure decision
function (`ido.engine.decide`); the doors that execute, probe and observe are
in `ido.engine.doors` (contracts) and its modules `http`, `python`, `sim` (real ones).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `decide` is imported now: it shares its name with its module, which an import of
# `ido.engine.decide` would otherwise bind here in place of the function.
from ido.engine.decide import comparable, decide

if TYPE_CHECKING:
    from ido.engine.context import CallContext
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

#: where each public name lives: imported on first use, so `import ido.engine.plans` (the
#: `ido plan` path) does not load the engine, its doors and httpx.
_WHERE = {
    "CallContext": "ido.engine.context",
    "Call": "ido.engine.doors",
    "Executor": "ido.engine.doors",
    "FactReader": "ido.engine.doors",
    "Prober": "ido.engine.doors",
    "Result": "ido.engine.doors",
    "DoorFactReader": "ido.engine.doors.defaults",
    "DoorProber": "ido.engine.doors.defaults",
    "HttpExecutor": "ido.engine.doors.http",
    "HttpProber": "ido.engine.doors.http",
    "PythonExecutor": "ido.engine.doors.python",
    "PythonProber": "ido.engine.doors.python",
    "SimExecutor": "ido.engine.doors.sim",
    "Engine": "ido.engine.engine",
    "HealthConfig": "ido.engine.health",
    "HealthTracker": "ido.engine.health",
    "DecisionInputs": "ido.engine.inputs",
    "from_record": "ido.engine.inputs",
    "RunResult": "ido.engine.run",
    "STRATEGIES": "ido.engine.strategies",
}


def __getattr__(name: str) -> Any:
    """Return the public name `name`, importing the module that defines it (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

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
