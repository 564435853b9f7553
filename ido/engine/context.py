"""What a Python capability receives about the call it serves: `CallContext`.

Built by `ido.engine.doors.python.PythonExecutor` for callables that accept one
(a parameter named `ctx`/`context`, or annotated `CallContext`). Users read
the idempotency key from it to make their own side effects happen once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ido.model import Scalar


@dataclass(frozen=True, slots=True)
class CallContext:
    """The run, step and attempt a call belongs to, its inputs, the state, and its key."""

    run_id: str
    step: int
    attempt: int
    inputs: Mapping[str, Scalar]
    facts: Mapping[str, Scalar]
    idempotency_key: str
    capability: str = ""
