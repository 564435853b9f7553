"""`ido apply PLANFILE [--input K=V]... [--json]`: execute a plan saved by `ido plan INTENT --out PLANFILE`.

Before anything is dispatched the plan is checked against the workspace and
the world now (`ido.engine.saved_plan.staleness`); a stale plan is refused
with every reason and exit 2 (`StalePlan`): the plan file is input that no
longer fits, like any other invalid input. Exit 3 stays what DESIGN.md says
it is, "no admissible plan exists", which a stale plan does not show: plan
again to find out. A fresh plan runs like `ido run` (a line per decision,
`--json` with the run keys, exit 0 when the goal holds, 1 otherwise), its
first decision dispatching the saved plan's ready steps. A PLANFILE holds
secret inputs redacted, so `--input NAME=VALUE` (parsed as by `ido run`)
supplies them; a non-secret input given a value other than the saved one is
refused, exit 2: the plan was made for the saved value.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ido.cli.main import CliContext
from ido.cli.params import INPUT_ASSIGNMENT, raw_inputs
from ido.cli.run import (
    DecisionPrinter,
    close_run_log,
    command_prefix,
    finish_run,
    open_journal,
    open_run_log,
)
from ido.errors import ExecutionError, StalePlan

if TYPE_CHECKING:
    from ido.engine.run import RunResult


@click.command("apply")
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "inputs", multiple=True, type=INPUT_ASSIGNMENT, metavar="K=V",
              help="A run input (repeatable): supplies the secret inputs a plan file holds redacted.")
@click.option("--json", "as_json", is_flag=True, help="Print run_id, status, steps_executed, decisions, cost, elapsed_s.")
@click.pass_obj
def apply(ctx: CliContext, planfile: Path, inputs: tuple[tuple[str, str], ...], as_json: bool) -> int:
    """Execute the plan in PLANFILE (from `ido plan INTENT --out PLANFILE`) as a run.

    Refuses (exit 2, saying why) when the plan went stale: the intent,
    capabilities or policies changed since (naming what changed), the
    starting state differs (the intent's given facts, what observers report,
    the plan's --set facts), or a probe says a planned capability is down.
    Otherwise the run's first decision dispatches the saved plan's ready
    steps; after that ido adapts as in `ido run`: if a step fails it replans
    from the state reached, and may switch provider. Exit 0 when the goal
    holds, 1 otherwise. Secret inputs are not in PLANFILE: pass them with
    --input NAME=VALUE.
    """
    from ido.engine.saved_plan import load

    given = raw_inputs(inputs)
    saved = load(planfile)
    from ido.cli.run import current_declarations

    workspace = current_declarations(ctx)  # the store's registry when it holds one
    intent = workspace.intent(saved.intent)
    printer = DecisionPrinter(command_prefix(ctx), quiet=as_json)
    log_file = open_run_log()
    try:
        result = asyncio.run(_apply(ctx, workspace, intent, saved, given, printer, announce=not as_json))
    finally:
        close_run_log(log_file)
    return finish_run(result, as_json, no_plan=False)


async def _apply(
    ctx: CliContext, workspace: Any, intent: Any, saved: Any, given: dict[str, str], printer: DecisionPrinter, *,
    announce: bool,
) -> RunResult:
    from ido.engine import Engine
    from ido.engine.saved_plan import apply_saved, probe_plan, run_inputs, staleness

    with open_journal(ctx) as store:
        engine = Engine(workspace, store, listeners=[printer], on_waiting=printer.waiting)
        try:
            health = await probe_plan(engine, saved.plan)
            observed: dict[str, Any] = {}
            for observer in engine.observers:
                try:
                    observed.update(await engine.fact_reader.observe(observer))
                except ExecutionError:
                    continue  # as in a run: an observer that cannot answer reports nothing
            stale = staleness(saved, workspace, intent, observed=observed, health=health)
            if stale:
                raise StalePlan(
                    f"refusing to apply {saved.path}: the plan went stale\n"
                    + "\n".join(f"  {s.kind}: {s.message}" for s in stale)
                    + f"\nplan again: {_replan_command(saved, intent)}"
                )
            # after the staleness check: an edited intent is reported as such, not as a bad input
            inputs = run_inputs(saved, intent, given)
            if announce:
                steps = ", ".join(s.capability for s in saved.plan.steps)
                click.echo(f"applying saved plan {saved.digest} from {saved.path} ({steps}); still fresh")
            return await apply_saved(engine, saved, intent, {"workspace": str(ctx.workspace)}, inputs=inputs)
        finally:
            await engine.close()


def _replan_command(saved: Any, intent: Any) -> str:
    """Return the `ido plan` command that makes a fresh plan like `saved` (same --set facts and inputs).

    Secret inputs, redacted in the file, show as `NAME=...` for the user to fill in.
    """
    from ido.engine.run import REDACTED

    secrets = intent.secret_inputs()
    parts = ["ido plan", saved.intent]
    for flag, pairs in (("--set", saved.set_facts or {}), ("--input", saved.request.inputs)):
        for key, value in sorted(pairs.items()):
            if flag == "--input" and value == REDACTED and key in secrets:
                text = "..."
            else:
                text = value if isinstance(value, str) and flag == "--input" else json.dumps(value)
            parts += [flag, shlex.quote(f"{key}={text}")]
    parts += ["--out", shlex.quote(str(saved.path))]
    return " ".join(parts)


COMMANDS = [apply]
