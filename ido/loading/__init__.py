"""YAML -> a checked `Workspace`, with every problem located at `path:line:column`.

    load_workspace(root)        intents/, capabilities/, policies/, benchmarks/scenarios/ below root
    load_paths(paths, root)     some files or folders (`ido validate PATH...`), checked in the
                                context of the workspace at `root` when given
    load_intent(ref, ws)        an intent by name from `ws`, or from a YAML file at path `ref`
    load_scenario(ref, ws)      likewise for scenarios

Each raises `ido.errors.ValidationError` carrying ALL problems found: YAML
syntax, duplicate keys, model errors (unknown fields with "did you mean",
wrong types, bad durations, missing fields) and cross-references
(`ido.loading.checks`). Modules: `yamlfile` (text -> data + nodes), `locate`
(nodes, origins, pydantic errors for people), `documents` (file shapes ->
models), `checks` (cross-references), `assemble` (files -> a given workspace,
checked), `schema` (JSON Schema of the files).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ido.loading.assemble import find_intent, find_scenario, load_files, load_folder
from ido.loading.locate import Origin

if TYPE_CHECKING:
    from ido.model import Intent, Scenario
    from ido.workspace import Workspace

__all__ = [
    "Origin",
    "load_intent",
    "load_paths",
    "load_scenario",
    "load_workspace",
]

# `ido.workspace` is imported inside the functions: it imports this package's modules
# (`assemble`, `checks`, `locate`), and Python runs this file first whenever one of them
# is imported. The dependency goes one way: the workspace never imports this file.


def load_workspace(root: Path | str, *, checks: bool = True) -> Workspace:
    """Return the workspace declared below folder `root` (missing sub-folders are fine).

    Raises ValidationError with every problem, UsageError when `root` is not a
    folder. `checks=False` skips the cross-reference checks (files and models only).
    """
    from ido.workspace import Workspace

    return load_folder(Workspace(Path(root)), Path(root), checks=checks)


def load_paths(paths: Sequence[Path], root: Path | None = None, *, checks: bool = True) -> Workspace:
    """Return the declarations in `paths` (files, or folders of YAML files), checked.

    With `root`, the rest of that workspace is loaded too as context, so
    references into it resolve, but only problems in `paths` are reported (a
    broken context file is reported as well, since checks cannot be trusted
    without it). A file's kind comes from its top-level keys. `checks=False`
    skips the cross-reference checks.
    """
    from ido.workspace import Workspace

    return load_files(Workspace(root), paths, root, checks=checks)


def load_intent(ref: str, workspace: Workspace) -> Intent:
    """Return the intent named `ref` in `workspace`, or the one in the YAML file at path `ref`.

    Raises UsageError (with "did you mean" and the known names) when it is neither,
    and ValidationError when the file is wrong.
    """
    return find_intent(ref, workspace)


def load_scenario(ref: str, workspace: Workspace) -> Scenario:
    """Return the scenario named `ref` in `workspace`, or the one in the YAML file at path `ref`.

    Raises UsageError (with "did you mean" and the known names) when it is neither,
    and ValidationError when the file is wrong.
    """
    return find_scenario(ref, workspace)
