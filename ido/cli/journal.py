"""`ido runs`, `ido explain RUN` and `ido why-not RUN CAPABILITY`: reading the journal.

The journal is the one `--store` names (default: SQLite at
WORKSPACE/.ido/journal.db). These commands only read: a journal file that
does not exist yet is reported as empty, never created. Unknown or ambiguous
run ids exit 2 with the candidates; `--json` prints the DESIGN.md keys.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, get_args

import click
from rich.console import Console, RenderableType
from rich.table import Table

from ido.cli.main import CliContext
from ido.cli.params import COUNT
from ido.errors import UsageError
from ido.explain import explain as explain_run
from ido.explain import why_not as why_not_run
from ido.explain_text import render_explanation, render_why_not
from ido.journal import open_store, sqlite_path
from ido.journal.base import RunInfo, RunStatus, Store


@contextmanager
def open_journal(ctx: CliContext, *, run_id: str | None = None) -> Iterator[Store | None]:
    """Yield the journal, or None when its SQLite file does not exist (nothing recorded yet).

    With `run_id`, a missing journal is a usage error naming the run.
    """
    url = ctx.store_location
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if run_id is not None:
            raise UsageError(
                f"no run {run_id!r}: there is no journal at {path} yet "
                "(runs are recorded by `ido run`; pass --store to read another journal)"
            )
        yield None
        return
    store = open_store(url, must_exist=True)
    try:
        yield store
    finally:
        store.close()


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _print(renderable: RenderableType) -> None:
    stream = sys.stdout  # click.get_text_stream is deprecated from click 8.5
    console = Console(file=stream, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # Piped or captured: never wrap or truncate (run ids must stay whole for scripts).
        console = Console(file=stream, highlight=False, soft_wrap=True, width=1000)
    console.print(renderable)


@click.command("runs")
@click.option("--status", type=click.Choice(list(get_args(RunStatus))), help="Only runs with this status.")
@click.option("--intent", default=None, help="Only runs of this intent.")
@click.option("--limit", type=COUNT, default=50, show_default=True, help="At most this many (newest first).")
@click.option("--before", "before", default=None, metavar="RUN",
              help="Only runs started before RUN (the last run of a page: the next page).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {runs: [...], corrupted: [...], next_before: RUN or null}.")
@click.pass_obj
def runs(ctx: CliContext, status: str | None, intent: str | None, limit: int, before: str | None,
         as_json: bool) -> None:
    """List recorded runs, newest first, a page at a time (--limit, --before)."""
    with open_journal(ctx, run_id=before) as store:
        rows: list[RunInfo] = []
        if store is not None:
            cursor = None
            if before is not None:
                start = store.get_run(run_id=before)
                cursor = (start.created_at, start.run_id)
            rows = store.list_runs(status=status, limit=limit + 1, intent=intent, before=cursor)
        corrupted = list(getattr(store, "corrupted_runs", []))
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        _echo_json({"runs": [r.model_dump(mode="json") for r in rows], "corrupted": corrupted,
                    "next_before": rows[-1].run_id if more else None})
        return
    for run_id in corrupted:
        click.echo(f"warning: the row of run {run_id} does not decode; it is left out", err=True)
    if not rows:
        which = " ".join(x for x in (f"with status {status}" if status else "",
                                      f"of intent {intent}" if intent else "",
                                      f"before {before}" if before else "") if x)
        click.echo("no runs" + (f" {which}" if which else "") + " recorded")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("run", "intent", "status", "started", "cost", "steps", "decisions"):
        table.add_column(col, justify="right" if col in {"cost", "steps", "decisions"} else "left",
                         no_wrap=col in {"run", "status", "started"})
    for r in rows:
        started = datetime.fromtimestamp(r.created_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            r.run_id, r.intent, r.status, started, f"{r.cost:g}", str(r.steps_executed),
            str(r.decisions),
        )
    _print(table)
    if more:
        click.echo(f"(more: ido runs --before {rows[-1].run_id})", err=True)


@click.command("explain")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: run_id, intent, status, summary, moves, decisions (every alternative).")
@click.option("--full", is_flag=True, help="Show every alternative of every decision, even unchanged ones.")
@click.pass_obj
def explain(ctx: CliContext, run: str, as_json: bool, full: bool) -> None:
    """Say what RUN did in one sentence, list its moves, then its decisions.

    A unique prefix of RUN's id works.
    """
    with open_journal(ctx, run_id=run) as store:
        assert store is not None
        explanation = explain_run(store, run)
    if as_json:
        _echo_json(explanation.model_dump(mode="json"))
    else:
        _print(render_explanation(explanation, full=full))


@click.command("why-not")
@click.argument("run")
@click.argument("capability")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: run_id, capability, reasons.")
@click.pass_obj
def why_not(ctx: CliContext, run: str, capability: str, as_json: bool) -> None:
    """Say, decision by decision, why CAPABILITY was or was not used in RUN."""
    with open_journal(ctx, run_id=run) as store:
        assert store is not None
        answer = why_not_run(store, run, capability)
    if as_json:
        _echo_json(answer.model_dump(mode="json"))
    else:
        _print(render_why_not(answer))


COMMANDS = [runs, explain, why_not]
