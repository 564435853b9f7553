"""Content digests: stable sha256 of JSON-able data, used for revisions and replay checks.

Called by the journal (revisions of intents, capabilities, policies), the
planner's saved plans and the decision records (`inputs_digest`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


def canonical_json(data: Any) -> str:
    """Return `data` (models, dicts, lists, scalars) as canonical JSON: sorted keys, no spaces."""
    return json.dumps(_plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(data: Any) -> str:
    """Return the sha256 hex digest (first 16 hex chars) of `data`'s canonical JSON."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def digest_models(models: Iterable[BaseModel]) -> str:
    """Return one digest for a set of models, independent of their order."""
    return digest(sorted(canonical_json(m) for m in models))


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, set | frozenset):
        return sorted(_plain(v) for v in data)
    return data
