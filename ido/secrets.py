"""Secrets in declarations: references resolved only at call time, literal values masked when stored.

A capability's HTTP door may carry credentials. Written as a reference,
`Authorization: "Bearer ${env:STRIPE_TOKEN}"`, the declaration holds no
secret at all: `resolve` reads the environment variable when the request is
sent, and the stored text is the reference. Written literally, the value is
sent as written but every dump of the model (journal revisions, plan files,
`--json` output, digests) shows `***` instead (`mask`), so a token pasted into
a capability file never reaches the journal.

Called by `ido.model.capability` (masking on serialisation) and by the HTTP
door in `ido.engine.executors` (resolving on each call).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ido.errors import ExecutionError

#: What a masked literal reads as wherever a declaration is written down.
MASK = "***"

#: `${env:NAME}`: the value of environment variable NAME, read at call time.
REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def has_reference(text: str) -> bool:
    """Return whether `text` holds at least one `${env:NAME}` reference."""
    return REFERENCE.search(text) is not None


def mask(text: str) -> str:
    """Return `text` fit to store: as written when its secret part is a reference
    (`Bearer ${env:TOKEN}`), else `***`. Used when a secret field is serialised."""
    return text if has_reference(text) else MASK


def mask_all(values: Mapping[str, str]) -> dict[str, str]:
    """Return `values` (e.g. HTTP headers) with each value passed through `mask`."""
    return {key: mask(value) for key, value in values.items()}


def resolve(text: str, *, capability: str, environ: Mapping[str, str] | None = None) -> str:
    """Return `text` with every `${env:NAME}` replaced by the variable's value, at call time.

    Raises ExecutionError(kind="rejected") naming the variable (never a value)
    when it is not set: the request is not sent with a hole in it.
    """
    env = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise ExecutionError(
                f"{capability}: secret reference ${{env:{name}}} names an environment variable that is "
                f"not set; export {name} before running",
                kind="rejected", capability=capability,
            )
        return env[name]

    return REFERENCE.sub(value, text)


def resolve_all(values: Mapping[str, str], *, capability: str) -> dict[str, str]:
    """Return `values` with references resolved by `resolve` (headers just before a request)."""
    return {key: resolve(value, capability=capability) for key, value in values.items()}


__all__ = ["MASK", "REFERENCE", "has_reference", "mask", "mask_all", "resolve", "resolve_all"]
