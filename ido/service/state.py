"""What every endpoint works on: the workspace, the journal, the guard, and the service's limits.

`Service` is built once by `ido serve` (or a test) and handed to
`create_app`; endpoints reach it with the `service` dependency. The journal
is opened on first use and closed by `close()` at shutdown.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from ido.journal import Store, open_store
from ido.service.auth import SESSION_COOKIE, Denied, Guard, Scope
from ido.service.errors import ApiError

#: Largest request body accepted (bytes); larger ones get 413.
MAX_BODY_BYTES = 1 << 20
#: Most simulated runs (per strategy) one `POST /simulations` may ask for.
MAX_SIMULATED_RUNS = 500
#: Most runs one page of `GET /runs` returns.
MAX_PAGE = 500


class Cache:
    """A small thread-safe LRU of encoded answers about finished runs (whose journal no longer changes).

    Keyed by (what, run id): a finished run's status is final and its journal
    is never appended to again, so its answer is built once and served as
    bytes, without reading the journal. Only answers of finished runs, under
    their full run id, are put here (see `ido.service.runs`).
    """

    def __init__(self, size: int = 256, max_bytes: int = 64 << 20) -> None:
        self.size = size
        #: most bytes of answers kept at once: a long run's explanation can be megabytes
        self.max_bytes = max_bytes
        self.kept_bytes = 0
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        """Return the cached answer under `key`, or None."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: bytes) -> None:
        """Keep `value` under `key`, dropping the least recently used beyond `size` entries or `max_bytes`.

        An answer larger than `max_bytes` alone is not kept (it is built again when asked for).
        """
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.kept_bytes -= len(old)
            if len(value) > self.max_bytes:
                return
            self._items[key] = value
            self.kept_bytes += len(value)
            while len(self._items) > self.size or self.kept_bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.kept_bytes -= len(dropped)


@dataclass
class Service:
    """The state the API serves from; see the module docstring."""

    workspace: Any
    workspace_root: Path
    store_url: str
    guard: Guard
    max_body_bytes: int = MAX_BODY_BYTES
    _store: Store | None = None
    #: the store's registry as a workspace (`ido.registry.LiveRegistry`), made on first use
    _registry: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: serialises submits carrying an Idempotency-Key, so a retry racing its original finds it
    submit_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: encoded answers (decisions, why-not) of finished runs, built once
    finished: Cache = field(default_factory=Cache)
    #: encoded answers of runs in flight, under the run's row as it was (see `ido.service.runs`)
    live: Cache = field(default_factory=Cache)
    #: one simulation at a time: they are CPU-bound and the service shares its cores
    simulation_slot: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(1))

    @property
    def store(self) -> Store:
        """Return the journal, opening it on first use."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.store_url)
            return self._store

    def registry(self) -> Any:
        """Return the live view of the store's registry (`ido.registry.LiveRegistry`).

        Made on first use; a store that holds no registry yet is seeded with
        `workspace` (what `ido serve --workspace` loaded) as revision 1. Every
        endpoint reads declarations through it (`declarations()`), and workers
        of any process on the same store follow the same revisions.
        """
        store = self.store
        with self._lock:
            if self._registry is None:
                from ido.registry import LiveRegistry, seed

                if store.registry_head() is None:
                    seed(store, self.workspace)  # another service seeding at once is fine: one wins
                self._registry = LiveRegistry(store, self.workspace)
            return self._registry

    def declarations(self) -> Any:
        """Return the workspace of the registry's newest revision (checked at most every 100 ms)."""
        return self.registry().workspace()

    async def opened(self) -> Store:
        """Return the journal from the event loop: opened on a pool thread the first time (it may connect)."""
        if self._store is not None:
            return self._store
        return await asyncio.to_thread(lambda: self.store)

    @property
    def is_open(self) -> bool:
        """Return whether the journal is open (it opens on first use and closes at shutdown)."""
        return self._store is not None

    def close(self) -> None:
        """Close the journal if it was opened."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


async def get_service(request: Request) -> Service:
    """Return the app's `Service` (a FastAPI dependency; async, so it costs no thread hop)."""
    service: Service = request.app.state.service
    return service


#: Declares the bearer scheme in OpenAPI (the docs page's Authorize button); the Guard decides.
bearer = HTTPBearer(auto_error=False, description="A token of `ido serve --token-file`.")


def refusal(service: Service, needed: Scope, connection: HTTPConnection) -> Denied | None:
    """Return why the guard refuses `connection` the scope `needed`, or None; the one place requests are judged.

    Called by the `require` dependency and by `ido.service.kept` (answers served before routing).
    """
    return service.guard.check(
        needed, client=connection.client.host if connection.client else None,
        authorization=connection.headers.get("authorization"),
        cookie=connection.cookies.get(SESSION_COOKIE), origin=connection.headers.get("origin"),
        host=connection.headers.get("host"),
    )


def require(needed: Scope) -> Any:
    """Return a dependency refusing requests whose credentials do not reach `needed` (401/403)."""

    async def check(request: Request,
                    _creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> None:
        # async: pure CPU in microseconds, so it runs on the loop rather than a pool thread
        denied = refusal(request.app.state.service, needed, request)
        if denied is not None:
            headers = {"WWW-Authenticate": "Bearer"} if denied.status == 401 else None
            raise ApiError(denied.status, "unauthorized" if denied.status == 401 else "forbidden",
                           denied.message, headers=headers)

    return Depends(check)


ServiceDep = Annotated[Service, Depends(get_service)]
