"""The http door: capabilities called over HTTP, and probes of health URLs.

`HttpExecutor` implements `ido.engine.doors.Executor` for `invoke: {http: ...}`
(request templates filled from the call's inputs and facts by `fill`, the
idempotency key sent as a header, the answer's reported facts and price read
by `ido.engine.doors.payloads`); `HttpProber` implements `Prober` for
`probe: {http: URL}`. Failures are raised as `ExecutionError` classified by
`kind` (client, server, timeout, connection). Secrets (headers) are sent but
never put in messages; query strings are left out of them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ido.engine.doors import Call, Result
from ido.engine.doors.payloads import price, reported_facts
from ido.errors import ExecutionError
from ido.model import Capability
from ido.secrets import resolve, resolve_all

if TYPE_CHECKING:  # httpx is imported where a call is made: `import ido` and the CLI stay light
    import httpx

_PLACEHOLDER = re.compile(r"\{(inputs|facts)\.([A-Za-z0-9_.\-]+)\}")


def fill(template: Any, call: Call) -> Any:
    """Return `template` with `{inputs.X}` / `{facts.X}` placeholders filled from the call.

    A string that is exactly one placeholder keeps the value's type; otherwise
    placeholders are formatted into the string. Raises ExecutionError(kind="rejected")
    naming a placeholder that has no value.
    """
    if isinstance(template, Mapping):
        return {k: fill(v, call) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, call) for v in template]
    if not isinstance(template, str) or "{" not in template:
        return template

    def lookup(source: str, name: str) -> Any:
        values = call.inputs if source == "inputs" else call.facts
        if name not in values:
            raise ExecutionError(
                f"{call.capability.name}: placeholder {{{source}.{name}}} has no value; "
                f"known {source}: {', '.join(sorted(values)) or 'none'}",
                kind="rejected",
                capability=call.capability.name,
            )
        return values[name]

    whole = _PLACEHOLDER.fullmatch(template)
    if whole:
        return lookup(whole.group(1), whole.group(2))
    return _PLACEHOLDER.sub(lambda m: _text(lookup(m.group(1), m.group(2))), template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HttpExecutor:
    """Executes `invoke: {http: ...}` capabilities through one shared httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client
        self._owns = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        """Return the shared client, creating it on first use."""
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(trust_env=False)
        return self._client

    async def execute(self, call: Call) -> Result:
        """Return what the endpoint reported; raises ExecutionError classified by kind."""
        cap = call.capability
        spec = cap.invoke.http
        if spec is None:
            raise ExecutionError(f"{cap.name} has no http door", kind="rejected", capability=cap.name)
        # ${env:NAME} references are resolved here, per call, and nowhere else (ido.secrets)
        headers = {**resolve_all(spec.headers, capability=cap.name), "Idempotency-Key": call.idempotency_key}
        body = _resolved(fill(spec.json_body, call), cap.name) if spec.json_body is not None else None
        shown_url = fill(spec.url, call)  # messages show the reference, never its value
        url = resolve(shown_url, capability=cap.name)
        import httpx

        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await asyncio.wait_for(
                self.client.request(
                    spec.method, url, json=body, headers=headers,
                    timeout=httpx.Timeout(call.timeout),
                ),
                call.timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # no connection, so no request: the call cannot have acted (its key is not in doubt)
            raise ExecutionError(
                f"{cap.name}: cannot reach {spec.method} {_origin(shown_url)}: {type(exc).__name__}",
                kind="unreachable", capability=cap.name,
            ) from None
        except (httpx.TimeoutException, TimeoutError):
            raise ExecutionError(
                f"{cap.name}: no answer within {call.timeout:g}s", kind="timeout", capability=cap.name
            ) from None
        except httpx.TransportError as exc:
            raise ExecutionError(
                f"{cap.name}: cannot reach {spec.method} {_origin(shown_url)}: {type(exc).__name__}",
                kind="connection", capability=cap.name,
            ) from None
        latency = loop.time() - started
        status = response.status_code
        if status >= 400:
            raise ExecutionError(
                f"{cap.name}: {spec.method} {_origin(shown_url)} answered {status}",
                kind="server" if status >= 500 else "client", capability=cap.name, status=status,
            )
        payload: Any = {}
        if response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = {}
        facts = reported_facts(cap, payload)
        cost = price(payload.get("cost") if isinstance(payload, Mapping) else None)
        if cost is None:
            cost = price(response.headers.get("X-Cost"))
        return Result(facts=facts, cost=cost, latency_s=latency, detail={"status": status})

    async def aclose(self) -> None:
        """Close the client if this executor created it."""
        if self._owns and self._client is not None:
            await self._client.aclose()
            self._client = None


def _resolved(body: Any, capability: str) -> Any:
    """Return a filled JSON body with `${env:NAME}` references in its strings resolved."""
    if isinstance(body, Mapping):
        return {k: _resolved(v, capability) for k, v in body.items()}
    if isinstance(body, list):
        return [_resolved(v, capability) for v in body]
    return resolve(body, capability=capability) if isinstance(body, str) else body


def _origin(url: str) -> str:
    # Query strings may carry tokens; messages show scheme, host and path only.
    return url.split("?", 1)[0]


class HttpProber:
    """Probes `probe: {http: URL}`: a 2xx answer within the probe's timeout means up."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client

    async def probe(self, capability: Capability) -> bool:
        """Return whether the capability's health URL answers 2xx in time."""
        probe = capability.probe
        if probe is None or probe.http is None:
            return False
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False)
        try:
            url = resolve(probe.http, capability=capability.name)
            response = await asyncio.wait_for(
                self._client.get(url, timeout=httpx.Timeout(probe.timeout)), probe.timeout
            )
        except (httpx.HTTPError, TimeoutError, ExecutionError):
            return False
        return 200 <= response.status_code < 300
