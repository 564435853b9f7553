"""Hypothesis strategies for ido's declarations, shared by every test area.

Each strategy draws VALID models. They compose: pass a strategy of fact names
(`facts=st.sampled_from([...])`) or of names to draw coherent workspaces, for
example capabilities over a small fact vocabulary for planner properties.

    capabilities(), observers(), intents(), policies(), scenarios(), faults()
    conditions(), effects(), matchers(), scalars(), names(), fact_names(), durations()

Other engineers: append your own strategies at the END of this file.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ido.model import (
    FAULT_KINDS,
    RULE_KINDS,
    Capability,
    Intent,
    Observer,
    Op,
    Policy,
    Scenario,
)

# ---- leaves ---------------------------------------------------------------------

#: Text that exercises YAML quoting: colons, hashes, quotes, leading dashes, unicode.
_TEXT_ALPHABET = "abcxyz ABC019:#-'\"{}[],&*!|>%@`é€\\"


def names() -> st.SearchStrategy[str]:
    """Return a strategy of valid declaration names such as `pay.stripe-eu`."""
    return st.from_regex(r"[a-z][a-z0-9]{0,5}(\.[a-z][a-z0-9-]{0,5}){0,2}", fullmatch=True)


_default_names = names


def fact_names() -> st.SearchStrategy[str]:
    """Return a strategy of dotted fact names such as `order.paid`."""
    return st.from_regex(r"[a-z][a-z0-9_]{0,5}\.[a-z][a-z0-9_]{0,5}", fullmatch=True)


def texts(max_size: int = 20) -> st.SearchStrategy[str]:
    """Return a strategy of free text (descriptions, `because`) with YAML-hostile characters."""
    return st.text(alphabet=_TEXT_ALPHABET, max_size=max_size)


def numbers() -> st.SearchStrategy[float]:
    """Return a strategy of finite floats of modest size, rounded to 3 places."""
    return st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(
        lambda x: round(x, 3)
    )


def scalars() -> st.SearchStrategy[bool | int | float | str]:
    """Return a strategy of fact values: bools, ints, floats and short strings."""
    return st.one_of(
        st.booleans(),
        st.integers(min_value=-10_000, max_value=10_000),
        numbers(),
        st.text(alphabet="abcdefxyz-_ 0123", min_size=0, max_size=8),
    )


def durations(max_seconds: float = 120.0) -> st.SearchStrategy[float]:
    """Return a strategy of durations in seconds, whole milliseconds."""
    return st.integers(min_value=0, max_value=int(max_seconds * 1000)).map(lambda ms: ms / 1000)


def positive_durations(max_seconds: float = 120.0) -> st.SearchStrategy[float]:
    """Return a strategy of durations of at least one millisecond."""
    return st.integers(min_value=1, max_value=int(max_seconds * 1000)).map(lambda ms: ms / 1000)


def amounts(max_value: float = 100.0) -> st.SearchStrategy[float]:
    """Return a strategy of non-negative amounts with cents."""
    return st.integers(min_value=0, max_value=int(max_value * 100)).map(lambda c: c / 100)


def probabilities() -> st.SearchStrategy[float]:
    """Return a strategy of probabilities in (0, 1], three decimals."""
    return st.integers(min_value=1, max_value=1000).map(lambda p: p / 1000)


def tags() -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of capability/intent tags such as {region: eu}."""
    return st.dictionaries(
        st.sampled_from(["region", "vendor", "tier", "gdpr", "weight"]), scalars(), max_size=3
    )


# ---- conditions -----------------------------------------------------------------

_NUMBER = st.one_of(st.integers(min_value=-1000, max_value=1000), numbers())


def ops() -> st.SearchStrategy[Op]:
    """Return a strategy of operator matchers, one operator each."""
    value_list = st.lists(scalars(), min_size=1, max_size=4)
    return st.one_of(
        scalars().map(lambda v: Op.model_validate({"not": v})),
        value_list.map(lambda v: Op.model_validate({"in": v})),
        value_list.map(lambda v: Op.model_validate({"not_in": v})),
        st.sampled_from(["gt", "gte", "lt", "lte"]).flatmap(
            lambda op: _NUMBER.map(lambda n: Op.model_validate({op: n}))
        ),
        st.booleans().map(lambda b: Op.model_validate({"exists": b})),
    )


def matchers() -> st.SearchStrategy[Any]:
    """Return a strategy of matchers: a literal value or an operator object."""
    return st.one_of(scalars(), ops())


def conditions(
    facts: st.SearchStrategy[str] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    *,
    min_size: int = 0,
    max_size: int = 3,
) -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of conditions (fact -> matcher) over `facts`, with matchers from `values`."""
    return st.dictionaries(facts if facts is not None else fact_names(), values if values is not None else matchers(), min_size=min_size, max_size=max_size)


def effects(
    facts: st.SearchStrategy[str] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    *,
    min_size: int = 1,
    max_size: int = 3,
) -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of effects (fact -> value), non-empty by default."""
    return st.dictionaries(facts if facts is not None else fact_names(), values if values is not None else scalars(), min_size=min_size, max_size=max_size)


# ---- capabilities and observers -------------------------------------------------

_PYTHON_TARGETS = st.from_regex(r"[a-z][a-z_]{0,6}(\.[a-z][a-z_]{0,6}){0,2}:[a-z][a-z_]{0,8}", fullmatch=True)
_URLS = st.from_regex(r"http://127\.0\.0\.1:[1-9][0-9]{3}/[a-z]{0,8}", fullmatch=True)


def invokes() -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of `invoke` specs in file form: sim, python or http."""
    return st.one_of(
        st.just({"sim": {}}),
        st.builds(lambda j: {"sim": {"latency_jitter": j}}, st.integers(0, 500).map(lambda x: x / 100)),
        _PYTHON_TARGETS.map(lambda t: {"python": t}),
        st.builds(
            lambda method, url, timeout, body: {
                "http": {
                    "method": method,
                    "url": url,
                    **({"timeout": timeout} if timeout is not None else {}),
                    **({"json": body} if body is not None else {}),
                }
            },
            st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
            _URLS,
            st.none() | positive_durations(10),
            st.none() | st.dictionaries(st.sampled_from(["order", "amount", "id"]), scalars(), max_size=2),
        ),
    )


def probes() -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of `probe` specs in file form."""
    door = st.one_of(
        _URLS.map(lambda u: {"http": u}),
        _PYTHON_TARGETS.map(lambda t: {"python": t}),
        st.just({"sim": True}),
    )
    return st.builds(
        lambda d, interval, timeout: {**d, "interval": interval, "timeout": timeout},
        door,
        durations(60),
        durations(5),
    )


@st.composite
def capabilities(
    draw: st.DrawFn,
    names: st.SearchStrategy[str] | None = None,
    provides: st.SearchStrategy[str] | None = None,
    facts: st.SearchStrategy[str] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    *,
    invoke: st.SearchStrategy[dict[str, Any]] | None = None,
    compensate: st.SearchStrategy[str | None] | None = None,
) -> Capability:
    """Draw a valid Capability; pass `facts`/`values` to keep requires/effects in a vocabulary.

    `compensate` defaults to None (no compensation) so drawn sets of
    capabilities stay free of dangling references.
    """
    data: dict[str, Any] = {
        "name": draw(names if names is not None else _default_names()),
        "provides": draw(provides if provides is not None else st.sampled_from(["payment", "shipping", "notify", "role"])),
        "description": draw(texts()),
        "requires": draw(conditions(facts, None if values is None else values)),
        "effects": draw(effects(facts, values)),
        "cost": draw(amounts(5)),
        "latency": draw(durations(30)),
        "reliability": draw(probabilities()),
        "tags": draw(tags()),
        "invoke": draw(invoke if invoke is not None else invokes()),
        "idempotent": draw(st.booleans()),
    }
    reports = draw(st.dictionaries(fact_names(), st.sampled_from(["id", "data.id", "tracking"]), max_size=2))
    if reports:
        data["reports"] = reports
    if draw(st.booleans()):
        data["probe"] = draw(probes())
    target = draw(compensate if compensate is not None else st.none())
    if target is not None:
        data["compensate"] = target
    if draw(st.booleans()):
        data["timeout"] = draw(positive_durations(30))
    if draw(st.booleans()):
        data["max_concurrency"] = draw(st.integers(1, 100))
    if draw(st.booleans()):
        data["quota"] = {"calls": draw(st.integers(1, 1000)), "per": draw(positive_durations(60))}
    return Capability.model_validate(data)


@st.composite
def observers(
    draw: st.DrawFn,
    names: st.SearchStrategy[str] | None = None,
    facts: st.SearchStrategy[str] | None = None,
) -> Observer:
    """Draw a valid Observer reporting 1-3 facts through one door."""
    door = draw(
        st.one_of(
            _URLS.map(lambda u: {"http": u}),
            _PYTHON_TARGETS.map(lambda t: {"python": t}),
            st.just({"sim": True}),
        )
    )
    return Observer.model_validate(
        {
            "name": draw(names if names is not None else _default_names()),
            "description": draw(texts()),
            "facts": draw(st.lists(facts if facts is not None else fact_names(), min_size=1, max_size=3, unique=True)),
            "interval": draw(durations(60)),
            "timeout": draw(durations(5)),
            **door,
        }
    )


# ---- intents and policies --------------------------------------------------------


@st.composite
def intents(
    draw: st.DrawFn,
    names: st.SearchStrategy[str] | None = None,
    facts: st.SearchStrategy[str] | None = None,
    values: st.SearchStrategy[Any] | None = None,
    *,
    policies: st.SearchStrategy[list[str]] | None = None,
) -> Intent:
    """Draw a valid Intent: a non-empty goal, inputs, given facts, constraints and objective.

    `policies` defaults to an empty list so drawn intents name no missing policy.
    """
    input_specs = draw(
        st.dictionaries(
            st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True),
            st.sampled_from(["str", "int", "float", "bool"]).flatmap(_input_spec),
            max_size=3,
        )
    )
    constraints: dict[str, Any] = {}
    if draw(st.booleans()):
        constraints["budget"] = draw(amounts(50))
    if draw(st.booleans()):
        constraints["deadline"] = draw(positive_durations(600))
    if draw(st.booleans()):
        constraints["min_success"] = draw(probabilities())
    if draw(st.booleans()):
        constraints["max_steps"] = draw(st.integers(1, 20))
    return Intent.model_validate(
        {
            "intent": draw(names if names is not None else _default_names()),
            "description": draw(texts()),
            "inputs": input_specs,
            "given": draw(effects(facts, values, min_size=0)),
            "goal": draw(conditions(facts, values, min_size=1)),
            "constraints": constraints,
            "objective": {
                "cost": draw(st.integers(0, 100).map(lambda x: x / 10)),
                "latency": draw(st.integers(0, 100).map(lambda x: x / 100)),
                "risk": draw(st.integers(0, 100).map(lambda x: x / 10)),
            },
            "tags": draw(tags()),
            "policies": draw(policies if policies is not None else st.just([])),
            "on_failure": draw(st.sampled_from(["compensate", "stop"])),
        }
    )


def _input_spec(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    default = {
        "str": st.text(alphabet="abc-_0", max_size=6),
        "int": st.integers(-100, 100),
        "float": numbers(),
        "bool": st.booleans(),
    }[kind]
    return st.builds(
        lambda secret, d, text: {"type": kind, "secret": secret, "description": text, **({"default": d} if d is not None else {})},
        st.booleans(),
        st.none() | default,
        texts(10),
    )


_POLICY_INTENT_KEYS = st.one_of(
    st.just("intent.name"),
    st.sampled_from(["gdpr", "region", "tier"]).map(lambda k: f"intent.tags.{k}"),
    st.sampled_from(["amount", "order_id"]).map(lambda k: f"inputs.{k}"),
)
_POLICY_RULE_KEYS = st.one_of(
    _POLICY_INTENT_KEYS,
    st.sampled_from(
        ["capability.name", "capability.provides", "capability.cost", "capability.latency",
         "capability.reliability", "capability.idempotent"]
    ),
    st.sampled_from(["region", "vendor"]).map(lambda k: f"capability.tags.{k}"),
)


@st.composite
def policies(draw: st.DrawFn, names: st.SearchStrategy[str] | None = None, *, rule: str | None = None) -> Policy:
    """Draw a valid Policy with one rule (`rule` picks which; any of RULE_KINDS by default)."""
    kind = rule or draw(st.sampled_from(RULE_KINDS))
    data: dict[str, Any] = {
        "name": draw(names if names is not None else _default_names()),
        "because": draw(texts().filter(lambda t: t.strip() != "") | st.just("Because.")),
        "applies_to": draw(conditions(_POLICY_INTENT_KEYS, max_size=2)),
    }
    if kind == "limit":
        limit = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "attempts_per_capability": st.integers(1, 20),
                    "cost_per_run": amounts(50),
                    "steps_per_run": st.integers(1, 20),
                },
            ).filter(bool)
        )
        data["limit"] = limit
    else:
        data[kind] = draw(conditions(_POLICY_RULE_KEYS, min_size=1, max_size=2))
        if kind == "prefer" and draw(st.booleans()):
            data["weight"] = draw(st.integers(-100, 100).map(lambda x: x / 100))
    return Policy.model_validate(data)


# ---- scenarios ------------------------------------------------------------------


def selectors() -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy of target selectors in file form ({provides, tags})."""
    return st.one_of(
        st.builds(lambda p: {"provides": p}, st.sampled_from(["payment", "shipping"])),
        st.builds(lambda t: {"tags": t}, tags().filter(bool)),
    )


@st.composite
def faults(draw: st.DrawFn, targets: st.SearchStrategy[Any] | None = None, *, kind: str | None = None) -> dict[str, Any]:
    """Draw one fault in file form (a dict: scenarios hold faults as a discriminated union)."""
    chosen = kind or draw(st.sampled_from(FAULT_KINDS))
    fault: dict[str, Any] = {
        "target": draw(targets if targets is not None else st.one_of(names(), selectors())),
        "kind": chosen,
        "at": draw(durations(120)),
    }
    if draw(st.booleans()):
        fault["for"] = draw(positive_durations(120))
    extra: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "down": st.just({}),
        "hang": st.just({}),
        "error_rate": st.builds(lambda p: {"probability": p}, probabilities()),
        "latency": st.builds(
            lambda m, a, j: {"multiply": m, "add": a, "jitter": j},
            st.integers(1, 200).map(lambda x: x / 10),
            durations(10),
            st.integers(0, 200).map(lambda x: x / 100),
        ).filter(lambda d: d["multiply"] != 1.0 or d["add"] != 0.0),
        "flap": st.builds(lambda p, d: {"period": p, "duty": d}, positive_durations(60), st.integers(1, 99).map(lambda x: x / 100)),
        "slow_degrade": st.builds(
            lambda r, e, m: {"ramp": r, "error_rate": e, "latency_multiply": m},
            positive_durations(300),
            probabilities(),
            st.integers(10, 100).map(lambda x: x / 10),
        ),
        "api_change": st.builds(lambda s: {"status": s}, st.integers(400, 599)),
        "cost": st.one_of(
            st.builds(lambda m: {"multiply": m}, st.integers(1, 100).map(lambda x: x / 10)),
            st.builds(lambda t: {"to": t}, amounts(10)),
        ),
        "quota": st.builds(lambda c, w: {"calls": c, "window": w}, st.integers(1, 100), positive_durations(60)),
        "lying_probe": st.builds(lambda e: {"error_rate": e}, probabilities()),
    }
    fault.update(draw(extra[chosen]))
    return fault


@st.composite
def scenarios(
    draw: st.DrawFn,
    names: st.SearchStrategy[str] | None = None,
    intent: st.SearchStrategy[str] | None = None,
    targets: st.SearchStrategy[Any] | None = None,
) -> Scenario:
    """Draw a valid Scenario; pass `intent` and `targets` to tie it to a workspace."""
    arrivals = draw(
        st.one_of(
            st.builds(lambda e: {"every": e}, positive_durations(5)),
            st.builds(lambda r: {"rate": r}, st.integers(1, 1000).map(lambda x: x / 10)),
        )
    )
    return Scenario.model_validate(
        {
            "scenario": draw(names if names is not None else _default_names()),
            "description": draw(texts()),
            "intent": draw(intent if intent is not None else _default_names()),
            "runs": draw(st.integers(1, 1000)),
            "seed": draw(st.integers(0, 2**31)),
            "arrivals": arrivals,
            "inputs": draw(st.dictionaries(st.sampled_from(["amount", "order_id"]), scalars(), max_size=2)),
            "set": draw(effects(min_size=0, max_size=2)),
            "faults": draw(st.lists(faults(targets), max_size=4)),
            "strategies": draw(
                st.lists(st.sampled_from(["adaptive", "static", "static-fallback"]), min_size=1, max_size=3, unique=True)
            ),
        }
    )
