"""What a door's answer holds: facts (nested JSON as dotted names), reported facts, a price.

Shared by the http and python doors (`ido.engine.doors.http`,
`ido.engine.doors.python`) and the observers' fact reader
(`ido.engine.doors.defaults`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ido.model import Capability, Scalar


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Return nested JSON objects as dotted facts (`{"a": {"b": 1}}` -> `{"a.b": 1}`).

    Lists and nulls are dropped: a fact's value is a JSON scalar.
    """
    out: dict[str, Scalar] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


def dotted(data: Any, path: str) -> tuple[bool, Any]:
    """Return (found, value) for a dotted `path` in nested mappings; the whole key wins first."""
    if isinstance(data, Mapping) and path in data:
        return True, data[path]
    current = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def reported_facts(capability: Capability, payload: Any) -> dict[str, Scalar]:
    """Return the facts `capability.reports` maps from a response or returned mapping."""
    facts: dict[str, Scalar] = {}
    for fact, path in capability.reports.items():
        found, value = dotted(payload, path)
        if found and isinstance(value, bool | int | float | str):
            facts[fact] = value
    return facts


def price(raw: Any) -> float | None:
    """Return a reported price as a finite, non-negative float; None for anything else."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None
