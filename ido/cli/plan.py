"""`ido plan INTENT [--set FACT=V]... [--input K=V]... [--json] [--dot] [--out PLANFILE] [--no-alternatives]`.

Plans the intent from its `given` facts overridden by `--set` (each value
typed as the declarations type the fact, `ido.cli.params`), with the workspace's capabilities and
policies and no health evidence. Prints a table of steps and a table of
alternatives with verdicts and reasons, or the plan as JSON (`--json`), or
Graphviz DOT (`--dot`). `--out PLANFILE` also saves the plan with what it was
made from (revisions, state, request, health digest, the --set facts and a
digest per declaration) for `ido apply`, which refuses it when those went
stale. `--no-alternatives` skips the alternatives' verdicts (the plan is the
same; `benchmarks/classic.py` times `ido plan` with and without them). The planner sees secret inputs redacted (`***`), as it does in every
decision of a run, so the plan never depends on a secret's value and the
PLANFILE never holds one: `ido apply --input` supplies it again. Exit 0 when
a plan exists, 3 when none is admissible (the explanation, naming the binding
constraint, on stderr), 2 for bad usage or invalid files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ido.cli.main import CliContext
from ido.cli.params import FACT_ASSIGNMENT, INPUT_ASSIGNMENT, raw_inputs, typed_facts
from ido.errors import UsageError
from ido.planning import to_dot
from ido.planning.types import Plan

#: Version of the PLANFILE format written by `--out`.
PLANFILE_FORMAT_VERSION = 1

@click.command("plan")
@click.argument("intent_ref", metavar="INTENT")
@click.option("--set", "sets", multiple=True, type=FACT_ASSIGNMENT, metavar="FACT=V",
              help="Override a starting fact, typed as the declarations type it (repeatable).")
@click.option("--input", "inputs", multiple=True, type=INPUT_ASSIGNMENT, metavar="K=V",
              help="A run input, typed by the intent's input type (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--dot", "as_dot", is_flag=True, help="Print the plan's partial order as Graphviz DOT.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the plan and what it was made from, for `ido apply`.")
@click.option("--no-alternatives", "bare", is_flag=True,
              help="Skip the alternatives' verdicts (the same plan, found without explaining it).")
@click.pass_obj
def plan(
    obj: CliContext, intent_ref: str, sets: tuple[tuple[str, str], ...], inputs: tuple[tuple[str, str], ...],
    as_json: bool, as_dot: bool, out: Path | None, bare: bool,
) -> int:
    """Plan INTENT: the best admissible plan with its alternatives, or why none exists."""
    if as_json and as_dot:
        raise UsageError("--json and --dot print different formats; pass one of them")
    from ido.cli.run import current_declarations

    workspace = current_declarations(obj)  # the store's registry when it holds one
    intent = workspace.intent(intent_ref)
    facts = typed_facts(sets, workspace, intent)
    # imported here: it imports the engine (for the redaction of secret inputs)
    from ido.engine.plans import plan_intent

    made = plan_intent(workspace, intent_ref, facts=facts, inputs=raw_inputs(inputs), explain=not bare)
    result, request, state, health = made.plan, made.request, made.state, made.health
    if out is not None:
        # imported only when saving: it imports the engine
        from ido.engine.saved_plan import declaration_digests

        planfile = {
            "set": facts,
            "declarations": declaration_digests(workspace),
            "format_version": PLANFILE_FORMAT_VERSION,
            "intent": intent.intent,
            "plan": result.model_dump(mode="json"),
            "request": request.model_dump(mode="json"),
            "revisions": workspace.revisions(intent).model_dump(mode="json"),
            "health_digest": health.digest(),
            "state": state,
        }
        try:
            out.write_text(json.dumps(planfile, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write {out}: {exc.strerror}; pass a writable --out path") from None
    if as_json:
        click.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    elif as_dot:
        click.echo(plan_dot(result), nl=False)
    else:
        render(result)
    if not result.feasible:
        click.echo(result.explanation, err=True)
        return 3
    return 0


def plan_dot(result: Plan) -> str:
    """Return the plan's partial order as Graphviz DOT."""
    return to_dot(result.intent, [(s.capability, s.provides, s.after, s.cost, s.latency_s) for s in result.steps])


def render(result: Plan, console: Console | None = None) -> None:
    """Print the plan as people read it: a table of steps, a table of alternatives, the summary."""
    if console is None:
        console = Console(soft_wrap=False)
        if not console.is_terminal:
            console = Console(soft_wrap=False, width=160)  # pipes and logs: do not squash reasons
    if result.feasible:
        steps = Table(title=f"plan for {result.intent}", title_justify="left")
        for column in ("#", "capability", "role", "after", "cost", "latency", "p", "score"):
            steps.add_column(column, justify="right" if column in ("#", "cost", "latency", "p", "score") else "left")
        for i, s in enumerate(result.steps):
            flag = " (needs approval)" if s.requires_approval else ""
            steps.add_row(
                str(i), s.capability + flag, s.provides, ", ".join(map(str, s.after)) or "-",
                f"{s.cost:.4g}", f"{s.latency_s:.4g}s", f"{s.success_probability:.4g}", f"{s.score:.4g}",
            )
        console.print(steps)
        console.print(
            f"total: cost {result.cost:.4g}, latency {result.latency_s:.4g}s (critical path), "
            f"p={result.success_probability:.4g}, score {result.score:.4g}"
        )
    else:
        blockers = Table(title=f"no admissible plan for {result.intent}", title_justify="left")
        blockers.add_column("blocker")
        blockers.add_column("fact")
        blockers.add_column("why")
        for b in result.blockers:
            blockers.add_row(b.kind, b.fact or "-", b.message)
        console.print(blockers)
    considered = [a for a in result.alternatives if a.verdict != "not_needed"]
    if considered:
        alts = Table(title="alternatives", title_justify="left")
        for column in ("role", "capability", "verdict", "reason"):
            alts.add_column(column)
        for a in sorted(considered, key=_alt_order):
            alts.add_row(a.provides, a.capability, a.verdict.value, a.reason)
        console.print(alts)
    idle = sorted(a.capability for a in result.alternatives if a.verdict == "not_needed")
    if idle:
        console.print(f"not needed for this goal: {', '.join(idle)}")
    if result.feasible:
        console.print(result.explanation)


def _alt_order(a: Any) -> tuple[str, int, str]:
    return (a.provides, 0 if a.verdict == "chosen" else 1, a.capability)


COMMANDS = [plan]
