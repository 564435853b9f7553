"""`ido run`, `ido approve` / `ido reject` and `ido resume`: pursue intents from the command line.

`ido run INTENT` prints one readable line per decision as it is made (what
was chosen, why, what was rejected and why) and the final status; `--json`
prints the DESIGN.md keys instead. `--simulate SCENARIO` runs it inside the
scenario's simulated world on a virtual clock (`ido.simulation.single`).
Exit codes: 0 the goal holds, 1 it does not, 2 bad input, 3 no admissible
plan exists at the start. The journal is the `--store` one, so `ido explain
RUN` works afterwards. Set `IDO_LOG_JSON=stderr` (or a file path) to also get
every decision as a structlog JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ido.cli.main import CliContext
from ido.cli.params import FACT_ASSIGNMENT, INPUT_ASSIGNMENT, raw_inputs, typed_facts
from ido.decisions import DecisionRecord
from ido.errors import UsageError
from ido.journal import Store, open_store

if TYPE_CHECKING:
    from ido.engine.run import RunResult

#: verdicts not worth a line's space: the chosen one and roles not needed.
_QUIET_VERDICTS = {"chosen", "not_needed"}
#: the order rejections are shown in: the ones that explain a switch first.
_VERDICT_ORDER = {
    "unhealthy": 0, "denied": 1, "over_limit": 2, "over_budget": 3, "too_slow": 4, "too_risky": 5,
    "rejected": 1, "excluded": 6, "precondition": 7, "costlier": 8,
}
_SHOWN_REJECTIONS = 4




def describe(record: DecisionRecord, previous: DecisionRecord | None = None) -> str:
    """Return one line for a decision: `#4 step failed: X (server: 503) -> switch from X to Y; rejected: ...`.

    Reads the record's structured `move` and `switches` (a dispatch of a role's
    new provider reads "switch from A to B"; other switches of the plan are
    appended as "plan switches from A to B"). `previous` is accepted for
    callers of older versions and not needed any more.
    """
    trigger = str(record.trigger).replace("_", " ")
    head = f"#{record.seq} {trigger}" + (f": {record.cause}" if record.cause else "")
    action = record.action
    chosen = ", ".join(record.chosen)
    sent = set(record.chosen) if action == "dispatch" else set()
    now_sent = [f"{s.before} to {s.after}" for s in record.switches if s.after in sent]
    others = [f"{s.before} to {s.after}" for s in record.switches if s.after not in sent]
    if action == "dispatch":
        if now_sent and len(now_sent) == len(record.chosen):
            what = "switch from " + ", ".join(now_sent)
        elif record.move == "retry":
            what = f"retry {chosen}"
        else:
            what = f"dispatch {chosen}"
            others += now_sent
    elif action == "await_approval":
        what = f"wait for a person to approve {chosen}"
    elif action == "succeed":
        what = "goal holds"
    elif action == "wait":
        what = "wait for " + ", ".join(f.capability for f in record.in_flight)
    elif action == "compensate" and chosen:
        what = f"compensate: {record.reason}"
    else:
        what = f"{action}: {record.reason}"
    if others and action in ("dispatch", "await_approval", "wait"):
        what += "; plan switches from " + ", ".join(others)
    line = f"{head} -> {what}"
    rejected = sorted(
        (a for a in record.alternatives if str(a.verdict) not in _QUIET_VERDICTS),
        key=lambda a: (_VERDICT_ORDER.get(str(a.verdict), 9), a.score_delta or 0.0, a.capability),
    )
    if rejected and action not in ("succeed", "wait", "compensate"):
        shown = [_rejection(a) for a in rejected[:_SHOWN_REJECTIONS]]
        more = len(rejected) - len(shown)
        line += "; rejected: " + ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
    return line


class DecisionPrinter:
    """A listener printing one line per decision, and how to answer when a run starts waiting.

    `command` is how the user reaches this journal again (`ido` plus the global
    options they gave), so the `ido approve RUN` / `ido reject RUN` lines it
    prints work when pasted into another shell. With `quiet` (`--json`), only
    the approval lines are printed, to stderr, so stdout stays one JSON object.
    """

    def __init__(self, command: str = "ido", *, quiet: bool = False) -> None:
        self.command = command
        self.quiet = quiet

    def __call__(self, record: DecisionRecord) -> None:
        if not self.quiet:
            click.echo(describe(record))

    def waiting(self, record: DecisionRecord) -> None:
        """Print how to answer; the engine calls it once the run's wait is in the journal."""
        click.echo(approval_hint(record, self.command), err=self.quiet)
        # a person is waiting to read this: do not leave it in a pipe's buffer
        (sys.stderr if self.quiet else sys.stdout).flush()


def approval_hint(record: DecisionRecord, command: str = "ido") -> str:
    """Return what `ido run` prints when a run starts waiting: the run id, the commands, the deadline."""
    asked = f" (asked by {', '.join(record.approval)})" if record.approval else ""
    lines = [
        f"run {record.run_id} is waiting for a person to approve {', '.join(record.chosen)}{asked}; "
        "nothing has been sent to it yet. Answer from any shell:",
        f"  {command} approve {record.run_id}",
        f"  {command} reject {record.run_id}",
    ]
    left = record.remaining.deadline_s
    if left is None:
        lines.append("The run has no deadline: it waits until someone answers.")
    else:
        lines.append(
            f"Time spent waiting counts against the deadline: {max(left, 0.0):.3g}s of it are left; "
            "if nobody answers by then, the run fails (and undoes what it did, if its intent says so)."
        )
    return "\n".join(lines)


def command_prefix(ctx: CliContext) -> str:
    """Return `ido` with the global options that lead another shell to this workspace and journal."""
    parts = ["ido"]
    if ctx.workspace != Path("."):
        parts += ["--workspace", shlex.quote(str(ctx.workspace))]
    if ctx.store_url:
        parts += ["--store", shlex.quote(ctx.store_url)]
    return " ".join(parts)


def _rejection(alternative: Any) -> str:
    verdict = str(alternative.verdict)
    name = alternative.capability
    if verdict == "denied" and alternative.policies:
        return f"{name} denied by {', '.join(alternative.policies)}"
    if verdict == "unhealthy":
        circuit = alternative.numbers.get("circuit")
        return f"{name} unhealthy" + (f" (circuit {circuit.replace('_', '-')})" if circuit and circuit != "closed" else "")
    if verdict == "rejected":
        return f"{name} {alternative.reason}"
    if verdict == "costlier" and alternative.score_delta is not None:
        at_least = "at least " if alternative.lower_bound else ""
        return f"{name} costlier ({at_least}+{alternative.score_delta:.3g})"
    return f"{name} {verdict.replace('_', ' ')}"


@contextmanager
def open_journal(ctx: CliContext, *, synchronous: bool = False) -> Iterator[Store]:
    """Yield the journal the command names (`--store`), closed on exit; used by run, apply, resume."""
    store = open_store(ctx.store_location, synchronous=synchronous)
    try:
        yield store
    finally:
        store.close()


def current_declarations(ctx: CliContext) -> Any:
    """Return the declarations a run works under: the store's registry when the journal holds one
    (saying so on stderr: the folder is then not read), else the workspace folder's.

    A SQLite journal that does not exist yet is not created just to look. Used by `ido run`.
    """
    from ido.journal import sqlite_path
    from ido.loading import load_workspace
    from ido.registry import live_registry

    path = sqlite_path(ctx.store_location)
    if path is not None and not path.exists():
        return load_workspace(ctx.workspace)
    with open_journal(ctx) as store:
        registry = live_registry(store, ctx.workspace)
        if registry.number:
            click.echo(f"declarations: registry revision {registry.number} of the store (the folder's files "
                       f"are not read; `ido export DIR` writes them out, `ido serve --reseed` pushes "
                       "the folder)", err=True)
        return registry.workspace()


def open_run_log() -> IO[str] | None:
    """Turn on JSON decision logging when IDO_LOG_JSON says where; return a file to close."""
    target = os.environ.get("IDO_LOG_JSON", "").strip()
    if not target:
        return None
    from ido.engine import logging as engine_logging

    if target == "stderr":
        engine_logging.configure(sys.stderr)
        return None
    handle = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed by the caller
    engine_logging.configure(handle)
    return handle


def close_run_log(handle: IO[str] | None) -> None:
    """Turn decision logging off again and close the file `open_run_log` opened (if any), so a
    later command in the same process (tests, an embedding program) never writes to a closed file."""
    from ido.engine import logging as engine_logging

    engine_logging.disable()
    if handle is not None:
        handle.close()


def finish_run(result: RunResult, as_json: bool, *, no_plan: bool) -> int:
    """Print how a run ended (text or `--json`) and return its exit code; used by run, apply, resume."""
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2))
    else:
        click.echo(
            f"{result.status}: run {result.run_id}, {result.steps_executed} steps, "
            f"{result.decisions} decisions, cost {result.cost:.4g}, {result.elapsed_s:.3g}s "
            f"(see `ido explain {result.run_id}`)"
        )
    if result.status == "succeeded":
        return 0
    return 3 if no_plan else 1


def _no_plan_at_start(result: RunResult) -> bool:
    """Return whether the run failed at its first decision because no admissible plan existed."""
    if result.steps_executed or not result.records:
        return False
    first = result.records[0]
    return first.action == "fail" and first.plan is not None and not first.plan.feasible


@click.command("run")
@click.argument("intent")
@click.option("--input", "inputs", multiple=True, type=INPUT_ASSIGNMENT, metavar="K=V",
              help="A run input, typed by the intent's input type (repeatable).")
@click.option("--set", "facts", multiple=True, type=FACT_ASSIGNMENT, metavar="FACT=V",
              help="A fact that holds at the start, typed as the declarations type it (repeatable).")
@click.option("--simulate", "scenario", metavar="SCENARIO", help="Run inside this scenario's simulated world.")
@click.option("--strategy", type=click.Choice(["adaptive", "static", "static-fallback"]), default="adaptive",
              show_default=True, help="How the run chooses (static ones are the workflow baselines).")
@click.option("--detach", is_flag=True, help="Queue the run for `ido worker` and print its id at once.")
@click.option("--json", "as_json", is_flag=True, help="Print run_id, status, steps_executed, decisions, cost, elapsed_s.")
@click.pass_obj
def run(ctx: CliContext, intent: str, inputs: tuple[tuple[str, str], ...], facts: tuple[tuple[str, str], ...],
        scenario: str | None, strategy: str, detach: bool, as_json: bool) -> int:
    """Pursue INTENT until its goal holds, printing each decision and why."""
    given = raw_inputs(inputs)
    workspace = current_declarations(ctx)
    the_intent = workspace.intent(intent)
    set_facts = typed_facts(facts, workspace, the_intent)
    try:
        the_intent.bind_inputs(given)
    except ValueError as exc:
        raise UsageError(f"intent {the_intent.intent}: {exc}") from None
    if detach:
        if scenario is not None:
            raise UsageError("--detach queues a real run for a worker; --simulate runs here: use one")
        return _detach(ctx, workspace, the_intent.intent, given, set_facts, strategy, as_json)
    printer = DecisionPrinter(command_prefix(ctx), quiet=as_json)
    listeners = [printer]
    log_file = open_run_log()
    try:
        if scenario is not None:
            result = _simulated(ctx, workspace, the_intent, given, set_facts, scenario, strategy, listeners)
        else:
            from ido.gc_tuning import fewer_gc_passes

            with fewer_gc_passes(freeze=True):
                result = asyncio.run(_real(ctx, workspace, the_intent, given, set_facts, strategy, printer))
    finally:
        close_run_log(log_file)
    return finish_run(result, as_json, no_plan=_no_plan_at_start(result))


def _detach(ctx: CliContext, workspace: Any, intent: str, inputs: dict[str, Any], set_facts: dict[str, Any],
            strategy: str, as_json: bool) -> int:
    """Queue the run for a worker (`ido run --detach`); print its id, or its JSON row."""
    from ido.engine.worker import queue_run

    with open_journal(ctx) as store:
        info = queue_run(store, workspace, intent, inputs=inputs, set_facts=set_facts,
                         options={"strategy": strategy, "workspace": str(ctx.workspace)})
    if as_json:
        click.echo(json.dumps({"run_id": info.run_id, "status": info.status}, indent=2))
    else:
        click.echo(f"queued: run {info.run_id} (a worker will claim it; follow it with `ido watch {info.run_id}`)")
    return 0


async def _real(ctx: CliContext, workspace: Any, intent: Any, inputs: dict[str, Any], set_facts: dict[str, Any],
                strategy: str, printer: DecisionPrinter) -> RunResult:
    from ido.engine import Engine
    from ido.journal.leases import LeasedStore

    with open_journal(ctx) as journal:
        # the run is leased to this process, so a worker on the same journal never takes it
        # while it lives, and takes it over if this process dies
        from ido.registry import live_registry

        store = LeasedStore(journal)
        # a registry change in the store (a PUT to `ido serve`) reaches this run at its next decision
        registry = live_registry(journal, ctx.workspace, folder=workspace)
        engine = Engine(workspace, store, strategy=strategy, listeners=[printer], on_waiting=printer.waiting,
                        registry=registry)
        try:
            return await engine.run(intent, inputs=inputs, set_facts=set_facts,
                                    options={"workspace": str(ctx.workspace)})
        finally:
            await engine.close()


def _simulated(ctx: CliContext, workspace: Any, intent: Any, inputs: dict[str, Any], set_facts: dict[str, Any],
               scenario: str, strategy: str, listeners: list[Any]) -> RunResult:
    try:
        from ido.simulation.single import run_in_scenario
    except ImportError as exc:
        raise UsageError(f"--simulate needs the simulator (ido.simulation.single), which is not available: {exc}") from None
    with open_journal(ctx, synchronous=True) as store:
        result: RunResult = run_in_scenario(
            workspace=workspace, intent=intent, inputs=inputs or None, set_facts=set_facts,
            scenario=scenario, store=store, listeners=listeners, strategy=strategy,
        )
    return result


def _answer(ctx: CliContext, run_id: str, approved: bool, by: str) -> int:
    from ido.engine.approvals import answer

    with open_journal(ctx) as store:
        row = asyncio.run(answer(store, run_id, approved, by=by))
    verb = "approved" if approved else "rejected"
    click.echo(
        f"{verb} the pending step of run {row.run_id}; the engine waiting on it continues "
        f"(if none is, run `ido resume {row.run_id}`)"
    )
    return 0


@click.command("approve")
@click.argument("run_id", metavar="RUN")
@click.option("--by", default=lambda: os.environ.get("USER", ""), help="Who approves (recorded).")
@click.pass_obj
def approve(ctx: CliContext, run_id: str, by: str) -> int:
    """Approve the step RUN is waiting for."""
    return _answer(ctx, run_id, True, by)


@click.command("reject")
@click.argument("run_id", metavar="RUN")
@click.option("--by", default=lambda: os.environ.get("USER", ""), help="Who rejects (recorded).")
@click.pass_obj
def reject(ctx: CliContext, run_id: str, by: str) -> int:
    """Reject the step RUN is waiting for; the run replans without that capability."""
    return _answer(ctx, run_id, False, by)


COMMANDS = [run, approve, reject]
