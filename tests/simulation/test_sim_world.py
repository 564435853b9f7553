"""The simulated world: declared behaviour, and every fault kind acting on calls and probes."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import pytest
from pydantic import TypeAdapter
from sim_helpers import call, capability

from ido.errors import ExecutionError
from ido.model import Capability, Fault, Observer
from ido.simulation.clock import run_virtual
from ido.simulation.world import CURRENT_RUN, SimulatedWorld

FAULT = TypeAdapter(Fault)


def fault(**data: Any) -> Any:
    """Return a fault model from its YAML-like mapping."""
    return FAULT.validate_python(data)


def outcomes(
    cap: Capability, faults: list[Any], *, n: int = 200, every: float = 0.1, timeout: float = 2.0,
    at: float = 0.0,
) -> list[tuple[float, str, float, float | None]]:
    """Return (start, outcome kind or 'ok', elapsed, cost) of `n` calls started every `every` seconds."""

    async def main() -> list[tuple[float, str, float, float | None]]:
        loop = asyncio.get_running_loop()
        world = SimulatedWorld([cap], faults=faults, rng=3)

        async def one(i: int) -> tuple[float, str, float, float | None]:
            await asyncio.sleep(at + i * every)
            start = loop.time()
            try:
                result = await world.execute(call(cap, f"r{i}", timeout=timeout))
            except ExecutionError as exc:
                label = exc.kind if exc.status is None else f"{exc.kind}:{exc.status}"
                return start, label, loop.time() - start, None
            return start, "ok", loop.time() - start, result.cost

        return list(await asyncio.gather(*(one(i) for i in range(n))))

    return run_virtual(main)


def success_rate(rows: list[tuple[float, str, float, float | None]]) -> float:
    """Return the fraction of calls that succeeded."""
    return sum(r[1] == "ok" for r in rows) / len(rows)


def test_healthy_capability_follows_its_declaration() -> None:
    """Without faults, calls succeed at about the declared reliability with mean latency near the declared one."""
    rows = outcomes(capability(reliability=0.9, latency="300ms"), [], n=1000)
    assert 0.86 < success_rate(rows) < 0.94
    latencies = [r[2] for r in rows]
    assert statistics.mean(latencies) == pytest.approx(0.3, rel=0.05)
    assert statistics.pstdev(latencies) > 0.03  # a distribution, not a constant


def test_down_fails_fast_with_connection_errors_only_in_its_window() -> None:
    """A `down` fault refuses connections at once between `at` and `at + for`, and not outside."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="down", at="5s", **{"for": "5s"})])
    inside = [r for r in rows if 5 <= r[0] < 10]
    outside = [r for r in rows if r[0] < 5 or r[0] >= 10]
    assert {r[1] for r in inside} == {"unreachable"}
    assert all(r[2] < 0.01 for r in inside)
    assert {r[1] for r in outside} == {"ok"}


def test_error_rate_fails_about_that_share_with_server_errors() -> None:
    """An `error_rate` fault makes about `probability` of calls fail with a 5xx."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="error_rate", probability=0.5)], n=1000)
    assert 0.45 < success_rate(rows) < 0.55
    assert {r[1] for r in rows} == {"ok", "server:503"}


def test_latency_multiplies_and_adds() -> None:
    """A `latency` fault makes calls slower by its factor plus its addition."""
    base = outcomes(capability(), [], n=300)
    slow = outcomes(capability(), [fault(target="payment.a", kind="latency", multiply=3, add="100ms")], n=300)
    assert statistics.mean(r[2] for r in slow) == pytest.approx(
        3 * statistics.mean(r[2] for r in base) + 0.1, rel=0.01
    )


def test_latency_beyond_the_timeout_times_out() -> None:
    """Calls made slower than the caller's timeout end as timeouts at the timeout."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="latency", multiply=20)], timeout=1.0)
    assert {r[1] for r in rows} == {"timeout"}
    assert all(r[2] == pytest.approx(1.0) for r in rows)


def test_hang_answers_nothing_until_the_timeout() -> None:
    """A `hang` fault makes every call end as a timeout exactly at the caller's timeout."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="hang")], n=20, timeout=1.5)
    assert {r[1] for r in rows} == {"timeout"}
    assert all(r[2] == pytest.approx(1.5) for r in rows)


def test_flap_is_down_for_its_duty_of_each_period() -> None:
    """A `flap` fault alternates: down in the first `duty` of each period, up in the rest."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="flap", period="10s", duty=0.3)], n=300)
    for start, kind, _, _ in rows:
        assert (kind == "unreachable") == ((start % 10) < 3)


def test_slow_degrade_ramps_up_failures_and_latency() -> None:
    """A `slow_degrade` fault fails more and is slower as its ramp progresses."""
    rows = outcomes(
        capability(),
        [fault(target="payment.a", kind="slow_degrade", ramp="30s", error_rate=1.0, latency_multiply=3)],
        n=300,
    )
    early = [r for r in rows if r[0] < 10]
    late = [r for r in rows if r[0] >= 20]
    assert success_rate(early) > success_rate(late) + 0.3
    assert statistics.mean(r[2] for r in late if r[1] == "ok") > statistics.mean(r[2] for r in early)


def test_api_change_is_a_permanent_client_error_with_its_status() -> None:
    """An `api_change` fault makes every call fail as a client error with the given status."""
    rows = outcomes(capability(), [fault(target="payment.a", kind="api_change", status=410, at="3s")])
    assert {r[1] for r in rows if r[0] >= 3} == {"client:410"}
    assert {r[1] for r in rows if r[0] < 3} == {"ok"}


def test_cost_fault_changes_the_price_charged() -> None:
    """A `cost` fault multiplies the declared price, or sets it."""
    doubled = outcomes(capability(cost=0.25), [fault(target="payment.a", kind="cost", multiply=4)], n=10)
    fixed = outcomes(capability(cost=0.25), [fault(target="payment.a", kind="cost", to=2)], n=10)
    plain = outcomes(capability(cost=0.25), [], n=10)
    assert {r[3] for r in doubled} == {1.0}
    assert {r[3] for r in fixed} == {2.0}
    assert {r[3] for r in plain} == {0.25}


def test_quota_throttles_calls_beyond_the_window() -> None:
    """A `quota` fault lets `calls` calls through per window and throttles the rest with 429."""
    rows = outcomes(
        capability(), [fault(target="payment.a", kind="quota", calls=5, window="10s")], n=100, every=0.5
    )
    for window in range(5):
        in_window = [r for r in rows if window * 10 <= r[0] < (window + 1) * 10]
        assert sum(r[1] == "ok" for r in in_window) == 5
        assert {r[1] for r in in_window} == {"ok", "client:429"}


def test_lying_probe_says_up_while_calls_fail() -> None:
    """A `lying_probe` fault keeps the probe up while calls fail at its error rate; `down` does not lie."""
    cap = capability()

    async def main() -> tuple[bool, bool, str]:
        lying = SimulatedWorld([cap], faults=[fault(target="payment.a", kind="lying_probe")], rng=1)
        honest = SimulatedWorld([cap], faults=[fault(target="payment.a", kind="down")], rng=1)
        try:
            await lying.execute(call(cap))
            kind = "ok"
        except ExecutionError as exc:
            kind = exc.kind
        return await lying.probe(cap), await honest.probe(cap), kind

    assert run_virtual(main) == (True, False, "server")


def test_faults_target_by_tag_selector() -> None:
    """A fault with a tag selector hits every capability with those tags and spares the others."""
    eu = capability("payment.eu", tags={"region": "eu"})
    us = capability("payment.us", tags={"region": "us"})

    async def main() -> tuple[bool, bool, list[str], list[str]]:
        world = SimulatedWorld(
            [eu, us], faults=[fault(target={"provides": "payment", "tags": {"region": "eu"}}, kind="down")]
        )
        return await world.probe(eu), await world.probe(us), world.active_faults("payment.eu"), \
            world.active_faults("payment.us")

    eu_up, us_up, eu_faults, us_faults = run_virtual(main)
    assert (eu_up, us_up) == (False, True)
    assert eu_faults == ["down on payment.eu (fault 1: at 0s)"]
    assert us_faults == []


def test_faults_compose() -> None:
    """Two faults on one capability act together: slower and failing more than either alone."""
    slow = fault(target="payment.a", kind="latency", multiply=2)
    flaky = fault(target="payment.a", kind="error_rate", probability=0.5)
    both = outcomes(capability(), [slow, flaky], n=600)
    only_slow = outcomes(capability(), [slow], n=600)
    assert success_rate(both) < 0.6
    assert success_rate(only_slow) == 1.0
    assert statistics.mean(r[2] for r in both if r[1] == "ok") == pytest.approx(0.6, rel=0.1)


def test_failures_name_the_injected_fault() -> None:
    """An injected failure's message and the world's per-run record name the fault that caused it."""
    cap = capability()

    async def main() -> tuple[str, set[str]]:
        world = SimulatedWorld([cap], faults=[fault(target="payment.a", kind="down", at="1s")])
        await asyncio.sleep(2)
        with pytest.raises(ExecutionError) as info:
            await world.execute(call(cap, "run-9"))
        return str(info.value), world.touched["run-9"]

    message, touched = run_virtual(main)
    assert "injected: down on payment.a (fault 1: at 1s)" in message
    assert touched == {"down on payment.a (fault 1: at 1s)"}


def test_luck_depends_on_run_key_and_ordinal_not_on_interleaving() -> None:
    """A run bound to a key draws the same latencies whatever other calls happen around it."""
    cap = capability(reliability=0.8)

    def latencies(noise: int) -> list[tuple[str, float]]:
        async def main() -> list[tuple[str, float]]:
            loop = asyncio.get_running_loop()
            world = SimulatedWorld([cap], rng=11)
            for i in range(noise):
                world.bind_run(f"other-{i}", f"noise{i}")
                await world.execute(call(cap, f"other-{i}", timeout=60))
            world.bind_run(f"engine-id-{noise}", 7)
            seen = []
            for _ in range(5):
                start = loop.time()
                try:
                    await world.execute(call(cap, f"engine-id-{noise}", timeout=60))
                    seen.append(("ok", round(loop.time() - start, 9)))
                except ExecutionError as exc:
                    seen.append((exc.kind, round(loop.time() - start, 9)))
            return seen

        return run_virtual(main)

    assert latencies(0) == latencies(3)


def test_observers_read_the_simulated_state_and_faults_down_them(observer: Observer) -> None:
    """Observers report the facts a run's successful calls set, to that run only; a fault downs them."""
    restart = capability("service.restart", provides="restart", effects={"service.restarted": True})

    async def main() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
        world = SimulatedWorld(
            [restart], [observer], faults=[fault(target="service.status", kind="down", at="10s")],
            facts={"service.restarted": False},
        )
        world.bind_run("run-1", "incident-1")
        token = world.enter_run("incident-1")
        before = await world.observe(observer)
        await world.execute(call(restart, "run-1"))
        after = await world.observe(observer)
        CURRENT_RUN.reset(token)
        token = world.enter_run("incident-2")
        other = await world.observe(observer)
        await asyncio.sleep(10)
        try:
            await world.observe(observer)
            failed = "no"
        except ExecutionError as exc:
            failed = exc.kind
        CURRENT_RUN.reset(token)
        return before, after, other, failed

    assert run_virtual(main) == (
        {"service.restarted": False}, {"service.restarted": True}, {"service.restarted": False}, "connection",
    )
