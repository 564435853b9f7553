"""`ido validate [PATH...]` and `ido schema [KIND]`: check declarations, print their JSON Schema.

`validate` with no paths checks the whole workspace (`--workspace`); with
paths, those files or folders, in the context of the workspace. It prints
"ok: ..." and exits 0, or prints every problem as `path:line:column: field:
message` and exits 2. A workspace (or the paths named) that declares nothing
is a problem too, exit 2: "no intents, capabilities or policies found" most
often means the wrong folder. Besides each file's own checks, every scenario
is checked to be runnable: its intent's required inputs must be given by the
scenario (`ido.loading.checks`). `schema` prints the JSON Schema of a file kind (or of
any file) for editors.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from ido.cli.main import CliContext
from ido.errors import ValidationError
from ido.loading import load_paths, load_workspace
from ido.loading.checks import runnable_problems
from ido.loading.documents import FOLDERS, yaml_files
from ido.loading.schema import KINDS, json_schema
from ido.loading.yamlfile import display_path
from ido.workspace import Workspace


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def validate(obj: CliContext, paths: tuple[Path, ...]) -> int:
    """Check files and cross-references (default: the whole workspace)."""
    try:
        workspace = load_paths(list(paths), obj.workspace) if paths else load_workspace(obj.workspace)
        runnable = runnable_problems(workspace)
        if paths:
            named = _named(paths)
            runnable = [p for p in runnable if p.path in named]
        if runnable:
            raise ValidationError(runnable)
    except ValidationError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        count = len(exc.problems)
        click.echo(f"{count} problem{'s' if count != 1 else ''} found", err=True)
        return 2
    counts = _counts(workspace, paths)
    if not any(counts.values()):
        where = ", ".join(str(p) for p in paths) if paths else str(obj.workspace)
        hint = (
            f"it has none of {', '.join(f + '/' for f in FOLDERS)}; "
            if not paths and not any((obj.workspace / folder).is_dir() for folder in FOLDERS) else ""
        )
        click.echo(
            f"{where}: no intents, capabilities or policies found; {hint}"
            "pass --workspace DIR (or the files) to check another folder"
        )
        click.echo("1 problem found", err=True)
        return 2
    click.echo(f"ok: {_summary(counts) if paths else workspace.summary()}")
    return 0


def _counts(workspace: Workspace, paths: tuple[Path, ...]) -> Counter[str]:
    """Return how many declarations of each kind the named files hold (all of them without paths)."""
    if not paths:
        return Counter({
            "intent": len(workspace.intents), "capability": len(workspace.capabilities),
            "observer": len(workspace.observers), "policy": len(workspace.policies),
            "scenario": len(workspace.scenarios),
        })
    named = _named(paths)
    return Counter(kind for (kind, _), origin in workspace.origins.items() if origin.path in named)


def _named(paths: tuple[Path, ...]) -> set[str]:
    """Return the display paths of the YAML files `paths` name (folders expanded)."""
    return {display_path(file) for path in paths for file in (yaml_files(path) if path.is_dir() else [path])}


def _summary(counts: Counter[str]) -> str:
    """Return the counts of what the named files declare (the workspace around them is context)."""
    return ", ".join(
        f"{counts[kind]} {plural}"
        for kind, plural in (
            ("intent", "intents"), ("capability", "capabilities"), ("observer", "observers"),
            ("policy", "policies"), ("scenario", "scenarios"),
        )
    )


@click.command()
@click.argument("kind", required=False, type=click.Choice(KINDS))
def schema(kind: str | None) -> int:
    """Print the JSON Schema (draft 2020-12) of a file of KIND, or of any ido file."""
    click.echo(json.dumps(json_schema(kind), indent=2, sort_keys=False))
    return 0


COMMANDS = [validate, schema]
