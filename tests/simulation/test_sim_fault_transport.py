"""FaultTransport: the scenario's fault kinds injected into real HTTP calls to a local server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from ido.model import Capability, Fault
from ido.testing.faults import FaultTransport
from ido.testing.services import ServiceServer

FAULT = TypeAdapter(Fault)


@pytest.fixture(scope="module")
def running() -> Iterator[ServiceServer]:
    """Return a local service shared by this module's tests (each test gets its own endpoint)."""
    with ServiceServer() as service:
        yield service


class Endpoint:
    """A test's own endpoint on the shared server: `charges` URLs under a fresh name."""

    def __init__(self, service: ServiceServer, name: str) -> None:
        self.service = service
        self.name = name
        service.endpoint(name, response={"id": "ch_1", "cost": 0.25})

    @property
    def url(self) -> str:
        """Return the server's base URL."""
        return self.service.url

    def url_for(self, _: str) -> str:
        """Return this endpoint's call URL."""
        return self.service.url_for(self.name)

    def health_url(self, _: str) -> str:
        """Return this endpoint's health URL."""
        return self.service.health_url(self.name)

    def requests(self, _: str) -> list[Any]:
        """Return the requests this endpoint received."""
        return self.service.requests(self.name)


@pytest.fixture
def server(running: ServiceServer, request: pytest.FixtureRequest) -> Endpoint:
    """Return a fresh endpoint (answering `{"id": "ch_1", "cost": 0.25}`) on the shared server."""
    return Endpoint(running, request.node.name.removeprefix("test_").replace("_", "-"))


def payment(server: Endpoint) -> Capability:
    """Return an http capability pointing at the server's `charges` endpoint and its health URL."""
    return Capability.model_validate({
        "name": "payment.real",
        "provides": "payment",
        "effects": {"order.paid": True},
        "cost": 0.25,
        "tags": {"region": "eu"},
        "probe": {"http": server.health_url("charges"), "timeout": "1s"},
        "invoke": {"http": {"method": "POST", "url": server.url_for("charges"), "timeout": "2s"}},
    })


def client(server: Endpoint, *faults: dict[str, Any]) -> tuple[httpx.AsyncClient, FaultTransport]:
    """Return a client whose transport injects `faults` into calls to the server's capability."""
    transport = FaultTransport(
        httpx.AsyncHTTPTransport(),
        [FAULT.validate_python(f) for f in faults],
        rng=5,
        capabilities=[payment(server)],
    )
    return httpx.AsyncClient(transport=transport, trust_env=False), transport


async def test_no_fault_passes_through(server: Endpoint) -> None:
    """Without faults in force, requests reach the server and come back unchanged."""
    http, _ = client(server)
    async with http:
        response = await http.post(server.url_for("charges"), json={})
    assert response.status_code == 200
    assert response.json()["id"] == "ch_1"
    assert len(server.requests("charges")) == 1


async def test_down_refuses_without_sending(server: Endpoint) -> None:
    """A `down` fault raises a connection error and the server never sees the request."""
    http, transport = client(server, {"target": "payment.real", "kind": "down"})
    async with http:
        with pytest.raises(httpx.ConnectError, match=r"injected: down on payment\.real"):
            await http.post(server.url_for("charges"), json={})
    assert server.requests("charges") == []
    assert transport.touched[0][0] == "payment.real"


async def test_down_makes_the_probe_fail(server: Endpoint) -> None:
    """The health URL of a downed capability cannot be reached either."""
    http, _ = client(server, {"target": "payment.real", "kind": "down"})
    async with http:
        with pytest.raises(httpx.ConnectError):
            await http.get(server.health_url("charges"))


async def test_error_rate_answers_503_without_side_effects(server: Endpoint) -> None:
    """An `error_rate` of 1 answers 503 to every call and performs no side effect."""
    http, _ = client(server, {"target": "payment.real", "kind": "error_rate", "probability": 1.0})
    async with http:
        statuses = {(await http.post(server.url_for("charges"), json={})).status_code for _ in range(5)}
    assert statuses == {503}
    assert server.requests("charges") == []


async def test_api_change_answers_its_status(server: Endpoint) -> None:
    """An `api_change` fault answers the given status."""
    http, _ = client(server, {"target": "payment.real", "kind": "api_change", "status": 410})
    async with http:
        response = await http.post(server.url_for("charges"), json={})
    assert response.status_code == 410
    assert "api_change on payment.real" in response.headers["X-Ido-Faults"]


async def test_latency_delays_the_real_answer(server: Endpoint) -> None:
    """A `latency` fault adds its delay to the real answer."""
    http, _ = client(server, {"target": "payment.real", "kind": "latency", "add": "300ms"})
    loop = asyncio.get_running_loop()
    async with http:
        start = loop.time()
        response = await http.post(server.url_for("charges"), json={})
        took = loop.time() - start
    assert response.status_code == 200
    assert took >= 0.3


async def test_latency_past_the_read_timeout_times_out(server: Endpoint) -> None:
    """A delay longer than the request's read timeout ends as a read timeout."""
    http, _ = client(server, {"target": "payment.real", "kind": "latency", "add": "5s"})
    async with http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url_for("charges"), json={}, timeout=0.2)


async def test_hang_times_out_at_the_read_timeout(server: Endpoint) -> None:
    """A `hang` fault gives no answer until the read timeout, then a timeout error."""
    http, _ = client(server, {"target": "payment.real", "kind": "hang"})
    async with http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url_for("charges"), json={}, timeout=0.2)
    assert server.requests("charges") == []


async def test_lying_probe_says_up_while_calls_fail(server: Endpoint) -> None:
    """Under `lying_probe` the health URL answers 200 while calls answer 503."""
    http, _ = client(server, {"target": "payment.real", "kind": "lying_probe"})
    async with http:
        health = await http.get(server.health_url("charges"))
        charge = await http.post(server.url_for("charges"), json={})
    assert (health.status_code, charge.status_code) == (200, 503)


async def test_quota_throttles_beyond_the_allowance(server: Endpoint) -> None:
    """A `quota` fault lets `calls` requests through per window and answers 429 to the rest."""
    http, _ = client(server, {"target": "payment.real", "kind": "quota", "calls": 2, "window": "1m"})
    async with http:
        statuses = [(await http.post(server.url_for("charges"), json={})).status_code for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert len(server.requests("charges")) == 2


async def test_cost_fault_rewrites_the_price(server: Endpoint) -> None:
    """A `cost` fault changes the price the answer reports, in its body and X-Cost header."""
    http, _ = client(server, {"target": "payment.real", "kind": "cost", "multiply": 3})
    async with http:
        response = await http.post(server.url_for("charges"), json={})
    assert response.json()["cost"] == 0.75
    assert response.headers["X-Cost"] == "0.75"


async def test_selector_and_extension_targeting(server: Endpoint) -> None:
    """A tag selector reaches the capability, and a request extension names a capability explicitly."""
    http, _ = client(server, {"target": {"tags": {"region": "eu"}}, "kind": "api_change", "status": 409})
    async with http:
        by_url = await http.post(server.url_for("charges"), json={})
        request = http.build_request("POST", server.url + "/other", json={},
                                     extensions={"ido.capability": "payment.real"})
        by_extension = await http.send(request)
    assert (by_url.status_code, by_extension.status_code) == (409, 409)


async def test_fault_windows_follow_the_clock(server: Endpoint) -> None:
    """A fault with `at` is not in force before its time (counted from the first request)."""
    http, transport = client(server, {"target": "payment.real", "kind": "down", "at": "30s"})
    async with http:
        response = await http.post(server.url_for("charges"), json={})
    assert response.status_code == 200
    assert transport.active_faults("payment.real") == []
    assert transport.active_faults("payment.real", now=transport.start + 31) == [
        "down on payment.real (fault 1: at 30s)"
    ]
