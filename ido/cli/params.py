"""The command line's shared parameter types: `K=V` assignments, typed fact values, bounded counts.

Every command that takes `--set FACT=V` or `--input K=V` (plan, run, apply,
simulate) parses them here, so one text has one meaning everywhere: an input
is typed by the intent's declared input type (`InputSpec.coerce`), a fact by
the type the workspace gives it (the intent's `given`, capabilities'
`effects` and `requires`, scenarios' `set`), and a value that does not fit is
a usage error (exit 2) naming what would. Counts (`--runs`, `--limit`) are
bounded integers, so a 20-digit number is refused with a message instead of
overflowing a database integer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from ido.errors import UsageError
from ido.model import Scalar
from ido.model.intent import InputSpec

if TYPE_CHECKING:
    from ido.model import Intent
    from ido.workspace import Workspace

#: The largest count any option accepts: a signed 64-bit integer, what SQLite and PostgreSQL store.
MAX_COUNT = 2**63 - 1

_FACT = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")
#: Value types in the order a text is tried against them when a fact takes several.
_TYPE_ORDER = ("bool", "int", "float", "str")


class Assignment(click.ParamType[tuple[str, str]]):
    """`NAME=VALUE` -> (name, raw text); `fact=True` also checks NAME is a dotted fact name.

    The value stays text here: only the intent says its type (`typed_facts`,
    `Intent.bind_inputs`).
    """

    name = "assignment"

    def __init__(self, *, fact: bool) -> None:
        self.fact = fact

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        """Return (name, raw value); raises UsageError (exit 2, `error: ...` like every ido message)
        saying the right form."""
        if isinstance(value, tuple):
            return value  # already converted (a default)
        option = param.opts[0] if param is not None and param.opts else "--set"
        name, sep, raw = str(value).partition("=")
        name = name.strip()
        example = "order.paid=true" if self.fact else "order_id=A1"
        if not sep or not name:
            raise UsageError(f"{option} {value!r} is not NAME=VALUE; write it like {option} {example}")
        if self.fact and not _FACT.match(name):
            raise UsageError(
                f"{option} {value!r}: {name!r} is not a fact name; write a dotted name such as order.paid"
            )
        return name, raw


#: `--set FACT=V`.
FACT_ASSIGNMENT = Assignment(fact=True)
#: `--input K=V`.
INPUT_ASSIGNMENT = Assignment(fact=False)


class BoundedInt(click.ParamType[int]):
    """A whole number from `low` to `high`; anything else is a UsageError (exit 2) saying the range.

    The upper bound is what a database integer holds, so `--limit 99999999999999999999` is
    refused here instead of overflowing SQLite later.
    """

    name = "integer"

    def __init__(self, low: int, high: int, what: str) -> None:
        self.low, self.high, self.what = low, high, what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Return the number; raises UsageError naming the option and the range accepted."""
        if isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high:
            return value
        option = param.opts[0] if param is not None and param.opts else "the value"
        text = str(value).strip()
        number = int(text) if re.fullmatch(r"[+-]?\d{1,25}", text) else None
        if number is None or not self.low <= number <= self.high:
            raise UsageError(f"{option} must be {self.what} from {self.low} to {self.high}, not {text[:40]!r}")
        return number


#: A count such as `--runs` or `--limit`: 1 up to MAX_COUNT.
COUNT = BoundedInt(1, MAX_COUNT, "a positive whole number")
#: A seed: any 64-bit signed integer.
SEED = BoundedInt(-MAX_COUNT - 1, MAX_COUNT, "a whole number")


def raw_inputs(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Return repeated `--input` assignments as {name: raw text} (the intent types them)."""
    return dict(pairs)


def fact_types(workspace: Workspace, intent: Intent | None = None) -> dict[str, set[str]]:
    """Return, per fact, the value types the declarations give it (`bool`, `int`, `float`, `str`).

    From `intent`'s `given`, every capability's `effects` and scalar
    `requires`, every intent's `given` and every scenario's `set` together. Facts only observers or reports set are absent: any
    type fits them. Called by `typed_facts`.
    """
    types: dict[str, set[str]] = {}

    def add(fact: str, value: Any) -> None:
        if isinstance(value, bool | int | float | str):
            types.setdefault(fact, set()).add(_type_name(value))

    for other in workspace.intents.values():
        for fact, value in other.given.items():
            add(fact, value)
    for capability in workspace.capabilities.values():
        for fact, value in capability.effects.items():
            add(fact, value)
        for fact, matcher in capability.requires.items():
            add(fact, matcher)
    for scenario in workspace.scenarios.values():
        for fact, value in scenario.set_.items():
            add(fact, value)
    if intent is not None:  # also when it was read from a file outside the workspace
        for fact, value in intent.given.items():
            add(fact, value)
    return types


def typed_facts(
    pairs: tuple[tuple[str, str], ...], workspace: Workspace, intent: Intent | None = None,
) -> dict[str, Scalar]:
    """Return `--set` assignments typed by `fact_types`; a fact no declaration types is read as
    true/false, an integer, a number, else text. Raises UsageError (exit 2) when the text fits none
    of the fact's types. Called by plan, run and simulate, so all three read a value alike."""
    declared = fact_types(workspace, intent)
    facts: dict[str, Scalar] = {}
    for name, raw in pairs:
        types = declared.get(name) or set(_TYPE_ORDER)
        value = _first_fit(raw, types)
        if value is None:
            kinds = " or ".join(t for t in _TYPE_ORDER if t in types)
            kinds = ("an " if kinds.startswith("int") else "a ") + kinds
            shown = raw if len(raw) <= 40 else f"{raw[:40]}... ({len(raw)} characters)"
            raise UsageError(
                f"--set {name}={shown}: {name} is {kinds} in the declarations, and {shown!r} is not; "
                f"write it like --set {name}={_example(types)}"
            )
        facts[name] = value
    return facts


def _first_fit(raw: str, types: set[str]) -> Scalar | None:
    for kind in _TYPE_ORDER:
        if kind not in types:
            continue
        if kind == "str":
            return _unquote(raw)
        try:
            value = _coerce_strict(raw, kind)
        except ValueError:
            continue
        return value
    return None


def _coerce_strict(raw: str, kind: str) -> Scalar:
    text = raw.strip()
    if kind == "bool":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError(raw)
    if kind == "int" and not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(raw)
    value = InputSpec.model_validate({"type": kind}).coerce(text)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise ValueError(raw)
    return value


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


def _type_name(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _example(types: set[str]) -> str:
    for kind, example in (("bool", "true"), ("int", "3"), ("float", "0.5")):
        if kind in types:
            return example
    return "text"
