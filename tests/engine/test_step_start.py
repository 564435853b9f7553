"""Starting a step (`Steps.start`): a door that answers at once needs no task; one that waits gets one,
and every wait, cancellation and error reaches the step as it would under its own task."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engine_helpers import PAY, SHIP, engine, order_intent, workspace

from ido.engine.doors import Call, Result
from ido.errors import ExecutionError
from ido.model import Capability
from ido.simulation.clock import run_virtual


class Door:
    """A door that answers after `waits` (seconds per wait; none: at once), noting the task of each call."""

    def __init__(self, *waits: float, fail: str | None = None) -> None:
        self.waits = waits
        self.fail = fail
        self.calls: list[tuple[str, asyncio.Task[Any] | None]] = []
        self.cancelled: list[str] = []

    async def execute(self, call: Call) -> Result:
        self.calls.append((call.capability.name, asyncio.current_task()))
        try:
            for wait in self.waits:
                await (asyncio.sleep(0) if wait == 0 else asyncio.sleep(wait))
        except asyncio.CancelledError:
            self.cancelled.append(call.capability.name)
            raise
        if call.capability.name == self.fail:
            raise ExecutionError(f"{self.fail}: refused", kind="server", status=503, capability=self.fail)
        return Result()

    async def probe(self, capability: Capability) -> bool:
        return True

    async def observe(self, observer: Any) -> dict[str, Any]:
        return {}


def caps(latency: str = "10ms") -> list[Capability]:
    return [
        Capability.model_validate({"name": "pay.a", "invoke": "sim", "cost": 1.0, "latency": latency, **PAY}),
        Capability.model_validate({"name": "ship.a", "invoke": "sim", "cost": 1.0, "latency": latency, **SHIP}),
    ]


def run_with(door: Door, intent: Any = None) -> Any:
    """Return the result of one run through `door`, in virtual time."""
    return run_timed(door, intent)[0]


def run_timed(door: Door, intent: Any = None) -> tuple[Any, float]:
    """Return the result of one run through `door` and the virtual seconds it took."""

    async def main() -> tuple[Any, float]:
        loop = asyncio.get_running_loop()
        eng = engine(workspace(*caps(), intent or order_intent()), executors={"sim": door},
                     prober=door, fact_reader=door)
        start = loop.time()
        try:
            return await eng.run("order", inputs={"order_id": "o-1"}), loop.time() - start
        finally:
            await eng.close()

    return run_virtual(main)


def test_a_door_that_answers_at_once_runs_in_the_run_task() -> None:
    """No wait in the door: each call runs within the run's own task (no task made for the step)."""
    door = Door()
    result = run_with(door)
    assert result.status == "succeeded"
    assert [name for name, _ in door.calls] == ["pay.a", "ship.a"]
    tasks = {task for _, task in door.calls}
    assert len(tasks) == 1 and next(iter(tasks)).get_name().startswith("ido-run-")


@pytest.mark.parametrize("waits", [(0.5,), (0, 0.2, 0), (0,)])
def test_a_door_that_waits_finishes_in_a_task_of_its_own(waits: tuple[float, ...]) -> None:
    """Sleeps and bare yields: the call starts in the run's task and ends in the step's, with the
    door's latency taken in full."""
    door = Door(*waits)
    result, took = run_timed(door)
    assert result.status == "succeeded"
    assert result.steps_executed == 2
    assert took >= 2 * sum(waits)


def test_a_failing_door_at_once_is_an_outcome_not_a_crash() -> None:
    """A door raising without waiting fails the step, as a door failing later does: the run goes on."""
    door = Door(fail="ship.a")
    result = run_with(door)
    assert result.status in ("failed", "compensated")
    assert ("ship.a" in [name for name, _ in door.calls])


def test_the_deadline_cancels_a_waiting_step_inside_its_door() -> None:
    """A step still waiting at the deadline is cancelled where it waits (the door sees the
    cancellation), and the run fails at the deadline, not at the door's answer."""
    door = Door(60.0)
    intent = order_intent(constraints={"budget": 5.0, "deadline": 2.0}, on_failure="stop")
    result, took = run_timed(door, intent)
    assert result.status == "failed"
    assert door.cancelled == ["pay.a"]
    assert took == pytest.approx(2.0, abs=0.01)
