"""The `ido` command: global options, the command list, and errors turned into exit codes.

Each command lives in its own module of `ido.cli` and exposes `COMMANDS`, a
list of click commands; `main()` is the console entry point. Exit codes
(DESIGN.md section 4): 0 success, 1 the run did not achieve its goal, 2 bad
usage or invalid input, 3 no admissible plan. Anything a user can get wrong
prints a message, never a traceback (set IDO_DEBUG=1 to see one).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ido.errors import IdoError

#: Modules of `ido.cli` that contribute commands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "plan",
    "apply",
    "validate",
    "run",
    "simulate",
    "journal",
    "replay",
    "workers",
    "serve",
)


@dataclass
class CliContext:
    """What every command receives: the workspace folder and the journal URL."""

    workspace: Path
    store_url: str | None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def store_location(self) -> str:
        """Return the journal URL: `--store`, or SQLite at WORKSPACE/.ido/journal.db."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.workspace / '.ido' / 'journal.db').resolve()}"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    envvar="IDO_WORKSPACE",
    help="Folder with intents/, capabilities/ and policies/.",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    envvar="IDO_STORE",
    help="Journal URL (default: SQLite at WORKSPACE/.ido/journal.db; memory:// for none).",
)
@click.version_option(package_name="ido")
@click.pass_context
def cli(ctx: click.Context, workspace: Path, store_url: str | None) -> None:
    """ido: declare what must become true; ido plans, acts, adapts and explains why."""
    ctx.obj = CliContext(workspace=workspace, store_url=store_url)


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(f"ido.cli.{_name}").COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return (and exit with) its exit code. Entry point of `ido`."""
    try:
        result = cli.main(args=argv, prog_name="ido", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 130
    except IdoError as exc:
        click.echo(f"error: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = 130
    except Exception as exc:  # a bug in ido, not the user's input
        if os.environ.get("IDO_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in ido; run again with IDO_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        code = 70
    if argv is None:
        sys.exit(code)
    return code
