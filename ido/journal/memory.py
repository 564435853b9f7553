"""An in-memory journal: same contract as SQLite, nothing on disk (`--store memory://`).

Used by simulations that do not need a file and by unit tests. Data are
stored as JSON text, exactly as the SQLite backend stores them, so whatever
one backend accepts or rejects the other does too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ido.errors import JournalError
from ido.journal._common import check_fence, check_seqs, encode, resolve_run_id, select_runs
from ido.journal.base import (
    TERMINAL_STATUSES,
    Event,
    EventKind,
    HealthChange,
    HealthRow,
    Lease,
    RunInfo,
    Signal,
    Store,
    TrialLease,
)
from ido.journal.registry import MemoryRegistry, RegistryChange, RegistryHead, RegistrySnapshot


class MemoryStore(Store):
    """A journal held in dicts; `append` is durable as soon as it returns (for this process)."""

    def __init__(self) -> None:
        self._runs: dict[str, str] = {}  # run_id -> RunInfo JSON
        # run_id -> [(seq, kind, at, data JSON)]: not the Event, whose data are the caller's
        # (mutable, and several times the size of their text)
        self._events: dict[str, list[tuple[int, EventKind, float, str]]] = {}
        self._revisions: dict[str, tuple[str, str]] = {}  # digest -> (kind, content JSON)
        self._leases: dict[str, Lease] = {}
        self._health: dict[str, HealthRow] = {}
        self._probes: dict[str, tuple[str, float]] = {}  # capability -> (owner, until)
        self._trials: dict[str, TrialLease] = {}
        self._signals: list[Signal] = []
        self.commits = 0  # number of appends applied: one "transaction" each
        self._registry = MemoryRegistry()

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Store `events` and the `run` row atomically; return at once (nothing to flush).

        Raises JournalError (and stores nothing) on a duplicate or gapped seq, on
        events of a run that has no row yet, or on data that is not JSON;
        LeaseLost when `fence` no longer holds.
        """
        self._apply(events, run, fence)
        self.update_health(health)

    def _apply(self, events: Sequence[Event], run: RunInfo | None, fence: Lease | None) -> None:
        encoded = [(e, encode(e.data, what=f"event {e.seq} of run {e.run_id}")) for e in events]
        row = run.model_dump_json() if run is not None else None
        last = {e.run_id: len(self._events.get(e.run_id, [])) for e in events}
        check_seqs(events, last)
        for e in events:
            if e.run_id not in self._runs and (run is None or run.run_id != e.run_id):
                raise JournalError(
                    f"events for run {e.run_id}, which has no row: pass run=RunInfo(...) "
                    "with the run's first append"
                )
        if fence is not None:
            creates = not self._events.get(fence.run_id) and any(e.seq == 1 for e in events)
            check_fence(fence, self._leases.get(fence.run_id), creates=creates)
            self._leases[fence.run_id] = fence
        if run is not None and row is not None:
            self._runs[run.run_id] = row
        for event, data in encoded:
            self._events.setdefault(event.run_id, []).append((event.seq, event.kind, event.at, data))
        self.commits += 1

    def registry_head(self) -> RegistryHead | None:
        """Return the registry's newest revision, or None (see `Store.registry_head`)."""
        return self._registry.head()

    def registry_snapshot(self, *, number: int | None = None) -> RegistrySnapshot | None:
        """Return a registry revision with its declarations (see `Store.registry_snapshot`)."""
        return self._registry.snapshot(number)

    def commit_registry(self, changes: Sequence[RegistryChange], *, expect: int | None = None) -> RegistryHead:
        """Write the next registry revision if the head is `expect` (see `Store.commit_registry`)."""
        return self._registry.commit(changes, expect=expect)

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store `content` under `digest` unless already there (idempotent)."""
        text = encode(content, what=f"revision {digest}")
        self._revisions.setdefault(digest, (kind, text))

    def get_revision(self, *, digest: str) -> Any:
        """Return a fresh copy of the content stored under `digest`; JournalError when unknown."""
        try:
            _, text = self._revisions[digest]
        except KeyError:
            raise JournalError(f"no revision {digest} in the journal") from None
        return json.loads(text)

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run whose id is `run_id` or uniquely starts with it; UsageError otherwise."""
        return RunInfo.model_validate_json(self._runs[resolve_run_id(run_id, self._runs)])

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first (by created_at, then run id), filtered as `Store.list_runs` says."""
        runs = (RunInfo.model_validate_json(text) for text in self._runs.values())
        return select_runs(runs, status=status, limit=limit, intent=intent, before=before)

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events in seq order (only `kinds` if given); [] for none."""
        stored = self._events.get(run_id, [])
        wanted = set(kinds) if kinds is not None else None
        # built without validation: every field was validated when the caller's Event was made
        return [
            Event.model_construct(run_id=run_id, seq=seq, kind=kind, at=at, data=json.loads(data))
            for seq, kind, at, data in stored
            if wanted is None or kind in wanted
        ]

    def claim(
        self, owner: str, *, lease_s: float, limit: int = 1, run_id: str | None = None,
        now: float | None = None, steal_from: Sequence[str] = (),
    ) -> list[Lease]:
        """Claim up to `limit` claimable runs, started ones first, oldest first (see `Store.claim`)."""
        now = time.time() if now is None else now
        dead = set(steal_from)
        ids = [run_id] if run_id is not None else list(self._runs)
        candidates = []
        for rid in ids:
            text = self._runs.get(rid)
            if text is None:
                continue
            info = RunInfo.model_validate_json(text)
            held = self._leases.get(rid)
            if info.status in TERMINAL_STATUSES:
                continue
            if held is not None and held.until >= now and held.owner not in dead:
                continue
            candidates.append((info.status == "queued", info.created_at, rid, held))
        claimed = []
        for _, _, rid, held in sorted(candidates, key=lambda c: c[:3])[:limit]:
            lease = Lease(run_id=rid, owner=owner, epoch=(held.epoch if held else 0) + 1, until=now + lease_s)
            self._leases[rid] = lease
            claimed.append(lease)
        return claimed

    def renew(self, leases: Sequence[Lease], *, until: float) -> list[str]:
        """Extend the leases still held to `until`; return the run ids whose lease was lost."""
        lost = []
        for lease in leases:
            held = self._leases.get(lease.run_id)
            if held is None or (held.owner, held.epoch) != (lease.owner, lease.epoch):
                lost.append(lease.run_id)
            else:
                self._leases[lease.run_id] = held.model_copy(update={"until": until})
        return lost

    def release(self, leases: Sequence[Lease]) -> None:
        """Drop the leases still held, so their runs are claimable at once."""
        for lease in leases:
            held = self._leases.get(lease.run_id)
            if held is not None and (held.owner, held.epoch) == (lease.owner, lease.epoch):
                self._leases[lease.run_id] = held.model_copy(update={"until": 0.0})

    def leases(self, *, run_ids: Sequence[str] | None = None, live_at: float | None = None) -> list[Lease]:
        """Return the current leases (see `Store.leases`)."""
        wanted = set(run_ids) if run_ids is not None else None
        return [v for k, v in sorted(self._leases.items())
                if (wanted is None or k in wanted) and (live_at is None or v.until >= live_at)]

    def health_rows(self) -> dict[str, HealthRow]:
        """Return every capability's shared health row (see `Store.health_rows`)."""
        return dict(self._health)

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Fold `changes` into the health rows (all or none: each state is computed first)."""
        rows = dict(self._health)
        at = time.time()
        for change in changes:
            old = rows.get(change.capability)
            state = change.apply(dict(old.state) if old is not None and old.state else None)
            encode(state, what=f"health of {change.capability}")
            rows[change.capability] = HealthRow(
                capability=change.capability, state=state, version=(old.version if old else 0) + 1,
                updated_at=at,
            )
        self._health = rows

    def claim_probe(self, capability: str, owner: str, *, lease_s: float, now: float | None = None) -> bool:
        """Take or renew the probe lease of `capability` (see `Store.claim_probe`)."""
        at = time.time() if now is None else now
        held = self._probes.get(capability)
        if held is not None and held[0] != owner and held[1] >= at:
            return False
        self._probes[capability] = (owner, at + lease_s)
        return True

    def claim_trial(
        self, capability: str, owner: str, *, trial_of: float, lease_s: float, now: float | None = None,
    ) -> bool:
        """Take or renew the trial lease of `capability` (see `Store.claim_trial`)."""
        at = time.time() if now is None else now
        held = self._trials.get(capability)
        if held is not None and held.owner != owner and held.until >= at and held.trial_of >= trial_of:
            return False
        self._trials[capability] = TrialLease(capability=capability, owner=owner, trial_of=trial_of,
                                              until=at + lease_s)
        return True

    def release_trial(self, capability: str, owner: str) -> None:
        """Give up `owner`'s trial lease of `capability` (see `Store.release_trial`)."""
        held = self._trials.get(capability)
        if held is not None and held.owner == owner:
            del self._trials[capability]

    def trial_leases(self) -> dict[str, TrialLease]:
        """Return the trial leases (see `Store.trial_leases`)."""
        return dict(self._trials)

    def put_signal(self, signal: Signal) -> None:
        """Keep `signal` for the run's worker (see `Store.put_signal`)."""
        self._signals.append(signal)

    def signals(self, *, run_ids: Sequence[str]) -> list[Signal]:
        """Return the signals kept for `run_ids`, oldest first."""
        wanted = set(run_ids)
        return [s for s in self._signals if s.run_id in wanted]

    def close(self) -> None:
        """Nothing to release; the data stay readable until the object is dropped."""
