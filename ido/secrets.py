"""Secrets in declarations: references resolved only at call time, literal values masked when stored.

A capability's HTTP door may carry credentials. Written as a reference,
`Authorization: "Bearer ${env:STRIPE_TOKEN}"`, the declaration holds no
secret at all: `resolve` reads the environment variable when the request is
sent, and the stored text is the reference. Written literally, the value is
sent as written but every dump of the model (journal revisions, plan files,
`--json` output, digests) shows `***` instead (`mask`), so a token pasted into
a capability file never reaches the journal.

A secret input's `default` follows the same rules: masked when the intent is
written down, and a reference in it is read from the environment when the run's
inputs are bound (`Intent.bind_inputs`); the bound value is never recorded.

Called by `ido.model.capability` and `ido.model.intent` (masking on
serialisation, binding) and by the HTTP door in `ido.engine.executors`
(resolving on each call).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ido.errors import ExecutionError

#: What a masked literal reads as wherever a declaration is written down.
MASK = "***"

#: Serialisation context that keeps literal secrets (`model.model_dump(context=REVEAL)`): only for
#: writing a declaration back to its own file, never for anything stored or shown.
REVEAL: dict[str, bool] = {"reveal_secrets": True}

#: `${env:NAME}`: the value of environment variable NAME, read at call time.
REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def has_reference(text: str) -> bool:
    """Return whether `text` holds at least one `${env:NAME}` reference."""
    return REFERENCE.search(text) is not None


def mask(text: str) -> str:
    """Return `text` fit to store: as written when its secret part is a reference
    (`Bearer ${env:TOKEN}`), else `***`. Used when a secret field is serialised."""
    return text if has_reference(text) else MASK


def revealing(context: object) -> bool:
    """Return whether a serialisation `context` asks to keep literal secrets (`REVEAL`)."""
    return isinstance(context, Mapping) and context.get("reveal_secrets") is True


def mask_all(values: Mapping[str, str]) -> dict[str, str]:
    """Return `values` (e.g. HTTP headers) with each value passed through `mask`."""
    return {key: mask(value) for key, value in values.items()}


def unset_variables(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the names `text` references that the environment does not set."""
    env = os.environ if environ is None else environ
    return [m.group(1) for m in REFERENCE.finditer(text) if m.group(1) not in env]


def resolve(text: str, *, capability: str, environ: Mapping[str, str] | None = None) -> str:
    """Return `text` with every `${env:NAME}` replaced by the variable's value, at call time.

    Raises ExecutionError(kind="rejected") naming the variable (never a value)
    when it is not set: the request is not sent with a hole in it.
    """
    env = os.environ if environ is None else environ
    unset = unset_variables(text, env)
    if unset:
        raise ExecutionError(
            f"{capability}: secret reference ${{env:{unset[0]}}} names an environment variable that is "
            f"not set; export {unset[0]} before running",
            kind="rejected", capability=capability,
        )
    return REFERENCE.sub(lambda m: env[m.group(1)], text)


def resolve_all(values: Mapping[str, str], *, capability: str) -> dict[str, str]:
    """Return `values` with references resolved by `resolve` (headers just before a request)."""
    return {key: resolve(value, capability=capability) for key, value in values.items()}


__all__ = ["MASK", "REFERENCE", "REVEAL", "has_reference", "mask", "mask_all", "resolve", "resolve_all", "revealing", "unset_variables"]
