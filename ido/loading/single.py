"""One declaration from a text (YAML, or JSON, which is YAML too), checked as `ido validate FILE` checks a file.

Called by `ido.service.registry` for `PUT /api/v1/{capabilities|policies|intents}/{name}`:
the body is read by the same reader as a file (`documents.read_file` with the
text given, so syntax, duplicate keys, unknown fields, types and durations are
the same problems at the same line and column), must hold exactly one
declaration of the expected kinds named as expected, and is checked against
the workspace it would join (`checks.cross_reference` on the workspace with it
in place, keeping the problems located in it, as `ido validate FILE` keeps
those of the named file).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ido.errors import Problem, ValidationError
from ido.loading.checks import cross_reference
from ido.loading.documents import Loaded, read_file
from ido.loading.locate import Origin
from ido.model import Capability, Intent, Observer, Policy, Scenario

#: The declaration kinds each registry collection holds.
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "capabilities": ("capability", "observer"),
    "policies": ("policy",),
    "intents": ("intent",),
}


def _kind(model: Any) -> str:
    kinds = ((Capability, "capability"), (Observer, "observer"), (Policy, "policy"), (Intent, "intent"),
             (Scenario, "scenario"))
    return next((kind for cls, kind in kinds if isinstance(model, cls)), "declaration")


def _name(model: Any) -> str:
    return str(getattr(model, "intent", None) if _kind(model) == "intent" else getattr(model, "name", ""))


def json_problem(text: bytes, path: str) -> Problem | None:
    """Return the syntax problem of a JSON body (located), or None when it parses."""
    try:
        json.loads(text)
    except UnicodeDecodeError as exc:
        return Problem(f"the body is not UTF-8 ({exc.reason})", path=path, line=1, column=1)
    except json.JSONDecodeError as exc:
        return Problem(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno)
    return None


def read_declaration(text: bytes, *, path: str, collection: str, name: str, workspace: Any,
                     is_json: bool = False) -> tuple[Any, Origin]:
    """Return the one declaration `text` holds and where it was written; raises ValidationError.

    `path` names the text in problems (e.g. "capabilities/charge.yaml");
    `collection` is "capabilities", "policies" or "intents"; `name` the name the
    declaration must have; `workspace` the declarations it joins (replacing one
    of its kind and name). Every problem is located as `ido validate` locates it.
    """
    if is_json:
        found = json_problem(text, path)
        if found is not None:
            raise ValidationError([found])
    loaded = Loaded()
    read_file(Path(path), loaded, text=text)
    if loaded.problems:
        raise ValidationError(loaded.problems)
    kinds = COLLECTIONS[collection]
    models: Sequence[tuple[Any, Origin]] = loaded.models
    wrong = [(m, o) for m, o in models if _kind(m) not in kinds]
    if wrong:
        model, origin = wrong[0]
        raise ValidationError([origin.problem((), f"this is a {_kind(model)}; /{collection} holds "
                                                  f"{' or '.join(kinds)} declarations")])
    if len(models) != 1:
        what = " or ".join(kinds)
        raise ValidationError([Problem(
            f"the body holds {len(models)} declarations; PUT exactly one {what} named {name!r}",
            path=path, line=1, column=1,
        )])
    model, origin = models[0]
    if _name(model) != name:
        field = "intent" if _kind(model) == "intent" else "name"
        raise ValidationError([origin.problem(
            (field,), f"the body declares {_name(model)!r} but the URL names {name!r}; they must be the same",
        )])
    merged = workspace.replaced(model, origin)
    for other in kinds:
        if other != _kind(model):
            merged.table(other).pop(name, None)  # one name per collection: an observer replaces a capability
    problems = [p for p in cross_reference(merged) if p.path == path]
    if problems:
        raise ValidationError(problems)
    return model, origin
