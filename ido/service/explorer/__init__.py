"""The decision explorer: server-rendered pages over the journal, served by `ido serve` at `/`.

Pages (Jinja2 templates in `templates/`, htmx for the parts that change,
vendored JavaScript in `static/vendor/`, see VERSIONS.txt; nothing from a
CDN): the runs list and run page (`pages`), the plan DAG (`dag`), what-if
(`whatif`), approve/reject/cancel (`actions`), capability health over time
(`capability_health`), the simulation comparison (`simulation`) and two runs
side by side (`compare`), signing in with a token and the page's event
stream (`session`). Every page is behind the API's guard (the login URL's
cookie in a browser, or a token signed in with). `router` is mounted by
`ido.service.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter

from ido.service.explorer import (
    actions,
    capability_health,
    compare,
    dag,
    pages,
    session,
    simulation,
    whatif,
)

router = APIRouter(include_in_schema=False)
for _module in (pages, dag, whatif, actions, capability_health, simulation, compare, session):
    router.include_router(_module.router)

__all__ = ["router"]
