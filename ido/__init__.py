"""ido: intent-driven adaptive orchestration.

Declare what must become true (`Intent`), what may be used (`Capability`,
`Observer`) and under which rules (`Policy`); ido plans (`Planner`), acts and
adapts (`Engine`), records why (`DecisionRecord`, `explain`, `why_not`) and
rehearses outages (`simulate`). The public names below are imported on first
use (PEP 562), so `import ido` and the command line stay fast: the planner
pulls in OR-Tools and the engine httpx only when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "Capability": "ido.model",
    "DecisionRecord": "ido.decisions",
    "Engine": "ido.engine",
    "Explanation": "ido.explain",
    "HealthSnapshot": "ido.health",
    "IdoError": "ido.errors",
    "Intent": "ido.model",
    "NoAdmissiblePlan": "ido.errors",
    "Observer": "ido.model",
    "Plan": "ido.planning",
    "PlanRequest": "ido.planning",
    "Planner": "ido.planning",
    "Policy": "ido.model",
    "PolicySet": "ido.policy",
    "Report": "ido.simulation",
    "RunResult": "ido.engine",
    "Scenario": "ido.model",
    "Store": "ido.journal",
    "ValidationError": "ido.errors",
    "Verdict": "ido.planning",
    "WhyNot": "ido.explain",
    "Workspace": "ido.workspace",
    "explain": "ido.explain",
    "load_workspace": "ido.loading",
    "open_store": "ido.journal",
    "simulate": "ido.simulation",
    "why_not": "ido.explain",
}

__all__ = [
    "Capability",
    "DecisionRecord",
    "Engine",
    "Explanation",
    "HealthSnapshot",
    "IdoError",
    "Intent",
    "NoAdmissiblePlan",
    "Observer",
    "Plan",
    "PlanRequest",
    "Planner",
    "Policy",
    "PolicySet",
    "Report",
    "RunResult",
    "Scenario",
    "Store",
    "ValidationError",
    "Verdict",
    "WhyNot",
    "Workspace",
    "__version__",
    "explain",
    "load_workspace",
    "open_store",
    "simulate",
    "why_not",
]


def __getattr__(name: str) -> Any:
    """Return public name `name`, importing its module on first use."""
    if name == "__version__":
        return _version()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ido' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def _version() -> str:
    # importlib.metadata scans the installed distributions (tens of ms): only when asked.
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("ido")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0"
    globals()["__version__"] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from ido.decisions import DecisionRecord
    from ido.engine import Engine, RunResult
    from ido.errors import IdoError, NoAdmissiblePlan, ValidationError
    from ido.explain import Explanation, WhyNot, explain, why_not
    from ido.health import HealthSnapshot
    from ido.journal import Store, open_store
    from ido.loading import load_workspace
    from ido.model import Capability, Intent, Observer, Policy, Scenario
    from ido.planning import Plan, Planner, PlanRequest, Verdict
    from ido.policy import PolicySet
    from ido.simulation import Report, simulate
    from ido.workspace import Workspace
