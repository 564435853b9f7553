"""The doors: HTTP against a real local server, Python callables, and the seeded simulation."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import httpx
import pytest
from engine_helpers import PAY, http_capability

from ido.engine import CallContext, HttpExecutor, HttpProber, PythonExecutor, SimExecutor
from ido.engine.doors import Call
from ido.engine.doors.defaults import DoorFactReader
from ido.engine.doors.http import fill
from ido.engine.doors.payloads import flatten
from ido.errors import ExecutionError
from ido.model import Capability, Observer
from ido.testing.services import ServiceServer


def _call(cap: Capability, key: str = "run-1:cap:1", timeout: float = 0.5, **inputs: Any) -> Call:
    return Call(capability=cap, run_id="run-1", step=1, attempt=1, idempotency_key=key,
                inputs=inputs or {"order_id": "o-1"}, facts={"order.total": 12.5}, timeout=timeout)


async def test_http_sends_the_key_fills_the_body_and_maps_reports(server: ServiceServer) -> None:
    """The request carries the Idempotency-Key and filled placeholders; reports and cost come back."""
    cap = http_capability(server, "charge", cost=0.3, reports={"payment.id": "id"},
                          json={"order": "{inputs.order_id}", "total": "{facts.order.total}", "note": "o={inputs.order_id}"},
                          **PAY)
    executor = HttpExecutor()
    result = await executor.execute(_call(cap, key="k-1"))
    await executor.aclose()
    request = server.requests("charge")[0]
    assert request.idempotency_key == "k-1"
    assert request.body == {"order": "o-1", "total": 12.5, "note": "o=o-1"}
    assert result.facts == {"payment.id": "charge-1"}
    assert result.cost == 0.3


@pytest.mark.parametrize(("setting", "kind", "status"), [
    ({"status": 503}, "server", 503),
    ({"status": 422}, "client", 422),
    ({"hang": True}, "timeout", None),
])
async def test_http_failures_are_classified(server: ServiceServer, setting: dict[str, Any], kind: str,
                                            status: int | None) -> None:
    """5xx is a server failure, 4xx a client failure, no answer in time a timeout."""
    cap = http_capability(server, "charge", **PAY)
    server.set("charge", **setting)
    executor = HttpExecutor()
    # a short timeout only where no answer comes: a loaded machine may take longer than 0.1 s to answer
    with pytest.raises(ExecutionError) as caught:
        await executor.execute(_call(cap, timeout=0.1 if kind == "timeout" else 10.0))
    await executor.aclose()
    assert caught.value.kind == kind
    assert caught.value.status == status


async def test_http_refused_connection_is_unreachable() -> None:
    """A port nobody listens on gives kind=unreachable (nothing was sent, so the call did not act,
    unlike a connection lost mid-call), and the message holds no header."""
    with ServiceServer() as s:
        url = s.url_for("gone")
    cap = Capability.model_validate({"name": "gone", "invoke": {"http": {"url": url, "headers": {"Authorization": "Bearer secret-token"}}}, **PAY})
    executor = HttpExecutor()
    with pytest.raises(ExecutionError) as caught:
        await executor.execute(_call(cap))
    await executor.aclose()
    assert caught.value.kind == "unreachable"
    assert "secret-token" not in str(caught.value)


async def test_http_cost_header_is_the_actual_price(server: ServiceServer) -> None:
    """An X-Cost header reports the price when the JSON body does not."""
    cap = http_capability(server, "charge", **PAY)
    server.set("charge", cost=0.75, response={})
    executor = HttpExecutor(httpx.AsyncClient())
    result = await executor.execute(_call(cap))
    await executor.client.aclose()
    assert result.cost == 0.75


async def test_python_sync_callable_runs_in_a_thread_with_its_context() -> None:
    """A sync callable runs off the event loop thread and receives inputs and a CallContext."""
    seen: dict[str, Any] = {}

    def charge(order_id: str, ctx: CallContext) -> dict[str, Any]:
        seen["thread"] = threading.current_thread() is threading.main_thread()
        seen["key"] = ctx.idempotency_key
        return {"payment": {"id": f"p-{order_id}"}, "cost": 0.2}

    cap = Capability.model_validate({"name": "charge", "invoke": {"python": "m:charge"}, **PAY})
    result = await PythonExecutor(lambda target: charge).execute(_call(cap, key="k-9"))
    assert seen == {"thread": False, "key": "k-9"}
    assert result.facts == {"payment.id": "p-o-1"}
    assert result.cost == 0.2


async def test_python_async_callable_and_crash() -> None:
    """An async callable is awaited natively; an exception becomes kind=crash."""
    async def ok(order_id: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"done": True}

    async def boom() -> None:
        raise RuntimeError("card declined")

    cap = Capability.model_validate({"name": "charge", "invoke": {"python": "m:f"}, **PAY})
    assert (await PythonExecutor(lambda t: ok).execute(_call(cap))).facts == {"done": True}
    with pytest.raises(ExecutionError) as caught:
        await PythonExecutor(lambda t: boom).execute(_call(cap))
    assert caught.value.kind == "crash"
    assert "card declined" in str(caught.value)


async def test_sim_executor_is_deterministic_given_its_rng() -> None:
    """Two SimExecutors with equal seeds succeed and fail on the same calls."""
    cap = Capability.model_validate({"name": "flaky", "reliability": 0.5, "latency": 0.001, **PAY})

    async def outcomes(seed: int) -> list[bool]:
        executor = SimExecutor(random.Random(seed))
        out = []
        for _ in range(20):
            try:
                await executor.execute(_call(cap))
                out.append(True)
            except ExecutionError:
                out.append(False)
        return out

    first = await outcomes(4)
    assert first == await outcomes(4)
    assert True in first and False in first


async def test_http_prober_and_observer_reader(server: ServiceServer) -> None:
    """The prober reads /health (lies included); the reader flattens JSON into declared facts."""
    cap = http_capability(server, "charge", probe={"http": server.health_url("charge"), "timeout": 0.2}, **PAY)
    client = httpx.AsyncClient()
    prober = HttpProber(client)
    assert await prober.probe(cap) is True
    server.set("charge", status=503)
    assert await prober.probe(cap) is False
    server.set("charge", healthy=True)  # lying
    assert await prober.probe(cap) is True
    server.endpoint("stock", response={"stock": {"level": 4, "ok": True}, "ignored": [1]})
    observer = Observer(name="stock", facts=["stock.level", "stock.ok"], http=server.url_for("stock"))
    facts = await DoorFactReader(client, None).observe(observer)
    await client.aclose()
    assert facts == {"stock.level": 4, "stock.ok": True}


def test_fill_and_flatten() -> None:
    """Whole placeholders keep their type, embedded ones are formatted; nested JSON flattens."""
    cap = Capability.model_validate({"name": "x", **PAY})
    call = _call(cap, amount=3)
    assert fill({"a": "{inputs.amount}", "b": ["n={inputs.amount}"]}, call) == {"a": 3, "b": ["n=3"]}
    with pytest.raises(ExecutionError, match="placeholder"):
        fill("{inputs.missing}", call)
    assert flatten({"a": {"b": 1, "c": None}, "d": "x"}) == {"a.b": 1, "d": "x"}
