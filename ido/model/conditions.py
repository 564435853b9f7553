"""Conditions: a mapping fact -> matcher, and how a matcher is checked against a state.

A matcher is a literal (equality) or one operator object: `{not: v}`, `{in: [..]}`,
`{not_in: [..]}`, `{gt|gte|lt|lte: n}`, `{exists: bool}`. All entries of a
condition must hold. Used by capabilities (`requires`), intents (`goal`),
policies (matchers over `capability.*` and `intent.*`) and the planner, which
compiles them to sets of admissible values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic import Field as PydanticField

from ido.model.values import Frozen, Scalar

_OPERATORS = ("not", "in", "not_in", "gt", "gte", "lt", "lte", "exists")
_ORDERED = ("gt", "gte", "lt", "lte")


def same_value(a: object, b: object) -> bool:
    """Return whether two fact values are equal, never mixing bools with numbers.

    Python says `True == 1`; a fact `true` must not match a literal `1`.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Op(Frozen):
    """One operator matcher; exactly one field is set."""

    not_: Scalar | None = PydanticField(default=None, alias="not")
    in_: list[Scalar] | None = PydanticField(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: int | float | None = None
    gte: int | float | None = None
    lt: int | float | None = None
    lte: int | float | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Op:
        given = [name for name in _OPERATORS if self.operand(name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"an operator matcher takes exactly one of {', '.join(_OPERATORS)}; "
                f"got {', '.join(given) if given else 'none'}"
            )
        return self

    def operand(self, name: str) -> Any:
        """Return the operand of operator `name` (`not`, `in`, ...) or None when unset."""
        return getattr(self, {"not": "not_", "in": "in_"}.get(name, name))

    @property
    def operator(self) -> str:
        """Return the one operator this matcher uses, such as `gt`."""
        return next(name for name in _OPERATORS if self.operand(name) is not None)

    def matches(self, value: Any, present: bool) -> bool:
        """Return whether a fact with `value` (absent when not `present`) satisfies this."""
        op = self.operator
        arg = self.operand(op)
        if op == "exists":
            return present is arg
        if op == "not":
            return not (present and same_value(value, arg))
        if op == "in":
            return present and any(same_value(value, v) for v in arg)
        if op == "not_in":
            return not (present and any(same_value(value, v) for v in arg))
        # Ordered comparisons hold only between numbers (never bools or strings).
        if not present or isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if op == "gt":
            return bool(value > arg)
        if op == "gte":
            return bool(value >= arg)
        if op == "lt":
            return bool(value < arg)
        return bool(value <= arg)

    def describe(self) -> str:
        """Return the matcher as a person would write it, e.g. `> 3` or `not in [us, ap]`."""
        op = self.operator
        arg = self.operand(op)
        symbols = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
        if op in symbols:
            return f"{symbols[op]} {arg}"
        if op in ("in", "not_in"):
            return f"{op.replace('_', ' ')} [{', '.join(map(_show, arg))}]"
        if op == "not":
            return f"!= {_show(arg)}"
        return "is set" if arg else "is unset"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_matcher(value: Any) -> Any:
    if isinstance(value, Op):
        return value
    if isinstance(value, dict):
        return Op.model_validate(value)
    if isinstance(value, bool | int | float | str):
        return value
    raise ValueError(
        f"{value!r} is not a matcher; write a value (true, 3, 0.5, eu) "
        "or one operator such as {not: v}, {in: [a, b]}, {gt: 3}, {exists: true}"
    )


_MATCHER_SCHEMA = {
    "description": "A literal value (equality) or one operator object.",
    "anyOf": [
        {"type": ["boolean", "integer", "number", "string"]},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "not": {"type": ["boolean", "integer", "number", "string"]},
                "in": {"type": "array", "items": {"type": ["boolean", "integer", "number", "string"]}},
                "not_in": {"type": "array", "items": {"type": ["boolean", "integer", "number", "string"]}},
                "gt": {"type": "number"},
                "gte": {"type": "number"},
                "lt": {"type": "number"},
                "lte": {"type": "number"},
                "exists": {"type": "boolean"},
            },
        },
    ],
}

_LITERAL_TYPES = (str, bool, int, float)


def _literal_fast_path(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A value of exactly a scalar type is a valid strict literal as it is: return it without
    # the union's validation (most matchers are literals, and every capability has some).
    if type(value) in _LITERAL_TYPES:
        return value
    return handler(value)


#: A literal (equality) or an operator object.
Matcher = Annotated[
    Scalar | Op,
    BeforeValidator(_parse_matcher),
    WrapValidator(_literal_fast_path),
    WithJsonSchema(_MATCHER_SCHEMA),
]

#: fact -> matcher; every entry must hold.
Condition = dict[str, Matcher]

#: fact -> value assigned when an action succeeds.
Effect = dict[str, Scalar]


def matcher_holds(matcher: Scalar | Op, value: Any, present: bool) -> bool:
    """Return whether one matcher holds for a fact's `value` (absent when not `present`)."""
    if isinstance(matcher, Op):
        return matcher.matches(value, present)
    return present and same_value(value, matcher)


def holds(condition: Mapping[str, Scalar | Op], state: Mapping[str, Any]) -> bool:
    """Return whether every entry of `condition` holds in `state`."""
    return all(
        matcher_holds(m, state.get(fact), fact in state) for fact, m in condition.items()
    )


def unmet(condition: Mapping[str, Scalar | Op], state: Mapping[str, Any]) -> list[str]:
    """Return the facts of `condition` that do not hold in `state`, in the condition's order."""
    return [
        fact
        for fact, m in condition.items()
        if not matcher_holds(m, state.get(fact), fact in state)
    ]


def describe_matcher(matcher: Scalar | Op) -> str:
    """Return a matcher as people read it: `= true`, `> 3`, `not in [us]`."""
    if isinstance(matcher, Op):
        return matcher.describe()
    return f"= {_show(matcher)}"


def dump_matcher(matcher: Scalar | Op) -> Any:
    """Return a matcher in its file form (a literal or a one-key mapping)."""
    if isinstance(matcher, Op):
        return {matcher.operator: matcher.operand(matcher.operator)}
    return matcher
