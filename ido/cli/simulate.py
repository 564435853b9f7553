"""`ido simulate SCENARIO [--input K=V]... [--runs N] [--seed S] [--json] [--plot FILE]`.

Runs the scenario's arrivals under each of its strategies on a virtual clock
(`ido.simulation.runner.simulate`) and prints the strategies side by side, or
the JSON report of DESIGN.md section 4 with `--json`; `--plot FILE` also
writes a PNG. `--input K=V` adds to (or overrides) the scenario's `inputs`,
typed by the intent as in `ido run`. A progress bar runs on stderr when stderr is a terminal and
`--json` is not given. Exit 0 when the simulation ran (whatever its figures),
2 for bad usage or invalid files.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ido.cli.main import CliContext
from ido.cli.params import COUNT, INPUT_ASSIGNMENT, SEED, raw_inputs
from ido.errors import UsageError
from ido.simulation.plot import write_plot
from ido.simulation.report import render
from ido.simulation.runner import Progress as ProgressCallback
from ido.simulation.runner import simulate as run_simulation


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, object] = {}

        def update(strategy: str, done: int, total: int) -> None:
            if strategy not in tasks:
                tasks[strategy] = bar.add_task(f"simulating {strategy}", total=total)
            bar.update(tasks[strategy], completed=done)  # type: ignore[arg-type]

        yield update


@click.command("simulate")
@click.argument("scenario")
@click.option("--input", "inputs", multiple=True, type=INPUT_ASSIGNMENT, metavar="K=V",
              help="A run input for every run, over the scenario's `inputs` (repeatable).")
@click.option("--runs", type=COUNT, default=None, help="Runs per strategy (default: the scenario's `runs`).")
@click.option("--seed", type=SEED, default=None, help="Seed of arrivals and luck (default: the scenario's).")
@click.option(
    "--strategy", "strategies", multiple=True,
    type=click.Choice(["adaptive", "static", "static-fallback"]),
    help="Strategies to compare (repeatable; default: the scenario's `strategies`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write a PNG of success and latency over time, fault windows shaded.")
@click.pass_obj
def simulate(
    ctx: CliContext, scenario: str, inputs: tuple[tuple[str, str], ...], runs: int | None, seed: int | None, strategies: tuple[str, ...],
    as_json: bool, plot: Path | None,
) -> int:
    """Rehearse SCENARIO: degrade dependencies and compare adaptive and static side by side."""
    if runs is not None and runs <= 0:
        raise UsageError(f"--runs must be a positive number of runs, not {runs}")
    from ido.cli.run import current_declarations

    workspace = current_declarations(ctx)  # the store's registry when it holds one
    scn = workspace.scenario(scenario)
    given = {**scn.inputs, **raw_inputs(inputs)}
    try:
        workspace.intent(scn.intent).bind_inputs(given)
    except ValueError as exc:
        raise UsageError(f"scenario {scn.scenario}: intent {scn.intent}: {exc}") from None
    if inputs:
        scn = scn.model_copy(update={"inputs": given})
    with _progress(not as_json and sys.stderr.isatty()) as progress:
        report = run_simulation(
            workspace, scn, runs=runs, seed=seed, strategies=list(strategies) or None,
            progress=progress,
        )
    if plot is not None:
        written = write_plot(report, plot)
        if not as_json:
            click.echo(f"plot written to {written}", err=True)
    if as_json:
        click.echo(report.to_json(), nl=False)
    else:
        Console().print(render(report))
    return 0


COMMANDS = [simulate]
