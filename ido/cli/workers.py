"""`ido worker`, `ido resume`, `ido watch` and `ido cancel`: driving runs from a shared journal.

`worker` claims runs whose lease is free (queued by `ido run --detach`, or
left by a worker that died) and drives them until stopped; `resume` is a
worker with `--once` (it exits when nothing is claimable), safe beside live
workers; `watch` follows one run's decisions as any process writes them;
`cancel` asks a run to stop (`ido.engine.cancel`) and waits for it to end,
driving it here when no live worker holds it.
The work is `ido.engine.worker.Worker`; these commands parse and print.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from typing import Any

import click

from ido.cli.main import CliContext
from ido.cli.run import DecisionPrinter, command_prefix, finish_run, open_journal
from ido.errors import UsageError
from ido.journal.base import TERMINAL_STATUSES

#: How often `ido watch` looks for new events.
WATCH_POLL_S = 0.25


def parse_duration(text: str, option: str) -> float:
    """Return seconds for `10s`, `500ms`, `2m` or a bare number; UsageError otherwise."""
    from ido.model.values import parse_duration as parse

    try:
        seconds = float(parse(text))
    except (ValueError, TypeError, OverflowError) as exc:
        raise UsageError(f"{option} {text!r}: {exc}; write e.g. 10s, 500ms or 2m") from None
    if not 0 < seconds <= 86_400:
        raise UsageError(f"{option} {text!r}: must be more than 0 and at most a day")
    return seconds


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 1024), default=8, show_default=True,
              help="Runs driven at once.")
@click.option("--lease", "lease", default="10s", show_default=True,
              help="How long a claim holds without renewal; a dead worker's runs move after it.")
@click.option("--once", is_flag=True, help="Exit when nothing is claimable (instead of waiting for work).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per finished run.")
@click.pass_obj
def worker(ctx: CliContext, concurrency: int, lease: str, once: bool, as_json: bool) -> int:
    """Claim runs from the journal and drive them; SIGTERM hands them over to other workers."""
    lease_s = parse_duration(lease, "--lease")
    return _serve(ctx, run_id=None, once=once, concurrency=concurrency, lease_s=lease_s,
                  as_json=as_json, banner=not once)


@click.command("resume")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per resumed run.")
@click.pass_obj
def resume(ctx: CliContext, run_id: str | None, as_json: bool) -> int:
    """Continue RUN (or every unfinished run no live process drives), e.g. after a crash."""
    return _serve(ctx, run_id=run_id, once=True, concurrency=64, lease_s=10.0,
                  as_json=as_json, banner=False)


def _serve(ctx: CliContext, *, run_id: str | None, once: bool, concurrency: int, lease_s: float,
           as_json: bool, banner: bool, quiet: bool = False) -> int:
    """Return the exit code of driving runs here; `quiet` prints nothing of them (`ido cancel`)."""
    from ido.gc_tuning import fewer_gc_passes

    printer = DecisionPrinter(command_prefix(ctx), quiet=as_json or quiet)
    with fewer_gc_passes(freeze=True):  # this process is the worker's: runs live here until it stops
        return asyncio.run(_work(ctx, run_id, once, concurrency, lease_s, printer, as_json, banner, quiet))


async def _work(ctx: CliContext, run_id: str | None, once: bool, concurrency: int,
                lease_s: float, printer: DecisionPrinter, as_json: bool, banner: bool,
                quiet: bool = False) -> int:
    from ido.engine.worker import Worker
    from ido.registry import live_registry

    codes: list[int] = []
    with open_journal(ctx) as store:
        # the store's registry when it holds one (followed before each decision), else the folder
        registry = live_registry(store, ctx.workspace)
        workspace = registry.workspace()
        finished = None
        if run_id is not None:
            info = store.get_run(run_id=run_id)  # UsageError for an unknown id
            run_id = info.run_id
            if info.status in TERMINAL_STATUSES:
                finished = info
        if finished is not None:
            click.echo(f"run {finished.run_id} already ended: {finished.status}")
            return 0 if finished.status == "succeeded" else 1
        work = Worker(
            workspace, store, concurrency=concurrency, lease_s=lease_s, listeners=[printer],
            # a waiting run says how to answer
            engine_options={"on_waiting": printer.waiting, "registry": registry},
            on_finished=lambda r: codes.append(0 if quiet else finish_run(r, as_json, no_plan=False)),
            on_lost=lambda rid, why: click.echo(f"run {rid}: {why}", err=True),
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, work.stop)
        if banner:
            source = f"registry revision {registry.number}" if registry.number else f"declarations of {ctx.workspace}"
            click.echo(f"worker {work.owner} on {_safe(ctx.store_location)}: waiting for runs "
                       f"(concurrency {concurrency}, lease {lease_s:g}s, {source})", err=True)
        try:
            report = await work.serve(once=once, run_id=run_id)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        if report.released:
            click.echo(f"released {len(report.released)} run(s) for other workers: "
                       f"{', '.join(report.released)}", err=True)
        if run_id is not None and not report.finished and not report.lost:
            held = store.leases(run_ids=[run_id])
            owner = held[0].owner if held else "another process"
            raise UsageError(
                f"run {run_id} is being driven by {owner}; it is taken over if that process stops "
                "renewing its lease (see `ido watch " + run_id + "`)"
            )
    if not codes and run_id is None and once:
        click.echo("no unfinished runs to resume")
        return 0
    return max(codes, default=0)


def _safe(url: str) -> str:
    from ido.journal.postgres import redact_url

    return redact_url(url) if "://" in url and not url.startswith("sqlite") else url


@click.command("watch")
@click.argument("run_id", metavar="RUN")
@click.option("--timeout", default="1h", show_default=True, help="Give up after this long.")
@click.option("--json", "as_json", is_flag=True, help="Print each new event as one JSON line.")
@click.pass_obj
def watch(ctx: CliContext, run_id: str, timeout: str, as_json: bool) -> int:
    """Follow RUN's decisions live, whichever process drives it, until it ends (exit code as `ido run`)."""
    from ido.decisions import DecisionRecord

    limit = time.monotonic() + parse_duration(timeout, "--timeout")
    printer = DecisionPrinter(command_prefix(ctx))
    with open_journal(ctx) as store:
        info = store.get_run(run_id=run_id)
        seen = 0
        while True:
            info = store.get_run(run_id=info.run_id)  # read the row first: events up to it are in
            for event in store.events(run_id=info.run_id)[seen:]:
                seen = event.seq
                if as_json:
                    click.echo(json.dumps(event.model_dump(mode="json"), separators=(",", ":")))
                elif event.kind == "decision":
                    printer(DecisionRecord.model_validate(event.data))
            if info.status in TERMINAL_STATUSES:
                break
            if time.monotonic() > limit:
                click.echo(f"run {info.run_id} is still {info.status} after {timeout}", err=True)
                return 1
            time.sleep(WATCH_POLL_S)
    if not as_json:
        click.echo(f"{info.status}: run {info.run_id}, {info.steps_executed} steps, "
                   f"{info.decisions} decisions, cost {info.cost:.4g}")
    return 0 if info.status == "succeeded" else 1


@click.command("cancel")
@click.argument("run_id", metavar="RUN")
@click.option("--by", default=lambda: os.environ.get("USER", ""), help="Who asks (recorded).")
@click.option("--note", default="", help="Why (recorded in the cancel decision's cause).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the run to end (and drive it here if no live worker holds it).")
@click.option("--timeout", default="1h", show_default=True, help="Give up waiting after this long.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's row as JSON at the end.")
@click.pass_obj
def cancel(ctx: CliContext, run_id: str, by: str, note: str, wait: bool, timeout: str, as_json: bool) -> int:
    """Stop RUN wherever it is driven; it compensates per its intent's on_failure (exit code as `ido run`)."""
    from ido.engine.cancel import request_cancel

    if len(by) > 200 or len(note) > 2000:
        raise UsageError("--by is limited to 200 characters and --note to 2000")
    limit_s = parse_duration(timeout, "--timeout")
    with open_journal(ctx) as store:
        info = asyncio.run(request_cancel(store, run_id, by=by, note=note))
        drive_here = info.status not in TERMINAL_STATUSES and wait and _unowned(store, info.run_id)
    if drive_here:  # nobody drives it: stop it here, as `ido resume RUN` would continue it
        # a worker that took it meanwhile acts on the request (UsageError): wait below
        with contextlib.suppress(UsageError):
            _serve(ctx, run_id=info.run_id, once=True, concurrency=1, lease_s=10.0,
                   as_json=True, banner=False, quiet=True)
    elif info.status not in TERMINAL_STATUSES and wait:
        click.echo(f"cancel requested: run {info.run_id}; waiting for its worker to stop it", err=True)
    if info.status not in TERMINAL_STATUSES and wait:
        info = _until_ended(ctx, info.run_id, limit_s, timeout)
    elif info.status not in TERMINAL_STATUSES:
        click.echo(f"cancel requested: run {info.run_id} ({info.status}); its worker stops it "
                   f"at its next decision (follow it with `ido watch {info.run_id}`)")
        return 0
    if as_json:
        click.echo(info.model_dump_json(indent=2))
    else:
        click.echo(f"{info.status}: run {info.run_id}, {info.steps_executed} steps, "
                   f"{info.decisions} decisions, cost {info.cost:.4g} (see `ido explain {info.run_id}`)")
    return 0 if info.status == "succeeded" else 1


def _unowned(store: Any, run_id: str) -> bool:
    """Return whether no live process holds `run_id`'s lease (none, expired, or a dead local owner)."""
    from ido.journal.leases import dead_local_owners

    held = store.leases(run_ids=[run_id])
    now = time.time()
    return not held or held[0].until < now or bool(dead_local_owners(held, now=now))


def _until_ended(ctx: CliContext, run_id: str, limit_s: float, timeout: str) -> Any:
    """Return `run_id`'s row once it ended; UsageError after `limit_s`."""
    limit = time.monotonic() + limit_s
    with open_journal(ctx) as store:
        while True:
            info = store.get_run(run_id=run_id)
            if info.status in TERMINAL_STATUSES:
                return info
            if time.monotonic() > limit:
                raise UsageError(f"run {run_id} is still {info.status} after {timeout}; "
                                 "the cancel request stays: its worker acts on it")
            time.sleep(WATCH_POLL_S)


COMMANDS = [worker, resume, watch, cancel]
