"""Saved plans: read a PLANFILE (`ido plan --out`), say why it went stale, and apply it as a run.

A PLANFILE is JSON: `{format_version, intent, plan, request, revisions,
health_digest, state}` plus, from files written since `ido apply` exists,
`set` (the `--set` facts) and `declarations` (a digest per capability,
observer and policy, so a changed revision can be traced to names).

`load(path)` returns a `SavedPlan` or raises UsageError saying what is wrong
with the file. `staleness(...)` returns every reason the plan no longer
describes the world: the intent, capabilities or policies revision differs
(naming what was added, removed or changed), the starting state differs
(the intent's `given`, what observers report now, and the plan's `--set`
facts), or health now rules out a planned step. `run_inputs(...)` returns
the inputs to run with: a PLANFILE holds secret inputs redacted (`***`, the
marker decision records use), so they are supplied again (`ido apply
--input`). `apply_saved(...)` starts the run with the saved plan as its first
decision's plan. Called by `ido apply` (`ido.cli.apply`).

Why a redacted secret cannot make a saved plan wrong: the planner sees secret
inputs as `***`, in `ido plan` as in every decision the engine makes (it
decides from the run's redacted inputs), so no plan depends on a secret's
value and the file needs no digest of one (a digest of a short secret would
let whoever holds the file confirm a guess).

What "health changed" can mean: ido keeps health in the engine's memory, not
in the journal, so a fresh process starts from the declarations, exactly the
evidence `ido plan` used (its `health_digest` is that of an empty snapshot).
Before applying, every planned capability that declares a probe is probed
once; a probe answering "down" (or an open circuit, for an engine that
already has evidence) makes the plan stale.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticError

from ido.decisions import Revisions
from ido.digest import canonical_json, digest
from ido.engine.run import REDACTED
from ido.errors import UsageError
from ido.health import Circuit, HealthSnapshot
from ido.limits import FileTooLarge, read_bounded
from ido.model import Intent, Scalar
from ido.planning.types import Plan, PlanRequest

if TYPE_CHECKING:
    from ido.engine.engine import Engine
    from ido.engine.run import RunResult

#: PLANFILE format versions this ido reads.
SUPPORTED_FORMATS = frozenset({1})
_REQUIRED = ("format_version", "intent", "plan", "request", "revisions", "state")


@dataclass(frozen=True)
class SavedPlan:
    """A plan read back from a PLANFILE, with what it was derived from."""

    path: Path
    intent: str
    plan: Plan
    request: PlanRequest
    revisions: Revisions
    health_digest: str
    state: dict[str, Scalar]
    #: the `--set` facts (None in files written before they were saved separately).
    set_facts: dict[str, Scalar] | None
    #: kind -> name -> digest of each declaration (None in older files).
    declarations: dict[str, dict[str, str]] | None
    #: digest of the file's content: the run notes "applied saved plan <digest>".
    digest: str


@dataclass(frozen=True)
class Stale:
    """One reason a saved plan went stale: `kind` is intent, capabilities, policies, state or health."""

    kind: str
    message: str


def declaration_digests(workspace: Any) -> dict[str, dict[str, str]]:
    """Return {capabilities, observers, policies: {name: digest}} of a workspace (for `ido plan --out`)."""
    return {
        kind: {name: digest(model) for name, model in sorted(getattr(workspace, kind, {}).items())}
        for kind in ("capabilities", "observers", "policies")
    }


def load(path: Path) -> SavedPlan:
    """Return the saved plan in `path`; UsageError naming what is wrong with an unusable file."""
    where = f"plan file {path}"
    try:
        text = read_bounded(path).decode("utf-8")
    except FileTooLarge as exc:
        raise FileTooLarge(f"{where}: {exc}") from None
    except FileNotFoundError:
        raise UsageError(f"{where} does not exist; write one with `ido plan INTENT --out {path}`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {where}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON ({exc}); write one with `ido plan INTENT --out FILE`") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} holds a JSON {type(data).__name__}, not the object `ido plan --out` writes")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise UsageError(
            f"{where} is not a saved plan: it lacks {', '.join(missing)} "
            "(a PLANFILE holds format_version, intent, plan, request, revisions and state)"
        )
    version = data["format_version"]
    if version not in SUPPORTED_FORMATS:
        raise UsageError(
            f"{where} has format_version {version!r}; this ido reads "
            f"{', '.join(map(str, sorted(SUPPORTED_FORMATS)))} (plan it again with this ido)"
        )
    try:
        plan = Plan.model_validate(data["plan"])
        request = PlanRequest.model_validate(data["request"])
        revisions = Revisions.model_validate(data["revisions"])
    except PydanticError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise UsageError(f"{where} is malformed: {exc.title} {loc}: {first.get('msg')}") from None
    state = data["state"]
    set_facts = data.get("set")
    declarations = data.get("declarations")
    if not isinstance(state, dict) or not (set_facts is None or isinstance(set_facts, dict)):
        raise UsageError(f"{where} is malformed: state and set must be objects of facts")
    if declarations is not None and not (
        isinstance(declarations, dict) and all(isinstance(v, dict) for v in declarations.values())
    ):
        raise UsageError(f"{where} is malformed: declarations must map kinds to {{name: digest}}")
    if not isinstance(data["intent"], str) or data["intent"] != plan.intent:
        raise UsageError(f"{where} is malformed: its intent {data['intent']!r} is not its plan's ({plan.intent!r})")
    if not plan.feasible:
        raise UsageError(f"{where} holds no admissible plan ({plan.explanation or 'infeasible'}); nothing to apply")
    return SavedPlan(
        path=path, intent=plan.intent, plan=plan, request=request, revisions=revisions,
        health_digest=str(data.get("health_digest", "")), state=dict(state),
        set_facts=None if set_facts is None else dict(set_facts), declarations=declarations,
        digest=digest(canonical_json(data)),
    )


def staleness(
    saved: SavedPlan, workspace: Any, intent: Intent, *, observed: dict[str, Scalar], health: HealthSnapshot,
) -> list[Stale]:
    """Return every reason `saved` no longer fits the workspace, state and health now (empty: fresh).

    `observed` holds the facts observers report now; `health` is the engine's
    snapshot after the start probes (`probe_plan`).
    """
    found: list[Stale] = []
    now = workspace.revisions(intent)
    if now.intent != saved.revisions.intent:
        found.append(Stale("intent", f"the intent revision changed from {saved.revisions.intent} to {now.intent} "
                                     f"(intents/{intent.intent} was edited)"))
    current = declaration_digests(workspace)
    for kind, groups in (("capabilities", ("capabilities", "observers")), ("policies", ("policies",))):
        before, after = getattr(saved.revisions, kind), getattr(now, kind)
        if before == after:
            continue
        names = _changed(saved, current, groups)
        found.append(Stale(kind, f"the {kind} revision changed from {before} to {after}"
                                 + (f": {names}" if names else "")))
    state_now = {**intent.given, **observed, **_set_facts(saved, intent)}
    differ = _state_changes(saved.state, state_now, _facts_read(workspace, intent))
    if differ:
        found.append(Stale("state", "the state the plan assumed differs now: " + "; ".join(differ)))
    for step in saved.plan.steps:
        h = health.of(step.capability)
        if h.probe_up is False:
            found.append(Stale("health", f"{step.capability}'s probe says it is down now (the plan assumed it up)"))
        elif h.circuit == Circuit.OPEN:
            found.append(Stale("health", f"{step.capability}'s circuit is open now"))
    return found


def _set_facts(saved: SavedPlan, intent: Intent) -> dict[str, Scalar]:
    if saved.set_facts is not None:
        return saved.set_facts
    # older files: the facts the intent's `given` does not name came from --set
    return {k: v for k, v in saved.state.items() if k not in intent.given}


def _facts_read(workspace: Any, intent: Intent) -> set[str]:
    """Return the facts the goal or any capability's requires/effects mention (planning reads them)."""
    facts = set(intent.goal)
    for cap in getattr(workspace, "capabilities", {}).values():
        facts.update(cap.requires)
        facts.update(cap.effects)
    return facts


def _state_changes(assumed: dict[str, Scalar], now: dict[str, Scalar], read: set[str]) -> list[str]:
    """Return `fact: X then, Y now` for each fact that differs (new facts only if planning reads them)."""
    out = []
    for fact in sorted(set(assumed) | set(now)):
        if fact not in now:
            out.append(f"{fact}: {json.dumps(assumed[fact])} then, unset now")
        elif fact not in assumed:
            if fact in read:
                out.append(f"{fact}: unset then, {json.dumps(now[fact])} now")
        elif now[fact] != assumed[fact] or type(now[fact]) is not type(assumed[fact]):
            out.append(f"{fact}: {json.dumps(assumed[fact])} then, {json.dumps(now[fact])} now")
    return out


def _changed(saved: SavedPlan, current: dict[str, dict[str, str]], groups: tuple[str, ...]) -> str:
    """Return "changed a, b; added c; removed d" for the declarations of `groups`, as far as the file tells."""
    if saved.declarations is not None:
        before = {n: d for g in groups for n, d in saved.declarations.get(g, {}).items()}
        after = {n: d for g in groups for n, d in current.get(g, {}).items()}
        changed = sorted(n for n in set(before) & set(after) if before[n] != after[n])
        added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    elif groups[0] == "capabilities":
        # older files: the plan's own numbers and the names it weighed are all there is
        weighed = {s.capability for s in saved.plan.steps} | {a.capability for a in saved.plan.alternatives}
        now = current.get("capabilities", {})
        added, removed = [], sorted(weighed - set(now))
        changed = []
    else:
        return ""
    parts = [f"{label} {', '.join(names)}" for label, names in
             (("changed", changed), ("added", added), ("removed", removed)) if names]
    return "; ".join(parts)


async def probe_plan(engine: Engine, plan: Plan) -> HealthSnapshot:
    """Probe once every planned capability that declares a probe; return the engine's health after."""
    names = dict.fromkeys(s.capability for s in plan.steps if s.capability in engine.capabilities)
    supports = getattr(engine.prober, "supports", None)
    caps = [engine.capabilities[n] for n in names]
    caps = [c for c in caps if c.probe is not None and (supports is None or supports(c))]

    async def one(cap: Any) -> None:
        try:
            up = bool(await asyncio.wait_for(engine.prober.probe(cap), cap.probe.timeout))
        except Exception:  # a probe that cannot answer says "down", as in the engine's probe loop
            up = False
        engine.health.record_probe(cap.name, up=up, now=engine.clock.now())

    await asyncio.gather(*(one(c) for c in caps))
    return engine.health.snapshot(engine.clock.now())


def run_inputs(saved: SavedPlan, intent: Intent, given: Mapping[str, str]) -> dict[str, Scalar]:
    """Return the inputs to run `saved` with: the saved ones, with `given` (raw `--input` values) added.

    Secret inputs are in the file as `***`: `given` supplies them (one the
    intent gives a default may be left out, as in `ido run`). Raises
    UsageError naming every required secret input left out, a non-secret
    input given a value other than the one the plan was made for, or a
    value that does not fit the input's type.
    """
    secrets = intent.secret_inputs()
    saved_inputs = saved.request.inputs
    redacted = {n for n in secrets if saved_inputs.get(n) == REDACTED}
    missing = sorted(n for n in redacted if n not in given and intent.inputs[n].default is None)
    if missing:
        names = ", ".join(repr(n) for n in missing)
        flags = " ".join(f"--input {n}=..." for n in missing)
        what, it = ("input", "it") if len(missing) == 1 else ("inputs", "them")
        raise UsageError(
            f"plan file {saved.path} holds secret {what} {names} redacted (plan files never store secrets); "
            f"supply {it} again: ido apply {saved.path} {flags}"
        )
    for name, text in sorted(given.items()):
        spec = intent.inputs.get(name)
        if name in secrets or name not in saved_inputs or spec is None:
            continue  # bind_inputs below names an unknown input
        try:
            value = spec.coerce(text)
        except ValueError as exc:
            raise UsageError(f"input {name!r}: {exc}") from None
        before = saved_inputs[name]
        if value != before or type(value) is not type(before):
            raise UsageError(
                f"--input {name}={text}: the plan in {saved.path} was made for {name}={json.dumps(before)}; "
                f"leave --input {name} out to apply it, or plan again with the new value "
                f"(ido plan {saved.intent} --input {name}=... --out {saved.path})"
            )
    raw: dict[str, Any] = {k: v for k, v in saved_inputs.items() if k not in redacted}
    raw.update(given)
    try:
        return intent.bind_inputs(raw)
    except ValueError as exc:
        raise UsageError(f"intent {intent.intent}: {exc}") from None


async def apply_saved(
    engine: Engine, saved: SavedPlan, intent: Intent, options: dict[str, Any], *, inputs: Mapping[str, Scalar],
) -> RunResult:
    """Return the result of pursuing `intent` starting from the saved plan.

    The first decision (trigger `start`) reuses the saved plan, so it
    dispatches the plan's ready steps and notes "applied saved plan
    <digest>"; every later decision is the engine's usual one (it adapts
    when a step fails). The plan is handed over as the run's reusable plan
    (the engine's plan-reuse mechanism, which replay re-derives from the
    record): `Engine.start` returns before the run's task first runs (asyncio
    starts a task only when the caller yields), so it is in place for the
    first decision. `inputs` are the run's (`run_inputs`: secrets supplied).
    """
    run_id = await engine.start(
        intent, inputs=inputs, set_facts=_set_facts(saved, intent),
        options={**options, "saved_plan": saved.digest},
    )
    run = engine.runs[run_id]
    run.reusable, run.reusable_version = saved.plan, engine.health.version
    run.notes.append(f"applied saved plan {saved.digest} ({saved.path.name})")
    return await engine.wait(run_id)
