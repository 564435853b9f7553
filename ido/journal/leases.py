"""The journal as one owner sees it: every write of a run fenced by that owner's lease.

`LeasedStore` wraps a store (SQLite or PostgreSQL) for one process — `ido run`,
`ido resume`, `ido worker`. The engine appends through it unchanged: a run's
first append creates its lease, later ones must still hold it and extend it,
and a run taken over by another owner gets `LeaseLost` instead of a write.
`renew` (called by the worker's heartbeat) extends the leases of runs that are
idle (waiting for a step, an approval, a retry); `release` gives them up so
another worker takes over at once.

`owner_id()` names this process (`host:pid:nonce`); `dead_local_owners` finds
owners on this machine whose process is gone, so `ido resume` right after a
crash takes over without waiting for the lease to expire.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from ido.errors import LeaseLost
from ido.journal.base import (
    Event,
    HealthChange,
    HealthRow,
    Lease,
    RunInfo,
    Signal,
    Store,
    TrialLease,
)
from ido.journal.registry import RegistryChange, RegistryHead, RegistrySnapshot

#: The default lease: long enough to ride out a pause, short enough for a quick takeover.
DEFAULT_LEASE_S = 10.0


def owner_id() -> str:
    """Return a name for this process as a lease owner: `host:pid:nonce`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def dead_local_owners(leases: Sequence[Lease], *, now: float | None = None) -> list[str]:
    """Return the owners of unexpired `leases` that are processes of this machine no longer alive."""
    at = time.time() if now is None else now
    host = socket.gethostname()
    dead = set()
    # one look per owner, not per lease: a worker holds a hundred leases, and a claim asks this
    for owner in {lease.owner for lease in leases if lease.until >= at}:
        name, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if name != host or not pid_text.isdigit():
            continue
        if not _alive(int(pid_text)):
            dead.add(owner)
    return sorted(dead)


def _alive(pid: int) -> bool:
    """Return whether process `pid` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): trust kill(0)
    return state not in (b"Z", b"X")


class LeasedStore(Store):
    """`inner` with every append fenced by `owner`'s lease of the run; reads pass through."""

    def __init__(
        self, inner: Store, *, owner: str | None = None, lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inner = inner
        self.owner = owner or owner_id()
        self.lease_s = lease_s
        self.clock = clock
        #: the leases this owner holds, by run id.
        self.held: dict[str, Lease] = {}

    def __repr__(self) -> str:
        return f"LeasedStore({self.inner!r}, owner={self.owner!r})"

    # -- leasing -------------------------------------------------------------------------------

    def adopt(self, lease: Lease) -> None:
        """Drive the run `lease` names from now on (after `claim` returned it)."""
        self.held[lease.run_id] = lease

    def claim_runs(self, *, limit: int, run_id: str | None = None) -> list[Lease]:
        """Claim and adopt up to `limit` runs (or `run_id`), stealing from dead local owners."""
        now = self.clock()
        dead = dead_local_owners(self.inner.leases(live_at=now), now=now)
        got = self.inner.claim(
            self.owner, lease_s=self.lease_s, limit=limit, run_id=run_id, steal_from=dead
        )
        for lease in got:
            self.adopt(lease)
        return got

    def renew_held(self) -> list[str]:
        """Extend every held lease; return (and forget) the run ids whose lease was lost."""
        until = self.clock() + self.lease_s
        leases = list(self.held.values())
        lost = self.inner.renew(leases, until=until)
        for lease in leases:
            if lease.run_id in lost:
                self.held.pop(lease.run_id, None)
            else:
                self.held[lease.run_id] = lease.model_copy(update={"until": until})
        return lost

    def release_held(self, run_ids: Sequence[str] | None = None) -> None:
        """Give up the leases of `run_ids` (all held if None) so others may claim them now."""
        ids = list(self.held) if run_ids is None else [r for r in run_ids if r in self.held]
        self.inner.release([self.held.pop(r) for r in ids])

    def forget(self, run_id: str) -> None:
        """Stop tracking `run_id` (it finished: its lease no longer matters)."""
        self.held.pop(run_id, None)

    # -- the Store -----------------------------------------------------------------------------

    async def append(
        self, events: Sequence[Event], *, run: RunInfo | None = None, fence: Lease | None = None,
        health: Sequence[HealthChange] = (),
    ) -> None:
        """Append through `inner`, fenced by this owner's lease of the run (created with its first event)."""
        run_id = events[0].run_id if events else (run.run_id if run is not None else None)
        if run_id is None:
            return
        held = fence or self.held.get(run_id)
        if held is None:
            if not any(e.seq == 1 for e in events):
                raise LeaseLost(
                    f"{self.owner} holds no lease of run {run_id}; claim it first", run_id=run_id
                )
            held = Lease(run_id=run_id, owner=self.owner, epoch=1, until=0.0)
        lease = held.model_copy(update={"until": self.clock() + self.lease_s})
        try:
            await self.inner.append(events, run=run, fence=lease, health=health)
        except LeaseLost:
            self.held.pop(run_id, None)
            raise
        self.held[run_id] = lease

    def health_rows(self) -> dict[str, HealthRow]:
        """Return the shared health rows of `inner` (see `Store.health_rows`)."""
        return self.inner.health_rows()

    def update_health(self, changes: Sequence[HealthChange]) -> None:
        """Apply probe answers through `inner` (see `Store.update_health`)."""
        self.inner.update_health(changes)

    def claim_probe(self, capability: str, owner: str, *, lease_s: float, now: float | None = None) -> bool:
        """Take or renew a probe lease through `inner` (see `Store.claim_probe`)."""
        return self.inner.claim_probe(capability, owner, lease_s=lease_s, now=now)

    def claim_trial(
        self, capability: str, owner: str, *, trial_of: float, lease_s: float, now: float | None = None,
    ) -> bool:
        """Take or renew a trial lease through `inner` (see `Store.claim_trial`)."""
        return self.inner.claim_trial(capability, owner, trial_of=trial_of, lease_s=lease_s, now=now)

    def release_trial(self, capability: str, owner: str) -> None:
        """Give up a trial lease through `inner` (see `Store.release_trial`)."""
        self.inner.release_trial(capability, owner)

    def trial_leases(self) -> dict[str, TrialLease]:
        """Return the trial leases `inner` keeps (see `Store.trial_leases`)."""
        return self.inner.trial_leases()

    def put_signal(self, signal: Signal) -> None:
        """Keep a signal through `inner` (see `Store.put_signal`)."""
        self.inner.put_signal(signal)

    def signals(self, *, run_ids: Sequence[str]) -> list[Signal]:
        """Return the signals `inner` keeps for `run_ids`."""
        return self.inner.signals(run_ids=run_ids)

    def put_revision(self, *, digest: str, kind: str, content: Any) -> None:
        """Store a revision (not fenced: content by digest is the same whoever writes it)."""
        self.inner.put_revision(digest=digest, kind=kind, content=content)

    def get_revision(self, *, digest: str) -> Any:
        """Return the revision stored under `digest`."""
        return self.inner.get_revision(digest=digest)

    def registry_head(self) -> RegistryHead | None:
        """Return the registry's newest revision (not fenced: the registry belongs to no run)."""
        return self.inner.registry_head()

    def registry_snapshot(self, *, number: int | None = None) -> RegistrySnapshot | None:
        """Return a registry revision with its declarations."""
        return self.inner.registry_snapshot(number=number)

    def commit_registry(self, changes: Sequence[RegistryChange], *, expect: int | None = None) -> RegistryHead:
        """Write the next registry revision (see `Store.commit_registry`)."""
        return self.inner.commit_registry(changes, expect=expect)

    def get_run(self, *, run_id: str) -> RunInfo:
        """Return the run row (see `Store.get_run`)."""
        return self.inner.get_run(run_id=run_id)

    def count_runs(self) -> dict[str, int]:
        """Return how many runs are in each status (see `Store.count_runs`)."""
        return self.inner.count_runs()

    def list_runs(
        self, *, status: str | None = None, limit: int | None = None, intent: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[RunInfo]:
        """Return runs newest first (see `Store.list_runs`)."""
        return self.inner.list_runs(status=status, limit=limit, intent=intent, before=before)

    def events(self, *, run_id: str, kinds: Sequence[str] | None = None) -> list[Event]:
        """Return the run's events (see `Store.events`)."""
        return self.inner.events(run_id=run_id, kinds=kinds)

    def claim(
        self, owner: str, *, lease_s: float, limit: int = 1, run_id: str | None = None,
        now: float | None = None, steal_from: Sequence[str] = (),
    ) -> list[Lease]:
        """Claim through `inner` (see `Store.claim`)."""
        return self.inner.claim(
            owner, lease_s=lease_s, limit=limit, run_id=run_id, now=now, steal_from=steal_from
        )

    def look_runs(self, run_ids: Sequence[str]) -> dict[str, tuple[RunInfo, bool]]:
        """Read runs' rows through `inner` (see `Store.look_runs`)."""
        return self.inner.look_runs(run_ids)

    def renew(self, leases: Sequence[Lease], *, until: float) -> list[str]:
        """Renew through `inner` (see `Store.renew`)."""
        return self.inner.renew(leases, until=until)

    def release(self, leases: Sequence[Lease]) -> None:
        """Release through `inner` (see `Store.release`)."""
        self.inner.release(leases)

    def leases(self, *, run_ids: Sequence[str] | None = None, live_at: float | None = None) -> list[Lease]:
        """Return the leases `inner` holds (see `Store.leases`)."""
        return self.inner.leases(run_ids=run_ids, live_at=live_at)

    def close(self) -> None:
        """Release what is still held, then close `inner`."""
        try:
            if self.held:
                self.release_held()
        finally:
            self.inner.close()
