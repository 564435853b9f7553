"""The registry at runtime: the store's declarations as a workspace, seeded from and exported to a folder.

Source of truth: once a store holds a registry (`Store.registry_head()` is not
None), every process on that store — `ido serve`, its workers, `ido worker`,
`ido run` — takes its capabilities, observers, policies, intents and scenarios
from the store's newest revision, not from the folder. `ido serve --workspace
DIR` seeds an empty store's registry from DIR (revision 1); on later starts
the store wins, and a folder that differs is reported, with the two ways the
two meet: `--reseed` pushes the folder as a new revision, `ido export DIR`
writes the registry back as YAML files.

    LiveRegistry(store, folder)   .workspace() -> the declarations now (cheap when unchanged)
    seed(store, folder, reseed=)  -> what seeding did (SeedReport)
    export(workspace, dir)        -> the files written (`ido validate` accepts them)

Called by `ido.cli` (serve, worker, run, export), `ido.service.registry` and,
through `RegistrySource`, `ido.engine.engine.Engine` before each decision.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from ido.errors import JournalCorrupted, RegistryConflict, UsageError
from ido.journal.base import Store
from ido.journal.registry import RegistryChange, RegistryHead, RegistrySnapshot
from ido.loading.locate import Origin
from ido.model import Intent, Scenario
from ido.workspace import KINDS, Model, Workspace, model_name

#: The model of each registry kind.
MODELS: dict[str, type[Model]] = {kind: model for model, kind in KINDS.items()}

#: How often (seconds) a live view asks the store whether the registry changed, at most.
CHECK_INTERVAL_S = 0.1


def content_of(model: Model) -> dict[str, Any]:
    """Return a declaration as the registry stores it (the JSON its revision digest is made of)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def changes_to(target: Workspace, current: RegistrySnapshot | None) -> list[RegistryChange]:
    """Return the changes that make the registry `current` hold exactly `target`'s declarations."""
    wanted = {(kind, name): content_of(model) for kind in MODELS for name, model in target.table(kind).items()}
    have = {(e.kind, e.name): e.content for e in current.entries} if current is not None else {}
    puts = [RegistryChange(kind=k, name=n, content=c) for (k, n), c in sorted(wanted.items()) if have.get((k, n)) != c]
    deletes = [RegistryChange(kind=k, name=n) for (k, n) in sorted(set(have) - set(wanted))]
    return puts + deletes


def workspace_of(snapshot: RegistrySnapshot, base: Workspace | None = None) -> Workspace:
    """Return a workspace holding a registry revision's declarations.

    `base` lends its root (python doors import below it), its registered
    callables and its python allow-list; its declarations are not used.
    Raises JournalCorrupted naming a stored declaration that no longer validates.
    """
    ws = Workspace(base.root if base is not None else None)
    if base is not None:
        ws.callables.update(base.callables)
        ws.python_allow = base.python_allow
    number = snapshot.head.number
    for entry in snapshot.entries:
        model = MODELS.get(entry.kind)
        if model is None:
            continue  # a kind a newer ido registers: this one cannot use it
        try:
            built = model.model_validate(entry.content)
        except pydantic.ValidationError as exc:
            raise JournalCorrupted(
                f"registry revision {number}: {entry.kind} {entry.name!r} does not validate "
                f"({exc.error_count()} problem(s)); PUT a corrected one"
            ) from None
        ws.put(built, Origin(label=f"{entry.kind} {entry.name!r} (registry revision {number})"))
    return ws


class LiveRegistry:
    """The store's registry as a workspace, reloaded only when the head's number moves.

    `workspace()` answers from memory and asks the store's head at most every
    `interval_s` seconds (one indexed row); a store without a registry gives
    the folder's workspace. `changed()` is what the engine calls before each
    decision: the new workspace when the registry moved since the last call,
    else None. Thread-safe: the service's request threads share one.
    """

    def __init__(self, store: Store, folder: Workspace, *, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.store = store
        self.folder = folder
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._head: RegistryHead | None = None
        self._workspace = folder
        self._checked = float("-inf")
        self._handed: int | None = None
        self._load(store.registry_head())
        self._handed = self.number

    @property
    def number(self) -> int:
        """Return the registry revision the current workspace is (0: the folder's; no registry yet)."""
        return self._head.number if self._head is not None else 0

    @property
    def head(self) -> RegistryHead | None:
        """Return the head the current workspace was loaded from (None: the folder's)."""
        return self._head

    def _load(self, head: RegistryHead | None) -> None:
        if head is None or (self._head is not None and head.number == self._head.number):
            return
        snapshot = self.store.registry_snapshot(number=head.number)
        if snapshot is None:
            return
        self._workspace = workspace_of(snapshot, self.folder)
        self._head = snapshot.head

    def workspace(self, *, fresh: bool = False) -> Workspace:
        """Return the declarations now; `fresh` asks the store even within the interval."""
        with self._lock:
            now = time.monotonic()
            if fresh or now - self._checked >= self.interval_s:
                self._checked = now
                self._load(self.store.registry_head())
            return self._workspace

    def changed(self, *, fresh: bool = False) -> Workspace | None:
        """Return the workspace when the registry moved since the last call, else None
        (`fresh`: ask the store now, even within the interval)."""
        ws = self.workspace(fresh=fresh)
        with self._lock:
            if self._handed == self.number:
                return None
            self._handed = self.number
            return ws


def live_registry(store: Store, root: Path, *, folder: Workspace | None = None) -> LiveRegistry:
    """Return the live registry of `store` for a process working in folder `root`.

    When the store holds a registry, the folder's files are not read (a broken
    or stale local file does not matter; `root` still lends python doors their
    import path). When it holds none, the folder's workspace (`folder`, loaded
    from `root` unless given) is what the view gives until a registry appears.
    Called by `ido worker`, `ido resume`, `ido run` and `ido serve`'s workers.
    """
    if store.registry_head() is None:
        if folder is None:
            from ido.loading import load_workspace

            folder = load_workspace(root)
        return LiveRegistry(store, folder)
    return LiveRegistry(store, folder if folder is not None else Workspace(root))


@dataclass
class SeedReport:
    """What `seed` did: `action` is "seeded", "reseeded", "unchanged" or "kept" (the store's
    registry kept though the folder differs); `head` the registry's head after; `differences`
    the declarations the folder and the store disagree on, as "kind name (added|removed|changed)"."""

    action: str
    head: RegistryHead
    differences: list[str] = field(default_factory=list)

    def message(self, folder: Path) -> str:
        """Return one line for the person who started the service."""
        if self.action == "seeded":
            return f"registry seeded from {folder}: revision {self.head.number}"
        if self.action == "reseeded":
            return (f"registry reseeded from {folder}: revision {self.head.number} "
                    f"({len(self.differences)} declaration(s) changed)")
        if self.action == "unchanged":
            return f"registry at revision {self.head.number}, the same as {folder}"
        shown = ", ".join(self.differences[:5]) + (" ..." if len(self.differences) > 5 else "")
        return (f"registry at revision {self.head.number} (the store is the source of truth); {folder} "
                f"differs: {shown}. Pass --reseed to push the folder as a new revision, or run "
                f"`ido export {folder}` to write the registry to it")


def seed(store: Store, folder: Workspace, *, reseed: bool = False) -> SeedReport:
    """Seed the store's registry from `folder` on first use; see the module docstring for later uses."""
    current = store.registry_snapshot()
    if current is None:
        try:
            head = store.commit_registry(changes_to(folder, None), expect=0)
            return SeedReport("seeded", head)
        except RegistryConflict:
            current = store.registry_snapshot()  # another process seeded it first: compare with its
            assert current is not None
    changes = changes_to(folder, current)
    have = {(e.kind, e.name) for e in current.entries}
    differences = [
        f"{c.kind} {c.name} ({'removed' if c.content is None else 'changed' if (c.kind, c.name) in have else 'added'})"
        for c in changes
    ]
    if not changes:
        return SeedReport("unchanged", current.head)
    if not reseed:
        return SeedReport("kept", current.head, differences)
    head = store.commit_registry(changes, expect=current.head.number)
    return SeedReport("reseeded", head, differences)


#: Where `export` writes each kind, and the list key of list-shaped files.
_FOLDERS = {"capability": ("capabilities", "capabilities"), "observer": ("capabilities", "observers"),
            "policy": ("policies", "policies"), "intent": ("intents", None),
            "scenario": ("benchmarks/scenarios", None)}


def _file_name(kind: str, name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "unnamed"
    return f"{safe}.observer.yaml" if kind == "observer" else f"{safe}.yaml"


def export(workspace: Workspace, root: Path, *, replace: bool = False) -> list[Path]:
    """Write every declaration of `workspace` as one YAML file below `root`; return the files.

    Layout: capabilities/NAME.yaml (`capabilities: [..]`), capabilities/NAME.observer.yaml,
    policies/NAME.yaml, intents/NAME.yaml, benchmarks/scenarios/NAME.yaml — the folders
    `ido validate` and `ido serve --workspace` read. Raises UsageError when those folders
    already hold YAML files, unless `replace` (then those files are removed first: the
    registry becomes the folder's whole content).
    """
    import yaml

    from ido.loading.documents import FOLDERS, yaml_files

    existing = [f for folder in FOLDERS for f in yaml_files(root / folder)]
    if existing and not replace:
        raise UsageError(
            f"{root} already holds {len(existing)} declaration file(s) (e.g. {existing[0]}); "
            "pass --replace to replace them with the registry, or export to an empty folder"
        )
    for old in existing:
        old.unlink()
    written: list[Path] = []
    seen: set[Path] = set()
    for kind, (folder, key) in _FOLDERS.items():
        for name, model in sorted(workspace.table(kind).items()):
            data = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            data = {_name_key(model): model_name(model), **{k: v for k, v in data.items() if k != _name_key(model)}}
            document = {key: [data]} if key is not None else data
            path = root / folder / _file_name(kind, name)
            if path in seen:
                path = path.with_name(f"{path.stem}-{len(seen)}.yaml")
            seen.add(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
            written.append(path)
    return written


def _name_key(model: Model) -> str:
    return "intent" if isinstance(model, Intent) else "scenario" if isinstance(model, Scenario) else "name"

