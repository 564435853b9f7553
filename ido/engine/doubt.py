"""Roles held on a provider while a call there may have acted: no second provider, no second charge.

A call of an idempotent capability whose outcome the run cannot know — it timed out or lost its
connection, or it was re-sent after a crash and then refused — leaves its
idempotency key in doubt (`RunState.doubt`, kept by `ido.engine.fold` until a
send of the key succeeds; the key is not renewed meanwhile). If that provider
then looks unhealthy, a planner free to choose would send the same role to
another provider, which may act a second time. So, before each decision, the
engine (`Engine._decide`) asks `holds` for the roles in doubt and excludes
their other providers (`held_out`): the role waits for its provider (which is
sent the same key again once its circuit lets it) and the decision record
names the hold as the reason the others lost (`ido.engine.moves`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ido.decisions import Hold
from ido.engine.run import RunState
from ido.model import Capability


def holds(run: RunState, capabilities: Mapping[str, Capability]) -> tuple[Hold, ...]:
    """Return the holds of `run`: one per idempotent capability whose next key is in doubt, by name.

    Only an idempotent capability is re-sent its key (the provider answers it
    without acting twice), so only its role can wait for the answer; a
    non-idempotent one in doubt is never called again (`ido.engine.fold`
    excludes it) and its role goes to another provider as before. Undo calls
    of a compensation are left out: the forward planner never sends them.
    """
    if not run.doubt:
        return ()
    out = []
    for name in sorted(run.attempts):
        cap = capabilities.get(name)
        key = run.idempotency_key(name)
        if cap is not None and cap.idempotent and key in run.doubt and not _undoes(name, capabilities):
            out.append(Hold(role=cap.provides, capability=name, key=key))
    return tuple(out)


def held_out(held: tuple[Hold, ...], capabilities: Mapping[str, Capability]) -> set[str]:
    """Return the capabilities a decision must not use: the other providers of each held role."""
    if not held:
        return set()
    kept: dict[str, set[str]] = {}
    for h in held:
        kept.setdefault(h.role, set()).add(h.capability)
    return {c.name for c in capabilities.values() if c.provides in kept and c.name not in kept[c.provides]}


def _undoes(name: str, capabilities: Mapping[str, Capability]) -> bool:
    return any(c.compensate == name for c in capabilities.values())
