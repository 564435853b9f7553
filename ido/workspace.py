"""The workspace: every declaration ido knows, loaded from YAML, declared in Python, or both.

`Workspace` is the Python door of DESIGN.md section 3. It holds capabilities,
observers, intents, policies and scenarios by name, the Python callables
registered with its decorators, and where each declaration came from (so the
cross-reference checks of `ido.loading.checks` point at the right file and
line). `Workspace.load(root)` reads a folder (`ido.loading.assemble`, which knows a
workspace only by protocol, so the two do not import each other); the
decorators `capability` and `observer` register sync or async callables.
The planner, engine and simulator read a Workspace; the CLI builds one.

    ws = Workspace.load(Path("."))

    @ws.capability(provides="payment", requires={"order.reserved": True},
                   effects={"order.paid": True}, cost=0.3, latency="400ms")
    async def charge(order_id: str, amount: float, ctx: CallContext) -> dict:
        ...   # returns reported facts, e.g. {"payment": {"id": "ch_1"}}
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from ido.decisions import Revisions
from ido.digest import digest, digest_models
from ido.errors import Problem, ReferenceError_, ValidationError
from ido.loading.locate import Origin, did_you_mean, problems_from
from ido.model import Capability, Intent, Observer, Policy, Scenario
from ido.trust import PythonAllow

Model = Capability | Observer | Intent | Policy | Scenario
F = TypeVar("F", bound=Callable[..., Any])

#: The kind of each model, as used in messages and in `Workspace.origins` keys.
KINDS: dict[type, str] = {
    Capability: "capability",
    Observer: "observer",
    Intent: "intent",
    Policy: "policy",
    Scenario: "scenario",
}


def model_name(model: Model) -> str:
    """Return a declaration's name (`intent` and `scenario` are keyed by their own field)."""
    if isinstance(model, Intent):
        return model.intent
    if isinstance(model, Scenario):
        return model.scenario
    return model.name


class Workspace:
    """Capabilities, observers, intents, policies and scenarios by name, plus registered callables.

    Mutable on purpose: it is a registry that YAML files and Python code both
    add to. The models in it are frozen.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.capabilities: dict[str, Capability] = {}
        self.observers: dict[str, Observer] = {}
        self.intents: dict[str, Intent] = {}
        self.policies: dict[str, Policy] = {}
        self.scenarios: dict[str, Scenario] = {}
        #: `module:qualname` -> callable, registered by the decorators.
        self.callables: dict[str, Callable[..., Any]] = {}
        #: (kind, name) -> where the declaration was written.
        self.origins: dict[tuple[str, str], Origin] = {}
        #: which modules python doors may import (`IDO_PYTHON_ALLOW`, read when the workspace is made).
        self.python_allow = PythonAllow.from_env()

    # ---- building ------------------------------------------------------------

    @classmethod
    def load(cls, root: Path | str, *, checks: bool = True) -> Workspace:
        """Return the workspace read from folder `root`; raises ValidationError with every problem.

        `checks=False` skips the cross-reference checks, for a workspace that
        Python code completes before calling `check()`.
        """
        from ido.loading.assemble import load_folder

        return load_folder(cls(Path(root)), Path(root), checks=checks)

    def table(self, kind: str) -> dict[str, Any]:
        """Return the declarations of `kind` ("capability", "intent" ...) by name, the live dict."""
        tables: dict[str, dict[str, Any]] = {
            "capability": self.capabilities,
            "observer": self.observers,
            "intent": self.intents,
            "policy": self.policies,
            "scenario": self.scenarios,
        }
        return tables[kind]

    def add(self, *models: Model, origin: Origin | None = None) -> Workspace:
        """Add declarations; return self. Raises ValidationError if a name is already taken."""
        problems = []
        for model in models:
            problem = self.put(model, origin)
            if problem is not None:
                problems.append(problem)
        if problems:
            raise ValidationError(problems)
        return self

    def put(self, model: Model, origin: Origin | None = None) -> Problem | None:
        """Add one declaration unless its name is taken; return the duplicate-name Problem if so.

        Used by the loader, which collects every problem instead of raising.
        """
        if type(model) not in KINDS:
            raise TypeError(f"cannot add {type(model).__name__} to a workspace; add Capability, Observer, Intent, Policy or Scenario")
        kind = KINDS[type(model)]
        name = model_name(model)
        table = self.table(kind)
        origin = origin or Origin(label=f"{kind} {name!r}")
        if name in table:
            first = self.origins.get((kind, name))
            where = _where(first)
            name_field = {"intent": ("intent",), "scenario": ("scenario",)}.get(kind, ("name",))
            return origin.problem(
                name_field,
                f"duplicate {kind} name {name!r}; {kind} {name!r} is already declared{where}; rename one of them",
            )
        table[name] = model
        self.origins[(kind, name)] = origin
        return None

    def replaced(self, model: Model, origin: Origin | None = None) -> Workspace:
        """Return a copy in which `model` takes the place of the declaration of its kind and
        name (or is added); used to check a file's declaration against this workspace."""
        copy = Workspace(self.root)
        for kind in KINDS.values():
            copy.table(kind).update(self.table(kind))
        copy.origins.update(self.origins)
        copy.callables.update(self.callables)
        copy.table(KINDS[type(model)]).pop(model_name(model), None)
        copy.put(model, origin)
        return copy

    def merged(self, other: Workspace) -> Workspace:
        """Return a new workspace holding both; raises ValidationError on names declared in both."""
        result = Workspace(self.root or other.root)
        problems = []
        for source in (self, other):
            for kind in KINDS.values():
                for name, model in source.table(kind).items():
                    problem = result.put(model, source.origins.get((kind, name)))
                    if problem is not None:
                        problems.append(problem)
            result.callables.update(source.callables)
        if problems:
            raise ValidationError(problems)
        return result

    # ---- the Python door -----------------------------------------------------

    def capability(
        self,
        name: str | None = None,
        *,
        provides: str,
        requires: Mapping[str, Any] | None = None,
        effects: Mapping[str, Any] | None = None,
        cost: float | str = 0.0,
        latency: float | str = 0.0,
        reliability: float = 1.0,
        tags: Mapping[str, Any] | None = None,
        compensate: str | None = None,
        idempotent: bool = False,
        timeout: float | str | None = None,
        max_concurrency: int | None = None,
        reports: Mapping[str, str] | None = None,
        description: str | None = None,
        probe: Mapping[str, Any] | None = None,
        quota: Mapping[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Return a decorator registering a sync or async callable as a capability.

        The capability is invoked as `{python: "<module>:<qualname>"}`; its name
        defaults to the function's name. The engine calls it with the intent
        inputs it names as keyword arguments, plus an `ido.engine.context.CallContext`
        if it takes a `ctx` parameter; it returns a mapping of facts or None
        (see `ido.engine.doors.python.PythonExecutor`). Raises ValidationError
        (located at the function) when the declaration is wrong or the name is taken.
        """

        def register(fn: F) -> F:
            target = _target_of(fn)
            data: dict[str, Any] = {
                "name": name or fn.__name__,
                "provides": provides,
                "requires": dict(requires or {}),
                "effects": dict(effects or {}),
                "reports": dict(reports or {}),
                "cost": cost,
                "latency": latency,
                "reliability": reliability,
                "tags": dict(tags or {}),
                "compensate": compensate,
                "idempotent": idempotent,
                "timeout": timeout,
                "max_concurrency": max_concurrency,
                "invoke": {"python": target},
                "description": description if description is not None else _first_line(fn.__doc__),
                "probe": dict(probe) if probe is not None else None,
                "quota": dict(quota) if quota is not None else None,
            }
            self._register(Capability, {k: v for k, v in data.items() if v is not None}, fn, target)
            return fn

        return register

    def observer(
        self,
        name: str | None = None,
        *,
        facts: Iterable[str],
        interval: float | str = 5.0,
        timeout: float | str = 1.0,
        description: str | None = None,
    ) -> Callable[[F], F]:
        """Return a decorator registering a sync or async callable as an observer of `facts`.

        The callable returns a mapping fact -> value (facts it cannot see left out);
        the engine reads it through `ido.engine.doors.defaults.DoorFactReader`.
        """

        def register(fn: F) -> F:
            target = _target_of(fn)
            data = {
                "name": name or fn.__name__,
                "facts": list(facts),
                "python": target,
                "interval": interval,
                "timeout": timeout,
                "description": description if description is not None else _first_line(fn.__doc__),
            }
            self._register(Observer, data, fn, target)
            return fn

        return register

    def _register(self, model: type[Capability] | type[Observer], data: dict[str, Any], fn: Callable[..., Any], target: str) -> None:
        kind = KINDS[model]
        origin = _python_origin(fn, f"{kind} {data['name']!r}")
        try:
            built = model.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValidationError(problems_from(exc, model, data, origin)) from None
        problem = self.put(built, origin)
        if problem is not None:
            raise ValidationError([problem])
        self.callables[target] = fn

    def resolve_callable(self, target: str) -> Callable[..., Any]:
        """Return the callable a `python: "module:function"` target names.

        Registered callables come first; otherwise the module is imported with
        the workspace root on sys.path, if `IDO_PYTHON_ALLOW` allows it
        (`ido.trust`). Raises ReferenceError_ saying which module or attribute
        is missing, or that the module is not allowed, and what to write.
        """
        if target in self.callables:
            return self.callables[target]  # registered by code already running: nothing to import
        if not self.python_allow.allows(target):
            raise ReferenceError_(self.python_allow.refusal(target))
        module_name, _, attribute = target.partition(":")
        if not module_name or not attribute:
            raise ReferenceError_(f"python target {target!r} must be written 'package.module:function'")
        if self.root is not None and str(self.root.resolve()) not in sys.path:
            sys.path.insert(0, str(self.root.resolve()))
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            where = f" (looked in {self.root} and on sys.path)" if self.root is not None else " (looked on sys.path)"
            missing = exc.name or module_name
            raise ReferenceError_(
                f"python target {target!r}: no module named {missing!r}{where}; "
                "write 'package.module:function' naming an importable module, or register the "
                "function with @workspace.capability"
            ) from None
        except Exception as exc:
            raise ReferenceError_(
                f"python target {target!r}: importing {module_name!r} failed with "
                f"{type(exc).__name__}: {exc}"
            ) from None
        value: Any = module
        for part in attribute.split("."):
            if not hasattr(value, part):
                names = [n for n in dir(value) if not n.startswith("_")]
                raise ReferenceError_(
                    f"python target {target!r}: {getattr(value, '__name__', module_name)!r} has no "
                    f"attribute {part!r}" + did_you_mean(part, names, what="names")
                )
            value = getattr(value, part)
        if not callable(value):
            raise ReferenceError_(f"python target {target!r} names a {type(value).__name__}, not a function")
        return value  # type: ignore[no-any-return]

    # ---- lookups and checks --------------------------------------------------

    def intent(self, ref: str) -> Intent:
        """Return the intent named `ref`, or read from the YAML file at path `ref`; UsageError if neither."""
        from ido.loading.assemble import find_intent

        return find_intent(ref, self)

    def scenario(self, ref: str) -> Scenario:
        """Return the scenario named `ref`, or read from the YAML file at path `ref`; UsageError if neither."""
        from ido.loading.assemble import find_scenario

        return find_scenario(ref, self)

    def problems(self) -> list[Problem]:
        """Return every cross-reference problem: duplicate-free names that point at nothing,
        goal facts nothing can produce, matchers no value can meet, unknown policy keys."""
        from ido.loading.checks import cross_reference

        return cross_reference(self)

    def check(self) -> Workspace:
        """Return self when `problems()` is empty; raise ValidationError with all of them otherwise."""
        problems = self.problems()
        if problems:
            raise ValidationError(problems)
        return self

    def revisions(self, intent: str | Intent) -> Revisions:
        """Return content digests of the intent, of all capabilities and observers, and of all policies."""
        model = intent if isinstance(intent, Intent) else self.intent(intent)
        return Revisions(
            intent=digest(model),
            capabilities=digest_models([*self.capabilities.values(), *self.observers.values()]),
            policies=digest_models(self.policies.values()),
        )

    def summary(self) -> str:
        """Return "N intents, N capabilities, N observers, N policies, N scenarios"."""
        return (
            f"{len(self.intents)} intents, {len(self.capabilities)} capabilities, "
            f"{len(self.observers)} observers, {len(self.policies)} policies, "
            f"{len(self.scenarios)} scenarios"
        )

    def __repr__(self) -> str:
        return f"Workspace(root={self.root!r}: {self.summary()})"


def _where(origin: Origin | None) -> str:
    if origin is None or origin.path is None:
        return ""
    line, _ = origin.locate()
    return f" at {origin.path}:{line}" if line is not None else f" in {origin.path}"


def _target_of(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0] if doc and doc.strip() else ""


def _python_origin(fn: Callable[..., Any], label: str) -> Origin:
    try:
        path = inspect.getsourcefile(fn)
        _, line = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return Origin(label=label)
    from ido.loading.yamlfile import display_path

    return Origin(path=display_path(Path(path)) if path else None, line=line, label=label)
