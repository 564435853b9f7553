"""The python door: capabilities called as Python callables, and probes that are callables.

`PythonExecutor` implements `ido.engine.doors.Executor` for
`invoke: {python: "module:function"}`: the callable gets the inputs it names
and a `CallContext` if it accepts one, async natively or sync in a worker
thread, within the call's timeout; `PythonProber` implements `Prober` for
`probe: {python: target}`. Targets are resolved by the workspace's resolver.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ido.engine.context import CallContext
from ido.engine.doors import Call, Result
from ido.engine.doors.payloads import flatten, price, reported_facts
from ido.errors import ExecutionError, ReferenceError_
from ido.model import Capability, Scalar

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
        cost = price(value.get("cost"))
        facts = {k: v for k, v in flatten(value).items() if k != "cost"}
        facts.update(reported_facts(cap, value))
        return Result(facts=facts, cost=cost, latency_s=latency)


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
