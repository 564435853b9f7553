"""`ido export DIR [--revision N] [--replace] [--json]`: the store's registry written back as YAML files.

The store's registry (seeded by `ido serve --workspace`, changed over HTTP) is
the source of truth once it exists; this command is how a team keeps it in
git: it writes one file per declaration below DIR in the workspace layout
(capabilities/, policies/, intents/, benchmarks/scenarios/), files that `ido
validate --workspace DIR` accepts and `ido serve --workspace DIR --reseed`
pushes back. A DIR that already holds declaration files is refused (exit 2)
unless --replace, which replaces them: the files then hold exactly the registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ido.cli.main import CliContext
from ido.errors import UsageError


@click.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--revision", type=click.IntRange(1), default=None, help="A registry revision (default: the newest).")
@click.option("--replace", is_flag=True, help="Replace the declaration files DIR already holds.")
@click.option("--json", "as_json", is_flag=True, help="Print {registry, digest, files} as JSON.")
@click.pass_obj
def export(ctx: CliContext, directory: Path, revision: int | None, replace: bool, as_json: bool) -> int:
    """Write the store's registry of declarations to DIR as YAML files `ido validate` accepts."""
    from ido.cli.run import open_journal
    from ido.journal import sqlite_path
    from ido.registry import export as write_files
    from ido.registry import workspace_of

    path = sqlite_path(ctx.store_location)
    if path is not None and not path.exists():  # not created just to find it empty
        raise UsageError(f"no journal at {path}: pass --store with the journal `ido serve` uses")
    with open_journal(ctx) as store:
        snapshot = store.registry_snapshot(number=revision)
        if snapshot is None:
            head = store.registry_head()
            if head is None:
                raise UsageError(
                    "the store holds no registry yet: `ido serve --workspace DIR` seeds it from a folder "
                    "(until then the folder's files are the declarations)"
                )
            raise UsageError(f"no registry revision {revision}; the newest is {head.number}")
    files = write_files(workspace_of(snapshot), directory, replace=replace)
    if as_json:
        click.echo(json.dumps({"registry": snapshot.head.number, "digest": snapshot.head.digest,
                               "files": [str(f) for f in files]}, indent=2))
    else:
        click.echo(f"wrote {len(files)} file(s) to {directory} (registry revision {snapshot.head.number})")
    return 0


COMMANDS = [export]
