"""Workers: claim runs from a shared journal, drive them under a lease, hand them over when gone.

`Worker.serve` is `ido worker` (and, with `once=True`, `ido resume`): it claims
runs whose lease is free — queued by `ido run --detach` (`queue_run`), or whose
owner's lease expired (a worker that died) — drives each with one `Engine`
whose store is a `LeasedStore`, renews its leases on a heartbeat, and drops a
run whose lease another worker took (its late writes are refused by the
store's fence, so nothing is half-applied). A run taken over is rebuilt from
its journal by `Engine.resume`, the same path as after a crash: steps sent
without an outcome are re-sent with their original idempotency keys.

On stop (SIGTERM in `ido worker`), the worker cancels its runs after their
current decisions, and releases their leases so another worker takes them
over at once rather than after the lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ido.engine.engine import Engine
from ido.engine.run import RunResult
from ido.errors import IdoError, JournalError, LeaseLost, UsageError
from ido.journal.base import TERMINAL_STATUSES, Condition_, Lease, RunInfo, Signal, Store
from ido.journal.leases import DEFAULT_LEASE_S, LeasedStore
from ido.registry import LiveRegistry

#: The key of a queued run's options that holds what the worker needs to start it.
QUEUED = "queued"
#: how long a free slot of a busy worker may wait for more to free before a claim fills them
#: (`Worker.serve`): a claim is a write transaction, one per ended run cost the journal dearly.
CLAIM_GATHER_S = 0.05


def queue_run(
    store: Store, workspace: Any, intent: str, *, inputs: Mapping[str, Any] | None = None,
    set_facts: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
    run_id: str | None = None, now: float | None = None,
) -> RunInfo:
    """Write a `queued` run row for a worker to start; return it. Called by `ido run --detach`.

    The row is `queued_run`'s (which checks what a worker would refuse); it
    is durable when this returns.
    """
    info = queued_run(workspace, intent, inputs=inputs, set_facts=set_facts, options=options,
                      run_id=run_id, now=now)
    if _no_loop():
        asyncio.run(store.append([], run=info))
    else:
        _append_in_thread(store, info)
    return info


def queued_run(
    workspace: Any, intent: str, *, inputs: Mapping[str, Any] | None = None,
    set_facts: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
    run_id: str | None = None, now: float | None = None,
) -> RunInfo:
    """Return the `queued` run row `queue_run` writes, not yet written. `ido serve` appends it on its loop.

    Checks what a worker would refuse (unknown intent, inputs that do not
    bind) now, so the caller gets exit 2 rather than a failed run later.
    Secret inputs are refused: the journal never stores them, so a worker
    could not start the run.
    """
    import uuid

    from ido.engine.run import redact

    found = workspace.intent(intent)
    try:
        bound = found.bind_inputs(dict(inputs or {}))
    except ValueError as exc:
        raise UsageError(f"intent {found.intent}: {exc}") from None
    secrets = found.secret_inputs()
    if secrets & set(inputs or {}):
        raise UsageError(
            f"intent {found.intent} has secret inputs ({', '.join(sorted(secrets))}), which the "
            "journal never stores: run it in this process (without --detach)"
        )
    at = time.time() if now is None else now
    return RunInfo(
        run_id=run_id or uuid.uuid4().hex[:16], intent=found.intent, status="queued",
        created_at=at, updated_at=at, inputs=redact(bound, secrets),
        conditions=[Condition_(type="Progressing", status=True, reason="Queued",
                               message="waiting for a worker to claim it")],
        options={**dict(options or {}), QUEUED: {"inputs": bound, "set": dict(set_facts or {})}},
    )


def _no_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def _append_in_thread(store: Store, info: RunInfo) -> None:
    """Append `info` from inside a running loop (the service): on a helper thread's own loop."""
    import threading

    errors: list[BaseException] = []

    def work() -> None:
        try:
            asyncio.run(store.append([], run=info))
        except BaseException as exc:  # handed to the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class Taken:
    """What a worker read of a run right after claiming it, off the loop (`Worker._take`).

    `to_start`: queued and not started yet; `signals`: the run's requests (cancel,
    approval answers) as of the claim; `registry_checked`: the registry's head was
    read after the claim, so the run starts under a revision no older than its submission.
    """

    info: RunInfo
    to_start: bool
    signals: tuple[Signal, ...]
    registry_checked: bool


@dataclass
class WorkerReport:
    """What a worker did: the runs it finished, and those it gave up (lease lost or stopped)."""

    finished: list[RunResult] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


class Worker:
    """Claims and drives runs of one journal; see the module docstring."""

    def __init__(
        self, workspace: Any, store: Store, *, concurrency: int = 8,
        lease_s: float = DEFAULT_LEASE_S, owner: str | None = None, poll_s: float = 0.5,
        listeners: Iterable[Any] = (), on_finished: Callable[[RunResult], None] | None = None,
        on_lost: Callable[[str, str], None] | None = None, engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"--concurrency must be at least 1, not {concurrency}")
        if lease_s <= 0:
            raise UsageError(f"--lease must be positive, not {lease_s}")
        self.store = store if isinstance(store, LeasedStore) else LeasedStore(
            store, owner=owner, lease_s=lease_s
        )
        self.concurrency = concurrency
        self.poll_s = poll_s
        #: free slots worth a claim at once (`serve`): a quarter of the concurrency
        self._batch = max(1, concurrency // 4)
        self.on_finished = on_finished
        self.on_lost = on_lost
        self.engine = Engine(workspace, self.store, listeners=listeners, **dict(engine_options or {}))
        self.tasks: dict[str, asyncio.Task[RunResult | None]] = {}
        self.stopping = asyncio.Event()

    @property
    def owner(self) -> str:
        """This worker's name as a lease owner (`host:pid:nonce`)."""
        return self.store.owner

    def stop(self) -> None:
        """Ask `serve` to stop: current runs are cancelled and their leases released."""
        self.stopping.set()

    async def serve(self, *, once: bool = False, run_id: str | None = None) -> WorkerReport:
        """Claim and drive runs until stopped (or, with `once`, until nothing is claimable).

        `run_id` limits the worker to that one run (`ido resume RUN`).
        Returns what was finished, lost to another owner, or released.
        """
        report = WorkerReport()
        heartbeat = max(self.store.lease_s / 3, 0.05)
        next_beat = time.monotonic() + heartbeat
        freed_at = float("inf")  # since when a free slot waits for the next claim
        try:
            while not self.stopping.is_set():
                if time.monotonic() >= next_beat:
                    # before claiming: after a stall (a loaded machine, a long pause) longer than
                    # the lease, this worker's own expired leases are renewed, not claimed anew
                    next_beat = time.monotonic() + heartbeat
                    await self._beat(report)
                free = self.concurrency - len(self.tasks)
                claimed: list[Lease] = []
                now = time.monotonic()
                # a claim is a write transaction: taken for a batch of free slots, or once the
                # oldest free slot has waited CLAIM_GATHER_S, not each time one run ends
                taken: dict[str, Taken] = {}
                if free > 0 and (free >= self._batch or not self.tasks or now >= freed_at + CLAIM_GATHER_S):
                    claimed, taken = await self._claim(free if run_id is None else 1, run_id, once=once)
                    freed_at = float("inf")
                elif free > 0:
                    freed_at = min(freed_at, now)
                for lease in claimed:
                    self.tasks[lease.run_id] = asyncio.get_running_loop().create_task(
                        self._drive_again(self.tasks.get(lease.run_id), lease, report,
                                          taken.get(lease.run_id)),
                        name=f"ido-worker-{lease.run_id}",
                    )
                if once and not self.tasks and not claimed:
                    break
                waiting = [*self.tasks.values()]
                stop_wait = asyncio.ensure_future(self.stopping.wait())
                timeout = max(0.0, min(self.poll_s, next_beat - time.monotonic(),
                                        freed_at + CLAIM_GATHER_S - time.monotonic()))
                await asyncio.wait(
                    [*waiting, stop_wait], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                stop_wait.cancel()
                for task_id, task in list(self.tasks.items()):
                    if task.done():
                        del self.tasks[task_id]
        finally:
            await self._shutdown(report)
        return report

    async def _claim(
        self, limit: int, run_id: str | None, *, once: bool,
    ) -> tuple[list[Lease], dict[str, Taken]]:
        """Return the leases of up to `limit` runs claimed now and what `_take` read of them
        (none when the journal cannot be reached).

        A serving worker outlives a journal it cannot reach for a moment (a restarting
        server, a session the server ended while this process was frozen): it tries
        again at its next poll, as its heartbeat does. With `once` (`ido resume`) the
        error is raised: "nothing to claim" would be a lie.
        """
        try:
            return await asyncio.to_thread(self._take, limit, run_id)
        except JournalError as exc:
            if once:
                raise
            if self.on_lost is not None:
                self.on_lost("(none claimed)", f"cannot claim runs now: {exc}")
            return [], {}

    def _take(self, limit: int, run_id: str | None) -> tuple[list[Lease], dict[str, Taken]]:
        """Claim runs, then read what driving them needs: their rows, signals and the registry's head.

        Run in a thread: on a server these are round trips, a few per claim rather than
        per run, and none on the loop that drives the other runs. Read after the claim,
        so a request or registry revision made before this worker took a run is seen
        (later ones reach it as they reach every run it drives). A read that fails
        leaves the runs to be looked at one by one by their drivers (`_look`).
        """
        leases = self.store.claim_runs(limit=limit, run_id=run_id)
        if not leases:
            return leases, {}
        ids = [lease.run_id for lease in leases]
        try:
            rows = self.store.look_runs(ids)
            signals: dict[str, list[Signal]] = {}
            for signal in self.store.signals(run_ids=ids):
                signals.setdefault(signal.run_id, []).append(signal)
        except IdoError:
            return leases, {}
        checked = self._check_registry()
        return leases, {
            rid: Taken(info=info, to_start=to_start, signals=tuple(signals.get(rid, ())), registry_checked=checked)
            for rid, (info, to_start) in rows.items()
        }

    def _check_registry(self) -> bool:
        """Read the registry's head now (in `_take`'s thread); return whether it was read."""
        registry = self.engine.registry
        if not isinstance(registry, LiveRegistry):
            return False  # another source of declarations: the engine asks it itself
        try:
            registry.workspace(fresh=True)
        except IdoError:
            return False
        return True

    async def _beat(self, report: WorkerReport) -> None:
        """Renew held leases; stop driving the runs whose lease another owner took.

        A journal that cannot be reached just now (a restarting server, a connection
        the server ended while this process was frozen) is tried again next beat: the
        leases run out meanwhile, and fencing keeps the runs safe.
        """
        for run_id in [r for r in self.store.held if r not in self.tasks]:
            # no driver here (it ended without letting go): renewing would keep the run from
            # every other worker for good; unrenewed, its lease runs out and it moves on
            self.store.forget(run_id)
        try:
            lost = await asyncio.to_thread(self.store.renew_held)
        except JournalError as exc:
            if self.on_lost is not None:
                self.on_lost("(all held)", f"cannot renew leases now: {exc}")
            return
        for run_id in lost:
            task = self.tasks.pop(run_id, None)
            if task is not None:
                task.cancel()
            self._lost(report, run_id, "its lease was taken over by another worker")

    def _lost(self, report: WorkerReport, run_id: str, why: str) -> None:
        report.lost.append(run_id)
        if self.on_lost is not None:
            self.on_lost(run_id, why)

    async def _drive_again(
        self, before: asyncio.Task[RunResult | None] | None, lease: Lease, report: WorkerReport,
        taken: Taken | None,
    ) -> RunResult | None:
        """Drive the run `lease` names, once `before` (this worker's earlier driver of it) has stopped.

        A worker re-claims a run it still drives when its lease ran out meanwhile
        (a renewal failed, or came too late). Two drivers in one process would share
        one fence and write over each other; the earlier one, whose state may be
        stale, is stopped and the run rebuilt from its journal.
        """
        if before is not None and not before.done():
            before.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await before
            taken = None  # read before it stopped: an append of its in flight may have landed since
        return await self._drive(lease, report, taken)

    async def _drive(self, lease: Lease, report: WorkerReport, taken: Taken | None) -> RunResult | None:
        """Start (queued) or resume (taken over) the run `lease` names; return how it ended.

        `taken`: what the claim read of the run (None: read here, off the loop).
        """
        run_id = lease.run_id
        try:
            if taken is None:
                # off the loop: on a server these are round trips, and the loop drives the other runs
                info, queued = await asyncio.to_thread(self._look, run_id)
                taken = Taken(info=info, to_start=queued, signals=(), registry_checked=False)
                signals: tuple[Signal, ...] | None = None  # read by the engine
            else:
                signals = taken.signals
            if taken.to_start:
                result = await self._start(taken.info, taken.registry_checked, signals)
            elif taken.info.status in TERMINAL_STATUSES:
                self.store.forget(run_id)
                return None
            else:
                result = await self.engine.resume(
                    run_id, registry_checked=taken.registry_checked, signals=signals)
        except LeaseLost as exc:
            self._lost(report, run_id, str(exc))
            return None
        except asyncio.CancelledError:
            raise
        except IdoError as exc:  # the run cannot be driven here (unknown intent, corrupt journal ...)
            await self._give_up(lease, str(exc))
            self._lost(report, run_id, str(exc))
            try:  # let another worker (or this one, later) take it, rather than hold it undriven
                await asyncio.to_thread(self.store.release_held, [run_id])
            except JournalError:
                self.store.forget(run_id)  # unrenewed, the lease runs out
            return None
        self.store.forget(run_id)
        report.finished.append(result)
        if self.on_finished is not None:
            self.on_finished(result)
        return result

    def _look(self, run_id: str) -> tuple[RunInfo, bool]:
        """Return the run's row and whether it is still to be started (queued, no `run_started` yet)."""
        info = self.store.get_run(run_id=run_id)
        return info, info.status == "queued" and not self.store.events(run_id=run_id, kinds=["run_started"])

    async def _start(self, info: RunInfo, registry_checked: bool, signals: tuple[Signal, ...] | None) -> RunResult:
        queued = dict(info.options.get(QUEUED) or {})
        options = {k: v for k, v in info.options.items() if k != QUEUED}
        run_id = await self.engine.start(
            info.intent, inputs=queued.get("inputs") or {}, set_facts=queued.get("set") or {},
            options={**options, "run_id": info.run_id}, registry_checked=registry_checked, signals=signals,
        )
        return await self.engine.wait(run_id)

    async def _give_up(self, lease: Lease, reason: str) -> None:
        """Mark a queued run that cannot start as failed, so no worker claims it again."""
        with contextlib.suppress(IdoError):
            info = self.store.get_run(run_id=lease.run_id)
            if info.status != "queued":
                return  # a started run stays as its journal says; another worker may do better
            failed = info.model_copy(update={
                "status": "failed", "updated_at": time.time(),
                "conditions": [Condition_(type="Blocked", status=True, reason="CannotStart",
                                          message=reason)],
            })
            await self.store.append([], run=failed)

    async def _shutdown(self, report: WorkerReport) -> None:
        """Cancel runs still driven, close the engine, release their leases."""
        unfinished = list(self.tasks)
        for task in self.tasks.values():
            task.cancel()
        for task in self.tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        await self.engine.close()
        held = [r for r in unfinished if r in self.store.held]
        if held:
            await asyncio.to_thread(self.store.release_held, held)
            report.released.extend(held)
