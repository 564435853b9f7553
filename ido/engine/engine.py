"""The observe-plan-act loop: `Engine` pursues intents until their goals hold.

Per run, one asyncio task repeats: fold in finished steps and observations
-> `decide` (pure; `ido.engine.decide`) -> write the decision and the
`dispatched` events durably -> start the chosen steps -> wait for an outcome,
an approval, a health change, a backoff's end or the deadline. Outcomes are
written with the next decision in one append, so an outcome is durable
before anything depending on it is dispatched. Health (`HealthTracker`),
concurrency limits and probes are shared by every run of the engine; when
runs compete for a provider at its `max_concurrency` or quota, the fleet
(`ido.engine.fleet`) allocates them with CP-SAT before they dispatch.
Failure handling lives elsewhere: `ido.engine.compensation` undoes completed
steps, `ido.engine.resume` rebuilds an unfinished run from its journal. The
loop's parts are in their own modules: `steps` (preparing and sending steps
within concurrency limits and quotas), `fold` (finished steps into run
state), `deadline` (time limits, abandoning steps), `approvals` (asking and
waiting), `reuse` (which plan a decision may reuse), `observe` (observers and
probes) and `records` (decision records into the journal).
Time comes only from `Clock.now()` and asyncio, so the simulator's virtual
loop drives the engine unmodified.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ido.clock import Clock
from ido.decisions import DecisionRecord, Revisions, Trigger
from ido.digest import digest, digest_models
from ido.engine import logging as engine_logging
from ido.engine.approvals import await_answer, request_approval
from ido.engine.cancel import SignalWatch
from ido.engine.cancel import cause as cancel_cause
from ido.engine.compensation import compensate
from ido.engine.deadline import MAX_BLOCKED_S, abandon, run_deadline
from ido.engine.decide import decide
from ido.engine.doors import (
    Executor,
    FactReader,
    FaultReporter,
    Logger,
    Planner,
    PolicySet,
    Prober,
    RegistrySource,
)
from ido.engine.doors.defaults import default_doors
from ido.engine.doubt import held_out, holds
from ido.engine.fleet import Fleet, admit_decision
from ido.engine.fold import fold_finished, note_active_faults
from ido.engine.fold import record as record_event
from ido.engine.health import HealthConfig, HealthTracker, health_news
from ido.engine.inputs import DecisionInputs
from ido.engine.observe import Observations, Probes
from ido.engine.records import RecordWriter
from ido.engine.resume import adopt_revision, rebuild
from ido.engine.reuse import FirstPlans, remember_plan
from ido.engine.run import (
    Finished,
    Lookups,
    RunResult,
    RunState,
    StepHandle,
    conditions_for,
    redact,
)
from ido.engine.shared_health import SharedHealth
from ido.engine.steps import Steps
from ido.engine.strategies import STRATEGIES
from ido.engine.wake import woken
from ido.errors import IdoError, UsageError
from ido.journal.base import TERMINAL_STATUSES, Signal, Store
from ido.model import Capability, Intent, Observer, Policy, Scalar
from ido.planning.types import Plan

Listener = Callable[[DecisionRecord], Any]

#: How often (seconds) an engine with a registry looks whether it changed, to wake blocked runs.
REGISTRY_POLL_S = 0.1


def _items(collection: Any) -> list[Any]:
    if collection is None:
        return []
    if isinstance(collection, Mapping):
        return list(collection.values())
    return list(collection)


class Engine:
    """Runs intents against a workspace's capabilities under its policies; see the module docstring."""

    def __init__(
        self,
        workspace: Any,
        store: Store,
        *,
        executors: Mapping[str, Executor] | None = None,
        prober: Prober | None = None,
        fact_reader: FactReader | None = None,
        clock: Clock | None = None,
        strategy: str = "adaptive",
        listeners: Iterable[Listener] = (),
        logger: Logger | None = None,
        planner: Planner | None = None,
        policies: PolicySet | None = None,
        health: HealthTracker | None = None,
        health_config: HealthConfig | None = None,
        keep_records: bool = True,
        seed: int = 0,
        on_waiting: Listener | None = None,
        fault_reporter: FaultReporter | None = None,
        registry: RegistrySource | None = None,
        shared_health: bool | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(sorted(STRATEGIES))}")
        self.workspace = workspace
        self.store = store
        self.clock = clock or Clock()
        self.strategy = strategy
        self.listeners = list(listeners)
        #: told the `await_approval` record once the wait is in the journal (so `ido approve` works).
        self.on_waiting = on_waiting
        #: the simulator's world: injected faults in force are stamped on every record.
        self.fault_reporter = fault_reporter
        self.logger: Logger | None = logger if logger is not None else engine_logging.current()
        self.keep_records = keep_records
        self.capability_list: list[Capability] = _items(getattr(workspace, "capabilities", None))
        self.capabilities: dict[str, Capability] = {c.name: c for c in self.capability_list}
        self.observers: list[Observer] = _items(getattr(workspace, "observers", None))
        self.policy_list: list[Policy] = _items(getattr(workspace, "policies", None))
        #: the registry's revisions (`ido.registry.LiveRegistry`): adopted before each decision
        self.registry = registry
        self._own_policies = policies is None
        self._own_planner = planner is None
        #: wakes blocked runs when the registry changes (started with the first run; see `_watch_registry`)
        self._registry_watch: asyncio.Task[None] | None = None
        if policies is None:
            from ido.policy import PolicySet as Policies

            policies = Policies(self.policy_list)
        self.policies: PolicySet = policies
        if planner is None:
            from ido.planning.planner import Planner as DefaultPlanner

            planner = DefaultPlanner(self.capability_list, policies)  # type: ignore[arg-type]
        self.planner: Planner = planner
        resolve = getattr(workspace, "resolve_callable", None)
        doors, default_prober, default_reader = default_doors(resolve, random.Random(seed))
        self.executors: dict[str, Executor] = dict(executors) if executors is not None else doors
        self._own_doors = doors if executors is None else None
        self.prober: Prober = prober if prober is not None else default_prober
        self.fact_reader: FactReader = fact_reader if fact_reader is not None else default_reader
        self.health = health or HealthTracker(health_config)
        if shared_health is None:  # a leased journal is one other processes drive runs of too
            from ido.journal.leases import LeasedStore

            shared_health = isinstance(store, LeasedStore)
        #: the store's health rows, shared by every worker (None: this engine's tracker alone).
        self.shared: SharedHealth | None = SharedHealth(
            store, self.health, self.clock, prior=self._declared_reliability,
            owner=str(getattr(store, "owner", "")), call_timeout=self._call_timeout,
        ) if shared_health else None
        #: what decisions read health from: the shared rows, or the tracker.
        self.health_view: SharedHealth | HealthTracker = self.shared or self.health
        #: cancel requests of this engine's runs, kept by a shared journal (None: not shared).
        self.signals = SignalWatch(store, self._live_runs) if shared_health else None
        self.runs: dict[str, RunState] = {}
        # a store that never gives decision events back (the simulator's) is spared dumping whole records
        self._record_writer = RecordWriter(
            store, self.capability_list, self.policy_list, whole=getattr(store, "reads_decisions", True),
        )
        #: slots in use per capability and CP-SAT allocation when runs compete for full ones.
        self.fleet = Fleet(self.capabilities, lambda: self.health_view.snapshot(self.clock.now()), self.clock.now)
        self._steps = Steps(self.capabilities, self.executors, self.health, self.clock, self.fleet, shared=self.shared)
        self._probes = Probes(
            self.health, self.clock, shared=store if self.shared is not None else None,
            owner=str(getattr(store, "owner", "")),
        )
        self._observations = Observations(self.observers, self.fact_reader, self.clock)
        self._revisions: dict[int, tuple[Intent, Revisions]] = {}
        self._first_plans = FirstPlans(self.policy_list)
        #: what folding runs' events looks names up in (`ido.engine.fold.apply`).
        self.lookups = Lookups(self.capabilities, lambda key: self.store.get_revision(digest=key))

    def _call_timeout(self, name: str) -> float:
        cap = self.capabilities.get(name)
        return cap.effective_timeout if cap is not None else 30.0

    def _declared_reliability(self, name: str) -> float | None:
        cap = self.capabilities.get(name)
        return cap.reliability if cap is not None else None

    # -- public API ------------------------------------------------------------------
    async def run(
        self, intent: Intent | str, *, inputs: Mapping[str, Any] | None = None,
        set_facts: Mapping[str, Scalar] | None = None, options: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Return the result of pursuing `intent` until it succeeds, fails or is compensated."""
        return await self.wait(await self.start(intent, inputs=inputs, set_facts=set_facts, options=options))

    async def start(
        self, intent: Intent | str, *, inputs: Mapping[str, Any] | None = None,
        set_facts: Mapping[str, Scalar] | None = None, options: Mapping[str, Any] | None = None,
        registry_checked: bool = False, signals: Sequence[Signal] | None = None,
    ) -> str:
        """Start a run in the background and return its id; `wait(run_id)` gives its result.

        Raises UsageError for an unknown intent, bad inputs or an unknown strategy.
        `registry_checked` and `signals` come from a caller that read the registry's
        head and the run's signals after the run was submitted (a worker, once per
        claim, off the loop): then neither is read here, on the loop, per run.
        """
        self.follow_registry(fresh=not registry_checked)
        intent_model = self.intent(intent)
        opts = dict(options or {})
        strategy = str(opts.get("strategy", self.strategy))
        if strategy not in STRATEGIES:
            raise UsageError(f"unknown strategy {strategy!r}; use one of {', '.join(sorted(STRATEGIES))}")
        opts["strategy"] = strategy
        try:
            bound = intent_model.bind_inputs(dict(inputs or {}))
        except ValueError as exc:
            raise UsageError(f"intent {intent_model.intent}: {exc}") from None
        secrets = intent_model.secret_inputs()
        run_id = str(opts.pop("run_id", "")) or uuid.UUID(int=random.getrandbits(128), version=4).hex[:16]
        now = self.clock.now()
        state: dict[str, Scalar] = dict(intent_model.given)
        run = RunState(
            run_id=run_id, intent=intent_model, inputs=bound, public_inputs=redact(bound, secrets),
            strategy=strategy, revisions=self.revisions(intent_model), state=state, started=now,
            created_at=self.clock.timestamp(), lookups=self.lookups, options=opts, secrets=secrets,
        )
        self._record_writer.store_revisions(intent_model, run.revisions)
        await self._observations.observe(run, force=True)
        run.state.update(set_facts or {})
        record_event(run, "run_started", run.created_at, {
            "intent": intent_model.intent, "inputs": run.public_inputs, "given": dict(intent_model.given),
            "set": dict(set_facts or {}), "state": dict(run.state), "strategy": strategy,
            "revisions": run.info(0).revisions, "options": opts,
        })
        await self.flush(run)
        self._launch(run, signals)
        return run_id

    async def wait(self, run_id: str) -> RunResult:
        """Return the result of run `run_id` once it ends (it must have been started here)."""
        run = self.runs.get(run_id)
        if run is None or run.task is None:
            raise UsageError(f"run {run_id} is not running in this engine; see `ido runs`")
        return await run.task

    def approve(self, run_id: str, approved: bool, by: str = "") -> None:
        """Answer the approval run `run_id` waits for: continue (approved) or replan without it."""
        run = self.runs.get(run_id)
        if run is None or run.pending_approval is None:
            raise UsageError(f"run {run_id} is not waiting for an approval in this engine")
        run.answer = (approved, by)
        run.wake.set()

    async def resume(
        self, run_id: str, *, registry_checked: bool = False, signals: Sequence[Signal] | None = None,
    ) -> RunResult:
        """Return the result of continuing an unfinished run from its journal (after a crash).

        `registry_checked` and `signals`: as for `start`.
        """
        self.follow_registry(fresh=not registry_checked)
        run = await rebuild(self, run_id)
        if run.status in TERMINAL_STATUSES:
            return self._result(run)
        if run.compensating:  # it had failed and was undoing its steps
            self.runs[run.run_id] = run
            run.task = asyncio.get_running_loop().create_task(self._compensate(run))
        else:
            self._launch(run, signals)
        return await self.wait(run.run_id)

    async def close(self) -> None:
        """Stop probes, cancel unfinished runs and close the doors this engine created."""
        self._probes.close()
        if self._registry_watch is not None:
            self._registry_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._registry_watch
            self._registry_watch = None
        if self.signals is not None:
            await self.signals.close()
        steps: list[asyncio.Task[Any]] = [
            h.task for r in self.runs.values() for h in r.in_flight.values() if h.task is not None
        ]
        for run in self.runs.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
        for step in steps:
            step.cancel()
        pending: list[asyncio.Task[Any]] = [
            *self._probes.tasks, *(r.task for r in self.runs.values() if r.task is not None), *steps,
        ]
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._probes.tasks.clear()
        http = (self._own_doors or {}).get("http")
        if http is not None:
            await http.aclose()

    # -- declarations ------------------------------------------------------------------
    def intent(self, ref: Intent | str) -> Intent:
        """Return the intent `ref` names (an Intent passes through); UsageError when unknown."""
        if isinstance(ref, Intent):
            return ref
        finder = getattr(self.workspace, "intent", None)
        if callable(finder):
            return finder(ref)  # type: ignore[no-any-return]
        for item in _items(getattr(self.workspace, "intents", None)):
            if item.intent == ref:
                return item  # type: ignore[no-any-return]
        raise UsageError(f"no intent {ref!r} in the workspace")

    def revisions(self, intent: Intent) -> Revisions:
        """Return the digests of the intent, capabilities and policies runs work under (cached)."""
        cached = self._revisions.get(id(intent))
        if cached is not None and cached[0] is intent:
            return cached[1]
        found = self._compute_revisions(intent)
        self._revisions[id(intent)] = (intent, found)
        return found

    def _compute_revisions(self, intent: Intent) -> Revisions:
        finder = getattr(self.workspace, "revisions", None)
        if callable(finder):
            with contextlib.suppress(Exception):
                found = finder(intent.intent)
                if isinstance(found, Revisions) and found.intent == digest(intent):
                    return found
        return Revisions(
            intent=digest(intent), capabilities=digest_models(self.capability_list),
            policies=digest_models(self.policy_list),
        )

    def adopt(self, workspace: Any) -> None:
        """Take `workspace`'s declarations for every later decision (the registry changed).

        The tables steps, the fleet and folding share are updated in place; the
        planner and policy set are rebuilt unless they were given to the
        engine. Runs move to the new revision at their next decision
        (`follow_registry`). Called by `follow_registry` and by tests.
        """
        self.workspace = workspace
        self.capability_list = _items(getattr(workspace, "capabilities", None))
        self.capabilities.clear()
        self.capabilities.update({c.name: c for c in self.capability_list})
        observers = _items(getattr(workspace, "observers", None))
        if observers != self.observers:
            self.observers = observers
            self._observations = Observations(self.observers, self.fact_reader, self.clock)
        self.policy_list = _items(getattr(workspace, "policies", None))
        if self._own_policies:
            from ido.policy import PolicySet as Policies

            self.policies = Policies(self.policy_list)
        if self._own_planner:
            from ido.planning.planner import Planner as DefaultPlanner

            self.planner = DefaultPlanner(self.capability_list, self.policies)  # type: ignore[arg-type]
        self._record_writer.capabilities = self.capability_list
        self._record_writer.policies = self.policy_list
        self._revisions.clear()
        self._first_plans = FirstPlans(self.policy_list)
        self._probes.follow(self.capability_list, self.prober)  # a registered probe is probed too

    def follow_registry(self, run: RunState | None = None, *, fresh: bool = False) -> None:
        """Adopt the registry's newest revision if it moved, and move `run` to it.

        Cheap when nothing changed (the registry asks the store's head at most
        every 100 ms). A run in flight takes the new version of its intent when
        it still exists with the same secret inputs; it records a `revision`
        event and its next decision says what changed (`adopt_revision`).
        Called before each decision and (`fresh`: asking the store now) before a
        run starts or resumes, so a run never starts under a revision older than its submission.
        """
        if self.registry is None:
            return
        try:
            found = self.registry.changed(fresh=fresh)
        except IdoError:
            # the journal cannot be read just now, or a revision does not decode: decide under the
            # declarations adopted last (their digests are what the record names), and look again later
            found = None
        if found is not None:
            self.adopt(found)
        if run is None:
            return
        newer = _items(getattr(self.workspace, "intents", None))
        found = next((i for i in newer if i.intent == run.intent.intent), None)
        if found is not None and found != run.intent and found.secret_inputs() == run.secrets:
            run.intent = found
        adopt_revision(self, run)

    async def _watch_registry(self) -> None:
        """Adopt registry changes as they land and wake the blocked runs, which may now have a plan.

        A blocked run otherwise looks again only after the health recheck (seconds);
        a run dispatching or waiting for an answer moves to the new revision at its
        next decision anyway. Runs as long as the engine (cancelled by `close`).
        """
        assert self.registry is not None
        while True:
            await asyncio.sleep(REGISTRY_POLL_S)
            try:
                fresh = self.registry.changed()
            except IdoError:
                continue  # the journal cannot be read just now: the next look may succeed
            if fresh is None:
                continue
            self.adopt(fresh)
            for run in self.runs.values():
                if run.status == "blocked" and run.task is not None and not run.task.done():
                    run.wake.set()

    # -- the loop ------------------------------------------------------------------------
    def _live_runs(self) -> list[RunState]:
        return [r for r in self.runs.values() if r.task is not None and not r.task.done()]

    def _launch(self, run: RunState, signals: Sequence[Signal] | None = None) -> None:
        self.runs[run.run_id] = run
        self._probes.start(self.capability_list, self.prober)
        if self.registry is not None and self._registry_watch is None:
            self._registry_watch = asyncio.get_running_loop().create_task(
                self._watch_registry(), name="ido-registry-watch")
        if self.signals is not None:
            self.signals.check(run, signals)  # a request made before this engine took the run
            self.signals.start()
        run.task = asyncio.get_running_loop().create_task(self._drive(run), name=f"ido-run-{run.run_id}")

    async def _drive(self, run: RunState) -> RunResult:
        for handle in run.resend:
            self.fleet.occupy(handle.capability.name)
            handle.slot = True
            self._steps.start(run, handle)
        run.resend = []
        blocked_since: float | None = None
        while True:
            run.wake.clear()
            if run.cancel is not None:
                fold_finished(run, self.clock)
                run.trigger, run.cause = Trigger.CANCEL, cancel_cause(run.cancel)
                record, _ = self._decide(run, self.clock.now())
                return await self._finish(run, record)
            now = self.clock.now()
            deadline = run_deadline(run)
            if run.pending_approval is not None and (deadline is None or now < deadline):
                # resumed while waiting for a person
                await await_answer(run, deadline, self.clock, self.store, self.flush)
                continue
            if deadline is not None and now >= deadline and run.in_flight:
                await abandon(run, "the deadline passed", self.clock, settle=run.intent.on_failure == "compensate")
            fold_finished(run, self.clock)
            self.follow_registry(run)
            await self._observations.observe(run)
            record, plan = self._decide(run, self.clock.now())
            action = record.action
            if action != "dispatch":
                self.fleet.drop_held(run.run_id)
            if action == "dispatch" and not await admit_decision(
                self.fleet, run, record, self.capabilities, self.policies,
            ):
                # the fleet gave a scarce provider to other runs: decide again without it
                self._set_status(run, "running", record)
                await self.flush(run)
                continue
            if action == "dispatch":
                handles = [self._steps.prepare(run, record, i, name) for i, name in zip(record.dispatch, record.chosen, strict=True)]
                for handle in handles:
                    handle.slot = True  # taken by `admit_decision`
                self._set_status(run, "running", record)
                await self.flush(run)
                for handle in handles:
                    self._steps.start(run, handle)
                remember_plan(run, plan)
                blocked_since = None
                await self._sleep(run, deadline, watch_health=False)
                continue
            if action in ("succeed", "fail"):
                return await self._finish(run, record)
            until: float | None = deadline
            if action == "await_approval":
                request_approval(run, record, self.clock)
                self._set_status(run, "waiting_approval", record)
            elif action in ("block", "backoff"):
                blocked_since = now if blocked_since is None else blocked_since
                self._set_status(run, "blocked", record)
                if record.wake_at is not None:
                    until = record.wake_at if until is None else min(until, record.wake_at)
                if action == "block":
                    # estimates recover with time: look again even if nothing else happens
                    recheck = now + self.health.recheck_after()
                    until = recheck if until is None else min(until, recheck)
                if deadline is None:
                    cap = blocked_since + MAX_BLOCKED_S
                    until = cap if until is None else min(until, cap)
            else:  # wait for steps in flight
                remember_plan(run, plan)
                self._set_status(run, "running", record)
            await self.flush(run)
            if action == "await_approval":
                if self.on_waiting is not None:
                    self.on_waiting(record)
                await await_answer(run, deadline, self.clock, self.store, self.flush)
                continue
            if (action in ("block", "backoff") and deadline is None and blocked_since is not None
                    and now >= blocked_since + MAX_BLOCKED_S):
                return await self._finish(run, record.model_copy(update={"action": "fail"}), blocked_out=True)
            await self._sleep(run, until, watch_health=action in ("block", "backoff"))

    def _decide(self, run: RunState, now: float) -> tuple[DecisionRecord, Plan | None]:
        if self.fault_reporter is not None:
            note_active_faults(run, self.fault_reporter, self.clock)
        seq = run.decisions + 1  # the decision event makes it the run's count (`fold.apply`)
        health = self.health_view.snapshot(now)
        run.decided_version = self.health_view.version
        if run.last_snapshot is not None and run.last_snapshot is not health:
            news = health_news(run.last_snapshot, health)
            if news:
                run.cause = f"{run.cause}; health: {news}" if run.cause else f"health: {news}"
        run.last_snapshot = health
        reusable = run.reusable if run.reusable_version == self.health_view.version else None
        fresh_key = self._first_plans.key(run, self.health_view.version) if reusable is None and run.pinned is None else None
        if fresh_key is not None:
            reusable = self._first_plans.get(fresh_key)
        held = holds(run, self.capabilities)  # roles whose key is in doubt stay where they are
        notes = (*run.notes, *self.shared.held_notes()) if self.shared is not None else tuple(run.notes)
        inputs = DecisionInputs(
            run_id=run.run_id, seq=seq, decision_id=f"{run.run_id}-d{seq}", at=self.clock.iso(),
            trigger=run.trigger, intent=run.intent, revisions=run.revisions, state=dict(run.state),
            health=health, now=now, capabilities=self.capabilities, strategy=run.strategy,
            cause=run.cause, parent_id=run.last_decision, inputs=run.public_inputs, spent=run.spent,
            elapsed_s=now - run.started, steps_taken=run.steps_taken, attempts=dict(run.attempts),
            in_flight=tuple(h.in_flight() for h in run.in_flight.values()),
            exclude=tuple(sorted(run.excluded | run.fleet_excluded | held_out(held, self.capabilities))),
            approved=tuple(sorted(run.approved)), reusable=reusable, pinned=run.pinned, faults=tuple(run.faults),
            notes=notes, roles_before=dict(run.roles), rejected=tuple(run.rejected), held=held,
        )
        record, plan = decide(inputs, self.planner, self.policies)
        if (self.shared is not None and record.action == "dispatch"
                and not self.shared.claim_trials(record.chosen, now)):
            # another worker took a half-open trial this one chose: decide again, seeing that circuit open
            return self._decide(run, now)
        run.fleet_excluded = set()
        if fresh_key is not None and plan is not None and plan.feasible and not record.plan_reused:
            self._first_plans.put(fresh_key, plan)
        run.notes = []
        # the decision event sets the run's last decision and, for a static strategy, its path
        self.publish(run, record)
        return record, plan

    def publish(self, run: RunState, decision: DecisionRecord) -> None:
        """Record a decision into the run's journal buffer and state, logs and listeners.

        Called by the loop for each decision and by `ido.engine.compensation`
        (through `RunHost`) for each undo's.
        """
        record_event(run, "decision", self.clock.timestamp(), self._record_writer.record_data(decision))
        if self.keep_records:
            run.records.append(decision)
        if self.logger is not None:
            engine_logging.log_decision(self.logger, decision)
        for listener in self.listeners:
            listener(decision)

    def store_revisions(self, intent: Intent, revisions: Revisions) -> None:
        """Put the declarations `revisions` names into the journal, unless already there (resume)."""
        self._record_writer.store_revisions(intent, revisions)

    async def _sleep(self, run: RunState, until: float | None, *, watch_health: bool) -> None:
        """Wait for an outcome, an approval answer, a health change (if watched) or `until`."""
        if run.finished:
            return
        timeout = None if until is None else max(0.0, until - self.clock.now())
        version = self.health.version
        if watch_health:
            self.health.subscribe(run.wake)
        try:
            expired = not await woken(run.wake, timeout)
        finally:
            if watch_health:
                self.health.unsubscribe(run.wake)
        if expired:
            if until is not None and until >= (run_deadline(run) or float("inf")):
                run.trigger, run.cause = Trigger.DEADLINE_PRESSURE, "the deadline was reached"
            elif run.pending_approval is None:
                run.trigger, run.cause = Trigger.HEALTH_CHANGED, "the backoff elapsed"
        if watch_health and self.health.version != version and not run.finished:
            run.trigger, run.cause = Trigger.HEALTH_CHANGED, "health changed"

    # -- steps (prepared, started and sent by `ido.engine.steps`) ---------------------------
    async def call(self, run: RunState, handle: StepHandle) -> Finished:
        """Return the outcome of sending one step through its door; updates health.

        No concurrency limit, quota or fleet slot: compensation and resume call it
        directly; the loop's own steps go through `Steps.start`.
        """
        return await self._steps.call(run, handle)

    # -- the end ---------------------------------------------------------------------------
    async def _finish(self, run: RunState, record: DecisionRecord, *, blocked_out: bool = False) -> RunResult:
        if run.in_flight:
            undoing = record.action == "fail" and run.intent.on_failure == "compensate"
            await abandon(
                run, f"the run {'succeeded' if record.action == 'succeed' else 'failed'}", self.clock, settle=undoing,
            )
            fold_finished(run, self.clock)
        if record.action == "succeed":
            self._set_status(run, "succeeded", record)
            await self.flush(run)
            return self._result(run)
        if run.intent.on_failure == "compensate" and run.completed:
            # not "failed" yet: that is terminal, and a crash now must leave the undoing to resume
            # (the failing decision's event made the run compensating; a run blocked too long, whose
            # failing decision is not journaled, becomes so with its first undo's decision)
            await self.flush(run)
            return await self._compensate(run)
        self._set_status(run, "failed", record)
        await self.flush(run)
        return self._result(run)

    async def _compensate(self, run: RunState) -> RunResult:
        """Undo the run's completed steps and end it compensated or compensation_failed."""
        status, last = await compensate(self, run)
        self._set_status(run, status, last)
        await self.flush(run)
        return self._result(run)

    def _set_status(self, run: RunState, status: str, record: DecisionRecord | None) -> None:
        if status == run.status and record is not None and record.action not in ("succeed", "fail"):
            return
        conditions = conditions_for(run, record, record.reason if record is not None else "", status)
        record_event(run, "status", self.clock.timestamp(), {
            "status": status, "conditions": [c.model_dump(mode="json") for c in conditions],
        })

    async def flush(self, run: RunState) -> None:
        """Write the run's buffered events and its row durably; return once written.

        Called by the loop before anything its events' effects depend on, and by
        `ido.engine.compensation` and `ido.engine.resume` through `RunHost`.
        """
        if not run.buffer:
            return
        events, run.buffer = run.buffer, []
        if self.shared is None:
            await self.store.append(events, run=run.info(self.clock.timestamp()))
            return
        # each outcome's health change commits with it, for every worker's next decision
        try:
            await self.store.append(
                events, run=run.info(self.clock.timestamp()), health=self.shared.changes(events),
            )
        finally:
            self.shared.settled(events)

    def _result(self, run: RunState) -> RunResult:
        # the run is over: what only deciding needed goes (finished runs stay in `runs` for `wait`,
        # and their last plan, with every alternative, would otherwise stay alive with them)
        run.reusable = None
        run.last_snapshot = None
        return RunResult(
            run_id=run.run_id, status=run.status, steps_executed=run.steps_taken,
            decisions=run.decisions, cost=run.spent, elapsed_s=self.clock.now() - run.started,
            records=tuple(run.records),
        )

