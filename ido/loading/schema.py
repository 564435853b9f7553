"""JSON Schema (draft 2020-12) of ido's YAML files, for editors and `ido schema`.

The schema describes FILE shapes, not bare models: a capabilities file is
`{capabilities: [Capability], observers: [Observer]}` (or one capability
written as a mapping), a policies file `{policies: [Policy]}`, an intent or a
scenario one document each. Names are the YAML names (`not`, `in`, `for`,
`set`, `json`). Shorthands the loader accepts (`invoke: sim`, `inputs:
{order_id: str}`) are added to the generated schema so editors accept them too.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, TypeAdapter

from ido.model import Capability, Frozen, Intent, Observer, Policy, Scenario

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("intent", "capability", "observer", "policy", "scenario")


class CapabilitiesFile(Frozen):
    """A capabilities file: lists of capabilities and observers (either may be left out)."""

    capabilities: list[Capability] | None = None
    observers: list[Observer] | None = None


class PoliciesFile(Frozen):
    """A policies file: a list of policies."""

    policies: list[Policy] | None = None


class DeclarationsFile(Frozen):
    """Any list-shaped file: capabilities, observers and policies together."""

    capabilities: list[Capability] | None = None
    observers: list[Observer] | None = None
    policies: list[Policy] | None = Field(default=None)


_SHAPES: dict[str | None, tuple[str, Any]] = {
    "intent": ("an ido intent file (one intent per YAML document)", Intent),
    "scenario": ("an ido scenario file (one scenario per YAML document)", Scenario),
    "capability": ("an ido capabilities file", CapabilitiesFile | Capability),
    "observer": ("an ido capabilities file (observers are declared beside capabilities)", CapabilitiesFile | Observer),
    "policy": ("an ido policies file", PoliciesFile | Policy),
    None: (
        "any ido declarations file: intent, scenario, capabilities/observers/policies lists, or one declaration",
        Intent | Scenario | DeclarationsFile | Capability | Observer | Policy,
    ),
}


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """Return the JSON Schema of a file of `kind` (None: a file of any kind).

    Raises KeyError for an unknown kind; callers check against `KINDS`.
    """
    title, shape = _SHAPES[kind]
    schema = TypeAdapter(shape).json_schema(by_alias=True, mode="validation")
    _shorthands(schema.get("$defs", {}))
    _standard_bounds(schema)
    return {"$schema": SCHEMA_DIALECT, "title": title, **schema}


def _shorthands(defs: dict[str, Any]) -> None:
    if "Invoke" in defs:
        invoke = defs["Invoke"]
        sim = invoke.get("properties", {}).get("sim")
        if sim is not None:
            invoke["properties"]["sim"] = {"anyOf": [sim, {"type": "boolean", "const": True}]}
        defs["Invoke"] = {
            "anyOf": [{"const": "sim", "description": "short for {sim: {}}"}, invoke],
            "description": invoke.get("description", ""),
        }
    if "InputSpec" in defs:
        spec = defs["InputSpec"]
        defs["InputSpec"] = {
            "anyOf": [
                {"enum": ["str", "int", "float", "bool"], "description": "short for {type: ...}"},
                spec,
            ],
            "description": spec.get("description", ""),
        }


def _standard_bounds(node: Any) -> None:
    # Annotated constraints behind a BeforeValidator come out as pydantic's own
    # `ge`/`le`; editors understand only the JSON Schema words.
    if isinstance(node, dict):
        for ours, standard in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum")):
            if ours in node and node.get("type") in ("number", "integer") and not isinstance(node[ours], dict):
                node[standard] = node.pop(ours)
        for value in node.values():
            _standard_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _standard_bounds(value)
