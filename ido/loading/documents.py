"""YAML documents -> declarations: classify each document by its keys and build the models.

File shapes (DESIGN.md section 3): `capabilities: [..]` and/or `observers: [..]`
(capabilities/*.yaml), `policies: [..]` (policies/*.yaml), one intent per
document (`intent: NAME`, intents/*.yaml), one scenario per document
(`scenario: NAME`, benchmarks/scenarios/*.yaml), and for convenience a single
capability, observer or policy written as a mapping with `name`. Models are
built from plain data; the YAML nodes only locate problems. Called by
`ido.loading` (load_workspace, load_paths, load_intent, load_scenario).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pydantic

from ido.errors import Problem
from ido.loading.locate import Origin, did_you_mean, node_at, problems_from, show
from ido.loading.yamlfile import Document, display_path, read_documents
from ido.model import RULE_KINDS, Capability, Intent, Observer, Policy, Scenario


class Registry(Protocol):
    """Where loaded declarations go (`ido.workspace.Workspace` is one)."""

    def put(self, model: Any, origin: Origin | None = None) -> Problem | None:
        """Add one declaration unless its name is taken; return the duplicate-name Problem if so."""

#: Workspace sub-folders and the kind of declaration each holds.
FOLDERS: dict[str, str] = {
    "intents": "intent",
    "capabilities": "capability",
    "policies": "policy",
    "benchmarks/scenarios": "scenario",
}

#: Keys of a list-shaped file and the model of their items.
LIST_KEYS: dict[str, type[pydantic.BaseModel]] = {
    "capabilities": Capability,
    "observers": Observer,
    "policies": Policy,
}

_KIND_OF_MODEL = {Capability: "capability", Observer: "observer", Policy: "policy", Intent: "intent", Scenario: "scenario"}


@dataclass
class Loaded:
    """What reading some files gave: the models with their origins, the problems, the
    kinds whose loading was incomplete (a file or declaration failed), and the facts
    that failed declarations mention (None when a failure hides which facts)."""

    models: list[tuple[Any, Origin]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    incomplete: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)
    open_facts: set[str] | None = field(default_factory=set)

    def hide_facts(self) -> None:
        """Record that a failure hides which facts the workspace can produce."""
        self.open_facts = None

    def merge(self, other: Loaded) -> None:
        """Take `other`'s incompleteness and open facts (models and problems stay apart)."""
        self.incomplete |= other.incomplete
        if self.open_facts is None or other.open_facts is None:
            self.open_facts = None
        else:
            self.open_facts |= other.open_facts


def yaml_files(folder: Path) -> list[Path]:
    """Return the `.yaml`/`.yml` files below `folder`, sorted, skipping hidden ones."""
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def kind_hint(path: Path) -> str | None:
    """Return the kind of declaration a file's folder suggests (`capabilities/` -> capability)."""
    parts = path.resolve().parts
    for folder, kind in FOLDERS.items():
        tail = tuple(folder.split("/"))
        for index in range(len(parts) - len(tail)):
            if parts[index : index + len(tail)] == tail:
                return kind
    return None


def read_file(path: Path, loaded: Loaded, *, text: str | bytes | None = None) -> None:
    """Read one YAML file into `loaded`: its models, origins and problems."""
    documents, problems = read_documents(path, text)
    loaded.paths.append(display_path(path))
    if problems:
        loaded.problems.extend(problems)
        loaded.incomplete.update(_KIND_OF_MODEL.values())
        loaded.hide_facts()
        return
    hint = kind_hint(path)
    for document in documents:
        read_document(document, hint, loaded)


def read_document(document: Document, hint: str | None, loaded: Loaded) -> None:
    """Classify one document by its top-level keys and build its models into `loaded`."""
    data = document.data
    if data is None:
        return
    root = Origin(path=document.path, node=document.node)
    if not isinstance(data, dict):
        loaded.problems.append(
            root.problem(
                (),
                f"expected a mapping at the top of the document, got {show(data)}; "
                + _shapes_hint(hint),
            )
        )
        loaded.incomplete.add(hint or "capability")
        loaded.hide_facts()
        return
    if "scenario" in data:
        _build(Scenario, data, root, loaded)
    elif "intent" in data:
        _build(Intent, data, root, loaded)
    elif any(key in LIST_KEYS for key in data):
        _read_lists(data, root, loaded)
    elif "name" in data:
        _build(_single_model(data, hint), data, root, loaded)
    else:
        valid = ["intent", "scenario", "name", *LIST_KEYS]
        typos = [k for k in map(str, data) if did_you_mean(k, valid).startswith("; did")]
        if typos:
            message = f"unknown field {typos[0]!r}{did_you_mean(typos[0], valid)}; {_shapes_hint(hint)}"
            loaded.problems.append(root.problem((typos[0],), message, key=True))
        else:
            loaded.problems.append(root.problem((), "this document declares nothing ido knows; " + _shapes_hint(hint)))
        loaded.incomplete.add(hint or "capability")
        loaded.hide_facts()


def _shapes_hint(hint: str | None) -> str:
    shapes = {
        "intent": "an intent file holds `intent: NAME` with `goal: {...}`",
        "scenario": "a scenario file holds `scenario: NAME` with `intent: NAME`",
        "policy": "a policies file holds `policies: [...]`",
        "capability": "a capabilities file holds `capabilities: [...]` and/or `observers: [...]`",
    }
    if hint in shapes:
        return shapes[hint]
    return (
        "write `capabilities: [...]`, `observers: [...]`, `policies: [...]`, "
        "`intent: NAME` or `scenario: NAME`"
    )


def _single_model(data: dict[str, Any], hint: str | None) -> type[pydantic.BaseModel]:
    if hint == "policy" or "because" in data or any(k in data for k in RULE_KINDS):
        return Policy
    if "facts" in data:
        return Observer
    return Capability


def _read_lists(data: dict[str, Any], root: Origin, loaded: Loaded) -> None:
    for key, items in data.items():
        if key not in LIST_KEYS:
            loaded.problems.append(
                root.problem(
                    (key,),
                    f"unknown field {str(key)!r}" + did_you_mean(str(key), LIST_KEYS, what="fields"),
                    key=True,
                )
            )
            continue
        model = LIST_KEYS[key]
        if items is None:
            continue
        if not isinstance(items, list):
            loaded.problems.append(
                root.problem((key,), f"expected a list of {key} (each item starting with `- `), got {show(items)}")
            )
            loaded.incomplete.add(_KIND_OF_MODEL[model])
            loaded.hide_facts()
            continue
        for index, item in enumerate(items):
            node = node_at(root.node, (key, index)) if root.node is not None else None
            _build(model, item, Origin(path=root.path, node=node, prefix=(key, index)), loaded)


def _build(model: type[pydantic.BaseModel], data: Any, origin: Origin, loaded: Loaded) -> None:
    try:
        built = model.model_validate(data)
    except pydantic.ValidationError as exc:
        loaded.problems.extend(problems_from(exc, model, data, origin))
        loaded.incomplete.add(_KIND_OF_MODEL[model])
        _harvest_facts(model, data, loaded)
        return
    loaded.models.append((built, origin))


#: Fields of a declaration that name facts it produces or assumes (mapping keys or a list).
_FACT_FIELDS: dict[type[pydantic.BaseModel], tuple[str, ...]] = {
    Capability: ("effects", "reports"),
    Observer: ("facts",),
    Intent: ("given",),
    Scenario: ("set",),
}


def _harvest_facts(model: type[pydantic.BaseModel], data: Any, loaded: Loaded) -> None:
    # A declaration that failed still says which facts it would produce; keeping
    # them "open" lets the goal and matcher checks run without blaming it twice.
    if loaded.open_facts is None or model not in _FACT_FIELDS:
        return
    if not isinstance(data, dict):
        loaded.hide_facts()
        return
    for name in _FACT_FIELDS[model]:
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, dict | list) and all(isinstance(k, str) for k in value):
            loaded.open_facts.update(value)
        else:
            loaded.hide_facts()
            return


def into_workspace(loaded: Loaded, workspace: Registry) -> None:
    """Add every loaded model to `workspace`; duplicate names become problems in `loaded`."""
    for model, origin in loaded.models:
        problem = workspace.put(model, origin)
        if problem is not None:
            loaded.problems.append(problem)


def read_paths(paths: Iterable[Path], loaded: Loaded) -> None:
    """Read files and every YAML file below folders into `loaded`; missing paths are problems."""
    for path in paths:
        if path.is_dir():
            for file in yaml_files(path):
                read_file(file, loaded)
        elif path.exists():  # a file, or a device or pipe: read up to ido's size limit
            read_file(path, loaded)
        else:
            loaded.problems.append(
                Problem("no such file or folder; give a YAML file or a folder of them", path=str(path))
            )
