"""The real doors: execute capabilities over HTTP, as Python callables, or in simulation.

`HttpExecutor`, `PythonExecutor` and `SimExecutor` implement `doors.Executor`;
`HttpProber`, `PythonProber` and `DoorProber` implement `doors.Prober`;
`DoorFactReader` implements `doors.FactReader` for http and python observers.
The engine builds the default set (`default_doors`) when none is given; the
simulator replaces them with its world. Failures are raised as
`ExecutionError` classified by `kind` so health and decisions can tell a bad
request (client) from an outage (server, timeout, connection) or a bug (crash).
Secrets (HTTP headers, secret inputs) are sent but never put in messages.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ido.engine.context import CallContext
from ido.engine.doors import Call, Result
from ido.errors import ExecutionError, ReferenceError_
from ido.model import Capability, Observer, Scalar
from ido.secrets import resolve, resolve_all

if TYPE_CHECKING:  # httpx is imported where a call is made: `import ido` and the CLI stay light
    import httpx

_PLACEHOLDER = re.compile(r"\{(inputs|facts)\.([A-Za-z0-9_.\-]+)\}")


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Return nested JSON objects as dotted facts (`{"a": {"b": 1}}` -> `{"a.b": 1}`).

    Lists and nulls are dropped: a fact's value is a JSON scalar.
    """
    out: dict[str, Scalar] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out


def dotted(data: Any, path: str) -> tuple[bool, Any]:
    """Return (found, value) for a dotted `path` in nested mappings; the whole key wins first."""
    if isinstance(data, Mapping) and path in data:
        return True, data[path]
    current = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def reported_facts(capability: Capability, payload: Any) -> dict[str, Scalar]:
    """Return the facts `capability.reports` maps from a response or returned mapping."""
    facts: dict[str, Scalar] = {}
    for fact, path in capability.reports.items():
        found, value = dotted(payload, path)
        if found and isinstance(value, bool | int | float | str):
            facts[fact] = value
    return facts


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
        cost = _cost(payload.get("cost") if isinstance(payload, Mapping) else None)
        if cost is None:
            cost = _cost(response.headers.get("X-Cost"))
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


def _cost(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


Resolver = Callable[[str], Callable[..., Any]]


class _Signature:
    """How to call one Python target: which parameters take inputs, which the context."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.is_async = inspect.iscoroutinefunction(fn)
        self.context_param: str | None = None
        self.names: set[str] = set()
        self.var_kw = False
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            params = []  # type: ignore[assignment]
        for p in params:
            annotation = p.annotation
            if (
                p.name in ("ctx", "context")
                or annotation is CallContext
                or annotation in ("CallContext", "ido.engine.context.CallContext")
            ):
                self.context_param = p.name
            elif p.kind is inspect.Parameter.VAR_KEYWORD:
                self.var_kw = True
            elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
                self.names.add(p.name)

    def arguments(self, inputs: Mapping[str, Scalar], ctx: CallContext) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            k: v for k, v in inputs.items() if self.var_kw or k in self.names
        }
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        return kwargs


async def call_python(
    fn: Callable[..., Any], sig: _Signature, inputs: Mapping[str, Scalar], ctx: CallContext,
    timeout: float,
) -> Any:
    """Return what `fn` returned: async natively, sync in a worker thread, within `timeout`."""
    kwargs = sig.arguments(inputs, ctx)
    if sig.is_async:
        awaitable: Awaitable[Any] = fn(**kwargs)
    else:
        awaitable = asyncio.to_thread(fn, **kwargs)
    return await asyncio.wait_for(awaitable, timeout)


class PythonExecutor:
    """Executes `invoke: {python: "module:function"}` capabilities.

    The callable gets the inputs it names as keyword arguments and a
    `CallContext` if it accepts one; it returns a mapping of facts (nested
    mappings become dotted facts, a `cost` key is the price charged) or None.
    """

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve
        self._cache: dict[str, tuple[Callable[..., Any], _Signature]] = {}

    def _target(self, target: str) -> tuple[Callable[..., Any], _Signature]:
        hit = self._cache.get(target)
        if hit is None:
            try:
                fn = self._resolve(target)
            except ReferenceError_ as exc:
                # not importable, or refused by IDO_PYTHON_ALLOW (ido.trust): refused before any call
                raise ExecutionError(str(exc), kind="rejected") from None
            hit = (fn, _Signature(fn))
            self._cache[target] = hit
        return hit

    async def execute(self, call: Call) -> Result:
        """Return the facts the callable returned; raises ExecutionError (crash, timeout)."""
        cap = call.capability
        target = cap.invoke.python
        if target is None:
            raise ExecutionError(f"{cap.name} has no python door", kind="rejected", capability=cap.name)
        fn, sig = self._target(target)
        ctx = CallContext(
            run_id=call.run_id, step=call.step, attempt=call.attempt, inputs=call.inputs,
            facts=call.facts, idempotency_key=call.idempotency_key, capability=cap.name,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            value = await call_python(fn, sig, call.inputs, ctx, call.timeout)
        except ExecutionError:
            raise
        except TimeoutError:
            raise ExecutionError(
                f"{cap.name}: {target} did not return within {call.timeout:g}s",
                kind="timeout", capability=cap.name,
            ) from None
        except Exception as exc:
            raise ExecutionError(
                f"{cap.name}: {target} raised {type(exc).__name__}: {exc}",
                kind="crash", capability=cap.name,
            ) from exc
        latency = loop.time() - started
        if value is None:
            return Result(latency_s=latency)
        if not isinstance(value, Mapping):
            raise ExecutionError(
                f"{cap.name}: {target} returned {type(value).__name__}; return a mapping of "
                "facts (or None)", kind="crash", capability=cap.name,
            )
        cost = _cost(value.get("cost"))
        facts = {k: v for k, v in flatten(value).items() if k != "cost"}
        facts.update(reported_facts(cap, value))
        return Result(facts=facts, cost=cost, latency_s=latency)


class SimExecutor:
    """Executes any capability as a simulation: reliability and a lognormal latency.

    The latency's median is the declared latency and its log-spread the sim
    door's `latency_jitter` (0.25 for http/python doors). Deterministic given
    `rng` and the order of calls. Only `asyncio.sleep` is used, so it runs on
    the simulator's virtual clock.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random(0)

    async def execute(self, call: Call) -> Result:
        """Return the declared effects' success after a sampled latency; or raise a failure."""
        cap = call.capability
        jitter = cap.invoke.sim.latency_jitter if cap.invoke.sim is not None else 0.25
        latency = cap.latency * math.exp(self._rng.gauss(0.0, jitter)) if cap.latency > 0 else 0.0
        ok = self._rng.random() < cap.reliability
        if latency > call.timeout:
            await asyncio.sleep(call.timeout)
            raise ExecutionError(
                f"{cap.name}: no answer within {call.timeout:g}s (simulated)",
                kind="timeout", capability=cap.name,
            )
        await asyncio.sleep(latency)
        if not ok:
            raise ExecutionError(
                f"{cap.name}: simulated failure (reliability {cap.reliability:g})",
                kind="server", capability=cap.name, status=503,
            )
        return Result(cost=None, latency_s=latency)


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


class PythonProber:
    """Probes `probe: {python: target}`: the callable's truthy answer within the timeout means up."""

    def __init__(self, resolve: Resolver) -> None:
        self._resolve = resolve

    async def probe(self, capability: Capability) -> bool:
        """Return whether the probe callable answered truthy in time (False if it raised)."""
        probe = capability.probe
        if probe is None or probe.python is None:
            return False
        fn = self._resolve(probe.python)
        try:
            if inspect.iscoroutinefunction(fn):
                value = await asyncio.wait_for(fn(), probe.timeout)
            else:
                value = await asyncio.wait_for(asyncio.to_thread(fn), probe.timeout)
        except Exception:
            return False
        return bool(value)


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
