"""The doors an engine uses when given none: http, python and sim, their prober and fact reader.

`default_doors` builds them (one shared HTTP client); `DoorProber` probes by a
probe's door and `DoorFactReader` reads http and python observers. Called by
`ido.engine.engine.Engine`; the simulator gives its own world instead.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ido.engine.doors.http import HttpExecutor, HttpProber
from ido.engine.doors.payloads import flatten
from ido.engine.doors.python import PythonExecutor, PythonProber, Resolver
from ido.engine.doors.sim import SimExecutor
from ido.errors import ExecutionError
from ido.model import Capability, Observer, Scalar
from ido.secrets import resolve

if TYPE_CHECKING:  # httpx is imported where a call is made: `import ido` and the CLI stay light
    import httpx


class DoorProber:
    """Probes by the probe's door (http or python); `supports` says which it can probe."""

    def __init__(self, http: HttpProber, python: PythonProber | None) -> None:
        self._http = http
        self._python = python

    def supports(self, capability: Capability) -> bool:
        """Return whether this prober can probe the capability (sim probes need a simulated world)."""
        probe = capability.probe
        if probe is None:
            return False
        return probe.http is not None or (probe.python is not None and self._python is not None)

    async def probe(self, capability: Capability) -> bool:
        """Return whether the capability's probe says up."""
        probe = capability.probe
        if probe is not None and probe.python is not None and self._python is not None:
            return await self._python.probe(capability)
        return await self._http.probe(capability)


class DoorFactReader:
    """Reads observers: an HTTP GET returning JSON, or a Python callable returning a mapping.

    Nested JSON is flattened to dotted facts; only the facts the observer
    declares are returned.
    """

    def __init__(self, client: httpx.AsyncClient | None, resolve: Resolver | None) -> None:
        self._client = client
        self._resolve = resolve

    async def observe(self, observer: Observer) -> dict[str, Scalar]:
        """Return the declared facts the observer reports now; raises ExecutionError if it cannot."""
        import httpx

        try:
            if observer.http is not None:
                if self._client is None:
                    self._client = httpx.AsyncClient(trust_env=False)
                response = await asyncio.wait_for(
                    self._client.get(resolve(observer.http, capability=observer.name),
                                     timeout=httpx.Timeout(observer.timeout)),
                    observer.timeout,
                )
                response.raise_for_status()
                payload = response.json()
            elif observer.python is not None and self._resolve is not None:
                fn = self._resolve(observer.python)
                if inspect.iscoroutinefunction(fn):
                    payload = await asyncio.wait_for(fn(), observer.timeout)
                else:
                    payload = await asyncio.wait_for(asyncio.to_thread(fn), observer.timeout)
            else:
                raise ExecutionError(
                    f"observer {observer.name}: a sim observer needs the simulated world",
                    kind="rejected",
                )
        except ExecutionError:
            raise
        except Exception as exc:
            raise ExecutionError(
                f"observer {observer.name} could not be read: {type(exc).__name__}", kind="connection"
            ) from None
        if not isinstance(payload, Mapping):
            raise ExecutionError(
                f"observer {observer.name} returned {type(payload).__name__}, not a JSON object",
                kind="client",
            )
        facts = flatten(payload)
        wanted = set(observer.facts)
        return {k: v for k, v in facts.items() if k in wanted}


def default_doors(
    resolve: Resolver | None, rng: random.Random | None = None,
    client: httpx.AsyncClient | None = None,
) -> tuple[dict[str, Any], DoorProber, DoorFactReader]:
    """Return (executors by door, prober, fact reader) for real HTTP and Python and a local sim.

    Called by `Engine` when the caller gives none; the HTTP parts share one client.
    """
    http = HttpExecutor(client)
    shared = http.client
    python = PythonExecutor(resolve) if resolve is not None else None
    executors: dict[str, Any] = {"http": http, "sim": SimExecutor(rng)}
    if python is not None:
        executors["python"] = python
    prober = DoorProber(HttpProber(shared), PythonProber(resolve) if resolve is not None else None)
    return executors, prober, DoorFactReader(shared, resolve)
