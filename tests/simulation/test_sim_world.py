"""The simulated world: declared behaviour, and every fault kind acting on calls and probes."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from sim_helpers import call, capability

from ido.errors import ExecutionError
from ido.model import Capability, Fault, Observer
from ido.simulation.clock import run_virtual
from ido.simulation.faults import FaultSchedule, fault_label
from ido.simulation.world import (
    CURRENT_RUN,
    DEFAULT_JITTER,
    Draws,
    SimulatedWorld,
    lognormal_factor,
)

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


WINDOW = st.fixed_dictionaries(
    {"at": st.sampled_from(["0s", "1s", "2500ms", "4s"]), "kind": st.sampled_from(["down", "hang", "lying_probe"])},
    optional={"for": st.sampled_from(["500ms", "1s", "3s"])},
)


@given(
    windows=st.lists(WINDOW, min_size=1, max_size=4),
    targets=st.lists(st.sampled_from(["payment.a", "payment.b", "ship.x"]), min_size=4, max_size=4),
    times=st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.5, 7.0, 0.999, 1e-9]), max_size=30),
)
def test_faults_in_force_match_every_faults_window(
    windows: list[dict[str, Any]], targets: list[str], times: list[float],
) -> None:
    """Whatever the order of the times asked (starts and ends exactly included), the faults the world
    says are in force are those whose window holds the time, in capability then fault order."""
    caps = [capability("payment.a"), capability("payment.b"), capability("ship.x", provides="shipping")]
    faults = [fault(target=target, **window) for window, target in zip(windows, targets, strict=False)]
    world = SimulatedWorld(caps, faults=faults, start=100.0)
    for t in times:
        expected = [
            (fault_label(i, f, c.name), c.name)
            for c in caps for i, f in enumerate(faults) if f.target == c.name and f.active(t)
        ]
        assert world.faults_in_force(now=100.0 + t) == expected


@given(
    kinds=st.lists(st.sampled_from([
        {"kind": "latency", "multiply": 3}, {"kind": "error_rate", "probability": 0.5},
        {"kind": "flap", "period": "2s", "duty": 0.5}, {"kind": "slow_degrade", "ramp": "4s", "error_rate": 1.0},
        {"kind": "cost", "multiply": 2}, {"kind": "quota", "calls": 2, "window": "1s"},
    ]), min_size=1, max_size=3),
    times=st.lists(st.floats(0, 10), min_size=1, max_size=20),
)
def test_a_remembered_effect_equals_a_fresh_one(kinds: list[dict[str, Any]], times: list[float]) -> None:
    """The schedule answers every time with the same effect a schedule that never answered before would."""
    faults = [fault(target="payment.a", at=f"{i}s", **kind) for i, kind in enumerate(kinds)]
    schedule = FaultSchedule(faults)
    for t in times:
        assert schedule.effect("payment.a", t) == FaultSchedule(faults).effect("payment.a", t)


@given(seed=st.integers(0, 2**64 - 1), key=st.integers(0, 10**6))
def test_a_calls_luck_is_the_hash_of_seed_run_capability_and_ordinal(seed: int, key: int) -> None:
    """The n-th call of a run draws `Draws(seed, run key, capability, n)`: its latency says so."""
    cap = capability(reliability=1.0, latency="200ms")

    async def main() -> list[float]:
        world = SimulatedWorld([cap], rng=seed)
        world.bind_run("run-x", key)
        return [(await world.execute(call(cap, "run-x", timeout=60))).latency_s for _ in range(3)]

    expected = [0.2 * lognormal_factor(DEFAULT_JITTER, Draws(seed, key, cap.name, n).normal()) for n in range(3)]
    assert run_virtual(main) == expected
