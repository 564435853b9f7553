"""`ido replay RUN [--against OTHER] [--json]`: decide a run's decisions again and compare.

Without `--against`, every decision is re-derived from its recorded inputs
under the revisions it was made under (read from the journal): exit 0 iff all
are identical, else 1 naming the first decision that differs and how. With
`--against OTHER` (what-if; spelled `--workspace` before, a spelling now
refused with exit 2, since after any other command `--workspace` names the
workspace), the decisions are re-derived under OTHER's
current declarations and every decision that would change is listed: exit 0
iff none would. The journal is the one the global `--store` / `--workspace`
name.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ido.cli.journal import open_journal
from ido.cli.main import CliContext
from ido.errors import UsageError
from ido.replay import ReplayReport
from ido.replay import replay as replay_run


@click.command("replay")
@click.argument("run")
@click.option(
    "--against", "other", default=None,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="What-if: decide again under this workspace's declarations instead of the recorded ones.",
)
@click.option("--workspace", "old_spelling", default=None, hidden=True, expose_value=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: run_id, identical, differences.")
@click.pass_obj
def replay(ctx: CliContext, run: str, other: Path | None, old_spelling: str | None, as_json: bool) -> int:
    """Re-derive every decision of RUN from the journal; exit 0 iff identical."""
    if old_spelling is not None:
        raise UsageError(
            f"`ido replay RUN --workspace {old_spelling}` is now spelled `ido replay RUN --against {old_spelling}` "
            f"(what-if under that workspace); to name the workspace whose journal holds the run, write "
            f"`ido --workspace {old_spelling} replay RUN`"
        )
    workspace = None
    if other is not None:
        from ido.loading import load_workspace

        workspace = load_workspace(other)
    with open_journal(ctx, run_id=run) as store:
        assert store is not None
        report = replay_run(store, run, workspace=workspace)
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        click.echo(_text(report))
    return 0 if report.identical else 1


def _text(report: ReplayReport) -> str:
    count = f"{report.decisions} decision{'s' if report.decisions != 1 else ''}"
    skipped = len(report.skipped)
    if skipped:
        count += (
            f" ({skipped} compensation step{'s' if skipped != 1 else ''} in the fixed undo order, "
            "not re-derived)"
        )
    if report.mode == "exact":
        if report.identical:
            return f"replayed {count} of run {report.run_id}: identical"
        return f"replayed run {report.run_id}: {report.differences[0].message}"
    where = f" under {report.workspace}" if report.workspace else ""
    if report.identical:
        return f"what-if replay of run {report.run_id}{where}: none of its {count} would change"
    changed = len(report.differences)
    lines = [f"what-if replay of run {report.run_id}{where}: {changed} of {count} would change"]
    lines += [f"  {d.message}" for d in report.differences]
    return "\n".join(lines)


COMMANDS = [replay]
