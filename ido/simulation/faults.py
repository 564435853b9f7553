"""Fault models: what the scenario's faults do to one call or probe at a given time.

A `FaultSchedule` holds a scenario's fault list. For a capability and a
scenario time it folds every fault in force into one `FaultEffect` (faults
compose: latencies multiply and add, error probabilities combine as
independent failures, prices apply in declaration order). The simulated
world (`ido.simulation.world`) and the real-HTTP transport
(`ido.testing.faults.FaultTransport`) both act on that effect, so a fault
means the same thing in a simulation and against a real server.

Quotas are the one stateful fault: `admit()` counts calls per fixed window
(aligned with the fault's `at`) across every run, as a provider's rate limit
does; calls beyond the window's allowance are throttled (HTTP 429).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ido.model.scenario import (
    ApiChange,
    CostFault,
    Down,
    ErrorRate,
    Flap,
    Hang,
    LatencyFault,
    LyingProbe,
    QuotaFault,
    SlowDegrade,
)
from ido.model.values import format_duration

#: Wall-clock seconds a refused connection or a throttled call takes to fail.
FAST_FAILURE_S = 0.005


@dataclass(frozen=True, slots=True)
class FaultEffect:
    """The combined effect of every fault in force on one capability at one time."""

    #: connection refused at once (`down`, or `flap` in its down phase).
    down: bool = False
    #: no answer until the caller's timeout.
    hang: bool = False
    #: a permanent client error with this HTTP status (`api_change`).
    client_status: int | None = None
    #: probability that the call fails with a server error, from faults alone.
    error_p: float = 0.0
    latency_multiply: float = 1.0
    latency_add: float = 0.0
    #: relative spread (sigma of a mean-one lognormal factor) of extra latency.
    latency_jitter: float = 0.0
    #: (multiply, to) price changes in declaration order.
    prices: tuple[tuple[float | None, float | None], ...] = ()
    #: indices of quota faults in force (checked with `FaultSchedule.admit`).
    quotas: tuple[int, ...] = ()
    #: the probe says up even though calls fail (`lying_probe`).
    probe_lies: bool = False
    #: probability a probe reports down because of the faults (error_rate, slow_degrade).
    probe_down_p: float = 0.0
    #: labels of the faults in force, for decision records and journal events.
    labels: tuple[str, ...] = field(default=())

    @property
    def probe_down(self) -> bool:
        """Return whether the probe certainly reports down (down, hang, flap's down phase)."""
        return self.down or self.hang

    def cost(self, declared: float) -> float:
        """Return the price charged for a call declared to cost `declared`."""
        price = declared
        for multiply, to in self.prices:
            price = price * multiply if multiply is not None else float(to or 0.0)
        return price

    def latency(self, base: float, jitter_factor: float = 1.0) -> float:
        """Return the latency of a call whose fault-free latency is `base`.

        `jitter_factor` is a mean-one random factor drawn by the caller with
        sigma `latency_jitter`; it applies only to the added part of the delay.
        """
        slowed = base * self.latency_multiply + self.latency_add
        if self.latency_jitter > 0 and slowed > base:
            slowed = base + (slowed - base) * jitter_factor
        return max(0.0, slowed)


NO_EFFECT = FaultEffect()


def fault_label(index: int, fault: Any, capability: str) -> str:
    """Return the one-line name of fault `index` in force on `capability`, as records show it."""
    window = f"at {format_duration(fault.at)}"
    if fault.for_ is not None:
        window += f" for {format_duration(fault.for_)}"
    return f"{fault.kind} on {capability} (fault {index + 1}: {window})"


def _targets(fault: Any, name: str, provides: str | None, tags: dict[str, Any]) -> bool:
    target = fault.target
    if isinstance(target, str):
        return bool(target == name)
    if provides is None:  # an observer: only name targets reach it
        return False
    if target.provides is not None and target.provides != provides:
        return False
    return all(tags.get(k) == v for k, v in target.tags.items())


class FaultSchedule:
    """A scenario's faults, indexed per capability; answers what is in force when."""

    def __init__(self, faults: Sequence[Any]) -> None:
        self.faults: tuple[Any, ...] = tuple(faults)
        self._by_target: dict[str, tuple[int, ...]] = {}
        #: faults whose effect changes while in force (a flap's phase, a degradation's ramp).
        self._varying = frozenset(i for i, f in enumerate(self.faults) if isinstance(f, Flap | SlowDegrade))
        #: (name, indices in force) -> their combined effect, for faults whose effect is constant.
        self._combined: dict[tuple[str, tuple[int, ...]], FaultEffect] = {}
        # quota fault index -> (window index, calls admitted in it)
        self._quota_use: dict[int, tuple[int, int]] = {}

    def for_target(
        self, name: str, provides: str | None = None, tags: dict[str, Any] | None = None
    ) -> tuple[int, ...]:
        """Return the indices of faults that target this capability (or observer), cached by name."""
        found = self._by_target.get(name)
        if found is None:
            found = tuple(
                i for i, f in enumerate(self.faults) if _targets(f, name, provides, tags or {})
            )
            self._by_target[name] = found
        return found

    def effect(
        self, name: str, t: float, *, provides: str | None = None, tags: dict[str, Any] | None = None
    ) -> FaultEffect:
        """Return the combined effect of the faults targeting `name` in force at scenario time `t`."""
        targeted = self._by_target.get(name)
        if targeted is None:
            targeted = self.for_target(name, provides, tags)
        if not targeted:
            return NO_EFFECT
        faults = self.faults
        indices = tuple(i for i in targeted if faults[i].active(t))
        if not indices:
            return NO_EFFECT
        if self._varying.intersection(indices):
            return _combine(indices, faults, name, t)
        # Every call a fault touches asks this; with no flap or ramp among them the effect
        # depends only on which faults are in force, so it is combined (and labelled) once.
        key = (name, indices)
        effect = self._combined.get(key)
        if effect is None:
            effect = self._combined[key] = _combine(indices, faults, name, t)
        return effect

    def labels(self, name: str, t: float, **target: Any) -> list[str]:
        """Return labels of the faults in force on `name` at `t` (what decision records stamp)."""
        return list(self.effect(name, t, **target).labels)

    def admit(self, quota_indices: Iterable[int], t: float) -> bool:
        """Return whether a call at `t` fits every quota in force, counting it if it does."""
        windows: list[tuple[int, int, int]] = []
        for i in quota_indices:
            fault = self.faults[i]
            window = int((t - fault.at) // fault.window)
            seen_window, used = self._quota_use.get(i, (window, 0))
            used = used if seen_window == window else 0
            if used >= fault.calls:
                return False
            windows.append((i, window, used))
        for i, window, used in windows:
            self._quota_use[i] = (window, used + 1)
        return True


def _combine(indices: Sequence[int], faults: Sequence[Any], name: str, t: float) -> FaultEffect:
    down = hang = lies = False
    status: int | None = None
    ok_p = 1.0
    probe_ok_p = 1.0
    multiply, add, jitter = 1.0, 0.0, 0.0
    prices: list[tuple[float | None, float | None]] = []
    quotas: list[int] = []
    labels: list[str] = []
    for i in indices:
        fault = faults[i]
        labels.append(fault_label(i, fault, name))
        if isinstance(fault, Down):
            down = True
        elif isinstance(fault, Flap):
            phase = ((t - fault.at) % fault.period) / fault.period
            down = down or phase < fault.duty
        elif isinstance(fault, Hang):
            hang = True
        elif isinstance(fault, ErrorRate):
            ok_p *= 1.0 - fault.probability
            probe_ok_p *= 1.0 - fault.probability
        elif isinstance(fault, LyingProbe):
            ok_p *= 1.0 - fault.error_rate
            lies = True
        elif isinstance(fault, SlowDegrade):
            progress = min(1.0, max(0.0, (t - fault.at) / fault.ramp))
            ok_p *= 1.0 - progress * fault.error_rate
            probe_ok_p *= 1.0 - progress * fault.error_rate
            multiply *= 1.0 + progress * (fault.latency_multiply - 1.0)
        elif isinstance(fault, LatencyFault):
            multiply *= fault.multiply
            add += fault.add
            jitter = max(jitter, fault.jitter)
        elif isinstance(fault, ApiChange):
            status = fault.status if status is None else status
        elif isinstance(fault, CostFault):
            prices.append((fault.multiply, fault.to))
        elif isinstance(fault, QuotaFault):
            quotas.append(i)
    return FaultEffect(
        down=down,
        hang=hang,
        client_status=status,
        error_p=1.0 - ok_p,
        latency_multiply=multiply,
        latency_add=add,
        latency_jitter=jitter,
        prices=tuple(prices),
        quotas=tuple(quotas),
        probe_lies=lies,
        probe_down_p=0.0 if lies else 1.0 - probe_ok_p,
        labels=tuple(labels),
    )
