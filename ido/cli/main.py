"""The `ido` command: global options, the command list, and errors turned into exit codes.

Each command lives in its own module of `ido.cli` and exposes `COMMANDS`, a
list of click commands; `main()` is the console entry point. Exit codes
(DESIGN.md section 4): 0 success, 1 the run did not achieve its goal, 2 bad
usage or invalid input, 3 no admissible plan. Anything a user can get wrong
prints a message, never a traceback (set IDO_DEBUG=1 to see one).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ido.errors import IdoError

#: Each command: the module of `ido.cli` that defines it, and the line `ido --help` shows
#: for it. A module is imported only when one of its commands runs, so `ido --help` loads
#: no command and each command only what it uses (tests/test_cli_startup.py keeps these
#: lines equal to the commands' own docstrings).
COMMAND_INDEX: dict[str, tuple[str, str]] = {
    "plan": ("plan", "Plan INTENT: the best admissible plan with its alternatives, or why none exists."),
    "apply": ("apply", "Execute the plan in PLANFILE (from `ido plan INTENT --out PLANFILE`) as a run."),
    "validate": ("validate", "Check files and cross-references (default: the whole workspace)."),
    "schema": ("validate", "Print the JSON Schema (draft 2020-12) of a file of KIND, or of any ido file."),
    "run": ("run", "Pursue INTENT until its goal holds, printing each decision and why."),
    "approve": ("run", "Approve the step RUN is waiting for."),
    "reject": ("run", "Reject the step RUN is waiting for; the run replans without that capability."),
    "simulate": ("simulate", "Rehearse SCENARIO: degrade dependencies and compare adaptive and static side by side."),
    "runs": ("journal", "List recorded runs, newest first, a page at a time (--limit, --before)."),
    "explain": ("journal", "Say what RUN did in one sentence, list its moves, then its decisions."),
    "why-not": ("journal", "Say, decision by decision, why CAPABILITY was or was not used in RUN."),
    "replay": ("replay", "Re-derive every decision of RUN from the journal; exit 0 iff identical."),
    "worker": ("workers", "Claim runs from the journal and drive them; SIGTERM hands them over to other workers."),
    "resume": ("workers", "Continue RUN (or every unfinished run no live process drives), e.g. after a crash."),
    "watch": ("workers", "Follow RUN's decisions live, whichever process drives it, until it ends (exit code as `ido run`)."),
    "cancel": ("workers", "Stop RUN wherever it is driven; it compensates per its intent's on_failure (exit code as `ido run`)."),
    "serve": ("serve", "Serve the HTTP API (/api/v1, docs at /api/v1/docs) over this workspace's journal."),
    "export": ("export", "Write the store's registry of declarations to DIR as YAML files `ido validate` accepts."),
}

#: Modules of `ido.cli` that contribute commands (each exposes `COMMANDS`), in help order.
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in COMMAND_INDEX.values()))


class LazyGroup(click.Group):
    """The `ido` group: finds a command's module in `COMMAND_INDEX` and imports it on first use.

    `ido --help` is written from the index alone, so it imports no command module.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return every command name, sorted (as click lists them)."""
        return sorted({*COMMAND_INDEX, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return the command `cmd_name`, importing its module the first time; None if unknown."""
        if cmd_name not in self.commands and cmd_name in COMMAND_INDEX:
            module = importlib.import_module(f"ido.cli.{COMMAND_INDEX[cmd_name][0]}")
            for command in module.COMMANDS:
                if command.name not in self.commands:
                    command.params.extend(_global_options(command))
                    self.add_command(command)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the Commands section of `ido --help` from the index, as click would from the commands."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in COMMAND_INDEX:
                # A stand-in command shortens the line exactly as click shortens a real one.
                stand_in = click.Command(name, help=COMMAND_INDEX[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif not self.commands[name].hidden:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def _after_subcommand(attribute: str) -> Any:
    """Return the callback of a global option repeated after the subcommand: it overrides the group's."""

    def override(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        obj = ctx.find_object(CliContext)
        if value is not None and obj is not None:
            setattr(obj, attribute, value)

    return override


def _global_options(command: click.Command) -> list[click.Option]:
    """Return `--workspace` / `--store` for `command`, so `ido runs --workspace X` works as
    `ido --workspace X runs` does; a command that spells one of them itself keeps its own."""
    taken = {opt for param in command.params for opt in getattr(param, "opts", [])}
    options = []
    if "--workspace" not in taken:
        options.append(click.Option(
            ["--workspace"], type=click.Path(file_okay=False, path_type=Path), default=None, expose_value=False,
            callback=_after_subcommand("workspace"), help="As `ido --workspace`, here after the command.",
        ))
    if "--store" not in taken:
        options.append(click.Option(
            ["--store"], default=None, expose_value=False, callback=_after_subcommand("store_url"),
            help="As `ido --store`, here after the command.",
        ))
    return options


def os_error_message(exc: OSError) -> str:
    """Return an OSError as a located message: the path, what the system said, what would be right."""
    where = ""
    if exc.filename is not None:
        # a 300-byte name repeated whole buries the message: shorten each overlong part, say its size
        parts = [
            part if len(part.encode()) <= 255 else f"{part[:20]}...({len(part.encode())} bytes)"
            for part in str(exc.filename).split("/")
        ]
        where = "/".join(parts) + ": "
    if exc.errno == errno.ENAMETOOLONG:
        return (
            f"{where}file name too long; a name may be at most 255 bytes and a path 4096 here, "
            "so pass a shorter one"
        )
    return f"{where}{exc.strerror or exc}; check the path and its permissions"


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
    except OSError as exc:
        # a path the user named that the system refuses (too long, not permitted, ...): their input
        click.echo(f"error: {os_error_message(exc)}", err=True)
        code = 2
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
