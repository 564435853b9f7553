"""The Python door (ido.workspace.Workspace): decorators, add/merge, callables, lookups, revisions."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ido.decisions import Revisions
from ido.errors import ReferenceError_, UsageError, ValidationError
from ido.loading import load_workspace
from ido.model import Capability, Intent, Policy, Scenario
from ido.workspace import Workspace

CAPS = "capabilities:\n  - {name: pay, provides: payment, requires: {order.paid: false}, effects: {order.paid: true}, cost: 0.25}\n"
INTENT = "intent: paid\ngiven: {order.paid: false}\ngoal: {order.paid: true}\n"


def test_decorator_registers_sync_callable_as_capability() -> None:
    """`@ws.capability(...)` builds a python-invoked Capability and keeps the function callable."""
    ws = Workspace()

    @ws.capability(provides="payment", requires={"order.paid": False}, effects={"order.paid": True},
                   cost=0.3, latency="400ms", tags={"region": "eu"}, idempotent=True)
    def charge(inputs: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
        """Charge the card."""
        return {"payment.id": "p-1"}

    cap = ws.capabilities["charge"]
    assert cap.invoke.python == f"{__name__}:test_decorator_registers_sync_callable_as_capability.<locals>.charge"
    assert (cap.cost, cap.latency, cap.tags, cap.idempotent) == (0.3, 0.4, {"region": "eu"}, True)
    assert cap.description == "Charge the card."
    assert ws.resolve_callable(cap.invoke.python) is charge
    assert charge({}, {}) == {"payment.id": "p-1"}


def test_decorator_registers_async_callable_with_explicit_name() -> None:
    """Async functions register the same way; `name` overrides the function's name."""
    ws = Workspace()

    @ws.capability("ship.dhl", provides="shipping", effects={"order.shipped": True}, compensate=None)
    async def ship(inputs: dict[str, Any], facts: dict[str, Any]) -> None:
        return None

    target = ws.capabilities["ship.dhl"].invoke.python
    assert target is not None
    fn = ws.resolve_callable(target)
    assert asyncio.iscoroutinefunction(fn)
    assert asyncio.run(fn({}, {})) is None


def test_observer_decorator() -> None:
    """`@ws.observer(facts=[...])` registers a python observer."""
    ws = Workspace()

    @ws.observer(facts=["service.healthy"], interval="2s")
    def health() -> dict[str, Any]:
        return {"service.healthy": True}

    obs = ws.observers["health"]
    assert obs.facts == ["service.healthy"] and obs.interval == 2.0
    assert obs.python is not None and ws.resolve_callable(obs.python) is health


def test_decorator_errors_point_at_the_function() -> None:
    """A wrong declaration raises ValidationError naming the field, located at the def line."""
    ws = Workspace()
    with pytest.raises(ValidationError) as caught:

        @ws.capability(provides="payment", effects={"order.paid": True}, latency="soon", cost=-1)
        def charge() -> None:
            return None

    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) == {"capability 'charge'.latency", "capability 'charge'.cost"}
    latency = problems["capability 'charge'.latency"]
    assert latency.path is not None and latency.path.endswith("test_workspace.py") and latency.line is not None
    assert "is not a duration" in latency.message
    assert ws.capabilities == {}


def test_duplicate_names_raise() -> None:
    """Adding a second declaration with a taken name raises, keeping the first."""
    ws = Workspace()
    first = Capability(name="pay", provides="payment", effects={"order.paid": True})
    ws.add(first)
    with pytest.raises(ValidationError, match="duplicate capability name 'pay'"):
        ws.add(Capability(name="pay", provides="other", effects={"x.y": 1}))
    assert ws.capabilities["pay"] is first

    @ws.capability(provides="x", effects={"x.y": 1})
    def once() -> None:
        return None

    with pytest.raises(ValidationError, match="duplicate capability name 'once'"):
        ws.capability(provides="x", effects={"x.y": 1})(once)


def test_yaml_workspace_extended_from_python(files: Callable[..., Path]) -> None:
    """A workspace loaded from YAML takes Python capabilities, and the checks see both."""
    ws = load_workspace(files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT}))

    @ws.capability(provides="refund", requires={"order.paid": True}, effects={"order.paid": False})
    def refund() -> None:
        return None

    ws.add(Policy(name="eu", because="EU only.", deny={"capability.tags.region": "us"}))
    assert set(ws.capabilities) == {"pay", "refund"} and "eu" in ws.policies
    assert ws.problems() == []


def test_python_workspace_merged_with_yaml(files: Callable[..., Path]) -> None:
    """`merged` joins a Python workspace and a YAML one; names in both are an error."""
    yaml_ws = load_workspace(files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT}))
    py_ws = Workspace()

    @py_ws.capability(provides="notify", requires={"order.paid": True}, effects={"customer.told": True})
    def email() -> None:
        return None

    both = yaml_ws.merged(py_ws)
    assert set(both.capabilities) == {"pay", "email"}
    assert both.root == yaml_ws.root
    assert both.resolve_callable(both.capabilities["email"].invoke.python or "") is email
    with pytest.raises(ValidationError, match="duplicate capability name 'pay'"):
        both.merged(yaml_ws)


def test_resolve_callable_imports_from_the_workspace_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`module:function` is imported with the workspace root on sys.path, dotted attributes included."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "idows_pricing.py").write_text(
        "def quote(x):\n    return x * 2\n\nclass Api:\n    @staticmethod\n    def call():\n        return 'ok'\n"
    )
    ws = Workspace(tmp_path)
    assert ws.resolve_callable("idows_pricing:quote")(2) == 4
    assert ws.resolve_callable("idows_pricing:Api.call")() == "ok"
    monkeypatch.delitem(sys.modules, "idows_pricing")


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("idows_missing_mod:run", "no module named 'idows_missing_mod'"),
        ("idows_funcs:rnu", "has no attribute 'rnu'; did you mean 'run'?"),
        ("idows_funcs:VALUE", "names a int, not a function"),
        ("idows_boom:run", "importing 'idows_boom' failed with RuntimeError: boom"),
        ("no-colon", "must be written 'package.module:function'"),
    ],
)
def test_resolve_callable_errors_say_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, words: str
) -> None:
    """An unresolvable target raises ReferenceError_ naming the missing module or attribute."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "idows_funcs.py").write_text("VALUE = 3\n\ndef run():\n    return 1\n")
    (tmp_path / "idows_boom.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ReferenceError_) as caught:
        Workspace(tmp_path).resolve_callable(target)
    assert words in str(caught.value)
    for name in ("idows_funcs", "idows_boom"):
        sys.modules.pop(name, None)


def test_intent_and_scenario_by_name(files: Callable[..., Path]) -> None:
    """`ws.intent(name)` and `ws.scenario(name)` return the loaded declarations."""
    ws = load_workspace(files({
        "capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT,
        "benchmarks/scenarios/s.yaml": "scenario: s\nintent: paid\n",
    }))
    assert ws.intent("paid") is ws.intents["paid"]
    assert ws.scenario("s") is ws.scenarios["s"]


def test_intent_by_path_is_checked_against_the_workspace(files: Callable[..., Path]) -> None:
    """A path to an intent file loads it, checking its goal against the workspace's capabilities."""
    root = files({
        "capabilities/c.yaml": CAPS,
        "intents/i.yaml": INTENT,
        "elsewhere/ok.yaml": INTENT.replace("paid", "paid-2", 1),
        "elsewhere/bad.yaml": "intent: shipped\ngoal: {order.shipped: true}\n",
        "elsewhere/two.yaml": INTENT + "---\n" + INTENT.replace("paid", "other", 1),
        "elsewhere/none.yaml": CAPS,
    })
    ws = load_workspace(root)
    intent = ws.intent("elsewhere/ok.yaml")
    assert isinstance(intent, Intent) and intent.intent == "paid-2"
    with pytest.raises(ValidationError, match="produced by no capability"):
        ws.intent("elsewhere/bad.yaml")
    with pytest.raises(UsageError, match="several intents"):
        ws.intent("elsewhere/two.yaml")
    with pytest.raises(UsageError, match="holds no intent"):
        ws.intent("elsewhere/none.yaml")
    with pytest.raises(UsageError, match="no file at"):
        ws.intent("elsewhere/absent.yaml")


def test_unknown_names_suggest_and_list(files: Callable[..., Path]) -> None:
    """An unknown intent or scenario name gives UsageError with "did you mean" and the known names."""
    ws = load_workspace(files({
        "capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT,
        "benchmarks/scenarios/s.yaml": "scenario: outage\nintent: paid\n",
    }))
    with pytest.raises(UsageError) as caught:
        ws.intent("payd")
    assert "unknown intent 'payd'; did you mean 'paid'?" in str(caught.value)
    assert "known intents: paid" in str(caught.value)
    with pytest.raises(UsageError, match="known scenarios: outage"):
        ws.scenario("nothing-like-it")
    scenario = ws.scenario("outage")
    assert isinstance(scenario, Scenario)


def test_revisions_digest_what_decisions_depend_on() -> None:
    """Revisions change when the intent, a capability or a policy changes, and only then."""
    ws = Workspace()
    ws.add(
        Capability(name="pay", provides="payment", effects={"order.paid": True}),
        Intent(intent="paid", goal={"order.paid": True}),
    )
    before = ws.revisions("paid")
    assert isinstance(before, Revisions)
    assert ws.revisions(ws.intents["paid"]) == before
    ws.add(Policy(name="p", because="b", deny={"capability.name": "x"}))
    after_policy = ws.revisions("paid")
    assert (after_policy.intent, after_policy.capabilities) == (before.intent, before.capabilities)
    assert after_policy.policies != before.policies
    ws.add(Capability(name="pay2", provides="payment", effects={"order.paid": True}))
    assert ws.revisions("paid").capabilities != before.capabilities
    other = Intent(intent="paid", goal={"order.paid": True}, tags={"gdpr": True})
    assert ws.revisions(other).intent != before.intent


def test_add_refuses_other_objects() -> None:
    """Only declarations can be added."""
    with pytest.raises(TypeError, match="cannot add dict"):
        Workspace().add({"name": "x"})  # type: ignore[arg-type]


def test_load_classmethod_and_summary(files: Callable[..., Path]) -> None:
    """`Workspace.load(root)` is `load_workspace`; `summary()` counts each kind."""
    ws = Workspace.load(files({"capabilities/c.yaml": CAPS, "intents/i.yaml": INTENT}))
    assert ws.summary() == "1 intents, 1 capabilities, 0 observers, 0 policies, 0 scenarios"


def test_load_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    """A workspace folder that does not exist is a UsageError, not an empty workspace."""
    with pytest.raises(UsageError, match="is not a folder"):
        Workspace.load(tmp_path / "nope")


async def test_decorated_and_yaml_python_capabilities_run_in_the_engine(
    files: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YAML `invoke: {python: module:function}` and a decorated callable both run through the engine."""
    from ido.engine import Engine
    from ido.journal import open_store

    monkeypatch.setattr(sys, "path", list(sys.path))
    root = files({
        "capabilities/c.yaml": """
            capabilities:
              - name: reserve
                provides: reservation
                requires: {order.reserved: false}
                effects: {order.reserved: true}
                invoke: {python: "idows_shop:reserve"}
        """,
        "intents/i.yaml": """
            intent: paid
            inputs: {order_id: str}
            given: {order.reserved: false, order.paid: false}
            goal: {order.paid: true}
        """,
    })
    (root / "idows_shop.py").write_text("def reserve(order_id):\n    return {'reservation': {'id': 'r-' + order_id}}\n")
    with pytest.raises(ValidationError, match=r"goal fact 'order\.paid' is produced by no capability"):
        Workspace.load(root)
    ws = Workspace.load(root, checks=False)
    seen: list[str] = []

    @ws.capability(provides="payment", requires={"order.reserved": True, "order.paid": False},
                   effects={"order.paid": True}, cost=0.3)
    async def charge(order_id: str) -> dict[str, Any]:
        seen.append(order_id)
        return {"payment": {"id": "p-1"}}

    assert ws.check() is ws
    engine = Engine(ws, open_store("memory://"))
    try:
        result = await engine.run("paid", inputs={"order_id": "o-7"})
    finally:
        await engine.close()
    sys.modules.pop("idows_shop", None)
    assert result.status == "succeeded" and result.steps_executed == 2
    assert seen == ["o-7"]


README_EXAMPLE = '''
from pathlib import Path
from ido.workspace import Workspace

ws = Workspace.load(Path("."), checks=False)   # the YAML workspace

@ws.capability(provides="notification",
               requires={"order.paid": True, "customer.notified": False},
               effects={"customer.notified": True},
               cost=0.002, latency="120ms", tags={"region": "eu", "channel": "webhook"})
async def notify_webhook(order_id: str) -> dict:
    """Tell the shop's backend that the order is on its way."""
    return {"notification": {"id": f"n-{order_id}"}}

ws.check()   # the checks of `ido validate`; raises ValidationError listing every problem
'''


def test_the_readme_python_door_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Declaring things" Python example works on the example workspace."""
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(README_EXAMPLE, "README.md", "exec"), namespace)
    ws = namespace["ws"]
    cap = ws.capabilities["notify_webhook"]
    assert cap.invoke.python == "readme_example:notify_webhook"
    assert cap.description == "Tell the shop's backend that the order is on its way."
    assert asyncio.run(ws.resolve_callable(cap.invoke.python)(order_id="7")) == {"notification": {"id": "n-7"}}
