"""Decision records as structlog JSON lines; off unless configured.

`configure(stream)` turns logging on (the CLI does it when `IDO_LOG_JSON` is
set to `stderr` or a file path); tests and simulations leave it off. Every
line passes through `redact`, which masks keys that carry secrets (headers,
tokens, passwords, secret inputs) at any depth.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

from ido.decisions import DecisionRecord

_SECRET_KEYS = ("header", "authorization", "token", "password", "secret", "api_key", "apikey", "cookie")
_logger: Any = None


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Return the event dict with secret-looking keys masked (a structlog processor)."""
    return _mask(event)  # type: ignore[no-any-return]


def _mask(data: Any) -> Any:
    if isinstance(data, MutableMapping):
        for key in list(data):
            if any(s in str(key).lower() for s in _SECRET_KEYS):
                data[key] = "***"
            else:
                data[key] = _mask(data[key])
    elif isinstance(data, list):
        return [_mask(v) for v in data]
    return data


def configure(stream: IO[str] | None = None) -> Any:
    """Turn decision logging on, writing JSON lines to `stream` (stderr by default); return the logger."""
    global _logger
    _logger = structlog.wrap_logger(
        structlog.PrintLogger(stream or sys.stderr),  # type: ignore[arg-type]
        processors=[
            structlog.processors.add_log_level,
            redact,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )
    return _logger


def disable() -> None:
    """Turn decision logging off again."""
    global _logger
    _logger = None


def current() -> Any:
    """Return the configured logger, or None when logging is off."""
    return _logger


def log_decision(logger: Any, record: DecisionRecord) -> None:
    """Write one compact line for `record`: what was chosen, why, and what was rejected."""
    logger.info(
        "decision",
        run_id=record.run_id,
        seq=record.seq,
        decision_id=record.decision_id,
        at=record.at,
        trigger=str(record.trigger),
        cause=record.cause,
        action=record.action,
        chosen=record.chosen,
        reason=record.reason,
        rejected=[
            {"capability": a.capability, "verdict": str(a.verdict), "reason": a.reason}
            for a in record.alternatives
            if str(a.verdict) != "chosen"
        ],
        remaining=record.remaining.model_dump(),
        inputs=record.inputs,
    )
