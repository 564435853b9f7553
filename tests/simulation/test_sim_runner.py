"""simulate(): determinism, each fault kind's direction, and the invariants under every strategy."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sim_helpers import mini_workspace, scenario

from ido.simulation.runner import arrival_times, count_replans, simulate

STRATEGIES = ("adaptive", "static", "static-fallback")


@pytest.fixture(scope="module")
def ws() -> Any:
    """Return the mini workspace with perfectly reliable capabilities (faults alone cause failures)."""
    return mini_workspace()


@pytest.fixture(scope="module")
def control(ws: Any) -> Any:
    """Return the report of the no-fault control on the mini workspace."""
    return simulate(ws, scenario())


def test_same_seed_gives_a_byte_identical_report() -> None:
    """Two simulations with the same seed produce byte-identical JSON; another seed differs."""
    flaky = mini_workspace(reliability=0.97)
    scn = scenario({"target": "pay.a", "kind": "error_rate", "probability": 0.3, "at": "5s"}, runs=25, every="500ms")
    first = simulate(flaky, scn).to_json()
    assert simulate(flaky, scn).to_json() == first
    assert simulate(flaky, scn, seed=scn.seed + 1).to_json() != first


def test_report_has_the_design_keys(control: Any) -> None:
    """The JSON report has `scenario`, `runs`, `seed` and per strategy every key DESIGN.md lists."""
    data = json.loads(control.to_json())
    assert {"scenario", "runs", "seed", "strategies"} <= set(data)
    assert set(data["strategies"]) == set(STRATEGIES)
    for stats in data["strategies"].values():
        assert {
            "succeeded", "failed", "success_rate", "cost_mean", "latency_p50_s", "latency_p95_s",
            "replans_mean", "policy_violations",
        } <= set(stats)


def test_control_succeeds_everywhere_at_the_same_cost(control: Any) -> None:
    """Without faults every strategy succeeds every run, at the cheapest admissible path's cost."""
    for stats in control.strategies.values():
        assert stats.success_rate == 1.0
        assert stats.cost_mean == pytest.approx(0.25 + 0.45)
        assert stats.replans_mean == 0


def test_a_down_provider_hurts_static_and_adaptive_switches(ws: Any, control: Any) -> None:
    """With the cheapest payment provider down, static fails more; adaptive succeeds by switching."""
    report = simulate(ws, scenario({"target": "pay.a", "kind": "down"}))
    static, adaptive = report.strategies["static"], report.strategies["adaptive"]
    assert static.success_rate < control.strategies["static"].success_rate
    assert adaptive.success_rate == 1.0
    assert adaptive.cost_mean == pytest.approx(0.32 + 0.45)
    assert report.strategies["static-fallback"].success_rate >= static.success_rate


@pytest.mark.parametrize(
    ("fault", "metric", "direction"),
    [
        ({"kind": "error_rate", "probability": 0.9}, "success_rate", "lower"),
        ({"kind": "latency", "multiply": 4}, "latency_p50_s", "higher"),
        ({"kind": "hang"}, "success_rate", "lower"),
        ({"kind": "flap", "period": "4s", "duty": 0.5}, "latency_p95_s", "higher"),
        ({"kind": "slow_degrade", "ramp": "10s", "latency_multiply": 3, "error_rate": 0.5}, "latency_p95_s", "higher"),
        ({"kind": "api_change", "status": 400}, "success_rate", "lower"),
        ({"kind": "cost", "multiply": 3}, "cost_mean", "higher"),
        ({"kind": "quota", "calls": 1, "window": "5s"}, "latency_p95_s", "higher"),
        ({"kind": "lying_probe", "error_rate": 0.9}, "success_rate", "lower"),
    ],
    ids=lambda v: v["kind"] if isinstance(v, dict) else str(v),
)
def test_each_fault_kind_moves_static_outcomes_the_way_it_should(
    ws: Any, control: Any, fault: dict[str, Any], metric: str, direction: str,
) -> None:
    """A fault on the fixed path's payment provider makes the static strategy measurably worse."""
    report = simulate(ws, scenario({"target": "pay.a", **fault}, strategies=("static",)))
    faulty = getattr(report.strategies["static"], metric)
    baseline = getattr(control.strategies["static"], metric)
    assert (faulty < baseline) if direction == "lower" else (faulty > baseline)
    assert report.strategies["static"].faults_seen, "the runs record the fault that touched them"


def test_no_admissible_path_fails_cleanly_and_compensates(ws: Any) -> None:
    """With every carrier down after payment, no run succeeds or breaks a rule, and paid runs are refunded.

    The first run pays before it learns that no carrier works and is compensated;
    adaptive runs after it see the open circuits and fail without paying at all.
    """
    report = simulate(ws, scenario({"target": {"provides": "shipping"}, "kind": "down"}, runs=6, every="5s"))
    for name, stats in report.strategies.items():
        assert stats.succeeded == 0, name
        assert (stats.policy_violations, stats.budget_violations, stats.deadline_violations) == (0, 0, 0), name
        assert set(stats.statuses) <= {"failed", "compensated"}, name
    assert report.strategies["static"].compensated == 6
    assert report.strategies["adaptive"].compensated >= 1


def test_arrivals_every_and_poisson_are_seeded() -> None:
    """`every` arrivals are evenly spaced; Poisson arrivals repeat per seed and increase."""
    regular = scenario(every="250ms", runs=4)
    assert arrival_times(regular, 4, 1) == [0.0, 0.25, 0.5, 0.75]
    poisson = regular.model_copy(update={"arrivals": regular.arrivals.model_copy(update={"every": None, "rate": 2.0})})
    first = arrival_times(poisson, 50, 3)
    assert first == arrival_times(poisson, 50, 3) != arrival_times(poisson, 50, 4)
    assert first == sorted(first) and len(set(first)) == 50


def test_replans_count_switches_after_failures_only(ws: Any) -> None:
    """Replans are counted when a failure leads to another provider, never in a run that never failed."""
    report = simulate(ws, scenario({"target": "pay.a", "kind": "error_rate", "probability": 1.0, "at": "10s"},
                                   strategies=("adaptive",)))
    assert report.strategies["adaptive"].replans_mean > 0
    assert count_replans([]) == 0


FAULT = st.fixed_dictionaries(
    {"target": st.sampled_from(["pay.a", "pay.b", "ship.x", "ship.y", "pay.refund"]),
     "at": st.sampled_from(["0s", "3s", "10s"])},
    optional={"for": st.sampled_from(["5s", "20s"])},
).flatmap(lambda base: st.one_of(
    st.just({**base, "kind": "down"}),
    st.just({**base, "kind": "hang"}),
    st.builds(lambda p: {**base, "kind": "error_rate", "probability": p}, st.sampled_from([0.3, 0.9, 1.0])),
    st.builds(lambda m: {**base, "kind": "latency", "multiply": m}, st.sampled_from([2, 10])),
    # price cuts only: an unannounced price hike can overshoot the budget in the run that discovers it
    st.builds(lambda m: {**base, "kind": "cost", "multiply": m}, st.sampled_from([0.5, 0.9])),
    st.just({**base, "kind": "api_change", "status": 410}),
    st.just({**base, "kind": "flap", "period": "3s"}),
    st.just({**base, "kind": "quota", "calls": 1, "window": "2s"}),
    st.just({**base, "kind": "lying_probe"}),
))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(FAULT, max_size=3), seed=st.integers(0, 1000))
def test_no_strategy_ever_violates_policy_budget_or_deadline(faults: list[dict[str, Any]], seed: int) -> None:
    """Under random fault lists, no strategy dispatches a denied capability, overspends or acts past the deadline."""
    ws = mini_workspace(reliability=0.98)
    report = simulate(ws, scenario(*faults, runs=6, seed=seed, every="2s"))
    for name, stats in report.strategies.items():
        assert stats.policy_violations == 0, name
        assert stats.budget_violations == 0, name
        assert stats.deadline_violations == 0, name
        assert stats.succeeded + stats.failed == 6


@pytest.mark.parametrize("fault", [
    {"target": "pay.a", "kind": "down", "at": "2s", "for": "5s"},
    {"target": "pay.a", "kind": "error_rate", "probability": 0.4, "at": "1s"},
])
def test_lean_decision_events_change_no_report(fault: dict[str, Any]) -> None:
    """The simulator's journal gets decision events holding only what folding reads; every
    strategy decides exactly as with whole records (byte-identical report)."""
    from ido.simulation.store import SimStore

    flaky = mini_workspace(reliability=0.9)
    scn = scenario(fault, runs=30, every="300ms")
    lean = simulate(flaky, scn).to_json()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SimStore, "reads_decisions", True)
        whole = simulate(flaky, scn).to_json()
    assert lean == whole
    assert json.loads(lean)["strategies"].keys() == set(STRATEGIES)


def test_runs_past_the_horizon_are_stopped_and_counted_unfinished(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run still going at the runner's horizon is stopped and counted `unfinished`, at the horizon;
    the simulation still ends, with every run counted once."""
    import ido.simulation.runner as runner

    # every path takes over a second (payment 300 ms, shipping 1 s): a 0.5 s horizon cuts every run
    monkeypatch.setattr(runner, "run_horizon", lambda intent: 0.5)
    report = simulate(ws, scenario(runs=6, strategies=("adaptive",)))
    stats = report.strategies["adaptive"]
    assert stats.statuses == {"unfinished": 6}
    assert stats.succeeded == 0


def test_a_run_that_cannot_be_counted_fails_the_simulation(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while counting a finished run is not swallowed: `simulate` raises it."""
    import ido.simulation.runner as runner

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot count this run")

    monkeypatch.setattr(runner, "_run_outcome", broken)
    with pytest.raises(RuntimeError, match="cannot count this run"):
        simulate(ws, scenario(runs=4, strategies=("adaptive",)))
