"""Scalar values, durations, amounts and probabilities: the leaf types of every declaration.

Durations are written `250ms`, `5s`, `2m`, `1h`, `1m30s`, or as a bare number of
seconds; in memory they are float seconds. Used by every model in `ido.model`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

#: A fact's value: a JSON scalar. Strict, so YAML `true` stays a bool and `"1"` a string.
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$")


def parse_duration(value: Any) -> float:
    """Return `value` in seconds; accepts `250ms`, `5s`, `2m`, `1h`, `1m30s` or a number.

    Raises ValueError with the accepted forms when the value is none of them.
    """
    shown = _shown(value)
    if isinstance(value, bool):
        raise ValueError(f"{shown} is not a duration; write it like 250ms, 5s, 2m or 1h")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and _WHOLE.match(value):
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value))
        elif isinstance(value, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
            seconds = float(value)
        else:
            raise ValueError(f"{shown} is not a duration; write it like 250ms, 5s, 2m or 1h")
    except OverflowError:
        # a 400-digit integer does not fit a float: out of range, not a crash
        seconds = float("inf")
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"{shown} is not a duration; it must be a finite time of 0 or more")
    return seconds


def _shown(value: Any) -> str:
    """Return `value` for a message, a long one cut to its first 40 characters (a 400-digit
    number repeated whole buries the message)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:40]}... ({len(text)} characters)"


def format_duration(seconds: float) -> str:
    """Return `seconds` in the shortest exact written form (`300ms`, `5s`, `2m`); for display."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$|^\s*\d+(\.\d+)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 250ms, 5s, 2m, 1h, 1m30s, or a number of seconds.",
}

#: Seconds, written as a duration string or a number.
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]


def _parse_amount(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an amount; write a number such as 0.25") from None
    return value


#: A non-negative amount of money (cost, budget), in the workspace's one currency.
Amount = Annotated[float, BeforeValidator(_parse_amount), Field(ge=0, allow_inf_nan=False)]

#: A probability in (0, 1].
Probability = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

#: A name of a capability, policy, intent, observer or scenario: letters, digits, `.`, `_`, `-`.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$", max_length=200)]

#: A dotted fact name such as `order.paid` or `payment.id`.
FactName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")]


class Frozen(BaseModel):
    """Base of every declaration: immutable, unknown fields rejected, aliases honoured."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


__all__ = [
    "Amount",
    "Duration",
    "FactName",
    "Frozen",
    "Name",
    "Probability",
    "Scalar",
    "StrictBool",
    "StrictFloat",
    "StrictInt",
    "StrictStr",
    "format_duration",
    "parse_duration",
]
