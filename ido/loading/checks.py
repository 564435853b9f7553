"""Cross-reference checks over a whole workspace: names that point at nothing, goals nothing
can reach, matchers no value can meet, policy keys ido does not know.

Run on every workspace, whether loaded from YAML or declared in Python
(`Workspace.problems()` and the loader both call `cross_reference`), so both
doors are checked alike. Each problem is located at the offending node
through the declaration's `Origin`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ido.errors import Problem
from ido.loading.locate import Origin, did_you_mean
from ido.model import (
    Capability,
    Intent,
    Observer,
    Policy,
    Scalar,
    Scenario,
    fault_targets,
    matcher_holds,
)
from ido.model.conditions import Op, describe_matcher
from ido.trust import PythonAllow


class Declarations(Protocol):
    """What the checks read: declarations by kind and name, and where each was written
    (`ido.workspace.Workspace` is one)."""

    @property
    def capabilities(self) -> Mapping[str, Capability]: ...

    @property
    def observers(self) -> Mapping[str, Observer]: ...

    @property
    def intents(self) -> Mapping[str, Intent]: ...

    @property
    def policies(self) -> Mapping[str, Policy]: ...

    @property
    def scenarios(self) -> Mapping[str, Scenario]: ...

    @property
    def origins(self) -> Mapping[tuple[str, str], Origin]: ...

    @property
    def callables(self) -> Mapping[str, Any]: ...

    @property
    def python_allow(self) -> PythonAllow: ...

#: Policy matcher keys: exact names, and prefixes followed by a free KEY/NAME.
_INTENT_KEYS = ("intent.name",)
_INTENT_PREFIXES = ("intent.tags.", "inputs.")
_CAPABILITY_KEYS = (
    "capability.name",
    "capability.provides",
    "capability.cost",
    "capability.latency",
    "capability.reliability",
    "capability.idempotent",
)
_CAPABILITY_PREFIXES = ("capability.tags.",)


def cross_reference(
    workspace: Declarations,
    *,
    incomplete: frozenset[str] = frozenset(),
    open_facts: frozenset[str] | None = frozenset(),
) -> list[Problem]:
    """Return every cross-reference problem of `workspace`.

    `incomplete` names kinds some of whose declarations failed to load; checks
    that would blame a missing declaration of such a kind are skipped, so one
    broken file does not cause a cascade of "unknown name" problems.
    `open_facts` are facts that failed declarations mention: they may take any
    value; None means a failure hides which facts exist, and the goal and
    matcher checks are skipped.
    """
    problems: list[Problem] = []
    problems += _compensations(workspace, incomplete)
    problems += _intent_policies(workspace, incomplete)
    problems += _scenarios(workspace, incomplete)
    problems += _policy_keys(workspace)
    problems += _python_targets(workspace)
    if open_facts is not None:
        problems += _goals(workspace, open_facts)
        problems += _requires(workspace, open_facts)
    return problems


def _origin(workspace: Declarations, kind: str, name: str) -> Origin:
    return workspace.origins.get((kind, name)) or Origin(label=f"{kind} {name!r}")


def _compensations(workspace: Declarations, incomplete: frozenset[str]) -> list[Problem]:
    if "capability" in incomplete:
        return []
    problems = []
    for name, capability in workspace.capabilities.items():
        target = capability.compensate
        if target is not None and target not in workspace.capabilities:
            problems.append(
                _origin(workspace, "capability", name).problem(
                    ("compensate",),
                    f"compensate names no capability {target!r}; declare the capability that undoes "
                    "this one, or remove `compensate`"
                    + did_you_mean(target, workspace.capabilities, what="capabilities"),
                )
            )
    return problems


def _intent_policies(workspace: Declarations, incomplete: frozenset[str]) -> list[Problem]:
    if "policy" in incomplete:
        return []
    problems = []
    for name, intent in workspace.intents.items():
        for index, policy in enumerate(intent.policies):
            if policy not in workspace.policies:
                problems.append(
                    _origin(workspace, "intent", name).problem(
                        ("policies", index),
                        f"names no policy {policy!r}" + did_you_mean(policy, workspace.policies, what="policies"),
                    )
                )
    return problems


def _scenarios(workspace: Declarations, incomplete: frozenset[str]) -> list[Problem]:
    problems = []
    for name, scenario in workspace.scenarios.items():
        origin = _origin(workspace, "scenario", name)
        intent = workspace.intents.get(scenario.intent)
        if intent is None and "intent" not in incomplete:
            problems.append(
                origin.problem(
                    ("intent",),
                    f"names no intent {scenario.intent!r}" + did_you_mean(scenario.intent, workspace.intents, what="intents"),
                )
            )
        if intent is not None:
            for key in scenario.inputs:
                if key not in intent.inputs:
                    problems.append(
                        origin.problem(
                            ("inputs", key),
                            f"intent {intent.intent!r} takes no input {key!r}"
                            + did_you_mean(key, intent.inputs, what="inputs"),
                            key=True,
                        )
                    )
        if "capability" in incomplete:
            continue
        for index, fault in enumerate(scenario.faults):
            target = fault.target
            if isinstance(target, str):
                if target not in workspace.capabilities:
                    problems.append(
                        origin.problem(
                            ("faults", index, "target"),
                            f"names no capability {target!r}"
                            + did_you_mean(target, workspace.capabilities, what="capabilities"),
                        )
                    )
            elif not any(fault_targets(fault, c) for c in workspace.capabilities.values()):
                problems.append(
                    origin.problem(
                        ("faults", index, "target"),
                        "this selector matches no capability; check `provides` and `tags` against the capabilities",
                    )
                )
    return problems


def runnable_problems(workspace: Declarations) -> list[Problem]:
    """Return why scenarios could not start a run as declared: an input value that does not fit
    the intent's input type, or a required input the scenario leaves out.

    Called by `ido validate` only: a scenario that relies on `ido simulate --input` is loadable,
    but validate says it cannot run as written (else a run would fail at its start after
    validate said ok).
    """
    problems = []
    for name, scenario in workspace.scenarios.items():
        intent = workspace.intents.get(scenario.intent)
        if intent is not None:
            problems += _scenario_inputs(_origin(workspace, "scenario", name), scenario, intent)
    return problems


def _scenario_inputs(origin: Origin, scenario: Scenario, intent: Intent) -> list[Problem]:
    problems = []
    given = scenario.inputs
    for key, value in given.items():
        spec = intent.inputs.get(key)
        if spec is None:
            continue  # cross_reference names it
        try:
            spec.coerce(value)
        except ValueError as exc:
            what = f"the value given is not a {spec.type}" if spec.secret else str(exc)
            problems.append(origin.problem(
                ("inputs", key), f"{what}; intent {intent.intent!r} declares input {key!r} of type {spec.type}",
            ))
    missing = [n for n, spec in intent.inputs.items() if spec.default is None and n not in given]
    for name in missing:
        problems.append(origin.problem(
            ("inputs",) if given else ("intent",),
            f"intent {intent.intent!r} requires input {name!r} ({intent.inputs[name].type}), which this "
            f"scenario does not give; add `inputs: {{{name}: ...}}`, give the input a default in the intent, "
            f"or run it as `ido simulate {scenario.scenario} --input {name}=...`",
        ))
    return problems


def _python_targets(workspace: Declarations) -> list[Problem]:
    """Return a problem per python door whose module `IDO_PYTHON_ALLOW` does not allow (`ido.trust`)."""
    allow = workspace.python_allow
    if allow.prefixes is None:
        return []
    problems = []
    for name, capability in workspace.capabilities.items():
        doors = [(("invoke", "python"), capability.invoke.python)]
        if capability.probe is not None:
            doors.append((("probe", "python"), capability.probe.python))
        for loc, target in doors:
            if target is not None and target not in workspace.callables and not allow.allows(target):
                problems.append(_origin(workspace, "capability", name).problem(loc, allow.refusal(target)))
    for name, observer in workspace.observers.items():
        target = observer.python
        if target is not None and target not in workspace.callables and not allow.allows(target):
            problems.append(_origin(workspace, "observer", name).problem(("python",), allow.refusal(target)))
    return problems


def _key_problem(key: str, allowed_keys: tuple[str, ...], prefixes: tuple[str, ...]) -> str | None:
    if key in allowed_keys or any(key.startswith(p) and len(key) > len(p) for p in prefixes):
        return None
    forms = [*allowed_keys, *(p + ("NAME" if p == "inputs." else "KEY") for p in prefixes)]
    candidates = [*allowed_keys, *(p + key.rsplit(".", 1)[-1] for p in prefixes)]
    close = did_you_mean(key, candidates)
    hint = close if close.startswith("; did") else ""
    return f"unknown policy key {key!r}; policies match {', '.join(forms)}{hint}"


def _policy_keys(workspace: Declarations) -> list[Problem]:
    problems = []
    for name, policy in workspace.policies.items():
        origin = _origin(workspace, "policy", name)
        for key in policy.applies_to:
            message = _key_problem(key, _INTENT_KEYS, _INTENT_PREFIXES)
            if message is not None:
                problems.append(origin.problem(("applies_to", key), message, key=True))
        rule = policy.rule
        condition = getattr(policy, rule)
        if isinstance(condition, dict):
            for key in condition:
                message = _key_problem(
                    key, (*_INTENT_KEYS, *_CAPABILITY_KEYS), (*_INTENT_PREFIXES, *_CAPABILITY_PREFIXES)
                )
                if message is not None:
                    problems.append(origin.problem((rule, key), message, key=True))
    return problems


class _Domain:
    """The values each fact can take as far as declarations say: from intents' `given`,
    capabilities' `effects` and scenarios' `set`; facts observed or reported are open."""

    def __init__(self, workspace: Declarations, open_facts: frozenset[str]) -> None:
        self.values: dict[str, list[tuple[Scalar, str]]] = {}
        self.open: set[str] = set(open_facts)
        for intent in workspace.intents.values():
            for fact, value in intent.given.items():
                self._add(fact, value, "given")
        for capability in workspace.capabilities.values():
            for fact, value in capability.effects.items():
                self._add(fact, value, "effects")
            self.open.update(capability.reports)
        for scenario in workspace.scenarios.values():
            for fact, value in scenario.set_.items():
                self._add(fact, value, "set")
        for observer in workspace.observers.values():
            self.open.update(observer.facts)

    def _add(self, fact: str, value: Scalar, source: str) -> None:
        entries = self.values.setdefault(fact, [])
        if not any(type(v) is type(value) and v == value for v, _ in entries):
            entries.append((value, source))

    def known(self) -> set[str]:
        return set(self.values) | self.open


def _show_values(entries: Iterable[tuple[Scalar, str]]) -> str:
    parts = []
    for value, source in entries:
        shown = ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, str) else str(value)
        parts.append(f"{shown} ({source})")
    return ", ".join(parts)


def _never(matcher: Scalar | Op, values: list[Scalar]) -> bool:
    if matcher_holds(matcher, None, False):
        return False
    return not any(matcher_holds(matcher, value, True) for value in values)


def _goals(workspace: Declarations, open_facts: frozenset[str]) -> list[Problem]:
    domain = _Domain(workspace, open_facts)
    effects: dict[str, list[tuple[Scalar, str]]] = {}
    for capability in workspace.capabilities.values():
        for fact, value in capability.effects.items():
            effects.setdefault(fact, []).append((value, "effects"))
    problems = []
    for name, intent in workspace.intents.items():
        origin = _origin(workspace, "intent", name)
        for fact, matcher in intent.goal.items():
            if matcher_holds(matcher, None, False) or fact in domain.open:
                continue
            produced = effects.get(fact, [])
            given = [(intent.given[fact], "given")] if fact in intent.given else []
            if not produced and not any(matcher_holds(matcher, v, True) for v, _ in given):
                example = describe_matcher(matcher).removeprefix("= ")
                start = f" (given says {_show_values(given).removesuffix(' (given)')})" if given else ""
                problems.append(
                    origin.problem(
                        ("goal", fact),
                        f"goal fact {fact!r} is produced by no capability{start}; add a capability with "
                        f"effects {{{fact}: {example}}} or remove it from the goal"
                        + _typo(fact, {k: _without_digits(k) for k in domain.known()}),
                        key=True,
                    )
                )
            elif produced and _never(matcher, [v for v, _ in [*produced, *given]]):
                problems.append(
                    origin.problem(
                        ("goal", fact),
                        f"goal {fact} {_matcher_text(matcher)} can never hold: {fact} only takes "
                        f"{_show_values(_unique([*produced, *given]))}; match one of those values",
                    )
                )
    return problems


def _requires(workspace: Declarations, open_facts: frozenset[str]) -> list[Problem]:
    domain = _Domain(workspace, open_facts)
    known = domain.known()
    shapes = {fact: _without_digits(fact) for fact in known}
    typos: dict[str, str] = {}  # thousands of capabilities often require the same missing fact
    problems = []
    for name, capability in workspace.capabilities.items():
        origin = _origin(workspace, "capability", name)
        for fact, matcher in capability.requires.items():
            if fact in domain.open or matcher_holds(matcher, None, False):
                continue
            entries = domain.values.get(fact)
            if not entries:
                if fact not in typos:
                    typos[fact] = _typo(fact, shapes)
                typo = typos[fact]
                if typo:
                    problems.append(
                        origin.problem(
                            ("requires", fact),
                            f"requires fact {fact!r}, which no intent gives, no capability produces "
                            f"and no observer reports{typo}",
                            key=True,
                        )
                    )
                continue
            if _never(matcher, [v for v, _ in entries]):
                problems.append(
                    origin.problem(
                        ("requires", fact),
                        f"requires {fact} {_matcher_text(matcher)}, which can never hold: {fact} only takes "
                        f"{_show_values(entries)}; match one of those values",
                    )
                )
    return problems


def _matcher_text(matcher: Scalar | Op) -> str:
    if isinstance(matcher, str):
        return f"= {matcher!r}"
    return describe_matcher(matcher)


def _typo(fact: str, shapes: dict[str, str]) -> str:
    """Return "; did you mean ...?" for a fact close to a known one (`shapes`: known fact ->
    its text without digits), or ""."""
    # Numbered families (stage.s1, stage.s12) differ like typos but are not: skip
    # candidates that differ from `fact` only in digits.
    shape = _without_digits(fact)
    candidates = {k for k, k_shape in shapes.items() if k != fact and k_shape != shape}
    close = did_you_mean(fact, candidates, cutoff=0.8)
    return close if close.startswith("; did") else ""


def _without_digits(text: str) -> str:
    return "".join(ch for ch in text if not ch.isdigit())


def _unique(values: list[tuple[Scalar, str]]) -> list[tuple[Scalar, str]]:
    out: list[tuple[Any, str]] = []
    for value, source in values:
        if not any(type(v) is type(value) and v == value for v, _ in out):
            out.append((value, source))
    return out
