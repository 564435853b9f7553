"""Where a declaration came from, and pydantic errors rewritten for people at that place.

An `Origin` remembers the file, the YAML node and the field path of one
declaration (or the Python source line of a decorated function). `problems_from`
turns a pydantic ValidationError into `Problem`s located at the offending YAML
node, with messages that say what would be right ("unknown field 'cots'; did
you mean 'cost'?"). Used by the loader, by `Workspace` (Python declarations and
cross-reference checks) and by `ido.loading.checks`.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel
from yaml.nodes import MappingNode, Node, SequenceNode

from ido.errors import Problem

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Origin:
    """Where one declaration was written: a YAML node in a file, or a Python source line.

    `prefix` is the declaration's field path inside its document (for example
    `("capabilities", 2)`); `label` names a Python declaration in messages.
    """

    path: str | None = None
    node: Node | None = None
    prefix: Loc = ()
    line: int | None = None
    label: str | None = None

    def locate(self, loc: Sequence[str | int] = (), *, key: bool = False) -> tuple[int | None, int | None]:
        """Return the 1-based (line, column) of field `loc` (its key when `key`), or the nearest parent's."""
        if self.node is None:
            return self.line, None
        node = node_at(self.node, loc, key=key)
        return node.start_mark.line + 1, node.start_mark.column + 1

    def field(self, loc: Sequence[str | int] = ()) -> str:
        """Return the dotted field path of `loc`, such as `capabilities[2].cost`."""
        text = field_path((*self.prefix, *loc))
        if self.label:
            return f"{self.label}.{text}" if text else self.label
        return text

    def problem(self, loc: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        """Return a Problem about field `loc` of this declaration."""
        line, column = self.locate(loc, key=key)
        return Problem(message, path=self.path, line=line, column=column, field=self.field(loc) or None)


def field_path(loc: Iterable[str | int]) -> str:
    """Return `loc` written as people read it: `capabilities[2].requires.order.paid`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def node_at(node: Node, loc: Sequence[str | int], *, key: bool = False) -> Node:
    """Return the node of field `loc` below `node` (its key node when `key`), else the deepest parent."""
    for depth, part in enumerate(loc):
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part or (not isinstance(part, str) and str(part) == key_node.value):
                    if key and depth == len(loc) - 1:
                        return key_node  # type: ignore[no-any-return]
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def did_you_mean(word: str, candidates: Iterable[str], *, what: str = "", cutoff: float = 0.6) -> str:
    """Return "; did you mean 'x'?" for the closest candidate, or the list of candidates.

    `what` names the candidates in the fallback ("fields", "capabilities");
    `cutoff` is difflib's similarity threshold.
    """
    pool = sorted(set(candidates))
    close = difflib.get_close_matches(str(word), pool, n=1, cutoff=cutoff)
    if close:
        return f"; did you mean {close[0]!r}?"
    if not pool:
        return ""
    shown = ", ".join(pool[:25]) + (", ..." if len(pool) > 25 else "")
    return f"; valid {what or 'values'}: {shown}"


def show(value: Any) -> str:
    """Return a value as a person reads it in a message: 'abc', 3, true, a list, a mapping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# ---- pydantic errors -> problems -------------------------------------------------

#: What a required field is, for "missing; <what it is>".
_MISSING_HELP: dict[str, str] = {
    "Capability.name": "the capability's unique name, such as payment.stripe-eu",
    "Capability.provides": "the role this capability fills (alternatives share it), such as payment",
    "Observer.name": "the observer's unique name, such as service.health",
    "Observer.facts": "the list of fact names this observer reports, such as [service.healthy]",
    "Intent.intent": "the intent's name, such as order-fulfilled",
    "Intent.goal": "the facts that must hold at the end, such as {order.paid: true}",
    "Policy.name": "the policy's unique name, such as gdpr-data-stays-in-eu",
    "Policy.because": "the sentence shown to people when this policy decides something",
    "Scenario.scenario": "the scenario's name, such as payments-outage",
    "Scenario.intent": "the name of the intent the scenario runs, such as order-fulfilled",
    "HttpInvoke.url": "the URL to call, such as http://127.0.0.1:8101/charges",
    "Quota.calls": "how many calls are allowed per window, such as 100",
    "Quota.per": "the window of the quota, such as 1s or 1m",
    "target": "a capability name, or a selector such as {provides: payment, tags: {region: eu}}",
    "period": "how long one up-and-down cycle lasts, such as 10s",
    "ramp": "how long the degradation takes to reach its full strength, such as 2m",
    "probability": "the probability that a call fails, between 0 and 1, such as 0.3",
    "calls": "how many calls are allowed per window, such as 100",
    "window": "the window of the quota, such as 1s",
}

#: How to write models that have a shorthand, for "expected ..." messages.
_SHAPES = {
    "Invoke": "`sim`, or a mapping with one of http, python, sim (such as {python: 'pkg.mod:function'})",
    "InputSpec": "a type (str, int, float, bool) or a mapping with fields type, secret, default, description",
}

_TYPE_WORDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "a text",
    type(None): "nothing",
}

_NUMBER_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def problems_from(
    exc: pydantic.ValidationError, model: type[BaseModel], data: Any, origin: Origin
) -> list[Problem]:
    """Return the errors of validating `data` as `model`, located by `origin`, for people.

    Union alternatives that failed at one place are merged into one message;
    errors raised inside matcher parsing are unwrapped to the field they concern.
    """
    raw = list(_flatten(exc.errors(include_url=False), ()))
    entries = []
    for error in raw:
        loc = tuple(error["loc"])
        entries.append((loc, _data_loc(data, loc), error))
    # A union branch that failed at the top ("not a string") says less than the
    # other branch's error deeper inside the same value: keep the deeper one.
    deep = [d for _, d, _ in entries]
    kept = []
    for loc, dloc, error in entries:
        shallow_branch = len(dloc) < len(loc) and error["type"].endswith("_type")
        if shallow_branch and any(len(o) > len(dloc) and o[: len(dloc)] == dloc for o in deep):
            continue
        kept.append((loc, dloc, error))
    groups: dict[Loc, list[tuple[Loc, dict[str, Any]]]] = {}
    for loc, dloc, error in kept:
        groups.setdefault(dloc, []).append((loc, error))
    problems = []
    for dloc, errors in groups.items():
        problems.append(_one_problem(model, data, dloc, errors, origin))
    return problems


def _flatten(errors: Iterable[Any], prefix: Loc) -> Iterable[dict[str, Any]]:
    for error in errors:
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, pydantic.ValidationError):
            yield from _flatten(inner.errors(include_url=False), (*prefix, *error["loc"]))
        else:
            yield {**error, "loc": (*prefix, *error["loc"])}


def _data_loc(data: Any, loc: Loc) -> Loc:
    """Return `loc` without pydantic's union-member tags: only the steps that exist in `data`."""
    out: list[str | int] = []
    current = data
    for part in loc:
        found, child = _child(current, part)
        if found:
            current = child
            out.append(part)
        elif isinstance(current, dict) and isinstance(part, str) and not _looks_like_tag(part, current):
            # A key that is not there: `missing` and `extra` errors name it.
            out.append(part)
            current = None
    return tuple(out)


def _child(data: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def _looks_like_tag(part: str, current: dict[str, Any]) -> bool:
    return part in ("str", "int", "float", "bool", "constrained-str", "none") or "[" in part or part[:1].isupper() or (
        current.get("kind") == part
    )


def _one_problem(
    model: type[BaseModel], data: Any, dloc: Loc, errors: list[tuple[Loc, dict[str, Any]]], origin: Origin
) -> Problem:
    loc, error = errors[0]
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent = _type_at(model, loc[:-1])
        fields = _field_names(parent)
        message = f"unknown field {str(loc[-1])!r}" + did_you_mean(str(loc[-1]), fields, what="fields")
        return origin.problem(dloc, message, key=True)
    if kind == "missing":
        parent = _type_at(model, loc[:-1])
        name = str(loc[-1])
        help_text = _missing_help(parent, name)
        line_loc = dloc[:-1]
        line, column = origin.locate(line_loc)
        return Problem(f"missing; {help_text}", path=origin.path, line=line, column=column, field=origin.field(dloc))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "kind")).strip("'")
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        expected = expected or _discriminator_values(_type_at(model, loc))
        if kind == "union_tag_not_found":
            return origin.problem(dloc, f"missing `{discriminator}`; write one of: {', '.join(expected)}")
        tag = str(ctx.get("tag", "")).strip("'")
        message = f"unknown {discriminator} {tag!r}" + did_you_mean(tag, expected, what=f"{discriminator}s")
        return origin.problem((*dloc, discriminator), message)
    if len(errors) > 1:
        # Union alternatives failed at one place: a rule of the branch the value
        # was meant for (a selector's own check) says more than "expected X or Y".
        ruled = [(lc, e) for lc, e in errors if e["type"] in ("value_error", "assertion_error")]
        if len(ruled) == 1:
            return _one_problem(model, data, dloc, ruled, origin)
    if len(errors) > 1 or kind.endswith(("_type", "_parsing")) or kind in ("model_type", "model_attributes_type"):
        wanted = _describe(_type_at(model, _union_loc(loc, dloc)))
        return origin.problem(dloc, f"expected {wanted}, got {show(value)}")
    if kind == "literal_error":
        raw_options = str(ctx.get("expected", "")).replace(" or ", ", ").split(",")
        options = [o.strip().strip("'") for o in raw_options if o.strip().strip("'")]
        message = f"expected one of {', '.join(options)}, got {show(value)}"
        if isinstance(value, str):
            suggestion = did_you_mean(value, options)
            if suggestion.startswith("; did"):
                message += suggestion
        return origin.problem(dloc, message)
    if kind == "string_pattern_mismatch":
        return origin.problem(dloc, _pattern_message(str(ctx.get("pattern", "")), value))
    if kind in _NUMBER_BOUNDS:
        key, words = _NUMBER_BOUNDS[kind]
        return origin.problem(dloc, f"must be {words} {show(ctx.get(key))}, got {show(value)}")
    if kind in ("too_short", "too_long"):
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        words = "at least" if kind == "too_short" else "at most"
        plural = "entry" if limit == 1 else "entries"
        return origin.problem(dloc, f"needs {words} {limit} {plural}, got {ctx.get('actual_length', '?')}")
    if kind == "string_too_long":
        return origin.problem(dloc, f"is too long; write at most {ctx.get('max_length')} characters")
    if kind == "finite_number":
        return origin.problem(dloc, f"must be a finite number, got {show(value)}")
    if kind in ("value_error", "assertion_error"):
        text = str(error.get("msg", ""))
        for head in ("Value error, ", "Assertion failed, "):
            text = text.removeprefix(head)
        return origin.problem(dloc, text)
    return origin.problem(dloc, f"{error.get('msg', 'invalid')}, got {show(value)}")


def _union_loc(loc: Loc, dloc: Loc) -> Loc:
    # The type at the place of a merged union error: the raw loc up to the last
    # step that exists in the data (dropping a trailing member tag).
    steps = 0
    cut = 0
    for index, part in enumerate(loc):
        if steps < len(dloc) and part == dloc[steps]:
            steps += 1
            cut = index + 1
    return loc[:cut]


def _model_of(tp: Any) -> Any:
    """Return `tp`, or the model among a union's members (`Quota | None` -> Quota)."""
    tp = _strip(tp)
    if _is_union(tp):
        for member in typing.get_args(tp):
            if _is_model(_strip(member)):
                return _strip(member)
    return tp


def _missing_help(parent: Any, name: str) -> str:
    parent = _model_of(parent)
    model_name = parent.__name__ if isinstance(parent, type) else ""
    if f"{model_name}.{name}" in _MISSING_HELP:
        return _MISSING_HELP[f"{model_name}.{name}"]
    if name in _MISSING_HELP:
        return _MISSING_HELP[name]
    return f"add `{name}: ...`"


def _pattern_message(pattern: str, value: Any) -> str:
    if pattern.startswith("^https?"):
        return f"{show(value)} is not an http(s) URL; write it like http://127.0.0.1:8101/health"
    if pattern.startswith("^[A-Za-z_]"):
        return f"{show(value)} is not a fact name; write dotted names such as order.paid"
    return (
        f"{show(value)} is not a valid name; names use letters, digits, '.', '_' and '-' "
        "and start with a letter or digit"
    )


# ---- walking the model's types along a loc --------------------------------------


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _member_tags(member: Any) -> set[str]:
    bare = _strip(member)
    if _is_model(bare):
        tags = {bare.__name__}
        kind = bare.model_fields.get("kind")
        if kind is not None and typing.get_origin(kind.annotation) is typing.Literal:
            tags.update(str(a) for a in typing.get_args(kind.annotation))
        return tags
    if bare in (str, int, float, bool):
        return {bare.__name__, f"constrained-{bare.__name__}"}
    if bare is type(None):
        return {"none"}
    return set()


def _step(tp: Any, part: str | int) -> tuple[Any, bool]:
    """Return the type one step below `tp` and whether `part` was consumed."""
    tp = _strip(tp)
    if _is_union(tp):
        members = list(typing.get_args(tp))
        if isinstance(part, str):
            for member in members:
                tags = _member_tags(member)
                if part in tags or any(t in part for t in tags if _is_model(_strip(member))):
                    return member, True
        for member in members:
            bare = _strip(member)
            if _is_model(bare) and isinstance(part, str) and part in _field_names(bare, names=True):
                return member, False
        for member in members:
            if typing.get_origin(_strip(member)) in (list, dict):
                return member, False
        return tp, True
    if _is_model(tp):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                return info.annotation, True
        return None, True
    origin = typing.get_origin(tp)
    if origin is list:
        return typing.get_args(tp)[0], True
    if origin is dict:
        return typing.get_args(tp)[1], True
    return None, True


def _type_at(model: Any, loc: Loc) -> Any:
    tp = model
    for part in loc:
        for _ in range(4):  # a union step may not consume the part
            tp, consumed = _step(tp, part)
            if consumed or tp is None:
                break
        if tp is None:
            return None
    return _strip(tp)


def _field_names(tp: Any, *, names: bool = False) -> list[str]:
    tp = _strip(tp)
    if _is_union(tp):
        fields: list[str] = []
        for member in typing.get_args(tp):
            fields.extend(_field_names(member, names=names))
        return fields
    if not _is_model(tp):
        return []
    out = []
    for name, info in tp.model_fields.items():
        out.append(info.alias or name)
        if names and info.alias:
            out.append(name)
    return out


def _discriminator_values(tp: Any) -> list[str]:
    tp = _strip(tp)
    if typing.get_origin(tp) is list:
        tp = _strip(typing.get_args(tp)[0])
    values: list[str] = []
    if _is_union(tp):
        for member in typing.get_args(tp):
            values.extend(sorted(t for t in _member_tags(member) if t.islower()))
    return values


def _describe(tp: Any) -> str:
    tp = _strip(tp)
    if tp is None:
        return "another value"
    if _is_union(tp):
        bare = {_strip(m) for m in typing.get_args(tp)}
        if {bool, int, float, str} <= bare:
            return "a plain value (true/false, a number or a text)"
        words = []
        for member in typing.get_args(tp):
            word = _describe(member)
            if word not in words and word != "nothing":
                words.append(word)
        return " or ".join(words)
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    origin = typing.get_origin(tp)
    if origin is list:
        return "a list"
    if origin is dict:
        return "a mapping"
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    if _is_model(tp) and tp.__name__ in _SHAPES:
        return _SHAPES[tp.__name__]
    if _is_model(tp):
        fields = _field_names(tp)
        return f"a mapping with fields {', '.join(fields)}" if fields else "a mapping"
    return "another value"
