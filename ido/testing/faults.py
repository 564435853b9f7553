"""The scenario's faults on real HTTP: `FaultTransport`, an httpx transport wrapper.

Wrap the transport of the `httpx.AsyncClient` an engine uses, and every
request to a capability's URL (or probe URL) is degraded by the faults in
force, exactly as the simulated world degrades simulated calls (both fold
faults with `ido.simulation.faults.FaultSchedule`):

    transport = FaultTransport(
        httpx.AsyncHTTPTransport(),
        faults=[Down(target="payment.stripe-eu", kind="down", at=0, for_=30)],
        capabilities=workspace.capabilities,        # URLs -> capability, from invoke/probe
    )
    client = httpx.AsyncClient(transport=transport)

A request is matched to a capability by the request extension
`"ido.capability"` (a name) if present, else by the longest URL prefix among
the capabilities' `invoke.http.url` and `probe.http` (or an explicit
`urls={prefix: name}` mapping). Requests to no capability pass through.

What each fault does to a request: `down` / `flap` (down phase) raise
`httpx.ConnectError` without sending; `hang` waits for the request's read
timeout and raises `httpx.ReadTimeout` (or waits until cancelled); `quota`
answers 429 beyond its allowance; `api_change` answers its status without
sending; `error_rate` / `slow_degrade` / `lying_probe` answer 503 with their
probability without sending (so no side effect happens); `latency` delays the
real answer (and times out past the read timeout); `cost` rewrites the
answer's `cost` field and `X-Cost` header. A probe request (GET to a probe
URL) sees `lying_probe` as a healthy 200. Every degraded answer carries an
`X-Ido-Faults` header naming the faults. Time comes from `clock` (the running
loop's by default) counted from `start` (the first request by default).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from ido.clock import Clock
from ido.model import Capability
from ido.simulation.faults import FaultEffect, FaultSchedule
from ido.simulation.world import lognormal_factor

EXTENSION = "ido.capability"


class FaultTransport(httpx.AsyncBaseTransport):
    """An httpx transport that injects a scenario's faults into the requests it forwards."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        faults: Sequence[Any] | FaultSchedule = (),
        clock: Clock | None = None,
        rng: random.Random | int | None = None,
        *,
        capabilities: Iterable[Capability] = (),
        urls: Mapping[str, str] | None = None,
        start: float | None = None,
    ) -> None:
        self.inner = inner
        self.schedule = faults if isinstance(faults, FaultSchedule) else FaultSchedule(faults)
        self.clock = clock or Clock()
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        self.start = start
        self.capabilities = {c.name: c for c in capabilities}
        self._calls: dict[str, str] = {}
        self._probes: dict[str, str] = {}
        for cap in self.capabilities.values():
            if cap.invoke.http is not None:
                self._calls[cap.invoke.http.url.split("{", 1)[0]] = cap.name
            if cap.probe is not None and cap.probe.http is not None:
                self._probes[cap.probe.http] = cap.name
        self._calls.update(urls or {})
        #: (capability, labels) of every request a fault touched, in order.
        self.touched: list[tuple[str, tuple[str, ...]]] = []

    def scenario_time(self, now: float | None = None) -> float:
        """Return seconds since `start` (fixed at the first request when not given)."""
        now = self.clock.now() if now is None else now
        if self.start is None:
            self.start = now
        return now - self.start

    def active_faults(self, capability: str, now: float | None = None) -> list[str]:
        """Return labels of the faults in force on `capability` (for decision records)."""
        return list(self._effect(capability, self.scenario_time(now)).labels)

    def _effect(self, name: str, t: float) -> FaultEffect:
        cap = self.capabilities.get(name)
        if cap is None:
            return self.schedule.effect(name, t)
        return self.schedule.effect(name, t, provides=cap.provides, tags=cap.tags)

    def _match(self, request: httpx.Request) -> tuple[str | None, bool]:
        named = request.extensions.get(EXTENSION)
        url = str(request.url)
        if request.method == "GET":
            for probe_url, name in self._probes.items():
                if url == probe_url or url.split("?", 1)[0] == probe_url:
                    return (named or name), True
        if named:
            return str(named), False
        best = max((p for p in self._calls if url.startswith(p)), key=len, default=None)
        return (self._calls[best] if best is not None else None), False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Return the (possibly degraded) response to `request`; raise httpx errors for down/hang."""
        name, is_probe = self._match(request)
        if name is None:
            return await self.inner.handle_async_request(request)
        t = self.scenario_time()
        effect = self._effect(name, t)
        if not effect.labels:
            return await self.inner.handle_async_request(request)
        self.touched.append((name, effect.labels))
        note = "; ".join(effect.labels)
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        if effect.down:
            raise httpx.ConnectError(f"connection refused (injected: {note})", request=request)
        if effect.hang:
            if read_timeout is None:
                await asyncio.get_running_loop().create_future()  # until the caller gives up
            else:
                await asyncio.sleep(float(read_timeout))
            raise httpx.ReadTimeout(f"no answer (injected: {note})", request=request)
        if is_probe:
            if effect.probe_lies or self.rng.random() >= effect.probe_down_p:
                return _answer(200, {"status": "up"}, note, request)
            return _answer(503, {"status": "down"}, note, request)
        if effect.quotas and not self.schedule.admit(effect.quotas, t):
            return _answer(429, {"error": "throttled: quota exhausted"}, note, request)
        if effect.client_status is not None:
            return _answer(effect.client_status, {"error": "the API changed"}, note, request)
        if effect.error_p > 0 and self.rng.random() < effect.error_p:
            return _answer(503, {"error": "injected server error"}, note, request)
        started = self.clock.now()
        response = await self.inner.handle_async_request(request)
        await self._delay(effect, self.clock.now() - started, read_timeout, request, note)
        return await self._reprice(response, effect, name, note, request)

    async def _delay(
        self, effect: FaultEffect, took: float, read_timeout: Any, request: httpx.Request, note: str
    ) -> None:
        if effect.latency_multiply == 1.0 and effect.latency_add == 0.0:
            return
        factor = lognormal_factor(effect.latency_jitter, self.rng.gauss(0.0, 1.0))
        extra = max(0.0, effect.latency(took, factor) - took)
        if read_timeout is not None and took + extra > float(read_timeout):
            await asyncio.sleep(max(0.0, float(read_timeout) - took))
            raise httpx.ReadTimeout(f"answer too slow (injected: {note})", request=request)
        await asyncio.sleep(extra)

    async def _reprice(
        self, response: httpx.Response, effect: FaultEffect, name: str, note: str,
        request: httpx.Request,
    ) -> httpx.Response:
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"]
        headers.append(("X-Ido-Faults", note))
        content = await response.aread()
        await response.aclose()
        if effect.prices:
            payload: Any = None
            try:
                payload = json.loads(content) if content else None
            except ValueError:
                payload = None
            declared = self.capabilities[name].cost if name in self.capabilities else 0.0
            if isinstance(payload, dict) and isinstance(payload.get("cost"), int | float):
                declared = float(payload["cost"])
            price = effect.cost(declared)
            if isinstance(payload, dict):
                payload["cost"] = price
                content = json.dumps(payload).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "x-cost"] + [("X-Cost", f"{price:g}")]
        return httpx.Response(
            response.status_code, headers=headers, content=content,
            request=request, extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()


def _answer(status: int, body: dict[str, Any], note: str, request: httpx.Request) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"X-Ido-Faults": note}, request=request)
