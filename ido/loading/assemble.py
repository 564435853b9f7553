"""YAML files -> declarations added to a given workspace, checked, every problem located.

The loader's entry points, written against the `Target` protocol so that the
workspace (which calls them from `Workspace.load`, `.intent` and `.scenario`)
and the loader do not import each other: `ido.workspace` imports this module,
and this module knows a workspace only by the protocol. `ido.loading`'s public
functions create the `Workspace` and call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ido.errors import Problem, UsageError, ValidationError
from ido.loading.checks import Declarations, cross_reference
from ido.loading.documents import (
    FOLDERS,
    Loaded,
    Registry,
    into_workspace,
    read_file,
    read_paths,
    yaml_files,
)
from ido.loading.locate import Origin, did_you_mean
from ido.loading.yamlfile import display_path
from ido.model import Intent, Scenario


class Target(Declarations, Registry, Protocol):
    """A workspace the loader fills and reads (`ido.workspace.Workspace` is one)."""

    def replaced(self, model: Any, origin: Origin | None = None) -> Target:
        """Return a copy in which `model` takes the place of the declaration of its kind and name."""


T = TypeVar("T", bound=Target)
_Found = TypeVar("_Found", Intent, Scenario)


def load_folder(workspace: T, root: Path, *, checks: bool = True) -> T:
    """Return `workspace` with the declarations below folder `root` added (missing sub-folders are fine).

    Raises ValidationError with every problem, UsageError when `root` is not a
    folder. `checks=False` skips the cross-reference checks (files and models only).
    """
    if not root.is_dir():
        raise UsageError(f"workspace {str(root)!r} is not a folder; pass --workspace DIR with intents/, capabilities/, policies/")
    loaded = Loaded()
    for folder in FOLDERS:
        for file in yaml_files(root / folder):
            read_file(file, loaded)
    into_workspace(loaded, workspace)
    problems = list(loaded.problems)
    if checks:
        problems += _checks(workspace, loaded)
    if problems:
        raise ValidationError(_dedupe(problems))
    return workspace


def load_files(workspace: T, paths: Sequence[Path], root: Path | None, *, checks: bool = True) -> T:
    """Return `workspace` with the declarations in `paths` (files, or folders of YAML files) added, checked.

    With `root`, the rest of that workspace is added too as context, so
    references into it resolve, but only problems in `paths` are reported (a
    broken context file is reported as well, since checks cannot be trusted
    without it). A file's kind comes from its top-level keys.
    """
    loaded = Loaded()
    read_paths(paths, loaded)
    named = set(loaded.paths)
    context = Loaded()
    if root is not None and root.is_dir():
        seen = {p.resolve() for p in _expand(paths)}
        for folder in FOLDERS:
            for file in yaml_files(root / folder):
                if file.resolve() not in seen:
                    read_file(file, context)
    # Context first, so a named file redeclaring a workspace name is the one blamed.
    into_workspace(context, workspace)
    into_workspace(loaded, workspace)
    gaps = Loaded()
    gaps.merge(loaded)
    gaps.merge(context)
    found = _checks(workspace, gaps) if checks else []
    problems = loaded.problems + context.problems + [p for p in found if p.path is None or p.path in named]
    if problems:
        raise ValidationError(_dedupe(problems))
    return workspace


def find_intent(ref: str, workspace: Target) -> Intent:
    """Return the intent named `ref` in `workspace`, or the one in the YAML file at path `ref`.

    Raises UsageError (with "did you mean" and the known names) when it is neither,
    and ValidationError when the file is wrong.
    """
    return _find(ref, workspace, "intent", workspace.intents, Intent, "intents/")


def find_scenario(ref: str, workspace: Target) -> Scenario:
    """Return the scenario named `ref` in `workspace`, or the one in the YAML file at path `ref`.

    Raises UsageError (with "did you mean" and the known names) when it is neither,
    and ValidationError when the file is wrong.
    """
    return _find(ref, workspace, "scenario", workspace.scenarios, Scenario, "benchmarks/scenarios/")


def _find(ref: str, workspace: Target, kind: str, known: Mapping[str, _Found], model: type[_Found],
          folder: str) -> _Found:
    if ref in known:
        return known[ref]
    found = _from_file(ref, workspace, kind)
    if found is not None:
        assert isinstance(found, model)
        return found
    raise UsageError(_unknown(kind, ref, known, folder))


def _unknown(kind: str, ref: str, known: Mapping[str, object], folder: str) -> str:
    names = sorted(known)
    message = f"unknown {kind} {ref!r}"
    close = did_you_mean(ref, names)
    if close.startswith("; did"):
        message += close
    listed = ", ".join(names) if names else "none"
    return f"{message}; known {kind}s: {listed} (from {folder}); or pass the path of a YAML file"


def _from_file(ref: str, workspace: Target, kind: str) -> Intent | Scenario | None:
    path = Path(ref)
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in ref or "\\" in ref
    if not path.is_file():
        if looks_like_path:
            raise UsageError(f"no {kind} named {ref!r} and no file at {ref}; give a {kind} name or the path of a YAML file")
        return None
    loaded = Loaded()
    read_file(path, loaded)
    if loaded.problems:
        raise ValidationError(loaded.problems)
    models = [(m, o) for m, o in loaded.models if isinstance(m, Intent if kind == "intent" else Scenario)]
    if not models:
        raise UsageError(f"{display_path(path)} holds no {kind}; it should start with `{kind}: NAME`")
    if len(models) > 1:
        names = ", ".join(m.intent if isinstance(m, Intent) else m.scenario for m, _ in models)
        raise UsageError(f"{display_path(path)} holds several {kind}s ({names}); put the one you mean in its own file")
    model, origin = models[0]
    name = model.intent if isinstance(model, Intent) else model.scenario
    table: Mapping[str, Intent | Scenario] = workspace.intents if kind == "intent" else workspace.scenarios
    if table.get(name) == model:
        return model
    # Check the file's references against the workspace it will run in.
    merged = workspace.replaced(model, origin)
    problems = [p for p in cross_reference(merged) if p.path == origin.path]
    if problems:
        raise ValidationError(problems)
    return model


def _checks(workspace: Declarations, loaded: Loaded) -> list[Problem]:
    facts = None if loaded.open_facts is None else frozenset(loaded.open_facts)
    return cross_reference(workspace, incomplete=frozenset(loaded.incomplete), open_facts=facts)


def _expand(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(yaml_files(path) if path.is_dir() else [path] if path.is_file() else [])
    return files


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """Return the problems without repeats, in file and line order (stable otherwise)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.path or "", p.line or 0, p.column or 0))
