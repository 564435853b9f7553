"""Running a run's steps: preparing, sending through a door, concurrency limits and quotas.

`Steps` is shared by every run of an engine, since a capability's
`max_concurrency` and quota hold across runs. The engine's loop
(`ido.engine.engine.Engine`) calls `prepare` for each step a decision
dispatches (buffering its `dispatched` event), flushes, then `start`s them;
each step waits for a concurrency slot and its quota, sends the call, frees
the fleet slot the decision took and hands the outcome to the run's
`finished` list. A step runs at once in the caller's task and gets a task of
its own only when it has to wait: a door that answers without waiting costs
no task and no loop iteration. `call` alone (no limits, no fleet slot) is what
`Engine.call` delegates to, for compensation and resume.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine, Mapping
from typing import Any

from ido.clock import Clock
from ido.decisions import DecisionRecord
from ido.engine.doors import Call
from ido.engine.fleet import Fleet
from ido.engine.fold import record as record_event
from ido.engine.health import HealthTracker
from ido.engine.run import Finished, RunState, StepHandle
from ido.engine.shared_health import SharedHealth
from ido.errors import ExecutionError
from ido.model import Capability


async def _resume(step: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive `step` on from where `Steps.start` left it: suspended on `waiting_on`.

    What an asyncio task does for a coroutine, for one already started: await
    what it waits on (a future, or None for a bare yield) and send the outcome
    in, a cancellation or error thrown in, until it returns.
    """
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                # the step's own `await` marked the future as being waited on, and a task clears
                # the mark when it takes the future over (asyncio's future protocol): do as it does
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except BaseException as exc:  # a cancellation of this task: the step's own handlers see it
            try:
                waiting_on = step.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = step.send(None)
            except StopIteration:
                return


class Steps:
    """Starts runs' steps and sends them through the engine's doors, within limits shared by all runs."""

    def __init__(
        self, capabilities: Mapping[str, Capability], executors: Mapping[str, Any],
        health: HealthTracker, clock: Clock, fleet: Fleet, *, shared: SharedHealth | None = None,
    ) -> None:
        self.capabilities = capabilities
        #: the engine's own `executors` dict (door name -> executor), shared, not copied.
        self.executors = executors
        self.health = health
        self.clock = clock
        self.fleet = fleet
        #: the shared health rows, told each outcome until its event commits (None: not shared).
        self.shared = shared
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        #: capability name -> start times of its calls within the current quota window.
        self._quota_windows: dict[str, deque[float]] = {}

    def prepare(self, run: RunState, record: DecisionRecord, index: int, name: str) -> StepHandle:
        """Return a step ready to start, after recording its `dispatched` event (which makes the step)."""
        cap = self.capabilities[name]
        plan_step = record.plan.steps[index] if record.plan is not None and index < len(record.plan.steps) else None
        cost = cap.cost
        if plan_step is not None and plan_step.cost and plan_step.capability == name:
            cost = float(plan_step.cost)
        step = run.steps_taken + 1
        record_event(run, "dispatched", self.clock.timestamp(), {
            "decision_id": record.decision_id, "step": step, "capability": name,
            "provides": cap.provides, "idempotency_key": run.idempotency_key(name),
            "attempt": run.attempts.get(name, 0) + 1,
            "plan_step": index if run.pinned is not None else None, "cost": cost,
        })
        return run.awaiting[step]

    def start(self, run: RunState, handle: StepHandle) -> None:
        """Put `handle` in flight; returns once it answered or waits (the outcome wakes the run).

        The step runs at once, up to its first wait (a concurrency slot, a quota,
        the door's I/O): a door that answers without waiting leaves its outcome in
        `run.finished` with no task made (`handle.task` stays None, as for a step
        already ended); otherwise the rest of the step becomes `handle.task`.
        """
        run.in_flight[handle.step] = handle
        step = self._execute(run, handle)
        try:
            waiting_on = step.send(None)
        except StopIteration:
            return
        handle.task = asyncio.get_running_loop().create_task(_resume(step, waiting_on))

    async def _execute(self, run: RunState, handle: StepHandle) -> None:
        """Run one step (within its capability's concurrency limit and quota) and hand the loop its outcome."""
        sem = self._semaphore(handle.capability)
        try:
            if sem is None:
                await self._within_quota(handle.capability)
                finished = await self.call(run, handle)
            else:
                async with sem:
                    await self._within_quota(handle.capability)
                    finished = await self.call(run, handle)
        finally:
            if handle.slot:
                handle.slot = False
                self.fleet.release(handle.capability.name)
        run.finished.append(finished)
        run.wake.set()

    async def call(self, run: RunState, handle: StepHandle) -> Finished:
        """Return the outcome of sending one step through its door; updates health."""
        cap = handle.capability
        door = cap.invoke.door
        executor = self.executors.get(door)
        now = self.clock.now()
        handle.started = now
        if executor is None:
            error = ExecutionError(
                f"{cap.name}: no executor for the {door} door in this engine", kind="rejected", capability=cap.name,
            )
            return Finished(handle, None, error, 0.0)
        call = Call(
            capability=cap, run_id=run.run_id, step=handle.step, attempt=handle.attempt,
            idempotency_key=handle.key, inputs=run.inputs, facts=dict(run.state),
            timeout=cap.effective_timeout, secrets=run.secrets,
        )
        self.health.begin_call(cap.name, now, cap.latency)
        if self.shared is not None:
            self.shared.begin_call(cap.name)
        handle.sent = True
        try:
            result = await executor.execute(call)
        except ExecutionError as exc:
            latency = self.clock.now() - now
            self.health.record_outcome(
                cap.name, ok=False, latency_s=latency, now=self.clock.now(), prior=cap.reliability,
            )
            self._note(run, handle, ok=False, latency=latency, cost=None)
            return Finished(handle, None, exc, latency)
        except asyncio.CancelledError:
            self.health.abandon_call(cap.name)
            if self.shared is not None:
                self.shared.abandon_call(cap.name)
            raise
        except Exception as exc:  # a broken executor or world: a crash of this call, not of the run
            latency = self.clock.now() - now
            self.health.record_outcome(
                cap.name, ok=False, latency_s=latency, now=self.clock.now(), prior=cap.reliability,
            )
            self._note(run, handle, ok=False, latency=latency, cost=None)
            return Finished(handle, None, ExecutionError(
                f"{cap.name}: executor raised {type(exc).__name__}: {exc}", kind="crash", capability=cap.name,
            ), latency)
        latency = self.clock.now() - now
        self.health.record_outcome(
            cap.name, ok=True, latency_s=latency, now=self.clock.now(), cost=result.cost, prior=cap.reliability,
        )
        self._note(run, handle, ok=True, latency=latency, cost=result.cost)
        return Finished(handle, result, None, latency)

    def _note(self, run: RunState, handle: StepHandle, *, ok: bool, latency: float, cost: float | None) -> None:
        if self.shared is not None:
            self.shared.noted(run.run_id, handle.step, handle.capability.name, ok=ok, latency_s=latency, cost=cost)

    async def _within_quota(self, cap: Capability) -> None:
        """Return once a call of `cap` fits its declared quota (calls per window), across runs."""
        quota = cap.quota
        if quota is None:
            return
        window = self._quota_windows.setdefault(cap.name, deque())
        while True:
            now = self.clock.now()
            while window and window[0] <= now - quota.per:
                window.popleft()
            if len(window) < quota.calls:
                window.append(now)
                return
            # waiters wake in timer order (first come, first served) and re-check
            await asyncio.sleep(window[0] + quota.per - now)

    def _semaphore(self, cap: Capability) -> asyncio.Semaphore | None:
        # FIFO across runs: asyncio.Semaphore wakes its waiters in arrival order.
        if cap.max_concurrency is None:
            return None
        sem = self._semaphores.get(cap.name)
        if sem is None:
            sem = self._semaphores[cap.name] = asyncio.Semaphore(cap.max_concurrency)
        return sem
