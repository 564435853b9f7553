"""What-if on the run page: edit or disable a policy or capability, replay the run under it.

    POST /runs/{id}/what-if    form: kind (policy|capability), name, yaml, disable
                               -> which decisions would change and how (a fragment; the page
                                  highlights them on the timeline); 422 with located problems
                                  for YAML that is not a declaration of that kind

The edited declaration is read by the workspace loader (`ido.loading.documents`,
so problems carry line and column as `ido validate` prints them) and put in
place of the declaration of that name in a copy of the registry's newest
revision (`Service.declarations()`, `Workspace.replaced`); disabling removes it
from the copy. The registry itself is never changed. `ido.replay.replay(..., workspace=copy)` then
decides every recorded decision again. Called through `ido.service.explorer.router`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ido.errors import IdoError, UsageError
from ido.loading.documents import Loaded, read_file
from ido.model import Capability, Policy
from ido.replay import ReplayReport, replay
from ido.service import runs as api_runs
from ido.service.auth import Scope
from ido.service.errors import ApiError, problem_json
from ido.service.explorer import views
from ido.service.explorer.common import (
    Invalid,
    error_page,
    form_fields,
    guarded,
    render,
    service_of,
)
from ido.service.state import Service
from ido.workspace import KINDS as KINDS_OF_MODELS
from ido.workspace import Workspace

router = APIRouter(include_in_schema=False)

#: The kinds a what-if may edit: form value -> (workspace table, folder the loader reads it from, model).
KINDS: dict[str, tuple[str, str, type]] = {
    "policy": ("policy", "policies", Policy),
    "capability": ("capability", "capabilities", Capability),
}
#: Longest edited YAML accepted (characters).
MAX_YAML = 64 * 1024


def declaration_yaml(kind: str, model: Any) -> str:
    """Return one declaration as the YAML a workspace file would hold (`policies: [...]`)."""
    folder = KINDS[kind][1]
    data = model.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return yaml.safe_dump({folder: [data]}, sort_keys=False, allow_unicode=True)


#: Most declarations of each kind the run page offers (a registry can hold thousands).
MAX_OFFERED = 200


def declarations_for(service: Service, capabilities: set[str]) -> list[dict[str, str]]:
    """Return the workspace's policies, then those of `capabilities` it declares, with their YAML
    (at most MAX_OFFERED of each kind): what the run page's what-if may edit."""
    ws = service.declarations()  # the registry's newest revision, as the API's what-if replay
    policies = sorted(ws.policies.items())[:MAX_OFFERED]
    weighed = sorted((n, m) for n, m in ws.capabilities.items() if n in capabilities)[:MAX_OFFERED]
    out = [{"kind": "policy", "name": n, "yaml": declaration_yaml("policy", m)} for n, m in policies]
    out += [{"kind": "capability", "name": n, "yaml": declaration_yaml("capability", m)} for n, m in weighed]
    return out


def edited_workspace(workspace: Workspace, kind: str, name: str, text: str, disable: bool) -> tuple[Workspace, str]:
    """Return a copy of `workspace` with the declaration edited (or removed), and a line saying what changed.

    Raises Invalid for an unknown kind or name, YAML over MAX_YAML, or YAML
    that does not load as declarations of `kind`.
    """
    if kind not in KINDS:
        raise Invalid(f"kind {kind[:40]!r}: choose policy or capability")
    table_name, folder, model_type = KINDS[kind]
    if disable:
        if name not in workspace.table(table_name):
            raise Invalid(f"there is no {kind} named {name[:200]!r} to disable")
        copy = Workspace(workspace.root)
        for table in KINDS_OF_MODELS.values():
            copy.table(table).update(workspace.table(table))
        copy.callables.update(workspace.callables)
        copy.table(table_name).pop(name)
        return copy, f"{kind} {name} disabled"
    if len(text) > MAX_YAML:
        raise Invalid(f"the YAML is {len(text)} characters; at most {MAX_YAML}")
    loaded = Loaded()
    read_file(Path(folder) / "what-if.yaml", loaded, text=text)
    if loaded.problems:
        raise Invalid("the edited YAML is not a valid declaration", [problem_json(p) for p in loaded.problems])
    models = [m for m, _ in loaded.models]
    if not models:
        raise Invalid(f"the YAML declares no {kind}; write `{folder}:` and a list of one {kind}")
    wrong = [m for m in models if not isinstance(m, model_type)]
    if wrong:
        raise Invalid(f"the YAML declares a {type(wrong[0]).__name__.lower()}; this what-if edits a {kind}")
    copy = workspace
    for model in models:
        copy = copy.replaced(model)
    names = ", ".join(m.name for m in models)
    return copy, f"{kind} {names} edited"


def what_would_change(service: Service, run_id: str, form: dict[str, str]) -> tuple[ReplayReport, str]:
    """Return the what-if replay of the run under the form's edit, and what was edited.

    The form names the declaration as `pick=KIND:NAME` (the page's select) or
    `kind` and `name`; `yaml` is its edited text, `disable` removes it instead.
    """
    info = api_runs.find_run(service.store, run_id)
    kind, name = form.get("kind", ""), form.get("name", "")
    if "pick" in form:  # the page's select: "policy:NAME"
        kind, _, name = form["pick"].partition(":")
    edited, what = edited_workspace(service.declarations(), kind, name.strip(), form.get("yaml", ""),
                                    form.get("disable", "") not in ("", "0", "off"))
    try:
        return replay(service.store, info.run_id, workspace=edited), what
    except UsageError as exc:
        raise Invalid(str(exc)) from None
    except IdoError as exc:
        raise Invalid(f"the run cannot be replayed: {exc}") from None


@router.post("/runs/{run_id}/what-if", response_class=HTMLResponse)
async def what_if(request: Request, run_id: str) -> Response:
    """Replay the run under an edited or disabled declaration; which decisions would change, rendered."""
    if (denied := guarded(request, Scope.read)) is not None:
        return denied
    service = service_of(request)
    try:
        form = form_fields(await request.body())
        report, what = await asyncio.to_thread(what_would_change, service, run_id, form)
    except ApiError as exc:
        return error_page(request, exc)
    except Invalid as exc:
        return render(request, "what_if.html", {"error": exc.message, "problems": exc.problems}, status=422)
    changed = views.changed_seqs(report.differences)
    notes = {str(d.seq): f"{d.field}: {d.recorded} → {d.replayed}" for d in report.differences}
    return render(request, "what_if.html", {"error": None, "report": report, "what": what,
                                            "changed": changed, "notes": notes})
